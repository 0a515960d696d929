// Package stepreport is what s3proxy check and s3proxy preflight share:
// a run made of named steps, each under its own time limit, that each end
// PASS, FAIL, WARN or SKIP with a detail and, for anything but PASS, a hint
// naming the fix; the report of the run, OK unless a step failed; and its
// text lines and JSON document. One place for these keeps the two commands'
// output alike, so an operator reads both the same way.
package stepreport

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// Status is a step's outcome.
type Status string

// Step outcomes. Only FAIL fails the run.
const (
	Pass Status = "PASS"
	Fail Status = "FAIL"
	Warn Status = "WARN"
	Skip Status = "SKIP"
)

// Result is what a step function finds.
type Result struct {
	Status Status
	// Detail says what was observed.
	Detail string
	// Hint names the fix, or the likely cause, in deployment terms.
	Hint string
}

// Passed is a PASS with the detail format makes.
func Passed(format string, a ...any) Result {
	return Result{Status: Pass, Detail: fmt.Sprintf(format, a...)}
}

// Failed is a FAIL with hint and the detail format makes.
func Failed(hint, format string, a ...any) Result {
	return Result{Status: Fail, Detail: fmt.Sprintf(format, a...), Hint: hint}
}

// Warned is a WARN with hint and the detail format makes.
func Warned(hint, format string, a ...any) Result {
	return Result{Status: Warn, Detail: fmt.Sprintf(format, a...), Hint: hint}
}

// Skipped is a SKIP with hint ("" for none) and the detail format makes.
func Skipped(hint, format string, a ...any) Result {
	return Result{Status: Skip, Detail: fmt.Sprintf(format, a...), Hint: hint}
}

// Step is one step's result, as the reports list it.
type Step struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	// OK is Status == PASS. The JSON leaves it out; a report whose JSON
	// carries it converts each step to a type of the same fields that tags
	// it (Go converts between struct types that differ only in tags).
	OK       bool          `json:"-"`
	Duration time.Duration `json:"-"`
	// DurationMS is Duration in whole milliseconds, for the JSON report.
	DurationMS int64  `json:"durationMs"`
	Detail     string `json:"detail,omitempty"`
	Hint       string `json:"hint,omitempty"`
}

// Report is a whole run; OK is false when a step failed.
type Report struct {
	OK    bool   `json:"ok"`
	Steps []Step `json:"steps"`
}

// Runner runs steps one at a time, each under its own time limit, and
// keeps their results in order. Its zero value has no time limit.
type Runner struct {
	// Timeout bounds each step; 0: no bound.
	Timeout time.Duration
	// FailHint is given to a FAIL that names no hint; "": none.
	FailHint string
	// OnStep, when set, is called as each step finishes.
	OnStep func(Step)

	steps []Step
}

// Run runs f as the step called name, under Timeout, and keeps its result.
func (r *Runner) Run(ctx context.Context, name string, f func(context.Context) Result) Step {
	cancel := context.CancelFunc(func() {})
	if r.Timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, r.Timeout)
	}
	start := time.Now()
	res := f(ctx)
	d := time.Since(start)
	cancel()
	return r.Record(name, d, res)
}

// Record keeps res as the step called name that took d: what Run does once
// f has returned, and how a step that is not run is listed.
func (r *Runner) Record(name string, d time.Duration, res Result) Step {
	if res.Status == Fail && res.Hint == "" {
		res.Hint = r.FailHint
	}
	s := Step{
		Name: name, Status: res.Status, OK: res.Status == Pass, Duration: d, DurationMS: d.Milliseconds(),
		Detail: res.Detail, Hint: res.Hint,
	}
	r.steps = append(r.steps, s)
	if r.OnStep != nil {
		r.OnStep(s)
	}
	return s
}

// Report is every step kept so far, in order.
func (r *Runner) Report() Report {
	rep := Report{OK: true, Steps: slices.Clone(r.steps)}
	for _, s := range r.steps {
		if s.Status == Fail {
			rep.OK = false
		}
	}
	return rep
}
