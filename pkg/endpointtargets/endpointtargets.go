package endpointtargets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/cfn"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"
)

// EC2API is the part of the EC2 API the resource reads: the endpoint, to get
// its network interface IDs, and those interfaces, to get their IPs.
type EC2API interface {
	DescribeVpcEndpoints(ctx context.Context, params *ec2.DescribeVpcEndpointsInput, optFns ...func(*ec2.Options)) (*ec2.DescribeVpcEndpointsOutput, error)
	DescribeNetworkInterfaces(ctx context.Context, params *ec2.DescribeNetworkInterfacesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeNetworkInterfacesOutput, error)
}

// ELBAPI is the part of the ELBv2 API the resource uses on its target group.
// DescribeTargetHealth is how it learns what is registered, so an Update can
// remove IPs the endpoint no longer has without keeping state anywhere.
type ELBAPI interface {
	RegisterTargets(ctx context.Context, params *elbv2.RegisterTargetsInput, optFns ...func(*elbv2.Options)) (*elbv2.RegisterTargetsOutput, error)
	DeregisterTargets(ctx context.Context, params *elbv2.DeregisterTargetsInput, optFns ...func(*elbv2.Options)) (*elbv2.DeregisterTargetsOutput, error)
	DescribeTargetHealth(ctx context.Context, params *elbv2.DescribeTargetHealthInput, optFns ...func(*elbv2.Options)) (*elbv2.DescribeTargetHealthOutput, error)
}

// The SDK clients satisfy the interfaces as they are, with no wrapper.
var (
	_ EC2API = (*ec2.Client)(nil)
	_ ELBAPI = (*elbv2.Client)(nil)
)

// DefaultPort is where S3 interface endpoints listen for HTTPS.
const DefaultPort = 443

// DefaultPollInterval is how long the resource waits between looks at an
// endpoint that is not available yet or has no network interfaces yet, and
// between retries of a call refused while IAM settles.
const DefaultPollInterval = 5 * time.Second

// DefaultInterfaceWait bounds the wait for DescribeVpcEndpoints to report
// the interfaces the properties name. Past it, what EC2 reports wins: during
// a rollback the endpoint gets new interfaces again, so the IDs in the
// (previous) properties may never come back, and the target group must
// follow the endpoint, not the template. It stays well inside the
// function's time budget (template Timeout 120 s less Guard's margin).
const DefaultInterfaceWait = 45 * time.Second

// DefaultIAMSettle is how long a refused call is retried on Create. The
// function's role and its policy are created moments before CloudFormation
// first invokes it, and IAM changes take a few seconds to apply everywhere.
const DefaultIAMSettle = time.Minute

// Properties are the custom resource's properties, as written in the
// template.
type Properties struct {
	// VpcEndpointID is the interface endpoint whose IPs become targets.
	VpcEndpointID string
	// TargetGroupArn is the IP target group the resource owns: after a
	// Create or Update it holds exactly the endpoint's IPs.
	TargetGroupArn string
	// Port is the target port; DefaultPort when the template leaves it out.
	Port int32
	// NetworkInterfaceIDs are the endpoint's interfaces as CloudFormation
	// last reported them (!GetAtt <endpoint>.NetworkInterfaceIds). They are
	// passed so that every change of the endpoint's interfaces changes the
	// resource's properties, which is what makes CloudFormation send an
	// Update: a SubnetIds change updates the endpoint in place, keeping its
	// ID. Optional; when set, the resource waits until DescribeVpcEndpoints
	// reports the same set before it reads the IPs.
	NetworkInterfaceIDs []string
}

// ParseProperties reads the resource properties. CloudFormation passes every
// scalar as a string, so Port is accepted as a string or a number.
func ParseProperties(props map[string]any) (Properties, error) {
	p := Properties{Port: DefaultPort}
	var errs []error
	str := func(key string) string {
		v, ok := props[key]
		if !ok {
			errs = append(errs, fmt.Errorf("property %s is required", key))
			return ""
		}
		s, ok := v.(string)
		if !ok || s == "" {
			errs = append(errs, fmt.Errorf("property %s must be a non-empty string", key))
		}
		return s
	}
	p.VpcEndpointID = str("VpcEndpointId")
	p.TargetGroupArn = str("TargetGroupArn")
	if v, ok := props["NetworkInterfaceIds"]; ok {
		ids, err := stringList(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("property NetworkInterfaceIds: %w", err))
		}
		p.NetworkInterfaceIDs = ids
	}
	if v, ok := props["Port"]; ok {
		port, err := parsePort(v)
		if err != nil {
			errs = append(errs, err)
		}
		p.Port = port
	}
	return p, errors.Join(errs...)
}

