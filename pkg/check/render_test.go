package check

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestLine(t *testing.T) {
	for _, tc := range []struct {
		step Step
		want string
	}{
		{Step{Name: "ping", Status: Pass, Duration: 12300 * time.Microsecond, Detail: "200 text/plain"}, "PASS  ping  (12ms)  200 text/plain"},
		{Step{Name: "multipart-parts", Status: Fail, Duration: 40 * time.Millisecond, Detail: "UploadPart 1 (5.0 MiB) answered 413",
			Hint: "PUT answered 413: UploadPassthrough is off"},
			"FAIL  multipart-parts  (40ms)  UploadPart 1 (5.0 MiB) answered 413 — PUT answered 413: UploadPassthrough is off"},
		{Step{Name: "cors-origin", Status: Skip, Detail: "no origin given"}, "SKIP  cors-origin  (0s)  no origin given"},
		{Step{Name: "get-large", Status: Pass, Duration: 1234567 * time.Microsecond}, "PASS  get-large  (1.23s)"},
	} {
		if got := Line(tc.step); got != tc.want {
			t.Errorf("Line = %q\n  want %q", got, tc.want)
		}
	}
}

func TestWriteJSON(t *testing.T) {
	rep := Report{OK: false, URL: "https://s3-proxy.studio.com", Bucket: "media", Folder: "s3proxy-check/x/", Steps: []Step{
		{Name: "ping", Status: Pass, OK: true, Duration: 12 * time.Millisecond, DurationMS: 12, Detail: "200"},
		{Name: "put-small", Status: Fail, Duration: 3 * time.Millisecond, DurationMS: 3, Detail: "PUT answered 403", Hint: "check the signed host"},
	}}
	var buf bytes.Buffer
	if err := WriteJSON(&buf, rep); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	if got["ok"] != false || got["bucket"] != "media" || got["folder"] != "s3proxy-check/x/" {
		t.Errorf("report fields: %v", got)
	}
	steps := got["steps"].([]any)
	fail := steps[1].(map[string]any)
	want := map[string]any{"name": "put-small", "status": "FAIL", "ok": false, "durationMs": 3.0, "detail": "PUT answered 403", "hint": "check the signed host"}
	for k, v := range want {
		if fail[k] != v {
			t.Errorf("step field %s = %v, want %v", k, fail[k], v)
		}
	}
	if _, ok := steps[0].(map[string]any)["hint"]; ok {
		t.Error("a passed step carries a hint field")
	}

	buf.Reset()
	if err := WriteJSON(&buf, Report{OK: true}); err != nil || !strings.Contains(buf.String(), `"steps": []`) {
		t.Errorf("an empty report must list no steps as [], got %s (%v)", buf.String(), err)
	}
}

func TestSummary(t *testing.T) {
	rep := Report{OK: false, Folder: "shotgun/s3proxy-check/x/", Steps: []Step{{Status: Pass}, {Status: Fail}, {Status: Skip}, {Status: Skip}}}
	if got, want := Summary(rep), "FAILED: 1 passed, 1 failed, 2 skipped (objects under shotgun/s3proxy-check/x/)"; got != want {
		t.Errorf("Summary = %q, want %q", got, want)
	}
}

func TestFolderIsUnique(t *testing.T) {
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.FixedZone("CET", 3600))
	a, b := Folder("shotgun/", now), Folder("shotgun/", now)
	if a == b {
		t.Errorf("two runs in the same second share %q", a)
	}
	if !regexp.MustCompile(`^shotgun/s3proxy-check/20260304T040607Z-[0-9a-f]{8}/$`).MatchString(a) {
		t.Errorf("Folder = %q", a)
	}
}

func TestTamper(t *testing.T) {
	for _, u := range []string{
		"https://p/k?X-Amz-Date=1&X-Amz-Signature=abc0",
		"https://p/k?X-Amz-Signature=abc1&x-id=GetObject",
	} {
		got, ok := tamper(u)
		if !ok || got == u || len(got) != len(u) {
			t.Errorf("tamper(%q) = %q, %v", u, got, ok)
		}
	}
	if _, ok := tamper("https://p/k?X-Amz-Date=1"); ok {
		t.Error("tampered a URL without a signature")
	}
}

func TestErrorCode(t *testing.T) {
	body := []byte(`<?xml version="1.0"?><Error><Code>SignatureDoesNotMatch</Code><StringToSign>AWS4…</StringToSign></Error>`)
	if got := (&response{body: body}).code(); got != "SignatureDoesNotMatch" {
		t.Errorf("errorCode = %q", got)
	}
	if got := (&response{body: []byte("plain text")}).code(); got != "" {
		t.Errorf("errorCode of a non-XML body = %q", got)
	}
}

func TestValidate(t *testing.T) {
	err := (&Options{URL: "ftp://x/y", Origin: "studio"}).Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, w := range []string{"proxy URL", "bucket", "region", "origin", "credentials", "S3 client"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q lacks %q", err, w)
		}
	}
}
