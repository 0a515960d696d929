package s3error

import (
	"strings"
	"testing"
)

func TestCodeOf(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"S3's error", `<?xml version="1.0"?><Error><Code>SignatureDoesNotMatch</Code><StringToSign>AWS4…</StringToSign></Error>`, "SignatureDoesNotMatch"},
		{"not XML", "plain text", ""},
		{"unclosed", "<Error><Code>AccessDenied", ""},
		{"too long", "<Code>" + strings.Repeat("A", 65) + "</Code>", ""},
		{"64 bytes", "<Code>" + strings.Repeat("A", 64) + "</Code>", strings.Repeat("A", 64)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := CodeOf([]byte(tc.body)); got != tc.want {
				t.Errorf("CodeOf = %q, want %q", got, tc.want)
			}
		})
	}
}
