package check

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/mediaisolation/s3proxy/pkg/stepreport"
)

// StepBucketPolicy reads the bucket policy and confirms it holds every
// statement of the stack's RecommendedBucketPolicy output, which names the
// current VPC, interface endpoint and proxy role.
const StepBucketPolicy = "bucket-policy"

// BucketPolicyAPI reads a bucket policy; *s3.Client satisfies it.
type BucketPolicyAPI interface {
	GetBucketPolicy(ctx context.Context, params *s3.GetBucketPolicyInput, optFns ...func(*s3.Options)) (*s3.GetBucketPolicyOutput, error)
}

var _ BucketPolicyAPI = (*s3.Client)(nil)

// BucketPolicy configures the bucket-policy step: Recommended is the
// stack's RecommendedBucketPolicy output.
type BucketPolicy struct {
	Recommended string
	S3          BucketPolicyAPI
}

const policyReapplyHint = "merge the stack's RecommendedBucketPolicy output into the bucket policy again (docs/deploy.md §5): " +
	"an update that replaced the VPC, the interface endpoint or the proxy role changes the IDs it names"

// statement is one policy statement with its values normalised: single
// strings become one-element lists, lists are sorted, condition keys are
// lower case (IAM compares them without case).
type statement struct {
	Sid         string
	Effect      string
	Principal   any
	Action      []string
	Resource    []string
	NotResource []string
	Condition   map[string]map[string][]string
}

