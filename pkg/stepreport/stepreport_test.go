package stepreport

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRunner(t *testing.T) {
	var seen []string
	r := Runner{Timeout: 20 * time.Millisecond, FailHint: "see the detail", OnStep: func(s Step) { seen = append(seen, s.Name) }}
	r.Run(context.Background(), "quick", func(context.Context) Result { return Passed("took %d", 0) })
	slow := r.Run(context.Background(), "slow", func(ctx context.Context) Result {
		<-ctx.Done()
		return Failed("", "%v", ctx.Err())
	})
	r.Record("not-run", 0, Skipped("", "the proxy did not answer"))
	rep := r.Report()

	if strings.Join(seen, ",") != "quick,slow,not-run" {
		t.Errorf("OnStep saw %v", seen)
	}
	if rep.OK || len(rep.Steps) != 3 {
		t.Fatalf("OK %v with %d steps, want false with 3", rep.OK, len(rep.Steps))
	}
	if q := rep.Steps[0]; !q.OK || q.Status != Pass || q.Detail != "took 0" {
		t.Errorf("quick: %+v", q)
	}
	if !strings.Contains(slow.Detail, context.DeadlineExceeded.Error()) || slow.Hint != "see the detail" || slow.OK {
		t.Errorf("a step past its time limit: %+v", slow)
	}
	if slow.Duration < 20*time.Millisecond || slow.DurationMS != slow.Duration.Milliseconds() {
		t.Errorf("slow took %v (%d ms)", slow.Duration, slow.DurationMS)
	}

	var ok Runner
	ok.Run(context.Background(), "a", func(ctx context.Context) Result {
		if _, bounded := ctx.Deadline(); bounded {
			return Failed("", "a zero Timeout bounded the step")
		}
		return Warned("fix it", "odd")
	})
	if rep := ok.Report(); !rep.OK || rep.Steps[0].Hint != "fix it" {
		t.Errorf("a WARN fails the run or loses its hint: %+v", rep)
	}
}

func TestLine(t *testing.T) {
	tenths := func(d time.Duration) time.Duration { return d.Round(100 * time.Millisecond) }
	for _, tc := range []struct {
		name string
		text Text
		step Step
		want string
	}{
		{"pass hides its hint", Text{}, Step{Name: "ping", Status: Pass, Duration: 12300 * time.Microsecond, Detail: "200", Hint: "h"}, "PASS  ping  (12ms)  200"},
		{"fail", Text{}, Step{Name: "put", Status: Fail, Duration: 40 * time.Millisecond, Detail: "403", Hint: "check the host"}, "FAIL  put  (40ms)  403 — check the host"},
		{"warn", Text{}, Step{Name: "kms", Status: Warn, Detail: "odd", Hint: "look"}, "WARN  kms  (0s)  odd — look"},
		{"skip without detail", Text{}, Step{Name: "cors", Status: Skip, Hint: "pass --origin"}, "SKIP  cors  (0s) — pass --origin"},
		{"default rounding", Text{}, Step{Name: "big", Status: Pass, Duration: 1234567 * time.Microsecond}, "PASS  big  (1.235s)"},
		{"own rounding", Text{Round: tenths}, Step{Name: "big", Status: Pass, Duration: 1234567 * time.Microsecond}, "PASS  big  (1.2s)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.text.Line(tc.step); got != tc.want {
				t.Errorf("Line = %q\n  want %q", got, tc.want)
			}
		})
	}
}

func TestSummary(t *testing.T) {
	steps := []Step{{Status: Pass}, {Status: Fail}, {Status: Warn}, {Status: Skip}, {Status: Skip}}
	for _, tc := range []struct {
		name    string
		ok      bool
		counted []Status
		want    string
	}{
		{"every status", true, []Status{Pass, Fail, Warn, Skip}, "OK: 1 passed, 1 failed, 1 warned, 2 skipped"},
		{"failed, no WARN counted", false, []Status{Pass, Fail, Skip}, "FAILED: 1 passed, 1 failed, 2 skipped"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := (Text{Counted: tc.counted}).Summary(tc.ok, steps); got != tc.want {
				t.Errorf("Summary = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestWriteJSON(t *testing.T) {
	var buf bytes.Buffer
	rep := Report{OK: false, Steps: []Step{
		{Name: "upload", Status: Fail, OK: false, Duration: 3 * time.Millisecond, DurationMS: 3, Detail: "PUT <403> & more", Hint: "fix"},
		{Name: "kms", Status: Pass, OK: true, DurationMS: 1},
	}}
	if err := WriteJSON(&buf, rep); err != nil {
		t.Fatal(err)
	}
	want := `{
  "ok": false,
  "steps": [
    {
      "name": "upload",
      "status": "FAIL",
      "durationMs": 3,
      "detail": "PUT <403> & more",
      "hint": "fix"
    },
    {
      "name": "kms",
      "status": "PASS",
      "durationMs": 1
    }
  ]
}
`
	if buf.String() != want {
		t.Errorf("WriteJSON:\n%s\nwant:\n%s", buf.String(), want)
	}
	buf.Reset()
	if err := WriteJSON(&buf, Report{OK: true}); err != nil || !strings.Contains(buf.String(), `"steps": []`) {
		t.Errorf("a report of no steps must list them as [], got %s (%v)", buf.String(), err)
	}
	if err := Encode(failingWriter{}, rep); err == nil {
		t.Error("Encode hid the writer's error")
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }
