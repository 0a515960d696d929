package emf

import "encoding/json"

// The encoder Append replaced: a map and encoding/json. It is the oracle
// Append is compared with, and the baseline its benchmark is measured
// against.

type metricDef struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

type directive struct {
	Namespace  string      `json:"Namespace"`
	Dimensions [][]string  `json:"Dimensions"`
	Metrics    []metricDef `json:"Metrics"`
}

type metadata struct {
	Timestamp         int64       `json:"Timestamp"`
	CloudWatchMetrics []directive `json:"CloudWatchMetrics"`
}

// baselineLine is the line the previous Record wrote for s.
func (w *Writer) baselineLine(s Sample) ([]byte, error) {
	directives := []directive{{
		Namespace:  Namespace,
		Dimensions: [][]string{{"Bucket", "Decision"}},
		Metrics: []metricDef{
			{Requests, "Count"}, {InlineBytes, "Bytes"},
		},
	}}
	doc := map[string]any{
		"Bucket":    w.bucket,
		"Decision":  s.Decision,
		Requests:    1,
		InlineBytes: s.InlineBytes,
	}
	if s.Upstream {
		directives[0].Metrics = append(directives[0].Metrics, metricDef{UpstreamLatency, "Milliseconds"})
		doc[UpstreamLatency] = float64(s.UpstreamLatency.Microseconds()) / 1000
		directives = append(directives, directive{
			Namespace:  Namespace,
			Dimensions: [][]string{{"Bucket", "UpstreamStatusClass"}},
			Metrics:    []metricDef{{UpstreamResponses, "Count"}, {UpstreamAttempts, "Count"}},
		})
		doc["UpstreamStatusClass"] = StatusClass(s.UpstreamStatus)
		doc[UpstreamResponses] = 1
		doc[UpstreamAttempts] = max(s.UpstreamAttempts, 1)
	}
	doc["_aws"] = metadata{Timestamp: w.now().UnixMilli(), CloudWatchMetrics: directives}
	line, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	return append(line, '\n'), nil
}