// stringList reads a list property: CloudFormation passes a JSON array of
// strings; a comma-separated string is accepted too. Empty entries are
// dropped, and the result is sorted.
func stringList(v any) ([]string, error) {
	var out []string
	switch v := v.(type) {
	case string:
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	case []any:
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("entry %v is %T, not a string", e, e)
			}
			if s != "" {
				out = append(out, s)
			}
		}
	case []string:
		for _, s := range v {
			if s != "" {
				out = append(out, s)
			}
		}
	default:
		return nil, fmt.Errorf("unexpected type %T", v)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func parsePort(v any) (int32, error) {
	var n int64
	switch v := v.(type) {
	case string:
		i, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			return 0, fmt.Errorf("property Port: %q is not a number", v)
		}
		n = i
	case float64:
		if v != float64(int64(v)) {
			return 0, fmt.Errorf("property Port: %v is not a whole number", v)
		}
		n = int64(v)
	default:
		return 0, fmt.Errorf("property Port: unexpected type %T", v)
	}
	if n < 1 || n > 65535 {
		return 0, fmt.Errorf("property Port: %d is out of range 1-65535", n)
	}
	return int32(n), nil
}

// Reconciler answers the custom resource's lifecycle events. The zero value
// is not usable: EC2 and ELB are required.
type Reconciler struct {
	EC2 EC2API
	ELB ELBAPI
	// Network serves Custom::NetworkChecks (network.go). Nil refuses those
	// events; the EndpointTargets resource does not use it.
	Network NetworkAPI
	// Certificates serves the certificate part of Custom::NetworkChecks.
	// Nil refuses those events too.
	Certificates CertificateAPI
	// BucketRegions tells the bucket's region for Custom::NetworkChecks.
	// Nil skips that check.
	BucketRegions BucketRegionAPI
	// PollInterval is the wait between looks at an endpoint that is still
	// coming up. Zero means DefaultPollInterval.
	PollInterval time.Duration
	// InterfaceWait bounds the wait for the endpoint to report the
	// interfaces named in the properties. Zero means DefaultInterfaceWait.
	InterfaceWait time.Duration
	// IAMSettle bounds the retries of calls refused with an authorisation
	// error. Zero means DefaultIAMSettle; negative means no retries.
	IAMSettle time.Duration
	// Logger receives one line per change made. Nil means slog.Default().
	Logger *slog.Logger
}

// PhysicalID is the resource's physical ID: the same for every event of one
// resource in one stack, so an Update is never mistaken by CloudFormation for
// a replacement (which would be followed by a Delete of the "old" resource,
// deregistering the targets just registered).
func PhysicalID(event cfn.Event) string {
	if event.RequestType != cfn.RequestCreate && event.PhysicalResourceID != "" {
		return event.PhysicalResourceID
	}
	// The stack ID ends in a UUID: unique per stack, constant for its life.
	stack := event.StackID
	if i := strings.LastIndexByte(stack, '/'); i >= 0 {
		stack = stack[i+1:]
	}
	return "endpointtargets-" + event.LogicalResourceID + "-" + stack
}

// Handle is a cfn.CustomResourceFunction. Its data output has the keys Ips,
// the registered IPs, comma-separated and sorted, and RegionalDnsName, the
// endpoint's regional DNS name without the leading "*." (see
// RegionalDNSName). Events of a Custom::NetworkChecks resource go to
// HandleNetworkChecks.
func (r *Reconciler) Handle(ctx context.Context, event cfn.Event) (string, map[string]any, error) {
	if event.ResourceType == NetworkChecksType {
		return r.HandleNetworkChecks(ctx, event)
	}
	id := PhysicalID(event)
	switch event.RequestType {
	case cfn.RequestCreate, cfn.RequestUpdate:
		props, err := ParseProperties(event.ResourceProperties)
		if err != nil {
			return id, nil, err
		}
		ips, dnsName, err := r.reconcile(ctx, props)
		if err != nil {
			return id, nil, err
		}
		if event.RequestType == cfn.RequestUpdate {
			r.releaseOldTargetGroup(ctx, event.OldResourceProperties, props.TargetGroupArn)
		}
		return id, map[string]any{"Ips": strings.Join(ips, ","), "RegionalDnsName": dnsName}, nil
	case cfn.RequestDelete:
		return id, nil, r.delete(ctx, event.ResourceProperties)
	default:
		return id, nil, fmt.Errorf("unknown request type %q", event.RequestType)
	}
}

