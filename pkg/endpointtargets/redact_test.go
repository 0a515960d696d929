package endpointtargets

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/cfn"
)

// A presigned ResponseURL's query, as CloudFormation sends it.
const presignedQuery = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAEXAMPLE%2F20260101%2Fus-east-1%2Fs3%2Faws4_request" +
	"&X-Amz-Date=20260101T000000Z&X-Amz-Expires=7200&X-Amz-SignedHeaders=host" +
	"&X-Amz-Security-Token=FwoGZXIvYXdzEXAMPLETOKEN&X-Amz-Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func secretsIn(s string) []string {
	var found []string
	for _, secret := range []string{"X-Amz-Signature", "0123456789abcdef0123456789abcdef", "X-Amz-Security-Token", "FwoGZXIvYXdzEXAMPLETOKEN", "AKIAEXAMPLE"} {
		if strings.Contains(s, secret) {
			found = append(found, secret)
		}
	}
	return found
}

func TestRedactResponseURL(t *testing.T) {
	// A loopback port nothing listens on: the PUT of the answer fails to connect.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + l.Addr().String() + "/cloudformation-custom-resource-response-euwest1/stack/res?" + presignedQuery
	_ = l.Close()
	// A server that hangs up mid-answer: another *url.Error.
	hangup := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = c.Close()
		}
	}))
	defer hangup.Close()

	handler := func(context.Context, cfn.Event) (string, map[string]any, error) {
		return "id-1", nil, nil
	}
	for _, tc := range []struct{ name, url string }{
		{"connection refused", refused},
		{"connection closed", hangup.URL + "/res?" + presignedQuery},
	} {
		t.Run(tc.name, func(t *testing.T) {
			event := cfn.Event{RequestType: cfn.RequestCreate, RequestID: "r", ResponseURL: tc.url}
			// The bare wrapper leaks: the test would catch a regression to it.
			reason, err := cfn.LambdaWrap(handler)(context.Background(), event)
			if err == nil {
				t.Fatal("the answer's PUT succeeded; want a failure")
			}
			if len(secretsIn(err.Error()+reason)) == 0 {
				t.Fatalf("cfn.LambdaWrap no longer leaks the URL (%v): the redaction may be unneeded", err)
			}
			reason, err = RedactResponseURL(cfn.LambdaWrap(handler))(context.Background(), event)
			if err == nil {
				t.Fatal("the redacted wrapper hid the failure")
			}
			if found := secretsIn(err.Error() + " " + reason); len(found) > 0 {
				t.Errorf("error %q / reason %q still hold %v", err, reason, found)
			}
			if !strings.Contains(err.Error(), "/res?<redacted>") {
				t.Errorf("error %q no longer says where the answer went", err)
			}
		})
	}
}

func TestRedactKeepsOtherErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, raw, want string }{
		{"no URL", "invalid status code. got: 403", "https://h/p?X-Amz-Signature=s", "invalid status code. got: 403"},
		{"the URL", `Put "https://h/p?X-Amz-Signature=s": EOF`, "https://h/p?X-Amz-Signature=s", `Put "https://h/p?<redacted>": EOF`},
		{"the query alone", "q=X-Amz-Signature=s", "https://h/p?X-Amz-Signature=s", "q=<redacted>"},
		{"no ResponseURL", "boom", "", "boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := redact(tc.in, tc.raw); got != tc.want {
				t.Errorf("redact(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
