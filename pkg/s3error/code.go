package s3error

import "bytes"

// CodeOf is the <Code> of an S3 error body, or "" when it has none or one
// longer than 64 bytes. It is for what s3proxy check and preflight report
// to the operator, who sees S3's answer by its code and never its whole
// body (which carries the string to sign). Unlike Cut, whose code goes to a
// client, it takes the code's text as it stands.
func CodeOf(body []byte) string {
	_, rest, ok := bytes.Cut(body, []byte("<Code>"))
	if !ok {
		return ""
	}
	c, _, ok := bytes.Cut(rest, []byte("</Code>"))
	if !ok || len(c) > 64 {
		return ""
	}
	return string(c)
}