// reconcile makes the target group hold exactly the endpoint's IPs. Register
// first, then deregister, so the group is never empty while the endpoint has
// interfaces.
func (r *Reconciler) reconcile(ctx context.Context, p Properties) ([]string, string, error) {
	ips, dnsName, err := r.endpointIPs(ctx, p.VpcEndpointID, p.NetworkInterfaceIDs)
	if err != nil {
		return nil, "", err
	}
	want := make([]elbtypes.TargetDescription, 0, len(ips))
	for _, ip := range ips {
		want = append(want, elbtypes.TargetDescription{Id: aws.String(ip), Port: aws.Int32(p.Port)})
	}
	// No AvailabilityZone: the IPs are in the target group's VPC, where ELB
	// detects the zone itself. It is required only for IPs outside the VPC.
	if err := r.settling(ctx, func() error {
		_, err := r.ELB.RegisterTargets(ctx, &elbv2.RegisterTargetsInput{
			TargetGroupArn: aws.String(p.TargetGroupArn), Targets: want,
		})
		return err
	}); err != nil {
		return nil, "", fmt.Errorf("register %s on %s: %w", strings.Join(ips, ","), p.TargetGroupArn, err)
	}
	r.logger().Info("registered endpoint targets", "targetGroup", p.TargetGroupArn, "ips", ips, "port", p.Port)

	registered, err := r.registered(ctx, p.TargetGroupArn)
	if err != nil {
		return nil, "", err
	}
	var stale []elbtypes.TargetDescription
	for _, t := range registered {
		if slices.Contains(ips, aws.ToString(t.Id)) && aws.ToInt32(t.Port) == p.Port {
			continue
		}
		stale = append(stale, t)
	}
	if err := r.deregister(ctx, p.TargetGroupArn, stale); err != nil {
		return nil, "", err
	}
	return ips, dnsName, nil
}

// delete empties the target group. It tolerates a group or targets that are
// already gone: a Delete also follows a failed Create, whose properties may
// never have been valid, and a stack stuck in DELETE_FAILED is worse than a
// target left in a group that CloudFormation deletes next anyway.
func (r *Reconciler) delete(ctx context.Context, props map[string]any) error {
	arn, _ := props["TargetGroupArn"].(string)
	if arn == "" {
		r.logger().Warn("delete: no target group in the properties, nothing to do")
		return nil
	}
	registered, err := r.registered(ctx, arn)
	if isCode(err, "TargetGroupNotFound") {
		r.logger().Info("delete: target group already gone", "targetGroup", arn)
		return nil
	}
	if err != nil {
		return err
	}
	return r.deregister(ctx, arn, registered)
}

// releaseOldTargetGroup empties the target group of the previous properties
// when an Update moved the resource to a new one. It is best effort: when
// the group was replaced, CloudFormation deletes the old one right after this
// Update (taking its targets with it), and the function's role may already
// be scoped to the new group only, so AccessDenied is expected.
func (r *Reconciler) releaseOldTargetGroup(ctx context.Context, old map[string]any, current string) {
	arn, _ := old["TargetGroupArn"].(string)
	if arn == "" || arn == current {
		return
	}
	registered, err := r.registered(ctx, arn)
	if err == nil {
		err = r.deregister(ctx, arn, registered)
	}
	if err != nil && !isCode(err, "TargetGroupNotFound") {
		r.logger().Warn("could not empty the previous target group; CloudFormation removes it with the group",
			"targetGroup", arn, "error", err)
	}
}

