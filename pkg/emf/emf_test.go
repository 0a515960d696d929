package emf

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// validUnits are CloudWatch's StandardUnit values.
var validUnits = map[string]bool{
	"Seconds": true, "Microseconds": true, "Milliseconds": true, "Bytes": true, "Kilobytes": true, "Megabytes": true,
	"Gigabytes": true, "Terabytes": true, "Bits": true, "Kilobits": true, "Megabits": true, "Gigabits": true, "Terabits": true,
	"Percent": true, "Count": true, "Bytes/Second": true, "Kilobytes/Second": true, "Megabytes/Second": true,
	"Gigabytes/Second": true, "Terabytes/Second": true, "Bits/Second": true, "Kilobits/Second": true,
	"Megabits/Second": true, "Gigabits/Second": true, "Terabits/Second": true, "Count/Second": true, "None": true,
}

// validate checks a line against the EMF specification's required shape:
// a root "_aws" object with an integer millisecond Timestamp and a
// CloudWatchMetrics array of directives; each directive has a Namespace, a
// Dimensions array of dimension sets (at most 30 names each) and a Metrics
// array (at most 100) of {Name, Unit}; every referenced dimension is a
// top-level string member and every metric a top-level number.
func validate(line []byte) error {
	var root map[string]json.RawMessage
	if err := json.Unmarshal(line, &root); err != nil {
		return fmt.Errorf("not a JSON object: %w", err)
	}
	var meta struct {
		Timestamp         *json.Number `json:"Timestamp"`
		CloudWatchMetrics []struct {
			Namespace  *string    `json:"Namespace"`
			Dimensions [][]string `json:"Dimensions"`
			Metrics    []struct {
				Name *string `json:"Name"`
				Unit string  `json:"Unit"`
			} `json:"Metrics"`
		} `json:"CloudWatchMetrics"`
	}
	d := json.NewDecoder(bytes.NewReader(root["_aws"]))
	d.UseNumber()
	if err := d.Decode(&meta); err != nil {
		return fmt.Errorf("_aws: %w", err)
	}
	if meta.Timestamp == nil {
		return fmt.Errorf("_aws.Timestamp missing")
	}
	if _, err := meta.Timestamp.Int64(); err != nil {
		return fmt.Errorf("_aws.Timestamp %q is not an integer", *meta.Timestamp)
	}
	if len(meta.CloudWatchMetrics) == 0 {
		return fmt.Errorf("_aws.CloudWatchMetrics is empty")
	}
	for _, dir := range meta.CloudWatchMetrics {
		if dir.Namespace == nil || *dir.Namespace == "" || len(*dir.Namespace) > 255 {
			return fmt.Errorf("bad Namespace")
		}
		if dir.Dimensions == nil {
			return fmt.Errorf("Dimensions missing")
		}
		for _, set := range dir.Dimensions {
			if len(set) > 30 {
				return fmt.Errorf("dimension set over 30")
			}
			for _, name := range set {
				var v string
				if err := json.Unmarshal(root[name], &v); err != nil {
					return fmt.Errorf("dimension %q is not a top-level string", name)
				}
			}
		}
		if len(dir.Metrics) == 0 || len(dir.Metrics) > 100 {
			return fmt.Errorf("Metrics count %d", len(dir.Metrics))
		}
		for _, m := range dir.Metrics {
			if m.Name == nil || *m.Name == "" {
				return fmt.Errorf("metric without a Name")
			}
			if m.Unit != "" && !validUnits[m.Unit] {
				return fmt.Errorf("metric %s: unit %q is not a CloudWatch unit", *m.Name, m.Unit)
			}
			var v float64
			if err := json.Unmarshal(root[*m.Name], &v); err != nil {
				return fmt.Errorf("metric %q is not a top-level number", *m.Name)
			}
		}
	}
	return nil
}

func TestRecord(t *testing.T) {
	tests := []struct {
		name       string
		sample     Sample
		want       map[string]any
		directives int
	}{
		{"ping, no upstream", Sample{Decision: "ping"},
			map[string]any{"Decision": "ping", "Requests": 1.0, "InlineBytes": 0.0}, 1},
		{"inline", Sample{Decision: "inline", InlineBytes: 4096, UpstreamStatus: 206, UpstreamLatency: 12500 * time.Microsecond, Upstream: true},
			map[string]any{"Decision": "inline", "InlineBytes": 4096.0, "UpstreamLatency": 12.5, "UpstreamStatusClass": "2xx", "UpstreamResponses": 1.0}, 2},
		{"upstream down", Sample{Decision: "error", Upstream: true, UpstreamLatency: time.Second},
			map[string]any{"Decision": "error", "UpstreamStatusClass": "none", "UpstreamLatency": 1000.0}, 2},
		{"denied by S3", Sample{Decision: "denied", UpstreamStatus: 403, Upstream: true},
			map[string]any{"UpstreamStatusClass": "4xx"}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := New(&buf, "media")
			w.now = func() time.Time { return time.UnixMilli(1795788000123) }
			if err := w.Record(nil, tc.sample); err != nil {
				t.Fatal(err)
			}
			line := buf.Bytes()
			if bytes.Count(line, []byte("\n")) != 1 || !bytes.HasSuffix(line, []byte("\n")) {
				t.Fatalf("want exactly one line, got %q", line)
			}
			if err := validate(bytes.TrimSpace(line)); err != nil {
				t.Fatalf("%v\n%s", err, line)
			}
			var got map[string]any
			_ = json.Unmarshal(line, &got)
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s: got %v, want %v", k, got[k], v)
				}
			}
			if got["Bucket"] != "media" {
				t.Errorf("Bucket %v", got["Bucket"])
			}
			aws := got["_aws"].(map[string]any)
			if aws["Timestamp"] != 1795788000123.0 {
				t.Errorf("Timestamp %v", aws["Timestamp"])
			}
			if n := len(aws["CloudWatchMetrics"].([]any)); n != tc.directives {
				t.Errorf("%d directives, want %d", n, tc.directives)
			}
		})
	}
}

// The validator must reject what the specification rejects, or the test
// above proves nothing.
func TestValidateRejects(t *testing.T) {
	bad := map[string]string{
		"no _aws":             `{"Requests":1}`,
		"no timestamp":        `{"_aws":{"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[[]],"Metrics":[{"Name":"R"}]}]},"R":1}`,
		"string timestamp":    `{"_aws":{"Timestamp":"now","CloudWatchMetrics":[{"Namespace":"N","Dimensions":[[]],"Metrics":[{"Name":"R"}]}]},"R":1}`,
		"metric not a number": `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[[]],"Metrics":[{"Name":"R"}]}]},"R":"1"}`,
		"missing dimension":   `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[["D"]],"Metrics":[{"Name":"R"}]}]},"R":1}`,
		"bad unit":            `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"N","Dimensions":[[]],"Metrics":[{"Name":"R","Unit":"Things"}]}]},"R":1}`,
		"no namespace":        `{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Dimensions":[[]],"Metrics":[{"Name":"R"}]}]},"R":1}`,
	}
	for name, line := range bad {
		if err := validate([]byte(line)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if !strings.Contains(Namespace, "S3Proxy") {
		t.Error("namespace changed: the template's alarms and dashboard name it")
	}
}
