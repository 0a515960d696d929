package emf

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"testing"
	"time"
)

var testTime = time.UnixMilli(1795788000123)

func testWriter(w *bytes.Buffer, bucket string) *Writer {
	ew := New(w, bucket)
	ew.now = func() time.Time { return testTime }
	return ew
}

// sameAsBaseline fails unless Append's line for s is, as a JSON value and
// byte for byte, the line encoding/json made of it.
func sameAsBaseline(t *testing.T, w *Writer, s Sample) {
	t.Helper()
	want, err := w.baselineLine(s)
	if err != nil {
		t.Fatal(err)
	}
	got := w.Append(nil, s)
	var gv, wv any
	if err := json.Unmarshal(got, &gv); err != nil {
		t.Fatalf("%+v: not JSON: %v\n%s", s, err, got)
	}
	if err := json.Unmarshal(want, &wv); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gv, wv) {
		t.Fatalf("%+v:\n got %s\nwant %s", s, got, want)
	}
	// Byte for byte too: a reader of the raw line sees no change.
	if !bytes.Equal(got, want) {
		t.Errorf("%+v: same value, other bytes:\n got %s\nwant %s", s, got, want)
	}
}

func TestAppendMatchesEncodingJSON(t *testing.T) {
	tests := []struct {
		name   string
		bucket string
		s      Sample
	}{
		{"ping, no upstream", "media", Sample{Decision: "ping"}},
		{"preflight", "media", Sample{Decision: "preflight"}},
		{"denied without upstream", "media", Sample{Decision: "denied"}},
		{"error without upstream", "media", Sample{Decision: "error"}},
		{"inline 2xx", "media", Sample{Decision: "inline", InlineBytes: 102400, UpstreamStatus: 206, UpstreamLatency: 12500 * time.Microsecond, Upstream: true, UpstreamAttempts: 1}},
		{"redirect", "media", Sample{Decision: "redirect", UpstreamStatus: 206, UpstreamLatency: 38200 * time.Microsecond, Upstream: true, UpstreamAttempts: 1}},
		{"relay 3xx", "media", Sample{Decision: "relay", UpstreamStatus: 304, UpstreamLatency: time.Millisecond, Upstream: true, UpstreamAttempts: 1}},
		{"denied by S3", "media", Sample{Decision: "denied", UpstreamStatus: 403, Upstream: true, UpstreamAttempts: 1}},
		{"5xx after retries", "media", Sample{Decision: "error", UpstreamStatus: 503, UpstreamLatency: 2 * time.Second, Upstream: true, UpstreamAttempts: 3}},
		{"upstream never answered (status 0)", "media", Sample{Decision: "error", Upstream: true, UpstreamLatency: time.Second}},
		{"attempts zero counts one", "media", Sample{Decision: "inline", UpstreamStatus: 200, Upstream: true}},
		{"sub-microsecond latency", "media", Sample{Decision: "inline", UpstreamStatus: 200, UpstreamLatency: 999, Upstream: true, UpstreamAttempts: 1}},
		{"one microsecond", "media", Sample{Decision: "inline", UpstreamStatus: 200, UpstreamLatency: time.Microsecond, Upstream: true, UpstreamAttempts: 1}},
		{"large byte count", "media", Sample{Decision: "inline", InlineBytes: math.MaxInt64, UpstreamStatus: 200, Upstream: true, UpstreamAttempts: 1}},
		{"negative byte count", "media", Sample{Decision: "inline", InlineBytes: math.MinInt64}},
		{"longest latency", "media", Sample{Decision: "relay", UpstreamStatus: 200, UpstreamLatency: math.MaxInt64, Upstream: true, UpstreamAttempts: math.MaxInt64}},
		{"status out of range", "media", Sample{Decision: "error", UpstreamStatus: 600, Upstream: true}},
		{"status 99", "media", Sample{Decision: "error", UpstreamStatus: 99, Upstream: true}},
		{"status without upstream is not written", "media", Sample{Decision: "ping", UpstreamStatus: 500}},
		{"bucket with dots", "studio-shotgrid.media.1", Sample{Decision: "ping"}},
		{"decision to escape", "media", Sample{Decision: "a\"b\\c\n\r\t\b\f\x00\x1f<>&\u2028\u2029é\xff"}},
		{"empty decision and bucket", "", Sample{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sameAsBaseline(t, testWriter(&bytes.Buffer{}, tc.bucket), tc.s)
		})
	}
}

// Append must also pass the specification's validator, and for every
// decision the proxy makes.
func TestAppendValidates(t *testing.T) {
	for _, d := range []string{"ping", "preflight", "inline", "redirect", "relay", "denied", "error"} {
		for _, up := range []bool{false, true} {
			line := testWriter(&bytes.Buffer{}, "media").Append(nil, Sample{Decision: d, Upstream: up, UpstreamStatus: 200})
			if err := validate(bytes.TrimSuffix(line, []byte("\n"))); err != nil {
				t.Errorf("%s upstream=%v: %v\n%s", d, up, err, line)
			}
		}
	}
}

func FuzzAppend(f *testing.F) {
	f.Add("media", "inline", 4096, 206, int64(12500000), true, 1)
	f.Add("media", "ping", 0, 0, int64(0), false, 0)
	f.Add("b", "<\xff\u2028", -1, 599, int64(-1), true, -3)
	f.Fuzz(func(t *testing.T, bucket, decision string, inline, status int, latency int64, upstream bool, attempts int) {
		sameAsBaseline(t, testWriter(&bytes.Buffer{}, bucket), Sample{
			Decision: decision, InlineBytes: inline, UpstreamStatus: status,
			UpstreamLatency: time.Duration(latency), Upstream: upstream, UpstreamAttempts: attempts,
		})
	})
}

// countingWriter counts Write calls and keeps what they wrote.
type countingWriter struct {
	writes [][]byte
	err    error
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.writes = append(c.writes, append([]byte(nil), p...))
	if c.err != nil {
		return 0, c.err
	}
	return len(p), nil
}

func TestRecordWritesLineAndSampleOnce(t *testing.T) {
	c := &countingWriter{}
	w := New(c, "media")
	w.now = func() time.Time { return testTime }
	line := []byte(`{"message":"request"}` + "\n")
	s := Sample{Decision: "inline", Upstream: true, UpstreamStatus: 200}
	for range 3 {
		if err := w.Record(line, s); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Record(nil, Sample{Decision: "ping"}); err != nil {
		t.Fatal(err)
	}
	if len(c.writes) != 4 {
		t.Fatalf("%d writes for 4 records", len(c.writes))
	}
	want := append(append([]byte(nil), line...), w.Append(nil, s)...)
	for i, got := range c.writes[:3] {
		if !bytes.Equal(got, want) {
			t.Errorf("write %d:\n got %q\nwant %q", i, got, want)
		}
	}
	if got, want := c.writes[3], w.Append(nil, Sample{Decision: "ping"}); !bytes.Equal(got, want) {
		t.Errorf("without a line:\n got %q\nwant %q", got, want)
	}

	c.err = errors.New("stdout closed")
	if err := w.Record(line, s); !errors.Is(err, c.err) {
		t.Errorf("a failed write returned %v", err)
	}
}

func BenchmarkAppend(b *testing.B) {
	s := Sample{Decision: "inline", InlineBytes: 102400, UpstreamStatus: 206, UpstreamLatency: 12500 * time.Microsecond, Upstream: true, UpstreamAttempts: 1}
	w := New(nil, "studio-shotgrid-media")
	b.Run("baseline=encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := w.baselineLine(s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf = w.Append(buf[:0], s)
		}
	})
}