// endpointIPs waits until the endpoint is available with network interfaces
// (with exactly wantENIs, when that is not empty: CloudFormation has already
// seen the new set, and EC2's read side may lag behind it), then returns
// their primary private IPs, sorted, and the endpoint's regional DNS name.
// It gives up when ctx ends.
func (r *Reconciler) endpointIPs(ctx context.Context, endpointID string, wantENIs []string) ([]string, string, error) {
	var eniIDs []string
	var dnsName string
	wait := r.InterfaceWait
	if wait <= 0 {
		wait = DefaultInterfaceWait
	}
	stopMatching := time.Now().Add(wait)
	for {
		var out *ec2.DescribeVpcEndpointsOutput
		err := r.settling(ctx, func() (err error) {
			out, err = r.EC2.DescribeVpcEndpoints(ctx, &ec2.DescribeVpcEndpointsInput{VpcEndpointIds: []string{endpointID}})
			return err
		})
		if err != nil {
			return nil, "", fmt.Errorf("describe endpoint %s: %w", endpointID, err)
		}
		if len(out.VpcEndpoints) != 1 {
			return nil, "", fmt.Errorf("describe endpoint %s: got %d endpoints, want 1", endpointID, len(out.VpcEndpoints))
		}
		ep := out.VpcEndpoints[0]
		if ep.VpcEndpointType != "" && ep.VpcEndpointType != ec2types.VpcEndpointTypeInterface {
			return nil, "", fmt.Errorf("endpoint %s is of type %s; only interface endpoints have network interfaces", endpointID, ep.VpcEndpointType)
		}
		// The API answers "available" although the SDK enum says "Available".
		state := string(ep.State)
		have := slices.Sorted(slices.Values(ep.NetworkInterfaceIds))
		matches := len(wantENIs) == 0 || slices.Equal(have, wantENIs)
		available := strings.EqualFold(state, string(ec2types.StateAvailable)) && len(have) > 0
		if available && !matches && time.Now().After(stopMatching) {
			r.logger().Warn("the endpoint's interfaces differ from the resource's properties; following the endpoint",
				"endpoint", endpointID, "interfaces", have, "properties", wantENIs)
			matches = true
		}
		if available && matches {
			eniIDs = have
			if dnsName, err = RegionalDNSName(ep); err != nil {
				return nil, "", err
			}
			break
		}
		if isTerminal(state) {
			return nil, "", fmt.Errorf("endpoint %s is %s", endpointID, state)
		}
		r.logger().Info("waiting for endpoint", "endpoint", endpointID, "state", state,
			"interfaces", have, "wantInterfaces", wantENIs)
		if err := sleep(ctx, r.pollInterval()); err != nil {
			return nil, "", fmt.Errorf("endpoint %s not available with interfaces %v (last state %q, interfaces %v): %w",
				endpointID, wantENIs, state, have, err)
		}
	}

	var ips []string
	in := &ec2.DescribeNetworkInterfacesInput{NetworkInterfaceIds: eniIDs}
	for {
		out, err := r.EC2.DescribeNetworkInterfaces(ctx, in)
		if err != nil {
			return nil, "", fmt.Errorf("describe interfaces %s of endpoint %s: %w", strings.Join(eniIDs, ","), endpointID, err)
		}
		for _, ni := range out.NetworkInterfaces {
			if ip := aws.ToString(ni.PrivateIpAddress); ip != "" {
				ips = append(ips, ip)
			}
		}
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	if len(ips) != len(eniIDs) {
		return nil, "", fmt.Errorf("endpoint %s: got %d private IPs for %d network interfaces", endpointID, len(ips), len(eniIDs))
	}
	slices.Sort(ips)
	return slices.Compact(ips), dnsName, nil
}

// RegionalDNSName picks the endpoint's regional DNS name out of its DNS
// entries, without the leading "*.": vpce-<id>-<suffix>.s3.<region>.vpce.amazonaws.com.
// An S3 interface endpoint lists one regional name and one per zone
// (vpce-<id>-<suffix>-<zone>.s3.…), and with private DNS the service's own
// names; EC2 documents no order among them, so the entry is chosen by its
// shape: a first label that starts with "vpce-" and does not end in one of
// the region's zone names. Exactly one entry must have that shape.
// https://docs.aws.amazon.com/AmazonS3/latest/userguide/privatelink-interface-endpoints.html
func RegionalDNSName(ep ec2types.VpcEndpoint) (string, error) {
	var found []string
	var all []string
	for _, e := range ep.DnsEntries {
		name := strings.TrimSuffix(strings.ToLower(aws.ToString(e.DnsName)), ".")
		all = append(all, name)
		name = strings.TrimPrefix(name, "*.")
		labels := strings.Split(name, ".")
		// vpce-….s3.<region>.vpce.amazonaws.com: six labels.
		if len(labels) != 6 || !strings.HasPrefix(labels[0], "vpce-") || labels[3] != "vpce" {
			continue
		}
		region := labels[2]
		if zonal(labels[0], region) {
			continue
		}
		found = append(found, name)
	}
	slices.Sort(found)
	found = slices.Compact(found)
	if len(found) != 1 {
		return "", fmt.Errorf("endpoint %s: want exactly one regional DNS name among %v, found %d",
			aws.ToString(ep.VpcEndpointId), all, len(found))
	}
	return found[0], nil
}

// zonal reports a first label that ends in a zone name of region, such as
// vpce-0a1b-abcdefgh-eu-west-1a (zone names are the region and a letter).
func zonal(label, region string) bool {
	i := strings.LastIndex(label, "-"+region)
	if i < 0 {
		return false
	}
	rest := label[i+1+len(region):]
	return len(rest) >= 1 && len(rest) <= 2 && strings.Trim(rest, "abcdefghijklmnopqrstuvwxyz0123456789") == ""
}

// registered lists the group's targets, except those already draining.
func (r *Reconciler) registered(ctx context.Context, arn string) ([]elbtypes.TargetDescription, error) {
	out, err := r.ELB.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(arn)})
	if err != nil {
		return nil, fmt.Errorf("list targets of %s: %w", arn, err)
	}
	var ts []elbtypes.TargetDescription
	for _, d := range out.TargetHealthDescriptions {
		if d.Target == nil {
			continue
		}
		if d.TargetHealth != nil && d.TargetHealth.State == elbtypes.TargetHealthStateEnumDraining {
			continue
		}
		t := elbtypes.TargetDescription{Id: d.Target.Id, Port: d.Target.Port}
		// "all" marks an IP outside the VPC, which must be named with it.
		if aws.ToString(d.Target.AvailabilityZone) == "all" {
			t.AvailabilityZone = d.Target.AvailabilityZone
		}
		ts = append(ts, t)
	}
	return ts, nil
}

