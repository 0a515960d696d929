package preflight

import (
	"fmt"
	"net/netip"
	"strings"
)

// Finding is the verdict on one studio range.
type Finding struct {
	Range string
	// Refuse: the deploy would fail or the proxy would be open to all;
	// Warn: it works, but the operator should know.
	Refuse, Warn bool
	Problem, Fix string
}

// StudioRanges judges the studio's ranges against the proxy's VPC CIDR
// block (empty: not known). A studio range is a source the load balancer
// admits, so what is really wrong is 0.0.0.0/0 (everyone) and the VPC's
// exact block (the studio is not the VPC). A range that contains the VPC is
// common where VPCs are carved from the corporate 10/8 and reached over a
// more specific Direct Connect or VPN route: it works, but it also admits
// every other network in that range, so it is a warning. A range inside
// the VPC holds only the VPC's own addresses, no studio network, and the
// stack's NetworkChecks refuses it too.
func StudioRanges(ranges []string, vpcCidr string) []Finding {
	vpc, vpcErr := netip.ParsePrefix(vpcCidr)
	var out []Finding
	for _, r := range ranges {
		r = strings.TrimSpace(r)
		f := Finding{Range: r}
		p, err := netip.ParsePrefix(r)
		switch {
		case err != nil || !p.Addr().Is4():
			f.Refuse, f.Problem, f.Fix = true, "is not an IPv4 CIDR block", "write it as a.b.c.d/n"
		case p.Masked() != p:
			f.Refuse, f.Problem, f.Fix = true, "has host bits set", fmt.Sprintf("write %s", p.Masked())
		case p.Bits() == 0:
			f.Refuse, f.Problem, f.Fix = true, "admits the whole Internet", "list the studio's own site, VPN and render-farm ranges"
		case vpcErr == nil && p == vpc:
			f.Refuse, f.Problem, f.Fix = true, "is the VPC's own CIDR block, not a studio network", "list the studio's own site, VPN and render-farm ranges"
		case vpcErr == nil && p.Bits() < vpc.Bits() && p.Contains(vpc.Addr()):
			f.Warn, f.Problem = true, "contains the VPC "+vpcCidr
			f.Fix = "it works where the VPC is reached over a more specific route, but it admits every network in it; prefer the specific site, VPN and render-farm ranges"
		case vpcErr == nil && vpc.Contains(p.Addr()):
			f.Refuse, f.Problem, f.Fix = true, "lies inside the VPC "+vpcCidr, "its addresses are the VPC's own, not a studio network's: list the studio's own ranges"
		}
		out = append(out, f)
	}
	return out
}

// MaxStudioCidrs is how many ranges StudioCidrs takes: the template has
// five security group rule slots (CloudFormation cannot loop); more go
// into a managed prefix list (StudioPrefixListId).
const MaxStudioCidrs = 5

// Covers reports whether a certificate with these names (domain name and
// subject alternative names) is valid for host. A wildcard covers exactly
// one leftmost label: *.example.com covers a.example.com, not example.com
// and not a.b.example.com (RFC 6125 §6.4.3, as ACM documents:
// https://docs.aws.amazon.com/acm/latest/userguide/acm-certificate.html).
func Covers(names []string, host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, n := range names {
		n = strings.ToLower(strings.TrimSuffix(n, "."))
		if n == host {
			return true
		}
		if rest, ok := strings.CutPrefix(n, "*."); ok {
			label, parent, found := strings.Cut(host, ".")
			if found && label != "" && parent == rest {
				return true
			}
		}
	}
	return false
}
