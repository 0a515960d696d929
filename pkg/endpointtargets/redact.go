package endpointtargets

import (
	"context"
	"errors"
	"net/url"
	"strings"

	"github.com/aws/aws-lambda-go/cfn"
)

// RedactResponseURL wraps what cfn.LambdaWrap returns so that neither the
// result nor the error carries the query of the event's ResponseURL.
// CloudFormation's ResponseURL is a presigned S3 URL; when the PUT of the
// answer to it fails, the wrapper returns net/http's *url.Error, whose text
// is the whole URL with its X-Amz-Signature (and, for temporary
// credentials, X-Amz-Security-Token), and Lambda writes a returned error to
// the function's log. The URL's scheme, host and path stay, so the log
// still says where the answer was going.
func RedactResponseURL(fn cfn.CustomResourceLambdaFunction) cfn.CustomResourceLambdaFunction {
	return func(ctx context.Context, event cfn.Event) (string, error) {
		reason, err := fn(ctx, event)
		return redact(reason, event.ResponseURL), redactError(err, event.ResponseURL)
	}
}

// redact removes raw (the ResponseURL) and its query from s, whatever
// quoting put the URL there.
func redact(s, raw string) string {
	if raw == "" || s == "" {
		return s
	}
	u, err := url.Parse(raw)
	if err != nil {
		// Not a URL we can take apart: drop it whole.
		return strings.ReplaceAll(s, raw, "<ResponseURL>")
	}
	kept := *u
	kept.RawQuery, kept.Fragment = "", ""
	safe := kept.String() + "?<redacted>"
	s = strings.ReplaceAll(s, raw, safe)
	if u.RawQuery != "" {
		s = strings.ReplaceAll(s, u.RawQuery, "<redacted>")
	}
	if q, err := url.QueryUnescape(u.RawQuery); err == nil && q != "" {
		s = strings.ReplaceAll(s, q, "<redacted>")
	}
	return s
}

func redactError(err error, raw string) error {
	if err == nil {
		return nil
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		// Rebuilt from its parts: the URL's own text never reaches Error().
		return errors.New(redact(ue.Op+" "+redact(ue.URL, raw)+": "+ue.Err.Error(), raw))
	}
	return errors.New(redact(err.Error(), raw))
}