func (r *Reconciler) deregister(ctx context.Context, arn string, ts []elbtypes.TargetDescription) error {
	if len(ts) == 0 {
		return nil
	}
	ids := make([]string, len(ts))
	for i, t := range ts {
		ids[i] = aws.ToString(t.Id)
	}
	_, err := r.ELB.DeregisterTargets(ctx, &elbv2.DeregisterTargetsInput{TargetGroupArn: aws.String(arn), Targets: ts})
	switch {
	case isCode(err, "TargetGroupNotFound"), isCode(err, "InvalidTarget"):
		r.logger().Info("targets already gone", "targetGroup", arn, "ips", ids)
		return nil
	case err != nil:
		return fmt.Errorf("deregister %s from %s: %w", strings.Join(ids, ","), arn, err)
	}
	r.logger().Info("deregistered targets", "targetGroup", arn, "ips", ids)
	return nil
}

// settling runs call, retrying authorisation errors for up to IAMSettle:
// those are expected while the function's new role propagates, and a retry
// is cheaper than a failed stack.
func (r *Reconciler) settling(ctx context.Context, call func() error) error {
	settle := r.IAMSettle
	if settle == 0 {
		settle = DefaultIAMSettle
	}
	giveUp := time.Now().Add(settle)
	for {
		err := call()
		if !isAuthError(err) || time.Now().After(giveUp) {
			return err
		}
		r.logger().Info("refused, waiting for IAM to settle", "error", err)
		if sleep(ctx, r.pollInterval()) != nil {
			return err
		}
	}
}

func (r *Reconciler) pollInterval() time.Duration {
	if r.PollInterval > 0 {
		return r.PollInterval
	}
	return DefaultPollInterval
}

func (r *Reconciler) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}

// isTerminal reports endpoint states that waiting will not fix.
func isTerminal(state string) bool {
	for _, s := range []ec2types.State{
		ec2types.StateDeleting, ec2types.StateDeleted, ec2types.StateRejected,
		ec2types.StateFailed, ec2types.StateExpired,
	} {
		if strings.EqualFold(state, string(s)) {
			return true
		}
	}
	return false
}

// isAuthError reports the refusals EC2 and ELB give a role that lacks, or
// does not have yet, a permission.
func isAuthError(err error) bool {
	return isCode(err, "UnauthorizedOperation") || isCode(err, "AccessDenied") || isCode(err, "AccessDeniedException")
}

// isCode reports whether err is an AWS API error with the given code.
func isCode(err error, code string) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == code
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