func parsePolicy(doc string) ([]statement, error) {
	var p struct{ Statement json.RawMessage }
	if err := json.Unmarshal([]byte(doc), &p); err != nil {
		return nil, err
	}
	var raws []json.RawMessage
	// A single statement may be an object rather than a list.
	if t := strings.TrimSpace(string(p.Statement)); strings.HasPrefix(t, "{") {
		raws = []json.RawMessage{p.Statement}
	} else if err := json.Unmarshal(p.Statement, &raws); err != nil {
		return nil, fmt.Errorf("the policy's Statement: %w", err)
	}
	var out []statement
	for _, raw := range raws {
		var s struct {
			Sid         string
			Effect      string
			Principal   any
			Action      any
			Resource    any
			NotResource any
			Condition   map[string]map[string]any
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		st := statement{Sid: s.Sid, Effect: s.Effect, Principal: normPrincipal(s.Principal),
			Action: strList(s.Action), Resource: strList(s.Resource), NotResource: strList(s.NotResource),
			Condition: map[string]map[string][]string{}}
		for op, kv := range s.Condition {
			st.Condition[op] = map[string][]string{}
			for k, v := range kv {
				st.Condition[op][strings.ToLower(k)] = strList(v)
			}
		}
		out = append(out, st)
	}
	return out, nil
}

func strList(v any) []string {
	var out []string
	switch x := v.(type) {
	case string:
		out = []string{x}
	case []any:
		for _, e := range x {
			out = append(out, fmt.Sprint(e))
		}
	case nil:
	default:
		out = []string{fmt.Sprint(x)}
	}
	sort.Strings(out)
	return out
}

func normPrincipal(v any) any {
	if m, ok := v.(map[string]any); ok {
		n := map[string][]string{}
		for k, x := range m {
			n[k] = strList(x)
		}
		return n
	}
	return v
}

func subset(want, have []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// mergeable names, per recommended Deny statement, the condition keys the
// merge of docs/deploy.md §5 widens on purpose: ShotGrid's VPC IDs join
// DenyReadsOutsideProxyNetwork's aws:SourceVpc list, and its transcoder IPs
// come in a NotIpAddress block of their own. Each is an exception to that
// deny, as ShotGrid's Fine Tuning deny made them.
var mergeable = map[string][]mergedKey{
	"DenyReadsOutsideProxyNetwork": {
		{op: "StringNotEquals", key: "aws:sourcevpc"},
		{op: "NotIpAddress", key: "aws:sourceip", added: true},
	},
}

// mergedKey is one condition key the merge may add values to, or (added)
// bring in whole.
type mergedKey struct {
	op, key string
	added   bool
}

func mergedAs(sid, op, key string) (mergedKey, bool) {
	for _, m := range mergeable[sid] {
		if m.op == op && m.key == key {
			return m, true
		}
	}
	return mergedKey{}, false
}

// covers reports whether have holds want: the same effect, principal,
// actions and NotResource, and every resource. For an Allow, every
// condition value (have may add values). For a Deny, exactly want's
// condition keys and values: any added key narrows the deny, and an added
// value in a negated list (ArnNotEquals aws:PrincipalArn, StringNotEquals
// aws:SourceVpc) is one more exception to it; only the keys of mergeable
// may grow.
func covers(have, want statement) bool {
	if !strings.EqualFold(have.Effect, want.Effect) || !reflect.DeepEqual(have.Principal, want.Principal) ||
		!slices.Equal(have.Action, want.Action) || !subset(want.Resource, have.Resource) ||
		!slices.Equal(have.NotResource, want.NotResource) {
		return false
	}
	for op, kv := range want.Condition {
		for k, vs := range kv {
			if !subset(vs, have.Condition[op][k]) {
				return false
			}
		}
	}
	if !strings.EqualFold(want.Effect, "Deny") {
		return true
	}
	return len(extras(have, want)) == 0
}

// extras names what a Deny statement have holds beyond want, other than
// what the merge may add: condition keys want lacks, and values want's
// keys lack.
func extras(have, want statement) []string {
	var out []string
	for op, kv := range have.Condition {
		for k, vs := range kv {
			m, merged := mergedAs(want.Sid, op, k)
			wantVs, ok := want.Condition[op][k]
			switch {
			case !ok && !(merged && m.added):
				out = append(out, fmt.Sprintf("extra condition %s %s", op, k))
			case ok && !merged:
				for _, v := range vs {
					if !slices.Contains(wantVs, v) {
						out = append(out, fmt.Sprintf("%s %s has extra %s", op, k, v))
					}
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// bucketPolicy is the step.
func (r *runner) bucketPolicy(ctx context.Context) stepreport.Result {
	bp := r.o.BucketPolicy
	if bp == nil || bp.Recommended == "" {
		return stepreport.Skipped("", "pass --stack (its RecommendedBucketPolicy output) to check the bucket policy")
	}
	want, err := parsePolicy(bp.Recommended)
	if err != nil {
		return stepreport.Failed("the RecommendedBucketPolicy output is not a policy document: pass it whole", "parsing RecommendedBucketPolicy: %v", err)
	}
	out, err := bp.S3.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String(r.o.Bucket)})
	var api smithy.APIError
	switch {
	case errors.As(err, &api) && api.ErrorCode() == "NoSuchBucketPolicy":
		return stepreport.Failed(policyReapplyHint, "the bucket has no policy: reads are not limited to the proxy")
	case err != nil:
		return stepreport.Failed(s3Hint(err, "s3:GetBucketPolicy"), "GetBucketPolicy: %v", err)
	}
	have, err := parsePolicy(aws.ToString(out.Policy))
	if err != nil {
		return stepreport.Failed("the bucket policy does not parse as JSON", "%v", err)
	}
	var missing []string
	for _, w := range want {
		found := false
		for _, h := range have {
			if covers(h, w) {
				found = true
				break
			}
		}
		if found {
			continue
		}
		name := w.Sid
		if name == "" {
			name = w.Effect + " " + strings.Join(w.Action, ",")
		}
		for _, h := range have {
			if h.Sid != "" && h.Sid == w.Sid {
				name += " (present, but naming other values: " + differs(h, w) + ")"
			}
		}
		missing = append(missing, name)
	}
	if len(missing) > 0 {
		return stepreport.Failed(policyReapplyHint, "the bucket policy lacks %s", strings.Join(missing, "; "))
	}
	return stepreport.Passed("the bucket policy holds all %d statements of RecommendedBucketPolicy", len(want))
}

// differs names what of want have lacks, for the detail.
func differs(have, want statement) string {
	var d []string
	if !reflect.DeepEqual(have.Principal, want.Principal) {
		d = append(d, fmt.Sprintf("principal %v, want %v", have.Principal, want.Principal))
	}
	for op, kv := range want.Condition {
		for k, vs := range kv {
			for _, v := range vs {
				if !slices.Contains(have.Condition[op][k], v) {
					d = append(d, fmt.Sprintf("%s %s lacks %s", op, k, v))
				}
			}
		}
	}
	if !subset(want.Resource, have.Resource) || !slices.Equal(have.NotResource, want.NotResource) {
		d = append(d, "resources differ")
	}
	if strings.EqualFold(want.Effect, "Deny") {
		d = append(d, extras(have, want)...)
	}
	if len(d) == 0 {
		d = append(d, "effect or actions differ")
	}
	sort.Strings(d)
	return strings.Join(d, ", ")
}
