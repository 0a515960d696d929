"""Structural checks on the translated template.

Each check takes the translated (plain CloudFormation) template and one set
of parameter values, and raises AssertionError naming what is wrong. They are
plain functions so that test_template.py can run them both on the real
template (they must pass) and on deliberately broken copies (they must fail).
"""

import fnmatch
import ipaddress
import json
import os
import re

import iam_eval
from cfn_eval import ACCOUNT, ENDPOINT_REGIONAL, NO_VALUE, Evaluation

ELB = "AWS::ElasticLoadBalancingV2::"

# The S3PROXY_* contract (docs/architecture.md): the function reads exactly these.
ENV_CONTRACT = {
    "S3PROXY_BUCKET", "S3PROXY_REGION", "S3PROXY_SIGNED_HOST", "S3PROXY_UPSTREAM_URL",
    "S3PROXY_ENDPOINT_URL", "S3PROXY_REDIRECT_VIA", "S3PROXY_INLINE_MAX_BYTES",
    "S3PROXY_REDIRECT_TTL", "S3PROXY_KEY_PREFIXES", "S3PROXY_ALLOWED_ORIGINS", "S3PROXY_LOG_LEVEL",
    "S3PROXY_PUBLIC_URL", "S3PROXY_READ_ONLY",
}
# The largest inline body whose base64 still fits the ALB's 1 MB response
# (pkg/config MaxInline).
MAX_INLINE = 725424

# TLS 1.2+ ELB policies. Anything else (2016-08, TLS-1-1...) allows TLS 1.0/1.1.
TLS12_POLICY = re.compile(r"^ELBSecurityPolicy-(TLS13-1-[23]|TLS-1-2|FS-1-2)")

# The only S3 actions any role in the stack may be granted.
S3_READS = {"s3:getobject", "s3:getobjectversion"}
# Managed policies SAM attaches; neither grants anything on S3.
KNOWN_MANAGED = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
}
CUSTOM_RESOURCE_ACTIONS = {
    "ec2:describevpcendpoints", "ec2:describenetworkinterfaces",
    "ec2:describevpcs", "ec2:describesubnets", "ec2:describevpcendpointservices",
    "ec2:describemanagedprefixlists", "ec2:getmanagedprefixlistentries", "acm:describecertificate",
    "elasticloadbalancing:describetargethealth",
    "elasticloadbalancing:registertargets", "elasticloadbalancing:deregistertargets",
}


def one(items, what):
    assert len(items) == 1, f"want exactly one {what}, found {len(items)}: {sorted(items)}"
    return next(iter(items.items()))


def listener(ev, port):
    found = {k: v for k, v in ev.resources(ELB + "Listener").items()
             if ev.resolve(v["Properties"]["Port"]) in (port, str(port))}
    return one(found, f"listener on port {port}")


def lambda_function(ev, logical_id):
    fns = ev.resources("AWS::Lambda::Function")
    assert logical_id in fns, f"no AWS::Lambda::Function {logical_id}"
    return fns[logical_id]


def is_ref(value, logical_id):
    return value == {"Ref": logical_id}


# ------------------------------------------------------------------ listeners

def check_https_listener(template, params):
    ev = Evaluation(template, params)
    _, lst = listener(ev, 443)
    p = ev.resolve(lst["Properties"])
    assert p.get("Protocol") == "HTTPS", f"port 443 listener protocol is {p.get('Protocol')}"
    assert p.get("Certificates") == [{"CertificateArn": ev.params["CertificateArn"]}], \
        f"port 443 certificates are {p.get('Certificates')}"
    policy = p.get("SslPolicy", "")
    assert TLS12_POLICY.match(policy), f"SSL policy {policy!r} allows TLS below 1.2 (or is missing)"
    assert template["Parameters"]["SslPolicy"]["Default"] == "ELBSecurityPolicy-TLS13-1-2-2021-06", \
        "default SSL policy changed"
    for allowed in template["Parameters"]["SslPolicy"].get("AllowedValues", []):
        assert TLS12_POLICY.match(allowed), f"SslPolicy allows {allowed}, which is below TLS 1.2"


def check_http_redirect(template, params):
    ev = Evaluation(template, params)
    http_id, lst = listener(ev, 80)
    p = ev.resolve(lst["Properties"])
    assert p.get("Protocol") == "HTTP", f"port 80 listener protocol is {p.get('Protocol')}"
    actions = p.get("DefaultActions", [])
    assert len(actions) == 1 and actions[0].get("Type") == "redirect", \
        f"port 80 must only redirect, has {actions}"
    rc = actions[0].get("RedirectConfig", {})
    assert rc.get("Protocol") == "HTTPS" and str(rc.get("Port")) == "443", f"redirect goes to {rc}"
    assert rc.get("StatusCode") in ("HTTP_301", "HTTP_302"), f"redirect status {rc.get('StatusCode')}"
    rules = [r for r in ev.resources(ELB + "ListenerRule").values()
             if is_ref(r["Properties"]["ListenerArn"], http_id)]
    assert not rules, "the HTTP listener must have no rules: port 80 only redirects"


def check_alb_attributes(template, params):
    ev = Evaluation(template, params)
    _, lb = one(ev.resources(ELB + "LoadBalancer"), "load balancer")
    attrs = {a["Key"]: a["Value"] for a in ev.resolve(lb["Properties"]).get("LoadBalancerAttributes", [])}
    assert attrs.get("routing.http.drop_invalid_header_fields.enabled") == "true", \
        "ALB must drop invalid header fields"
    idle = int(attrs.get("idle_timeout.timeout_seconds", 60))
    timeout = int(lambda_function(ev, "ProxyFunction")["Properties"]["Timeout"])
    assert idle >= 120, f"ALB idle timeout {idle}s is short for 20 MB part uploads"
    assert timeout < idle, f"function timeout {timeout}s must be below the ALB idle timeout {idle}s"
    want_logs = "true" if ev.params["AccessLogBucket"] else "false"
    assert attrs.get("access_logs.s3.enabled") == want_logs, f"access logs enabled={attrs.get('access_logs.s3.enabled')}"
    if ev.params["AccessLogBucket"]:
        assert attrs.get("access_logs.s3.bucket") == ev.params["AccessLogBucket"], "access log bucket not set"


# ------------------------------------------------------- Lambda target group

def check_lambda_target_group(template, params):
    ev = Evaluation(template, params)
    tgs = {k: v for k, v in ev.resources(ELB + "TargetGroup").items()
           if v["Properties"].get("TargetType") == "lambda"}
    tg_id, tg = one(tgs, "lambda target group")
    p = ev.resolve(tg["Properties"])
    attrs = {a["Key"]: a["Value"] for a in p.get("TargetGroupAttributes", [])}
    assert attrs.get("lambda.multi_value_headers.enabled") == "true", "multi-value headers must be on"
    targets = tg["Properties"].get("Targets", [])
    assert len(targets) == 1, f"lambda target group has {len(targets)} targets"
    alias_ref = targets[0]["Id"]
    aliases = ev.resources("AWS::Lambda::Alias")
    assert isinstance(alias_ref, dict) and alias_ref.get("Ref") in aliases, \
        f"the target must be the function's alias (AutoPublishAlias), is {alias_ref}"
    alias = aliases[alias_ref["Ref"]]["Properties"]
    assert is_ref(alias["FunctionName"], "ProxyFunction"), "the alias is not ProxyFunction's"

    name = p.get("Name", "")
    assert 1 <= len(name) <= 32, f"target group name {name!r} must be 1-32 characters"
    perms = {k: v for k, v in ev.resources("AWS::Lambda::Permission").items()
             if v["Properties"].get("Principal") == "elasticloadbalancing.amazonaws.com"}
    perm_id, perm = one(perms, "ELB invoke permission")
    assert perm["Properties"]["FunctionName"] == alias_ref, "the permission must be on the same alias"
    depends = tg.get("DependsOn", [])
    depends = [depends] if isinstance(depends, str) else depends
    assert perm_id in depends, "the target group must DependsOn the invoke permission"
    source = ev.resolve(perm["Properties"].get("SourceArn", ""))
    arn = f"arn:aws:elasticloadbalancing:{ev.pseudo['AWS::Region']}:{ev.pseudo['AWS::AccountId']}:targetgroup/{name}/0123456789abcdef"
    assert fnmatch.fnmatchcase(arn, source), f"permission SourceArn {source} does not match the group {arn}"
    assert ev.resolve(perm["Properties"].get("SourceAccount")) == ev.pseudo["AWS::AccountId"], "no SourceAccount"


# --------------------------------------------------------------- rule table

def _strip_prefix(pattern, rewrites):
    """Apply the url-rewrite regexes to a sample path the pattern matches;
    return what was removed from its front."""
    assert pattern.endswith("*"), f"url-rewrite on a non-prefix pattern {pattern}"
    sample = pattern[:-1].replace("?", "x") + "shots/a+b%20c.mov?X-Amz-Signature=abc&partNumber=2"
    out = sample
    for rw in rewrites:
        regex = rw["Regex"]
        replace = re.sub(r"\$(\d)", r"\\\1", rw["Replace"])
        out = re.sub(regex, replace, out)
    assert out != sample, f"url-rewrite {rewrites} leaves {sample} unchanged"
    assert sample.endswith(out), f"url-rewrite turns {sample} into {out}: not a prefix strip"
    return sample[: len(sample) - len(out)]


def _host_name(value, env):
    if value == env["S3PROXY_SIGNED_HOST"]:
        return "signed"
    if "https://" + value == env["S3PROXY_ENDPOINT_URL"]:
        return "endpoint"
    return f"unknown host {value!r}"


# ALB rule limits: three values in a condition, five across a rule's
# conditions, five wildcards in a rule (pkg/routes Valid).
# https://docs.aws.amazon.com/elasticloadbalancing/latest/application/rule-condition-types.html
# A listener: at most 100 rules besides the default, priorities 1-50000.
# https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html
MAX_CONDITION_VALUES, MAX_RULE_VALUES, MAX_RULE_WILDCARDS = 3, 5, 5
MAX_RULES, MAX_PRIORITY = 100, 50000
# A fixed response: 2XX/4XX/5XX, one of these content types, 1024 characters.
# https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_FixedResponseActionConfig.html
FIXED_CONTENT_TYPES = {"text/plain", "text/css", "text/html", "application/javascript", "application/json"}
MAX_FIXED_BODY = 1024


def _rule_name(logical_id):
    """ProxyRuleDirectRefuse -> direct-refuse, ProxyRuleDirect2 -> direct-2:
    the names `s3proxy rules` uses (logical IDs cannot hold hyphens)."""
    bare = logical_id.removeprefix("ProxyRule")
    return re.sub(r"(?<!^)(?=[A-Z0-9])", "-", bare).lower()


def _wildcards(text, query):
    n, i = 0, 0
    while i < len(text):
        if query and text[i] == "\\":
            i += 2
            continue
        n += text[i] in "*?"
        i += 1
    return n


def _check_alb_limits(logical_id, conditions):
    values = 0
    wildcards = 0
    for c in conditions:
        config = next(v for k, v in c.items() if k.endswith("Config"))
        vals = config["Values"]
        assert vals, f"{logical_id}: a {c['Field']} condition with no values"
        assert len(vals) <= MAX_CONDITION_VALUES, f"{logical_id}: {len(vals)} values in one condition (ALB limit 3)"
        values += len(vals)
        if c["Field"] == "path-pattern":
            wildcards += sum(_wildcards(v, False) for v in vals)
        elif c["Field"] == "http-header":
            wildcards += sum(_wildcards(v, True) for v in vals)
        elif c["Field"] == "query-string":
            for v in vals:
                assert v.get("Value"), f"{logical_id}: a query-string value must not be empty: {v}"
                wildcards += _wildcards(v.get("Key", ""), True) + _wildcards(v["Value"], True)
    assert values <= MAX_RULE_VALUES, f"{logical_id}: {values} condition values (ALB limit 5)"
    assert wildcards <= MAX_RULE_WILDCARDS, f"{logical_id}: {wildcards} wildcards (ALB limit 5)"


def _action(logical_id, actions, transforms, targets_of, env, patterns):
    """A rule's action in the shape of `s3proxy rules` (routes.Action)."""
    assert len(actions) == 1, f"{logical_id}: want one action, has {actions}"
    a = actions[0]
    if a["Type"] == "forward":
        out = {"type": targets_of(a["TargetGroupArn"])}
    elif a["Type"] == "fixed-response":
        assert "TargetGroupArn" not in a and "ForwardConfig" not in a, f"{logical_id}: a fixed response that also forwards: {a}"
        c = a["FixedResponseConfig"]
        status = int(c["StatusCode"])
        assert status // 100 in (2, 4, 5), f"{logical_id}: fixed status {status}; the ALB takes 2XX, 4XX or 5XX"
        assert c.get("ContentType") in FIXED_CONTENT_TYPES, f"{logical_id}: fixed content type {c.get('ContentType')!r}"
        body = c.get("MessageBody", "")
        assert len(body) <= MAX_FIXED_BODY, f"{logical_id}: fixed body of {len(body)} characters (ALB limit 1024)"
        out = {"type": "fixed-response", "response": {"status": status, "contentType": c["ContentType"], "body": body}}
    else:
        raise AssertionError(f"{logical_id}: action type {a['Type']}")
    for t in transforms:
        assert out["type"] == "endpoint", f"{logical_id}: a {t['Type']} transform on a {out['type']} action"
        if t["Type"] == "host-header-rewrite":
            rw = t["HostHeaderRewriteConfig"]["Rewrites"]
            assert len(rw) == 1 and rw[0]["Regex"] in ("^.*$", ".*"), f"{logical_id}: host rewrite must replace the whole host"
            out["hostRewrite"] = _host_name(rw[0]["Replace"], env)
        elif t["Type"] == "url-rewrite":
            out["stripPrefix"] = _strip_prefix((patterns or ["?"])[0], t["UrlRewriteConfig"]["Rewrites"])
        else:
            out.setdefault("other", []).append(t["Type"])
    return out


def rule_table(template, params):
    """The HTTPS listener the template deploys, in the shape of
    `s3proxy rules`: {"rules": [...], "responseHeaders": [...]}."""
    ev = Evaluation(template, params)
    https_id, https = listener(ev, 443)
    env = ev.resolve(lambda_function(ev, "ProxyFunction")["Properties"]["Environment"]["Variables"])
    targets = {}
    for k, v in ev.resources(ELB + "TargetGroup").items():
        targets[k] = {"lambda": "function", "ip": "endpoint"}.get(v["Properties"].get("TargetType"), "?")
    targets_of = lambda tg: targets.get(tg.get("Ref") if isinstance(tg, dict) else None, f"unknown {tg}")

    table = []
    for logical_id, rule in ev.resources(ELB + "ListenerRule").items():
        raw = rule["Properties"]
        if not is_ref(raw["ListenerArn"], https_id):
            continue
        p = ev.resolve(raw)
        entry = {"name": _rule_name(logical_id), "priority": int(p["Priority"])}
        _check_alb_limits(logical_id, p.get("Conditions", []))
        for c in p.get("Conditions", []):
            if c["Field"] == "path-pattern":
                entry["pathPatterns"] = c["PathPatternConfig"]["Values"]
            elif c["Field"] == "http-request-method":
                entry["methods"] = c["HttpRequestMethodConfig"]["Values"]
            elif c["Field"] == "http-header":
                assert "header" not in entry, f"{logical_id}: more than one http-header condition"
                hc = c["HttpHeaderConfig"]
                entry["header"] = {"name": hc["HttpHeaderName"], "values": hc["Values"]}
            elif c["Field"] == "query-string":
                assert "query" not in entry, f"{logical_id}: more than one query-string condition"
                entry["query"] = [{"key": v.get("Key", ""), "value": v["Value"]} for v in c["QueryStringConfig"]["Values"]]
            else:
                entry.setdefault("other", []).append(c["Field"])
        # Actions unresolved: a target group is named by its Ref. A fixed
        # response's text may depend on the parameters (ReadOnly).
        actions = [dict(a, FixedResponseConfig=ev.resolve(a["FixedResponseConfig"])) if "FixedResponseConfig" in a else a
                   for a in raw.get("Actions", [])]
        entry["action"] = _action(logical_id, actions, p.get("Transforms", []), targets_of, env,
                                  entry.get("pathPatterns"))
        table.append(entry)
    priorities = [r["priority"] for r in table]
    assert len(set(priorities)) == len(priorities), f"repeated listener rule priorities {sorted(priorities)}"
    assert all(1 <= n <= MAX_PRIORITY for n in priorities), f"priorities out of 1-{MAX_PRIORITY}: {sorted(priorities)}"
    assert len(table) <= MAX_RULES, f"{len(table)} listener rules; the ALB allows {MAX_RULES}"
    lp = ev.resolve(https["Properties"])
    table.append({"name": "default", "priority": 0,
                  "action": _action("HttpsListener", https["Properties"]["DefaultActions"], [], targets_of, env, None)})
    attrs = [{"attribute": a["Key"], "value": a["Value"]} for a in lp.get("ListenerAttributes", [])
             if a["Key"].startswith("routing.http.response.")]
    return {"rules": table, "responseHeaders": attrs}


def _present(v):
    """`s3proxy rules` omits empty fields (omitempty): drop them everywhere."""
    if isinstance(v, dict):
        # 0 stays (priority 0 is printed); `x in (False, ...)` would drop it.
        return {k: _present(x) for k, x in v.items() if not (x is None or x is False or x in ("", [], {}))}
    if isinstance(v, list):
        return [_present(x) for x in v]
    return v


def check_rule_table(template, params, listener_json):
    """The deployed HTTPS listener equals `s3proxy rules`: its rules, with
    passthrough on and off, and its response-header attributes."""
    def key(r):
        return (r["priority"] == 0, r["priority"])

    with_pt = sorted(rule_table(template, dict(params, UploadPassthrough="true"))["rules"], key=key)
    without_pt = sorted(rule_table(template, dict(params, UploadPassthrough="false"))["rules"], key=key)
    names_with = {r["name"] for r in with_pt}
    names_without = {r["name"] for r in without_pt}
    merged = []
    for r in with_pt:
        if r["name"] not in names_without:
            r = dict(r, when="passthrough")
        else:
            other = next(o for o in without_pt if o["name"] == r["name"])
            assert other == r, f"rule {r['name']} differs between passthrough on and off:\n{other}\n{r}"
        merged.append(r)
    merged += [dict(r, when="no-passthrough") for r in without_pt if r["name"] not in names_with]
    merged.sort(key=key)

    want = sorted(_present(listener_json["rules"]), key=key)
    got = _present(merged)
    assert got == want, (
        "template rules differ from `s3proxy rules`:\n template: "
        + json.dumps(got, indent=1) + "\n s3proxy:  " + json.dumps(want, indent=1))

    headers = rule_table(template, params)["responseHeaders"]
    want_headers = [{"attribute": h["attribute"], "value": h["value"]} for h in listener_json["responseHeaders"]]
    key_h = lambda h: h["attribute"]
    assert sorted(headers, key=key_h) == sorted(want_headers, key=key_h), \
        f"HTTPS listener response headers {headers}, want routes.ResponseHeaders {want_headers}"


def check_web_acl(template, params):
    """WebAclArn attaches that web ACL to the load balancer, and nothing is
    attached without it."""
    ev = Evaluation(template, params)
    found = ev.resources("AWS::WAFv2::WebACLAssociation")
    arn = ev.params["WebAclArn"]
    if not arn:
        assert not found, f"no WebAclArn, yet a web ACL is attached: {sorted(found)}"
        return
    _, assoc = one(found, "web ACL association when WebAclArn is set")
    lb_id, _ = one(ev.resources(ELB + "LoadBalancer"), "load balancer")
    p = assoc["Properties"]
    assert is_ref(p.get("ResourceArn"), lb_id), f"the web ACL is attached to {p.get('ResourceArn')}, want the load balancer"
    assert ev.resolve(p.get("WebACLArn")) == arn, f"the association names {p.get('WebACLArn')}, want {arn}"
    spec = template["Parameters"]["WebAclArn"]
    assert re.fullmatch(spec["AllowedPattern"], arn), f"WebAclArn pattern refuses {arn}"
    for bad in ("arn:aws:waf::123456789012:webacl/abc", "arn:aws:wafv2:us-east-1:123456789012:global/webacl/a/1",
                "my-acl", "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/x/1"):
        assert not re.fullmatch(spec["AllowedPattern"], bad), f"WebAclArn accepts {bad!r}"


# --------------------------------------------------------------- conditions

def check_visibility(template, params):
    ev = Evaluation(template, params)
    public = ev.params["Visibility"] == "public"
    ga = {k: v["Type"] for k, v in ev.resources().items() if v["Type"].startswith("AWS::GlobalAccelerator::")}
    if public:
        types = set(ga.values())
        assert {"AWS::GlobalAccelerator::Accelerator", "AWS::GlobalAccelerator::Listener",
                "AWS::GlobalAccelerator::EndpointGroup"} <= types, f"public mode lacks the accelerator: {ga}"
        _, lst = one({k: v for k, v in ev.resources("AWS::GlobalAccelerator::Listener").items()}, "GA listener")
        lp = ev.resolve(lst["Properties"])
        assert lp["Protocol"] == "TCP" and {"FromPort": 443, "ToPort": 443} in lp["PortRanges"], \
            f"GA listener must be TCP 443: {lp}"
        _, group = one(ev.resources("AWS::GlobalAccelerator::EndpointGroup"), "GA endpoint group")
        ids = [e["EndpointId"] for e in group["Properties"]["EndpointConfigurations"]]
        lb_id, _ = one(ev.resources(ELB + "LoadBalancer"), "load balancer")
        assert ids == [{"Ref": lb_id}], f"GA must front the ALB, fronts {ids}"
    else:
        assert not ga, f"private mode must have no Global Accelerator resources: {ga}"
    _, lb = one(ev.resources(ELB + "LoadBalancer"), "load balancer")
    p = ev.resolve(lb["Properties"])
    assert p["Scheme"] == ("internet-facing" if public else "internal"), f"scheme {p['Scheme']} in {ev.params['Visibility']} mode"
    sg = ev.properties(lb["Properties"]["SecurityGroups"][0]["Ref"])
    got = ingress(sg)
    want = {(port, "0.0.0.0/0") for port in (443, 80)} if public else \
        {(port, source) for port in (443, 80) for source in studio_sources(ev)}
    assert got == want, f"ALB ingress {sorted(got)}, want {sorted(want)}"


def studio_sources(ev):
    """Every studio range the parameters name, and the prefix list."""
    sources = {c for c in ev.params["StudioCidrs"] if c}
    if ev.params["StudioPrefixListId"]:
        sources.add(ev.params["StudioPrefixListId"])
    return sources


def ingress(sg):
    """A security group's inline ingress as (port, source) pairs; each rule
    is TCP on one port from one CIDR block or one prefix list."""
    out = set()
    for r in sg.get("SecurityGroupIngress", []):
        assert r["IpProtocol"] == "tcp" and r["FromPort"] == r["ToPort"], f"rule {r}"
        sources = [r[k] for k in ("CidrIp", "SourcePrefixListId", "SourceSecurityGroupId") if k in r]
        assert len(sources) == 1, f"rule {r} has sources {sources}"
        out.add((r["FromPort"], sources[0]))
    return out


def check_studio_ingress(template, params):
    """The S3 interface endpoint admits 443 from each studio range and the
    prefix list (and, as its own resource, from the ALB); nothing else."""
    ev = Evaluation(template, params)
    _, ep = one({k: v for k, v in ev.resources("AWS::EC2::VPCEndpoint").items()
                 if v["Properties"].get("VpcEndpointType") == "Interface"}, "interface endpoint")
    groups = ev.resolve(ep["Properties"]["SecurityGroupIds"])
    assert len(groups) == 1, groups
    sg_id = groups[0].strip("<>")
    got = ingress(ev.properties(sg_id))
    want = {(443, s) for s in studio_sources(ev)}
    assert got == want, f"endpoint ingress {sorted(got)}, want {sorted(want)}"
    extra = [k for k, v in ev.resources("AWS::EC2::SecurityGroupIngress").items()
             if is_ref(v["Properties"]["GroupId"], sg_id)]
    for k in extra:
        p = ev.properties(k)
        assert "SourceSecurityGroupId" in p and int(p["FromPort"]) == 443, f"{k} admits {p}"


def check_vpc_mode(template, params):
    ev = Evaluation(template, params)
    new = ev.params["ExistingVpcId"] == ""
    public = ev.params["Visibility"] == "public"
    vpcs = ev.resources("AWS::EC2::VPC")
    subnets = ev.resources("AWS::EC2::Subnet")
    igws = ev.resources("AWS::EC2::InternetGateway")
    nats = ev.resources("AWS::EC2::NatGateway")
    assert not nats, "the design has no NAT gateway"
    if new:
        assert len(vpcs) == 1, f"new-VPC mode must create one VPC, creates {len(vpcs)}"
        assert len(subnets) == (4 if public else 2), f"{len(subnets)} subnets in new-VPC {ev.params['Visibility']} mode"
        assert len(igws) == (1 if public else 0), f"{len(igws)} internet gateways in new-VPC {ev.params['Visibility']} mode"
        vpc_value = f"<{next(iter(vpcs))}>"
    else:
        assert not vpcs and not subnets and not igws, "existing-VPC mode must not create network resources"
        vpc_value = ev.params["ExistingVpcId"]
    for logical_id, res in ev.resources().items():
        vpc = res.get("Properties", {}).get("VpcId")
        if vpc is not None:
            assert ev.resolve(vpc) == vpc_value, f"{logical_id} is in VPC {ev.resolve(vpc)}, want {vpc_value}"
    _, lb = one(ev.resources(ELB + "LoadBalancer"), "load balancer")
    lb_subnets = ev.resolve(lb["Properties"]["Subnets"])
    if not new:
        want = ev.params["ExistingPublicSubnetIds" if public else "ExistingPrivateSubnetIds"]
        assert lb_subnets == want, f"ALB subnets {lb_subnets}, want {want}"
    assert len(lb_subnets) >= 2, "an ALB needs subnets in two AZs"
    gateways = {k: v for k, v in ev.resources("AWS::EC2::VPCEndpoint").items()
                if v["Properties"].get("VpcEndpointType") == "Gateway"}
    want_gateway = new or ev.params["CreateS3GatewayEndpoint"] == "true"
    assert len(gateways) == (1 if want_gateway else 0), f"{len(gateways)} S3 gateway endpoints"
    interfaces = {k: v for k, v in ev.resources("AWS::EC2::VPCEndpoint").items()
                  if v["Properties"].get("VpcEndpointType") == "Interface"}
    assert len(interfaces) == 1, "there must be one S3 interface endpoint"
    bucket = ev.params["BucketName"]
    for logical_id in list(gateways) + list(interfaces):
        p = ev.properties(logical_id)
        assert p["ServiceName"] == f"com.amazonaws.{ev.pseudo['AWS::Region']}.s3", f"{logical_id} is not S3"
        if logical_id in gateways and not new:
            # In an existing VPC the gateway endpoint carries
            # every same-region S3 request of those route tables' subnets; it
            # keeps AWS's default full-access policy (no PolicyDocument).
            assert "PolicyDocument" not in p, \
                f"{logical_id} in an existing VPC must keep the default full-access policy, has {p['PolicyDocument']}"
            continue
        assert "PolicyDocument" in p, f"{logical_id} has the default full-access policy; limit it to the bucket"
        resources = {r for s in p["PolicyDocument"]["Statement"] for r in _as_list(s["Resource"])}
        if logical_id in interfaces:
            # object calls on the prefixes only (check_endpoint_policies)
            want = set(prefix_arns(ev)) | (set(check_area_arns(ev)) if check_writes(ev) else set())
        else:
            want = {f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"}
        assert resources == want, f"{logical_id} policy must be limited to {sorted(want)}, covers {sorted(resources)}"


def check_rules_section(template, params):
    """The template's Rules accept params, and refuse the broken variants."""
    ev = Evaluation(template, params)
    assert not ev.rule_failures(), f"valid parameters refused: {ev.rule_failures()}"
    broken = []
    if ev.params["Visibility"] == "public":
        broken.append(dict(params, RedirectVia="endpoint"))
    if ev.params["ExistingVpcId"]:
        broken.append(dict(params, ExistingPrivateSubnetIds=""))
    broken.append(dict(params, BucketRegion="ap-south-1"))
    # a studio range that is everything (alone or among others), none at
    # all, or the new VPC itself among real ones
    broken.append(dict(params, StudioCidrs="0.0.0.0/0"))
    broken.append(dict(params, StudioCidrs="192.168.0.0/16,0.0.0.0/0", StudioPrefixListId=""))
    broken.append(dict(params, StudioCidrs="", StudioPrefixListId=""))
    if not ev.params["ExistingVpcId"]:
        broken.append(dict(params, StudioCidrs="198.51.100.0/24," + ev.params["VpcCidr"]))
    else:
        # item 7: zones are chosen by the existing subnets, not by a parameter
        broken.append(dict(params, AvailabilityZones="eu-west-1a,eu-west-1b"))
    for p in broken:
        assert Evaluation(template, p).rule_failures(), f"Rules accept a broken combination: {p}"


# ---------------------------------------------------------------------- IAM

def _as_list(v):
    return v if isinstance(v, list) else [v]


def statements(ev):
    """Every IAM statement attached to a role, as (role, statement)."""
    out = []
    for role_id, role in ev.resources("AWS::IAM::Role").items():
        p = ev.resolve(role["Properties"])
        for arn in p.get("ManagedPolicyArns", []):
            assert arn in KNOWN_MANAGED, f"{role_id} has managed policy {arn}, which may grant S3 writes"
        for pol in p.get("Policies", []):
            out += [(role_id, s) for s in pol["PolicyDocument"]["Statement"]]
    for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        for pol_id, pol in ev.resources(kind).items():
            p = ev.resolve(pol["Properties"])
            out += [(pol_id, s) for s in p["PolicyDocument"]["Statement"]]
    return out


def check_no_s3_writes(template, params):
    ev = Evaluation(template, params)
    for who, s in statements(ev):
        if s.get("Effect") != "Allow":
            continue
        assert "NotAction" not in s, f"{who} uses NotAction, which grants everything else"
        for action in _as_list(s["Action"]):
            a = action.lower()
            could_be_s3 = a == "*" or a.startswith("s3:") or fnmatch.fnmatchcase("s3:putobject", a)
            if could_be_s3:
                assert a in S3_READS, f"{who} is granted {action}: only s3:GetObject/GetObjectVersion are allowed"


def check_proxy_role_scope(template, params):
    ev = Evaluation(template, params)
    fn = lambda_function(ev, "ProxyFunction")
    role_id = fn["Properties"]["Role"]["Fn::GetAtt"][0]
    bucket = ev.params["BucketName"]
    prefixes = ev.params["KeyPrefixes"].split(",")
    want = {f"arn:aws:s3:::{bucket}/{p}*" for p in prefixes}
    got = set()
    for who, s in statements(ev):
        if who == role_id and any(a.lower().startswith("s3:") for a in _as_list(s["Action"])):
            got |= set(_as_list(s["Resource"]))
    assert got == want, f"proxy role reads {sorted(got)}, want {sorted(want)}"


def check_custom_resource_role(template, params):
    ev = Evaluation(template, params)
    fn = lambda_function(ev, "EndpointTargetsFunction")
    assert "VpcConfig" not in fn["Properties"], "the custom resource must reach AWS APIs: no VPC"
    role_id = fn["Properties"]["Role"]["Fn::GetAtt"][0]
    role = ev.resources("AWS::IAM::Role")[role_id]
    for who, s in statements(ev):
        if who != role_id:
            continue
        for action in _as_list(s["Action"]):
            assert action.lower() in CUSTOM_RESOURCE_ACTIONS, f"custom-resource role is granted {action}"
            if action.lower().endswith("registertargets"):
                assert s["Resource"] == "<EndpointTargetGroup>", \
                    f"{action} must be limited to the endpoint target group, is on {s['Resource']}"
            if action.lower() == "acm:describecertificate":
                assert s["Resource"] == ev.params["CertificateArn"], \
                    f"{action} must be limited to CertificateArn, is on {s['Resource']}"
    _, cr = one({k: v for k, v in ev.resources().items() if v["Type"] == "Custom::EndpointTargets"}, "EndpointTargets")
    p = cr["Properties"]
    assert p["ServiceToken"] == {"Fn::GetAtt": ["EndpointTargetsFunction", "Arn"]}, "wrong service token"
    assert is_ref(p["TargetGroupArn"], "EndpointTargetGroup"), "custom resource fills the wrong group"
    # Every change of the endpoint's interfaces (SubnetIds
    # updates in place, keeping the endpoint ID) must change a property.
    assert p.get("NetworkInterfaceIds") == {"Fn::GetAtt": ["S3InterfaceEndpoint", "NetworkInterfaceIds"]}, \
        f"EndpointTargets must take the endpoint's NetworkInterfaceIds, has {p.get('NetworkInterfaceIds')}"
    assert is_ref(p.get("VpcEndpointId"), "S3InterfaceEndpoint"), "EndpointTargets reads another endpoint"
    assert int(p.get("ServiceTimeout", 3600)) <= 600, "ServiceTimeout must keep a failure from hanging an hour"
    assert int(fn["Properties"]["Timeout"]) < int(p["ServiceTimeout"]), "function timeout must be below ServiceTimeout"
    assert role["Type"] == "AWS::IAM::Role"


# --------------------------------------------------------- endpoint targets

def check_endpoint_target_group(template, params):
    ev = Evaluation(template, params)
    tgs = {k: v for k, v in ev.resources(ELB + "TargetGroup").items() if v["Properties"].get("TargetType") == "ip"}
    _, tg = one(tgs, "IP target group")
    p = ev.resolve(tg["Properties"])
    assert p["Protocol"] == "HTTPS" and int(p["Port"]) == 443, f"IP target group is {p['Protocol']}:{p['Port']}"
    codes = p.get("Matcher", {}).get("HttpCode", "200")
    for status in (400, 403, 405):
        assert _matches(codes, status), f"matcher {codes} rejects S3's {status} to a bare probe"
    for status in (500, 503):
        assert not _matches(codes, status), f"matcher {codes} accepts {status}"


def _matches(codes, status):
    for part in codes.split(","):
        lo, _, hi = part.partition("-")
        if int(lo) <= status <= int(hi or lo):
            return True
    return False


# ------------------------------------------------------------------ function

def check_proxy_function(template, params):
    ev = Evaluation(template, params)
    fn = lambda_function(ev, "ProxyFunction")
    p = ev.resolve(fn["Properties"])
    assert p["Runtime"] == "provided.al2023" and p["Handler"] == "bootstrap", f"runtime {p['Runtime']} / {p['Handler']}"
    assert p["Architectures"] == [ev.params["Architecture"]], f"architectures {p['Architectures']}"
    assert p["LoggingConfig"]["LogFormat"] == "JSON", "logs must be JSON"
    group = fn["Properties"]["LoggingConfig"]["LogGroup"]
    assert isinstance(group, dict) and "Ref" in group, "the function must log to its own log group"
    assert ev.properties(group["Ref"]).get("RetentionInDays") == ev.params["LogRetentionDays"], "log group retention"
    assert "VpcConfig" in p and p["VpcConfig"]["SubnetIds"], "the proxy function must be VPC-attached"
    env = p["Environment"]["Variables"]
    assert set(env) == ENV_CONTRACT, f"environment {sorted(env)} differs from the contract: {sorted(set(env) ^ ENV_CONTRACT)}"
    bucket = ev.params["BucketName"]
    signed = ev.params["SignedHost"] or f"{bucket}.s3.amazonaws.com"
    endpoint_host = "bucket" + ENDPOINT_REGIONAL[1:]
    want = {
        "S3PROXY_BUCKET": bucket,
        "S3PROXY_REGION": ev.params["BucketRegion"] or ev.pseudo["AWS::Region"],
        "S3PROXY_SIGNED_HOST": signed,
        "S3PROXY_UPSTREAM_URL": f"https://{signed}",
        "S3PROXY_ENDPOINT_URL": f"https://{endpoint_host}",
        "S3PROXY_REDIRECT_VIA": ev.params["RedirectVia"],
        "S3PROXY_INLINE_MAX_BYTES": ev.params["InlineMaxBytes"],
        "S3PROXY_REDIRECT_TTL": ev.params["RedirectTtl"],
        "S3PROXY_KEY_PREFIXES": ev.params["KeyPrefixes"],
        "S3PROXY_ALLOWED_ORIGINS": ev.params["AllowedOrigins"],
        "S3PROXY_LOG_LEVEL": ev.params["LogLevel"],
        "S3PROXY_PUBLIC_URL": "https://" + ev.params["ProxyDomainName"],
        "S3PROXY_READ_ONLY": ev.params["ReadOnly"],
    }
    assert env == want, f"environment\n got {env}\nwant {want}"
    assert int(template["Parameters"]["InlineMaxBytes"]["MaxValue"]) <= MAX_INLINE, "InlineMaxBytes may exceed 1 MB after base64"
    assert int(env["S3PROXY_INLINE_MAX_BYTES"]) <= MAX_INLINE
    aliases = [a for a in ev.resources("AWS::Lambda::Alias").values() if is_ref(a["Properties"]["FunctionName"], "ProxyFunction")]
    assert len(aliases) == 1 and aliases[0]["Properties"]["Name"] == "live", "ProxyFunction needs AutoPublishAlias live"
    check_proxy_capacity(ev, p, ev.resolve(aliases[0]["Properties"]))


def check_proxy_capacity(ev, fn, alias):
    """MemorySize, ReservedConcurrency and ProvisionedConcurrency reach the
    function and its live alias (the one the ALB invokes), and only when
    set."""
    want_memory = ev.params["MemorySize"]
    assert str(fn.get("MemorySize")) == want_memory, f"MemorySize {fn.get('MemorySize')}, want the parameter's {want_memory}"
    assert int(want_memory) >= 128, "MemorySize below Lambda's minimum"
    reserved = ev.params["ReservedConcurrency"]
    got = fn.get("ReservedConcurrentExecutions")
    if reserved == "-1":
        assert got is None, f"ReservedConcurrentExecutions {got} set while ReservedConcurrency is -1 (none)"
    else:
        assert str(got) == reserved, f"ReservedConcurrentExecutions {got}, want {reserved}"
    provisioned = ev.params["ProvisionedConcurrency"]
    config = alias.get("ProvisionedConcurrencyConfig")
    assert "ProvisionedConcurrencyConfig" not in fn, "provisioned concurrency belongs on the live alias, not the function"
    if provisioned == "0":
        assert config is None, f"the live alias provisions {config} while ProvisionedConcurrency is 0"
    else:
        assert config == {"ProvisionedConcurrentExecutions": int(provisioned)} or \
            str((config or {}).get("ProvisionedConcurrentExecutions")) == provisioned, \
            f"the live alias provisions {config}, want {provisioned}"
        if reserved != "-1":
            assert int(provisioned) <= int(reserved), "ProvisionedConcurrency exceeds ReservedConcurrency"


# ------------------------------------------------------------ bucket policy

def bucket_policy(template, params):
    out = Evaluation(template, params).outputs()
    assert "RecommendedBucketPolicy" in out, "no RecommendedBucketPolicy output"
    text = out["RecommendedBucketPolicy"]
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise AssertionError(f"RecommendedBucketPolicy is not JSON ({e}):\n{text}") from None


def check_bucket_policy(template, params):
    ev = Evaluation(template, params)
    policy = bucket_policy(template, params)
    bucket = ev.params["BucketName"]
    role = "<ProxyFunctionRole.Arn>"
    endpoint = "<S3InterfaceEndpoint>"
    by_sid = {s["Sid"]: s for s in policy["Statement"]}
    want_sids = POLICY_SIDS | ({"DenyCheckPrincipalsOutsideCheckArea"} if any(ev.params["CheckPrincipalArns"]) else set())
    assert set(by_sid) == want_sids, f"policy statements {sorted(by_sid)}, want {sorted(want_sids)}"
    tls = by_sid["DenyInsecureTransport"]
    assert tls["Effect"] == "Deny" and tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}, tls
    assert set(tls["Resource"]) == {f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"}, tls["Resource"]
    prefixes = [f"arn:aws:s3:::{bucket}/{p}*" for p in ev.params["KeyPrefixes"].split(",")]
    reads = by_sid["DenyReadsOutsideProxyNetwork"]
    assert reads["Effect"] == "Deny" and reads["Action"] == "s3:GetObject*", reads
    assert reads["Resource"] == prefixes, f"policy protects {reads['Resource']}, want {prefixes}"
    cond = reads["Condition"]
    vpc = ev.params["ExistingVpcId"] or "<Vpc>"
    # One StringNotEquals with lists: the shape of ShotGrid's Fine Tuning
    # deny, so its VPC IDs merge into the same list (docs/deploy.md §5).
    assert cond == {"StringNotEquals": {"aws:SourceVpc": [vpc], "aws:SourceVpce": [endpoint]}}, cond
    # From this VPC, through any of its endpoints, only the listed
    # principals read: keyed on the VPC, never on one endpoint ID, and
    # covering reads only (ShotGrid's principals sign uploads).
    listed = by_sid["DenyVpcReadsExceptListedPrincipals"]
    assert listed["Effect"] == "Deny" and listed["Principal"] == "*", listed
    assert _as_list(listed["Action"]) == ["s3:GetObject*"], f"the VPC deny covers {listed['Action']}: reads only, never writes"
    assert listed["Resource"] == prefixes, f"the VPC deny covers {listed['Resource']}, want {prefixes}"
    checkers = [a for a in ev.params["CheckPrincipalArns"] if a]
    want_listed = [role] + ev.params["ShotGridPrincipalArns"] + [a for a in ev.params["OtherReaderArns"] if a] + checkers
    assert listed["Condition"] == {"StringEquals": {"aws:SourceVpc": vpc},
                                   "ArnNotEquals": {"aws:PrincipalArn": want_listed}}, listed["Condition"]
    # check's principals read from this VPC in check's folders only.
    if checkers:
        area = by_sid["DenyCheckPrincipalsOutsideCheckArea"]
        assert area["Effect"] == "Deny" and area["Principal"] == "*" and area["Action"] == "s3:GetObject*", area
        assert "Resource" not in area and area["NotResource"] == check_area_arns(ev), \
            f"the check principals' deny spares {area.get('NotResource')}, want {check_area_arns(ev)}"
        assert area["Condition"] == {"StringEquals": {"aws:SourceVpc": vpc},
                                     "ArnEquals": {"aws:PrincipalArn": checkers}}, area["Condition"]
    # A bucket in another account needs the owner's grant.
    allow = by_sid["AllowProxyRoleReads"]
    assert allow["Effect"] == "Allow" and allow["Principal"] == {"AWS": role}, allow
    assert sorted(allow["Action"]) == ["s3:GetObject", "s3:GetObjectVersion"], allow["Action"]
    assert allow["Resource"] == prefixes, allow["Resource"]
    assert ev.outputs().get("ProxyFunctionRoleArn") == role, "the ProxyFunctionRoleArn output names another role"


POLICY_SIDS = {"DenyInsecureTransport", "DenyReadsOutsideProxyNetwork", "DenyVpcReadsExceptListedPrincipals",
               "AllowProxyRoleReads"}


def check_outputs(template, params):
    ev = Evaluation(template, params)
    out = ev.outputs()
    assert out["S3ProxyHostAddress"] == "https://" + ev.params["ProxyDomainName"], out["S3ProxyHostAddress"]
    public = ev.params["Visibility"] == "public"
    want = "<Accelerator.DnsName>" if public else "<LoadBalancer.DNSName>"
    assert out["DnsNameToCname"] == want, f"CNAME target {out['DnsNameToCname']}, want {want}"
    assert out["InterfaceEndpointDnsName"] == ENDPOINT_REGIONAL[2:], out["InterfaceEndpointDnsName"]
    assert NO_VALUE not in out.values()
    # What `s3proxy check --stack` reads: the values the function runs with.
    bucket = ev.params["BucketName"]
    want = {
        "ProxyUrl": "https://" + ev.params["ProxyDomainName"],
        "BucketName": bucket,
        "BucketRegion": ev.params["BucketRegion"] or ev.pseudo["AWS::Region"],
        "SignedHost": ev.params["SignedHost"] or f"{bucket}.s3.amazonaws.com",
        "ProxyFunctionName": "<ProxyFunction>",
    }
    release = release_version()
    if release is None:
        assert re.fullmatch(r"\d+\.\d+\.\d+", str(out.get("Version"))), f"Version output {out.get('Version')!r}"
    else:
        want["Version"] = release
    for key, value in want.items():
        assert out.get(key) == value, f"output {key} = {out.get(key)!r}, want {value!r}"
    env = ev.resolve(lambda_function(ev, "ProxyFunction")["Properties"]["Environment"]["Variables"])
    assert out["SignedHost"] == env["S3PROXY_SIGNED_HOST"] and out["BucketRegion"] == env["S3PROXY_REGION"], \
        "the outputs differ from what the function runs with"
    # check --stack checks a read-only stack as one (expects uploads refused).
    assert out.get("ReadOnly") == env["S3PROXY_READ_ONLY"] == ev.params["ReadOnly"], \
        f"ReadOnly output {out.get('ReadOnly')!r}, the function runs with {env['S3PROXY_READ_ONLY']!r}"
    # Empty lists have no output (CloudFormation needs a value), never "".
    for key in ("KeyPrefixes", "AllowedOrigins"):
        if ev.params[key]:
            assert out.get(key) == ev.params[key], f"output {key} = {out.get(key)!r}, want {ev.params[key]!r}"
        else:
            assert key not in out, f"output {key} = {out[key]!r} for an empty parameter; leave it out"
    assert all(isinstance(v, str) and v for v in out.values()), f"empty outputs: {[k for k, v in out.items() if not v]}"


# ShotGrid's sg-private-vpc default, which a migrating studio already routes.
SHOTGRID_VPC_CIDR = "10.100.0.0/16"
RELEASE_GO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "pkg", "release", "release.go")


def release_version(path=RELEASE_GO):
    """pkg/release.Version, read from its source: the version the CLI prints.
    Until that file exists, the template's own value stands (the tests that
    compare the two skip, saying so)."""
    try:
        with open(path, encoding="utf-8") as f:
            source = f.read()
    except FileNotFoundError:
        return None
    m = re.search(r'\bVersion\s*=\s*"([^"]+)"', source)
    assert m, f"{path} has no Version = \"...\" constant"
    return m.group(1)


def check_parameter_order(template, params=None):
    """The console and `sam deploy --guided` ask in one order: every
    parameter in exactly one group, with a label and a description, the
    Parameters section in the groups' order, the existing VPC first and a
    new VPC's ranges last."""
    parameters = list(template["Parameters"])
    iface = template["Metadata"]["AWS::CloudFormation::Interface"]
    grouped = [p for g in iface["ParameterGroups"] for p in g["Parameters"]]
    assert sorted(grouped) == sorted(set(grouped)), f"parameters in two groups: {[p for p in grouped if grouped.count(p) > 1]}"
    assert set(grouped) == set(parameters), \
        f"ungrouped {sorted(set(parameters) - set(grouped))}, unknown {sorted(set(grouped) - set(parameters))}"
    assert grouped == parameters, "the Parameters section is not in the groups' order (sam deploy --guided asks in it)"
    assert parameters[0] == "ExistingVpcId", f"the first question is {parameters[0]}, want ExistingVpcId"
    new_vpc = {"VpcCidr", "AvailabilityZones"}
    assert set(parameters[-len(new_vpc):]) == new_vpc, f"a new VPC's parameters must come last: {parameters[-3:]}"
    labels = iface["ParameterLabels"]
    for name in parameters:
        assert labels.get(name, {}).get("default"), f"{name} has no label"
        assert template["Parameters"][name].get("Description"), f"{name} has no Description"


# --------------------------------------------------------------- monitoring

# pkg/emf: the namespace and the decisions the function records.
EMF_NAMESPACE = "S3Proxy"
DECISIONS = ("ping", "preflight", "inline", "redirect", "relay", "denied", "error")
# The requests the proxy judges: the denied rate is a share of these. Ping
# and preflight cannot be denied, and uptime probes would dilute the share.
JUDGED = {"inline", "redirect", "relay", "denied", "error"}


def _monitored(ev):
    """Placeholders the evaluator gives the names alarms and widgets use."""
    lb_id, _ = one(ev.resources(ELB + "LoadBalancer"), "load balancer")
    by_type = {}
    for k, v in ev.resources(ELB + "TargetGroup").items():
        by_type.setdefault(v["Properties"].get("TargetType"), []).append(k)
    assert len(by_type.get("lambda", [])) == 1 and len(by_type.get("ip", [])) == 1, f"target groups {by_type}"
    return {
        "lb": f"<{lb_id}.LoadBalancerFullName>",
        "fn_tg": f"<{by_type['lambda'][0]}.TargetGroupFullName>",
        "ip_tg": f"<{by_type['ip'][0]}.TargetGroupFullName>",
        "fn": "<ProxyFunction>",
        "bucket": ev.params["BucketName"],
    }


def required_alarms(ev):
    """(namespace, metric, dimensions) of every single-metric alarm the
    stack must have."""
    m = _monitored(ev)
    return [
        ("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", {"LoadBalancer": m["lb"]}),
        ("AWS/ApplicationELB", "LambdaUserError", {"LoadBalancer": m["lb"], "TargetGroup": m["fn_tg"]}),
        ("AWS/ApplicationELB", "LambdaInternalError", {"LoadBalancer": m["lb"], "TargetGroup": m["fn_tg"]}),
        ("AWS/Lambda", "Errors", {"FunctionName": m["fn"]}),
        ("AWS/Lambda", "Throttles", {"FunctionName": m["fn"]}),
        ("AWS/ApplicationELB", "UnHealthyHostCount", {"LoadBalancer": m["lb"], "TargetGroup": m["ip_tg"]}),
        ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", {"LoadBalancer": m["lb"], "TargetGroup": m["fn_tg"]}),
    ]


def _dims(dimensions):
    return {d["Name"]: d["Value"] for d in dimensions or []}


_MATH_TOKENS = re.compile(r"^[A-Za-z0-9_ ().,+*/<>=-]+$")


def evaluate_math(queries, values):
    """Evaluate an alarm's metric math for one period, as CloudWatch would
    for the small vocabulary used here (+ - * /, comparisons, IF, FILL).
    values maps metric ids to a number, or None when the metric has no
    datapoint. Returns the ReturnData query's value."""
    by_id = {q["Id"]: q for q in queries}
    returned = [q for q in queries if q.get("ReturnData", True)]
    assert len(returned) == 1, f"an alarm returns exactly one series, this returns {len(returned)}"

    def fill(v, default):
        return default if v is None else v

    def if_(cond, yes, no):
        return yes if cond else no

    def value(qid, seen=()):
        assert qid in by_id, f"metric math refers to unknown id {qid!r}"
        assert qid not in seen, f"metric math cycle through {qid}"
        q = by_id[qid]
        if "MetricStat" in q:
            return values.get(qid)
        expr = q["Expression"]
        assert _MATH_TOKENS.match(expr), f"unexpected characters in {expr!r}"
        names = set(re.findall(r"\b[a-z][A-Za-z0-9_]*\b", expr))
        scope = {n: value(n, seen + (qid,)) for n in names}
        py = re.sub(r"\bFILL\(", "fill(", re.sub(r"\bIF\(", "if_(", expr))
        # Both IF branches are evaluated here; CloudWatch yields no value
        # where a division is by zero, and so does this.
        try:
            return eval(py, {"__builtins__": {}}, dict(scope, fill=fill, if_=if_))  # noqa: S307 (own template text)
        except ZeroDivisionError:
            return None
        except TypeError as e:
            raise AssertionError(f"{qid} = {expr} fails when a metric has no datapoint ({e}): use FILL") from None

    return value(returned[0]["Id"])


def _alarms_breach(alarm, values):
    v = evaluate_math(alarm["Metrics"], values)
    if v is None:
        return False
    t = float(alarm["Threshold"])
    return {
        "GreaterThanThreshold": v > t, "GreaterThanOrEqualToThreshold": v >= t,
        "LessThanThreshold": v < t, "LessThanOrEqualToThreshold": v <= t,
    }[alarm["ComparisonOperator"]]


# (description, requests per decision in one period or None for no
# datapoint, whether the denied-rate alarm must breach).
DENIED_RATE_CASES = [
    ("half of busy traffic denied", {"denied": 50, "inline": 30, "redirect": 20}, True),
    ("a tenth and a half denied, some metrics without data",
     {"denied": 15, "inline": 85, "redirect": None, "relay": None, "error": None}, True),
    ("5% denied", {"denied": 5, "inline": 45, "redirect": 30, "relay": 10, "error": 10}, False),
    ("many denials, but a small share of heavy traffic", {"denied": 30, "inline": 700, "redirect": 270}, False),
    ("a quiet period, mostly denied", {"denied": 3, "inline": 5}, False),
    ("no denials at all", {"denied": None, "inline": 400, "redirect": 100}, False),
]


def check_alarms(template, params):
    ev = Evaluation(template, params)
    topics = sorted(ev.resources("AWS::SNS::Topic"))
    assert len(topics) == 1, f"want one SNS topic for the alarms, found {topics}"
    topic_ref = {"Ref": topics[0]}

    subs = ev.resources("AWS::SNS::Subscription")
    email = ev.params["AlarmEmail"]
    if email:
        _, sub = one(subs, "e-mail subscription when AlarmEmail is set")
        p = ev.resolve(sub["Properties"])
        assert p.get("Protocol") == "email" and p.get("Endpoint") == email, f"subscription {p}, want email to {email}"
        assert sub["Properties"]["TopicArn"] == topic_ref, "the subscription is not on the alarm topic"
    else:
        assert not subs, f"AlarmEmail is empty, yet subscriptions exist: {sorted(subs)}"

    alarms = ev.resources("AWS::CloudWatch::Alarm")
    assert alarms, "no CloudWatch alarms"
    for logical_id, alarm in alarms.items():
        raw = alarm["Properties"]
        assert raw.get("AlarmActions") == [topic_ref], f"{logical_id} AlarmActions {raw.get('AlarmActions')}, want the topic"
        assert raw.get("OKActions") == [topic_ref], f"{logical_id} OKActions {raw.get('OKActions')}, want the topic"
        assert raw.get("TreatMissingData") in ("notBreaching", "breaching", "ignore", "missing"), \
            f"{logical_id} leaves TreatMissingData to the default"
        assert raw.get("ActionsEnabled", True) is True, f"{logical_id} has its actions disabled"
        assert "docs/operate.md" in ev.resolve(raw.get("AlarmDescription", "")), \
            f"{logical_id} description does not point at the runbook"

    single = {}
    for logical_id, alarm in alarms.items():
        p = ev.resolve(alarm["Properties"])
        if "MetricName" in p:
            key = (p.get("Namespace"), p["MetricName"], json.dumps(_dims(p.get("Dimensions")), sort_keys=True))
            single.setdefault(key, []).append(logical_id)
    for namespace, metric, dims in required_alarms(ev):
        key = (namespace, metric, json.dumps(dims, sort_keys=True))
        found = single.get(key, [])
        assert len(found) == 1, f"want one alarm on {namespace} {metric} {dims}, found {found}; alarms on {sorted(single)}"

    check_denied_rate_alarm(ev, alarms)


def check_denied_rate_alarm(ev, alarms):
    m = _monitored(ev)
    math = {k: ev.resolve(v["Properties"]) for k, v in alarms.items() if "Metrics" in v["Properties"]}
    denied = {}
    for logical_id, p in math.items():
        for q in p["Metrics"]:
            metric = q.get("MetricStat", {}).get("Metric", {})
            if metric.get("MetricName") == "Requests" and _dims(metric.get("Dimensions")).get("Decision") == "denied":
                denied[logical_id] = p
    logical_id, alarm = one(denied, "alarm on the denied decision")
    decisions = {}
    for q in alarm["Metrics"]:
        if "MetricStat" not in q:
            continue
        metric = q["MetricStat"]["Metric"]
        dims = _dims(metric.get("Dimensions"))
        assert metric.get("Namespace") == EMF_NAMESPACE and metric.get("MetricName") == "Requests", \
            f"{logical_id} uses {metric.get('Namespace')} {metric.get('MetricName')}"
        assert dims.get("Bucket") == m["bucket"] and set(dims) == {"Bucket", "Decision"}, \
            f"{logical_id} dimensions {dims}: the function records Bucket={m['bucket']} and Decision"
        assert q["MetricStat"].get("Stat") == "Sum", f"{logical_id} {q['Id']} must Sum request counts"
        decisions[dims["Decision"]] = q["Id"]
    assert set(decisions) == JUDGED, f"{logical_id} is a share of {sorted(decisions)}, want {sorted(JUDGED)}"
    for name, counts, want in DENIED_RATE_CASES:
        values = {decisions[d]: counts.get(d) for d in decisions}
        got = _alarms_breach(alarm, values)
        assert got == want, f"{logical_id} {'breaches' if got else 'does not breach'} for {name} {counts}"


def _metric_rows(widget):
    """A metric widget's rows as (namespace, name, dimensions, options), or
    (None, None, {}, options) for an expression. Rows must be written out
    in full: no "." shorthand."""
    props = widget["properties"]
    out = []
    for row in props.get("metrics", []):
        options = row[-1] if row and isinstance(row[-1], dict) else {}
        parts = row[:-1] if options else row
        if not parts:
            assert "expression" in options, f"metric row {row} is neither a metric nor an expression"
            out.append((None, None, {}, options))
            continue
        assert all(isinstance(x, str) and x not in (".", "..", "...") for x in parts), f"abbreviated metric row {row}"
        assert len(parts) >= 2 and len(parts) % 2 == 0, f"metric row {row} is not namespace, name, then dimension pairs"
        dims = dict(zip(parts[2::2], parts[3::2]))
        out.append((parts[0], parts[1], dims, dict(options, stat=options.get("stat", props.get("stat", "Average")))))
    return out


def dashboard_body(template, params):
    ev = Evaluation(template, params)
    _, dash = one(ev.resources("AWS::CloudWatch::Dashboard"), "dashboard")
    text = ev.resolve(dash["Properties"]["DashboardBody"])
    assert isinstance(text, str), "DashboardBody must be a string"
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise AssertionError(f"the dashboard body is not JSON after substitution ({e})") from None


def check_dashboard(template, params):
    ev = Evaluation(template, params)
    m = _monitored(ev)
    body = dashboard_body(template, params)
    widgets = body.get("widgets", [])
    assert widgets, "the dashboard has no widgets"
    rows = []
    for w in widgets:
        assert w.get("type") in ("metric", "text", "alarm", "log"), f"widget type {w.get('type')}"
        assert 0 <= w.get("x", 0) and w.get("x", 0) + w.get("width", 6) <= 24, f"widget off the 24-column grid: {w}"
        if w["type"] in ("metric", "log"):
            assert w["properties"].get("region") == ev.pseudo["AWS::Region"], \
                f"widget {w['properties'].get('title')} is in region {w['properties'].get('region')}"
        if w["type"] == "metric":
            widget_rows = _metric_rows(w)
            rows += [(w, *r) for r in widget_rows]
            ids = {r[3]["id"] for r in widget_rows if "id" in r[3]}
            for r in widget_rows:
                for name in re.findall(r"\b[a-z][A-Za-z0-9_]*\b", r[3].get("expression", "")):
                    assert name in ids, f"expression {r[3]['expression']} refers to unknown id {name}"

    emf = [r for r in rows if r[1] == EMF_NAMESPACE]
    assert emf, f"the dashboard shows nothing from namespace {EMF_NAMESPACE}"
    for _, _, name, dims, _ in emf:
        assert dims.get("Bucket") == m["bucket"], f"{name} row for bucket {dims.get('Bucket')}, want {m['bucket']}"
        assert set(dims) in ({"Bucket", "Decision"}, {"Bucket", "UpstreamStatusClass"}), f"{name} dimensions {sorted(dims)}"

    def decisions_in(widget, metric):
        return {d["Decision"] for w, ns, name, d, _ in emf if w is widget and name == metric}

    by_decision = [w for w in widgets if w["type"] == "metric" and decisions_in(w, "Requests") >= set(DECISIONS)]
    assert by_decision, f"no widget shows Requests for every decision {DECISIONS}"
    assert all(o["stat"] == "Sum" for w, _, name, _, o in emf if w is by_decision[0] and name == "Requests"), \
        "requests by decision must be summed"
    latency = {}
    for _, _, name, dims, o in emf:
        if name == "UpstreamLatency":
            latency.setdefault(dims.get("Decision"), set()).add(o["stat"])
    assert latency, "upstream latency is not shown"
    for decision, stats in latency.items():
        assert {"p50", "p99"} <= stats, f"upstream latency of {decision} shown as {sorted(stats)}, want p50 and p99"
    assert any(name == "InlineBytes" for _, _, name, _, _ in emf), "inline bytes are not shown"

    alb = {(name, json.dumps(d, sort_keys=True)) for _, ns, name, d, _ in rows if ns == "AWS/ApplicationELB"}
    for name in ("HTTPCode_ELB_4XX_Count", "HTTPCode_ELB_5XX_Count"):
        assert (name, json.dumps({"LoadBalancer": m["lb"]}, sort_keys=True)) in alb, f"{name} of the load balancer is not shown"
    trt = json.dumps({"LoadBalancer": m["lb"], "TargetGroup": m["fn_tg"]}, sort_keys=True)
    assert ("TargetResponseTime", trt) in alb, "the function's target response time is not shown"

    shown = {a for w in widgets if w["type"] == "alarm" for a in w["properties"].get("alarms", [])}
    want = {f"<{k}.Arn>" for k in ev.resources("AWS::CloudWatch::Alarm")}
    assert want <= shown, f"alarms missing from the dashboard: {sorted(want - shown)}"
    for w in widgets:
        if w["type"] == "log":
            query = w["properties"]["query"]
            assert query.startswith("SOURCE '<ProxyLogGroup>'"), f"log widget queries {query[:40]}"


def check_monitoring_outputs(template, params):
    ev = Evaluation(template, params)
    out = ev.outputs()
    dash_id, _ = one(ev.resources("AWS::CloudWatch::Dashboard"), "dashboard")
    topic_id, _ = one(ev.resources("AWS::SNS::Topic"), "SNS topic")
    assert out.get("AlarmTopicArn") == f"<{topic_id}>", f"AlarmTopicArn output {out.get('AlarmTopicArn')}"
    assert out.get("DashboardName") == f"<{dash_id}>", f"DashboardName output {out.get('DashboardName')}"
    region = ev.pseudo["AWS::Region"]
    want = f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#dashboards/dashboard/<{dash_id}>"
    assert out.get("DashboardUrl") == want, f"DashboardUrl {out.get('DashboardUrl')}, want {want}"


# ------------------------------------------------------------------ network and policy

def _walk(value, path=()):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, path + (k,))
        yield path, value
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, path + (i,))


def check_regional_dns_name(template, params):
    """Item 9: no value takes a DNS entry by position; the endpoint host is
    the custom resource's RegionalDnsName everywhere it is used."""
    ev = Evaluation(template, params)
    for section in ("Resources", "Outputs"):
        for path, v in _walk(template.get(section, {})):
            if isinstance(v, dict) and v.get("Fn::GetAtt") in (["S3InterfaceEndpoint", "DnsEntries"], "S3InterfaceEndpoint.DnsEntries"):
                raise AssertionError(f"{section}/{'/'.join(map(str, path))} reads DnsEntries, whose order AWS does not document")
            if isinstance(v, dict) and isinstance(v.get("Fn::Sub"), (str, list)):
                text = v["Fn::Sub"] if isinstance(v["Fn::Sub"], str) else v["Fn::Sub"][0]
                assert "DnsEntries" not in text, f"{section}/{'/'.join(map(str, path))} reads DnsEntries in a Sub"
    regional = ENDPOINT_REGIONAL[2:]
    env = ev.resolve(lambda_function(ev, "ProxyFunction")["Properties"]["Environment"]["Variables"])
    assert env["S3PROXY_ENDPOINT_URL"] == f"https://bucket.{regional}", env["S3PROXY_ENDPOINT_URL"]
    out = ev.outputs()
    assert out["InterfaceEndpointDnsName"] == regional, out["InterfaceEndpointDnsName"]
    assert out["InterfaceEndpointUrl"] == f"https://bucket.{regional}", out["InterfaceEndpointUrl"]


def _pattern_ok(spec, value):
    pattern = spec.get("AllowedPattern")
    if pattern is None:
        return True
    values = value.split(",") if spec["Type"] == "CommaDelimitedList" else [value]
    return all(re.fullmatch(pattern, v) for v in values)


def check_network_parameters(template, params):
    """Items 2, 5, 6 and 7 as the parameters state them."""
    ev = Evaluation(template, params)
    specs = template["Parameters"]
    # The studio network is asked for, never guessed: empty by default (a
    # Rule requires it or a prefix list), each entry a CIDR block.
    assert specs["StudioCidrs"]["Type"] == "CommaDelimitedList" and specs["StudioCidrs"].get("Default") == "", \
        f"StudioCidrs: {specs['StudioCidrs']}"
    for good in ("10.0.0.0/8", "192.168.10.0/24,172.16.0.0/12", ""):
        assert _pattern_ok(specs["StudioCidrs"], good), f"StudioCidrs refuses {good!r}"
    for bad in ("REPLACE_ME_studio_cidr", "10.0.0.0", "10.0.0.0/8,REPLACE_ME", "10.0.0.0/33"):
        assert not _pattern_ok(specs["StudioCidrs"], bad), f"StudioCidrs accepts {bad!r}"
    for good in ("pl-0123456789abcdef0", "pl-12345678", ""):
        assert _pattern_ok(specs["StudioPrefixListId"], good), f"StudioPrefixListId refuses {good!r}"
    for bad in ("REPLACE_ME_prefix_list", "pl-xyz", "sg-0123456789abcdef0"):
        assert not _pattern_ok(specs["StudioPrefixListId"], bad), f"StudioPrefixListId accepts {bad!r}"
    # A new VPC by default does not collide with ShotGrid's sg-private-vpc.
    default_vpc = ipaddress.ip_network(specs["VpcCidr"]["Default"])
    assert not default_vpc.overlaps(ipaddress.ip_network(SHOTGRID_VPC_CIDR)), \
        f"VpcCidr defaults to {default_vpc}, which overlaps ShotGrid's {SHOTGRID_VPC_CIDR}"
    # 2: an existing VPC gets no second gateway endpoint unless asked.
    assert specs["CreateS3GatewayEndpoint"]["Default"] == "false", "CreateS3GatewayEndpoint must default to false"
    # 6: placeholders fail parameter validation; real IDs and empty pass.
    for name, good in (("ExistingPrivateSubnetIds", "subnet-0aaaaaaaaaaaaaaa1,subnet-0123abcd"),
                       ("ExistingPublicSubnetIds", "subnet-0bbbbbbbbbbbbbbb1"),
                       ("ExistingRouteTableIds", "rtb-0aaaaaaaaaaaaaaa1,rtb-0123abcd"),
                       ("AvailabilityZones", "eu-west-1a,us-gov-west-1b")):
        spec = specs[name]
        assert _pattern_ok(spec, good) and _pattern_ok(spec, ""), f"{name} refuses {good!r} or empty"
        for bad in ("REPLACE_ME_subnet_a", "subnet-0aaaaaaaaaaaaaaa1,REPLACE_ME", "rtb-xyz", "subnet-1"):
            assert not _pattern_ok(spec, bad), f"{name} accepts {bad!r}"
        assert _pattern_ok(spec, ",".join(ev.params[name])), f"{name} refuses this combination's {ev.params[name]}"
    # 7: a new VPC's subnets are in the chosen zones, and are the first
    # /24 blocks of VpcCidr, private ones first, none shared.
    zones = [z for z in ev.params["AvailabilityZones"] if z]
    subnets = ev.resources("AWS::EC2::Subnet")
    if subnets:
        want = zones or ["eu-west-1a", "eu-west-1b"]  # the evaluator's !GetAZs
        blocks = [str(b) for b in ipaddress.ip_network(ev.params["VpcCidr"]).subnets(new_prefix=24)][:4]
        order = ["PrivateSubnet1", "PrivateSubnet2", "PublicSubnet1", "PublicSubnet2"]
        for logical_id, sub in subnets.items():
            index = 0 if logical_id.endswith("1") else 1
            p = ev.properties(logical_id)
            assert p["AvailabilityZone"] == want[index], f"{logical_id} is in {p['AvailabilityZone']}, want {want[index]}"
            assert p["CidrBlock"] == blocks[order.index(logical_id)], \
                f"{logical_id} is {p['CidrBlock']}, want {blocks[order.index(logical_id)]} from VpcCidr {ev.params['VpcCidr']}"


def check_network_checks(template, params):
    """Items 5 and 7: the checks Rules cannot make run before the endpoint,
    on exactly the endpoint's and the ALB's subnets."""
    ev = Evaluation(template, params)
    found = {k: v for k, v in ev.resources().items() if v["Type"] == "Custom::NetworkChecks"}
    nc_id, nc = one(found, "Custom::NetworkChecks")
    p = ev.resolve(nc["Properties"])
    assert nc["Properties"]["ServiceToken"] == {"Fn::GetAtt": ["EndpointTargetsFunction", "Arn"]}, "wrong service token"
    assert int(p.get("ServiceTimeout", 3600)) <= 600, "ServiceTimeout must keep a failure from hanging an hour"
    _, ep = one({k: v for k, v in ev.resources("AWS::EC2::VPCEndpoint").items()
                 if v["Properties"].get("VpcEndpointType") == "Interface"}, "interface endpoint")
    depends = ep.get("DependsOn", [])
    assert nc_id in ([depends] if isinstance(depends, str) else depends), "the interface endpoint must wait for the network checks"
    ep_props = ev.resolve(ep["Properties"])
    _, lb = one(ev.resources(ELB + "LoadBalancer"), "load balancer")
    assert p["VpcId"] == ep_props["VpcId"], f"checks VPC {p['VpcId']}, endpoint VPC {ep_props['VpcId']}"
    for key, want in (("StudioCidrs", ev.params["StudioCidrs"]), ("StudioPrefixListId", ev.params["StudioPrefixListId"]),
                      ("CertificateArn", ev.params["CertificateArn"]), ("DomainName", ev.params["ProxyDomainName"]),
                      ("Region", ev.pseudo["AWS::Region"]), ("BucketName", ev.params["BucketName"])):
        assert key in p and p[key] == want, f"NetworkChecks {key} = {p.get(key)!r}, want {want!r}"
    lb_depends = lb.get("DependsOn", [])
    assert nc_id in ([lb_depends] if isinstance(lb_depends, str) else lb_depends), \
        "the load balancer must wait for the checks (a bad certificate fails before the ALB exists)"
    assert p["ServiceName"] == ep_props["ServiceName"], p["ServiceName"]
    assert p["EndpointSubnetIds"] == ep_props["SubnetIds"], f"checks {p['EndpointSubnetIds']}, endpoint in {ep_props['SubnetIds']}"
    assert p["LoadBalancerSubnetIds"] == ev.resolve(lb["Properties"]["Subnets"]), \
        f"checks {p['LoadBalancerSubnetIds']}, ALB in {ev.resolve(lb['Properties']['Subnets'])}"


def check_kms(template, params):
    """Item 8: with BucketKmsKeyArn, the proxy role may kms:Decrypt with that
    key through S3, and nothing more; without it, no KMS grant at all."""
    ev = Evaluation(template, params)
    fn = lambda_function(ev, "ProxyFunction")
    role_id = fn["Properties"]["Role"]["Fn::GetAtt"][0]
    kms = [s for who, s in statements(ev)
           if any(a.lower().startswith("kms:") or a == "*" for a in _as_list(s["Action"]))]
    key = ev.params["BucketKmsKeyArn"]
    if not key:
        assert not kms, f"no BucketKmsKeyArn, yet KMS is granted: {kms}"
        return
    assert len(kms) == 1, f"want one KMS statement, found {kms}"
    s = kms[0]
    owners = [who for who, st in statements(ev) if st is s or st == s]
    assert owners == [role_id], f"the KMS grant is on {owners}, want the proxy role {role_id}"
    assert s["Effect"] == "Allow" and _as_list(s["Action"]) == ["kms:Decrypt"], f"KMS grant {s['Action']}, want kms:Decrypt only"
    assert _as_list(s["Resource"]) == [key], f"KMS grant on {s['Resource']}, want {key}"
    assert s.get("Condition") == {"StringEquals": {"kms:ViaService": f"s3.{ev.pseudo['AWS::Region']}.amazonaws.com"}}, \
        f"KMS grant condition {s.get('Condition')}: decrypt through S3 only"


# ------------------------------------------ who may do what through which path

def prefix_arns(ev):
    bucket = ev.params["BucketName"]
    return [f"arn:aws:s3:::{bucket}/{p}*" for p in ev.params["KeyPrefixes"].split(",")]


def read_only(ev):
    return ev.params["ReadOnly"] == "true"


def check_writes(ev):
    """Whether the endpoint admits s3proxy check's writes: check principals
    named, and a stack that takes writes at all."""
    return any(ev.params["CheckPrincipalArns"]) and not read_only(ev)


def check_area_arns(ev):
    """Where s3proxy check puts its objects: <prefix>s3proxy-check/ under
    each prefix (pkg/check)."""
    bucket = ev.params["BucketName"]
    return [f"arn:aws:s3:::{bucket}/{p}s3proxy-check/*" for p in ev.params["KeyPrefixes"].split(",")]


def bucket_account(ev):
    return ev.params["BucketAccountId"] or ACCOUNT


ENDPOINT_READS = ["s3:GetObject", "s3:GetObjectVersion"]
ENDPOINT_WRITES = ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts", "s3:DeleteObject"]


def check_endpoint_policies(template, params):
    """The interface endpoint admits object calls on the prefixes only:
    reads by the proxy role, writes by ShotGrid's principals, both only on
    the bucket owner's account. The new-VPC gateway endpoint admits the
    bucket only, in the owner's account; an existing VPC's keeps AWS's
    default (check_vpc_mode)."""
    ev = Evaluation(template, params)
    role = "<ProxyFunctionRole.Arn>"
    account = {"StringEquals": {"aws:ResourceAccount": bucket_account(ev)}}
    _, ep = one({k: v for k, v in ev.resources("AWS::EC2::VPCEndpoint").items()
                 if v["Properties"].get("VpcEndpointType") == "Interface"}, "interface endpoint")
    doc = ev.resolve(ep["Properties"])["PolicyDocument"]
    by_sid = {s.get("Sid"): s for s in doc["Statement"]}
    checkers = [a for a in ev.params["CheckPrincipalArns"] if a]
    # A read-only stack's endpoint admits the proxy role's reads only.
    want_sids = {"ProxyRoleReads"} | (set() if read_only(ev) else {"ShotGridWrites"}) | ({"CheckWrites"} if check_writes(ev) else set())
    assert set(by_sid) == want_sids, f"interface endpoint statements {sorted(by_sid)}, want {sorted(want_sids)}"
    for s in doc["Statement"]:
        assert s["Effect"] == "Allow" and s["Principal"] == "*", s
        for bad in ("NotAction", "NotResource", "NotPrincipal"):
            assert bad not in s, f"{s['Sid']} uses {bad}"
        want = check_area_arns(ev) if s["Sid"] == "CheckWrites" else prefix_arns(ev)
        assert _as_list(s["Resource"]) == want, f"{s['Sid']} covers {s['Resource']}, want {want}"
    if check_writes(ev):
        check = by_sid["CheckWrites"]
        assert _as_list(check["Action"]) == ENDPOINT_WRITES, f"CheckWrites allows {check['Action']}"
        assert check["Condition"] == dict(account, ArnEquals={"aws:PrincipalArn": checkers}), check["Condition"]
    reads = by_sid["ProxyRoleReads"]
    assert _as_list(reads["Action"]) == ENDPOINT_READS, f"ProxyRoleReads allows {reads['Action']}"
    assert reads["Condition"] == dict(account, ArnEquals={"aws:PrincipalArn": role}), reads["Condition"]
    if not read_only(ev):
        writes = by_sid["ShotGridWrites"]
        assert _as_list(writes["Action"]) == ENDPOINT_WRITES, f"ShotGridWrites allows {writes['Action']}"
        assert writes["Condition"] == dict(account, ArnEquals={"aws:PrincipalArn": ev.params["ShotGridPrincipalArns"]}), \
            writes["Condition"]
    gateways = {k: v for k, v in ev.resources("AWS::EC2::VPCEndpoint").items()
                if v["Properties"].get("VpcEndpointType") == "Gateway"}
    for logical_id in gateways:
        p = ev.properties(logical_id)
        if "PolicyDocument" in p:
            for s in p["PolicyDocument"]["Statement"]:
                assert s.get("Condition") == account, f"{logical_id} {s.get('Sid')} condition {s.get('Condition')}, want {account}"


# Names the request contexts use. ShotGrid's own VPC stands for the ones its
# Fine Tuning guide lists; the second endpoint for a second stack, a
# redeploy, or ShotGrid's PrivateLink endpoint in the same VPC.
SHOTGRID_VPC = "vpc-0a0b0c0d0e0f00001"
GATEWAY_VPCE = "vpce-0gateway0000000001"
SECOND_VPCE = "vpce-0secondstack000001"
INTERNET_IP = "203.0.113.7"
OTHER_ACCOUNT = "999999999999"
# What <ProxyFunctionRole.Arn> becomes once deployed.
PROXY_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/media-proxy-ProxyFunctionRole-0A1B2C3D4E5F"

PROXY, SHOTGRID, SHOTGRID_LAST, UNLISTED, ANONYMOUS, OTHER_READER = (
    "proxy role", "ShotGrid", "last ShotGrid principal", "unlisted", "anonymous", "other reader")
ALWAYS_P = lambda p: True  # noqa: E731
HAS_PREFIXES = lambda p: bool(p.get("KeyPrefixes"))
HAS_OTHER_READERS = lambda p: bool(p.get("OtherReaderArns"))
HAS_CHECKERS = lambda p: bool(p.get("CheckPrincipalArns"))
NO_CHECKERS = lambda p: not p.get("CheckPrincipalArns")
CHECKER, CHECKER_LAST = "check principal", "last check principal"
WRITABLE = lambda p: p.get("ReadOnly") != "true"
READ_ONLY = lambda p: p.get("ReadOnly") == "true"
CHECK_WRITABLE = lambda p: HAS_CHECKERS(p) and WRITABLE(p)
CHECK_READ_ONLY = lambda p: HAS_CHECKERS(p) and READ_ONLY(p)
# The proxy's paths a check principal's reads take (the function's inline
# read over the gateway) and every S3 endpoint of the VPC.
VPC_PATHS = ("gateway", "interface", "second endpoint")

# (name, who, action, key: "in" | "outside" | "bucket", via, secure,
#  allowed, what refuses it (a substring of the decision), applies)
ACCESS_CASES = [
    ("ShotGrid's signature, read by the function via the gateway", SHOTGRID, "s3:GetObject", "in", "gateway", True, True, None, ALWAYS_P),
    ("another listed ShotGrid principal via the gateway", SHOTGRID_LAST, "s3:GetObject", "in", "gateway", True, True, None, ALWAYS_P),
    ("ShotGrid's principal reading through the interface endpoint", SHOTGRID, "s3:GetObject", "in", "interface", True, False, "endpoint policy", ALWAYS_P),
    ("ShotGrid's upload (PutObject, UploadPart) through the passthrough", SHOTGRID, "s3:PutObject", "in", "interface", True, True, None, WRITABLE),
    ("ShotGrid's AbortMultipartUpload through the passthrough", SHOTGRID, "s3:AbortMultipartUpload", "in", "interface", True, True, None, WRITABLE),
    ("ShotGrid's ListParts through the passthrough", SHOTGRID, "s3:ListMultipartUploadParts", "in", "interface", True, True, None, WRITABLE),
    ("ShotGrid's DeleteObject through the passthrough", SHOTGRID, "s3:DeleteObject", "in", "interface", True, True, None, WRITABLE),
    ("ShotGrid's write outside the prefixes through the endpoint", SHOTGRID, "s3:PutObject", "outside", "interface", True, False, "endpoint policy", HAS_PREFIXES),
    ("the proxy role's redirect through the interface endpoint", PROXY, "s3:GetObject", "in", "interface", True, True, None, ALWAYS_P),
    ("the proxy role's redirect of a version", PROXY, "s3:GetObjectVersion", "in", "interface", True, True, None, ALWAYS_P),
    ("the proxy role reading outside the prefixes", PROXY, "s3:GetObject", "outside", "interface", True, False, "endpoint policy", HAS_PREFIXES),
    ("the proxy role writing through the endpoint", PROXY, "s3:PutObject", "in", "interface", True, False, "endpoint policy", ALWAYS_P),
    ("an unlisted principal's signature, read by the function via the gateway", UNLISTED, "s3:GetObject", "in", "gateway", True, False, "DenyVpcReadsExceptListedPrincipals", ALWAYS_P),
    ("an unlisted principal through the interface endpoint", UNLISTED, "s3:GetObject", "in", "interface", True, False, "DenyVpcReadsExceptListedPrincipals", ALWAYS_P),
    ("an unlisted principal through a second S3 endpoint in the VPC", UNLISTED, "s3:GetObject", "in", "second endpoint", True, False, "DenyVpcReadsExceptListedPrincipals", ALWAYS_P),
    ("an unlisted principal's GetObjectAttributes through a second endpoint", UNLISTED, "s3:GetObjectAttributes", "in", "second endpoint", True, False, "DenyVpcReadsExceptListedPrincipals", ALWAYS_P),
    ("an anonymous read via the gateway", ANONYMOUS, "s3:GetObject", "in", "gateway", True, False, "DenyVpcReadsExceptListedPrincipals", ALWAYS_P),
    ("an unlisted principal's upload through the passthrough", UNLISTED, "s3:PutObject", "in", "interface", True, False, "endpoint policy", ALWAYS_P),
    ("ShotGrid's principal from outside the VPC", SHOTGRID, "s3:GetObject", "in", "internet", True, False, "DenyReadsOutsideProxyNetwork", ALWAYS_P),
    ("the proxy role from outside the VPC", PROXY, "s3:GetObject", "in", "internet", True, False, "DenyReadsOutsideProxyNetwork", ALWAYS_P),
    ("an unlisted principal from outside the VPC", UNLISTED, "s3:GetObject", "in", "internet", True, False, "DenyReadsOutsideProxyNetwork", ALWAYS_P),
    ("bucket admin: PutBucketPolicy through the passthrough", SHOTGRID, "s3:PutBucketPolicy", "bucket", "interface", True, False, "endpoint policy", ALWAYS_P),
    ("bucket admin: DeleteBucket through the passthrough", SHOTGRID, "s3:DeleteBucket", "bucket", "interface", True, False, "endpoint policy", ALWAYS_P),
    ("bucket admin: PutBucketCORS through the passthrough", SHOTGRID, "s3:PutBucketCORS", "bucket", "interface", True, False, "endpoint policy", ALWAYS_P),
    ("PutObjectAcl through the passthrough", SHOTGRID, "s3:PutObjectAcl", "in", "interface", True, False, "endpoint policy", ALWAYS_P),
    ("a read over plain HTTP", SHOTGRID, "s3:GetObject", "in", "gateway", False, False, "DenyInsecureTransport", ALWAYS_P),
    ("another reader in a shared VPC, via the gateway", OTHER_READER, "s3:GetObject", "in", "gateway", True, True, None, HAS_OTHER_READERS),
    ("another reader through the interface endpoint", OTHER_READER, "s3:GetObject", "in", "interface", True, False, "endpoint policy", HAS_OTHER_READERS),
    ("ShotGrid's servers from ShotGrid's VPC, once its VPCs are merged in", SHOTGRID, "s3:GetObject", "in", "shotgrid vpc", True, True, None, ALWAYS_P),
    # s3proxy check's principals: their own folders, nothing else.
    ("check's upload into its folder through the passthrough", CHECKER, "s3:PutObject", "check", "interface", True, True, None, CHECK_WRITABLE),
    ("check's AbortMultipartUpload in its folder", CHECKER, "s3:AbortMultipartUpload", "check", "interface", True, True, None, CHECK_WRITABLE),
    ("check's ListParts in its folder", CHECKER, "s3:ListMultipartUploadParts", "check", "interface", True, True, None, CHECK_WRITABLE),
    ("check's DeleteObject in its folder", CHECKER, "s3:DeleteObject", "check", "interface", True, True, None, CHECK_WRITABLE),
    ("another check principal's upload under the last prefix", CHECKER_LAST, "s3:PutObject", "check last", "interface", True, True, None, CHECK_WRITABLE),
    ("check's read of its folder, by the function via the gateway", CHECKER, "s3:GetObject", "check", "gateway", True, True, None, HAS_CHECKERS),
    ("another check principal's read under the last prefix", CHECKER_LAST, "s3:GetObject", "check last", "gateway", True, True, None, HAS_CHECKERS),
    ("check's read of its folder through the interface endpoint", CHECKER, "s3:GetObject", "check", "interface", True, False, "endpoint policy", HAS_CHECKERS),
    ("check's upload of ShotGrid's media through the passthrough", CHECKER, "s3:PutObject", "in", "interface", True, False, "endpoint policy", HAS_CHECKERS),
    ("check's delete of ShotGrid's media through the passthrough", CHECKER, "s3:DeleteObject", "in", "interface", True, False, "endpoint policy", HAS_CHECKERS),
    ("check's upload outside the prefixes", CHECKER, "s3:PutObject", "outside", "interface", True, False, "endpoint policy", HAS_CHECKERS),
    ("check's read of ShotGrid's media via the gateway", CHECKER, "s3:GetObject", "in", "gateway", True, False, "DenyCheckPrincipalsOutsideCheckArea", HAS_CHECKERS),
    ("check's read of ShotGrid's media through a second endpoint", CHECKER, "s3:GetObject", "in", "second endpoint", True, False, "DenyCheckPrincipalsOutsideCheckArea", HAS_CHECKERS),
    ("another check principal's GetObjectVersion of media", CHECKER_LAST, "s3:GetObjectVersion", "in", "second endpoint", True, False, "DenyCheckPrincipalsOutsideCheckArea", HAS_CHECKERS),
    ("check's read of its folder from outside the VPC", CHECKER, "s3:GetObject", "check", "internet", True, False, "DenyReadsOutsideProxyNetwork", HAS_CHECKERS),
    # A read-only stack's endpoint admits no write, by anyone.
    ("ShotGrid's upload through a read-only stack's endpoint", SHOTGRID, "s3:PutObject", "in", "interface", True, False, "endpoint policy", READ_ONLY),
    ("ShotGrid's DeleteObject through a read-only stack's endpoint", SHOTGRID, "s3:DeleteObject", "in", "interface", True, False, "endpoint policy", READ_ONLY),
    ("ShotGrid's AbortMultipartUpload through a read-only stack's endpoint", SHOTGRID, "s3:AbortMultipartUpload", "in", "interface", True, False, "endpoint policy", READ_ONLY),
    ("check's upload through a read-only stack's endpoint", CHECKER, "s3:PutObject", "check", "interface", True, False, "endpoint policy", CHECK_READ_ONLY),
    # With none listed, check's signature is anyone's: refused in its folder too.
    ("an unlisted principal's read of check's folder", UNLISTED, "s3:GetObject", "check", "gateway", True, False, "DenyVpcReadsExceptListedPrincipals", NO_CHECKERS),
    ("an unlisted principal's upload into check's folder", UNLISTED, "s3:PutObject", "check", "interface", True, False, "endpoint policy", ALWAYS_P),
    # Inherited from ShotGrid's Fine Tuning policy, and documented: writes
    # outside the interface endpoint are the bucket owner's IAM's to limit.
    ("an unlisted principal's write via the gateway", UNLISTED, "s3:PutObject", "in", "gateway", True, True, None, ALWAYS_P),
]


def merged_bucket_policy(policy):
    """What docs/deploy.md §5 tells the operator to make: ShotGrid's VPCs
    copied into DenyReadsOutsideProxyNetwork's aws:SourceVpc list."""
    out = json.loads(json.dumps(policy))
    for s in out["Statement"]:
        if s["Sid"] == "DenyReadsOutsideProxyNetwork":
            s["Condition"]["StringNotEquals"]["aws:SourceVpc"].append(SHOTGRID_VPC)
    return out


def access_world(template, params):
    """The principals, network paths and policies a request can meet."""
    ev = Evaluation(template, params)
    vpc = ev.params["ExistingVpcId"] or "<Vpc>"
    account = bucket_account(ev)
    interface = one({k: v for k, v in ev.resources("AWS::EC2::VPCEndpoint").items()
                     if v["Properties"].get("VpcEndpointType") == "Interface"}, "interface endpoint")[0]
    gateways = [k for k, v in ev.resources("AWS::EC2::VPCEndpoint").items()
                if v["Properties"].get("VpcEndpointType") == "Gateway"]
    # No gateway endpoint of the stack's: the VPC's own, whose policy the
    # docs require to allow the bucket (here AWS's default).
    gateway_policy = iam_eval.FULL_ACCESS
    if gateways and "PolicyDocument" in ev.properties(gateways[0]):
        gateway_policy = ev.properties(gateways[0])["PolicyDocument"]
    sg = ev.params["ShotGridPrincipalArns"]
    others = [a for a in ev.params["OtherReaderArns"] if a]
    checkers = [a for a in ev.params["CheckPrincipalArns"] if a]
    return {
        "ev": ev,
        "account": account,
        "principals": {
            # The role lives in the stack's account, whichever owns the bucket.
            PROXY: PROXY_ROLE_ARN,
            SHOTGRID: sg[0], SHOTGRID_LAST: sg[-1], ANONYMOUS: None,
            UNLISTED: f"arn:aws:iam::{account}:role/artist-workstation",
            OTHER_READER: others[0] if others else None,
            CHECKER: checkers[0] if checkers else None,
            CHECKER_LAST: checkers[-1] if checkers else None,
        },
        "paths": {
            "gateway": ({"aws:SourceVpc": vpc, "aws:SourceVpce": GATEWAY_VPCE}, gateway_policy),
            "interface": ({"aws:SourceVpc": vpc, "aws:SourceVpce": f"<{interface}>"},
                          ev.properties(interface)["PolicyDocument"]),
            "second endpoint": ({"aws:SourceVpc": vpc, "aws:SourceVpce": SECOND_VPCE}, iam_eval.FULL_ACCESS),
            "internet": ({"aws:SourceIp": INTERNET_IP}, None),
            "shotgrid vpc": ({"aws:SourceVpc": SHOTGRID_VPC, "aws:SourceVpce": "vpce-0shotgrid000000001"}, iam_eval.FULL_ACCESS),
        },
    }


def access_request(world, who, action, key, via, secure=True, resource_account=None):
    ev = world["ev"]
    bucket = ev.params["BucketName"]
    prefixes = ev.params["KeyPrefixes"].split(",")
    first, last = prefixes[0], prefixes[-1]
    resource = {
        "in": f"arn:aws:s3:::{bucket}/{first}projects/review/large.mov",
        "check": f"arn:aws:s3:::{bucket}/{first}s3proxy-check/20260304T101500Z-1a2b3c4d/large.bin",
        "check last": f"arn:aws:s3:::{bucket}/{last}s3proxy-check/20260304T101500Z-1a2b3c4d/small.bin",
        "outside": f"arn:aws:s3:::{bucket}/zz-not-a-prefix/large.bin",
        "bucket": f"arn:aws:s3:::{bucket}",
    }[key]
    principal = world["principals"][who]
    keys, endpoint_policy = world["paths"][via]
    return iam_eval.Request(principal=principal, action=action, resource=resource, keys=dict(keys),
                            resource_account=resource_account or world["account"], secure=secure), endpoint_policy


def ev_params_list(params, name):
    return [a for a in params.get(name, "").split(",") if a]


def _substitute_role(doc, arn):
    return json.loads(json.dumps(doc).replace("<ProxyFunctionRole.Arn>", arn))


def check_access(template, params):
    """Every request of ACCESS_CASES gets the answer the design promises,
    under the rendered bucket policy (merged with ShotGrid's VPCs as §5
    says) and the rendered endpoint policies."""
    world = access_world(template, params)
    role_arn = PROXY_ROLE_ARN
    policy = _substitute_role(merged_bucket_policy(bucket_policy(template, params)), role_arn)
    ran = 0
    for name, who, action, key, via, secure, want, refused_by, applies in ACCESS_CASES:
        if not applies(params):
            continue
        ran += 1
        req, endpoint_policy = access_request(world, who, action, key, via, secure)
        got = iam_eval.decide(req, policy, endpoint_policy and _substitute_role(endpoint_policy, role_arn))
        assert got.allowed == want, f"{name}: {'allowed' if got.allowed else 'refused'} ({got.why}), want {'allowed' if want else 'refused'}"
        if refused_by:
            assert refused_by in got.why, f"{name}: refused by {got.why!r}, want {refused_by}"
    assert ran >= 25, f"only {ran} access cases ran"
    # A bucket of the same name in another account (the name released and
    # taken), whose owner admits everyone, is not reachable through the
    # endpoint, even with ShotGrid's signature.
    req, endpoint_policy = access_request(world, SHOTGRID, "s3:PutObject", "in", "interface", resource_account=OTHER_ACCOUNT)
    open_bucket = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}]}
    got = iam_eval.decide(req, open_bucket, _substitute_role(endpoint_policy, role_arn))
    assert not got and "endpoint policy" in got.why, f"a same-named bucket in account {OTHER_ACCOUNT}: {got.why}"
    # The VPC-wide deny never touches a request from outside this VPC:
    # ShotGrid's servers read from Autodesk's side.
    for who in (SHOTGRID, UNLISTED, ANONYMOUS):
        for via in ("shotgrid vpc", "internet"):
            req, _ = access_request(world, who, "s3:GetObject", "in", via)
            verdict, sids = iam_eval.evaluate(policy, req)
            assert "DenyVpcReadsExceptListedPrincipals" not in sids, f"{who} via {via}: the VPC deny applies outside the VPC"
    # A check principal reads nothing but check's folders from this VPC,
    # through any endpoint of it, under any prefix or outside them.
    if any(ev_params_list(params, "CheckPrincipalArns")):
        ev = world["ev"]
        bucket = ev.params["BucketName"]
        keys = [f"arn:aws:s3:::{bucket}/{p}{k}" for p in ev.params["KeyPrefixes"].split(",")
                for k in ("a.mov", "s3proxy-check", "s3proxy-checkx/a", "x/s3proxy-check/a", "S3proxy-check/a")]
        keys += [f"arn:aws:s3:::{bucket}/zz-not-a-prefix/s3proxy-check/a", f"arn:aws:s3:::{bucket}"]
        for who in (CHECKER, CHECKER_LAST):
            for via in VPC_PATHS:
                for action in ("s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectAttributes"):
                    for resource in keys:
                        req, endpoint_policy = access_request(world, who, action, "in", via)
                        req.resource = resource
                        got = iam_eval.decide(req, policy, endpoint_policy and _substitute_role(endpoint_policy, role_arn))
                        assert not got, f"{who} {action} {resource} via {via}: allowed ({got.why}), want refused"
                req, endpoint_policy = access_request(world, who, "s3:GetObject", "check", via)
                verdict, sids = iam_eval.evaluate(policy, req)
                assert verdict != "Deny", f"{who} reading check's folder via {via}: the bucket policy denies it ({sids})"


def check_iam_parameters(template, params):
    """ShotGridPrincipalArns is required and takes IAM role or user ARNs
    only; OtherReaderArns is optional, the same shape; BucketAccountId an
    account ID; AccessLogBucket says what the logs hold."""
    specs = template["Parameters"]
    sg = specs["ShotGridPrincipalArns"]
    assert sg["Type"] == "CommaDelimitedList", sg["Type"]
    assert "Default" not in sg, f"ShotGridPrincipalArns defaults to {sg.get('Default')!r}: the policies cannot be right without it"
    assert "aws_role_arn" in sg["Description"], "ShotGridPrincipalArns does not say where the studio finds it"
    good = ["arn:aws:iam::123456789012:role/shotgrid-s3", "arn:aws:iam::123456789012:role/media/sg",
            "arn:aws:iam::123456789012:user/shotgrid", "arn:aws-us-gov:iam::123456789012:role/x"]
    bad = ["", "REPLACE_ME_aws_role_arn", "arn:aws:iam::123456789012:role/*", "arn:aws:iam::123456789012:root",
           "arn:aws:sts::123456789012:assumed-role/shotgrid/session", "*", "123456789012",
           "arn:aws:iam::12345678901:role/x"]
    for v in good:
        assert _pattern_ok(sg, v), f"ShotGridPrincipalArns refuses {v}"
    for v in bad:
        assert not _pattern_ok(sg, v), f"ShotGridPrincipalArns accepts {v!r}"
    other = specs["OtherReaderArns"]
    assert other["Type"] == "CommaDelimitedList" and other.get("Default") == "", other
    assert _pattern_ok(other, "") and all(_pattern_ok(other, v) for v in good), "OtherReaderArns refuses a good value"
    assert not any(_pattern_ok(other, v) for v in bad if v), "OtherReaderArns accepts a bad value"
    checkers = specs["CheckPrincipalArns"]
    assert checkers["Type"] == "CommaDelimitedList" and checkers.get("Default") == "", checkers
    assert _pattern_ok(checkers, "") and all(_pattern_ok(checkers, v) for v in good), "CheckPrincipalArns refuses a good value"
    assert not any(_pattern_ok(checkers, v) for v in bad if v), "CheckPrincipalArns accepts a bad value"
    assert "s3proxy-check/" in checkers["Description"], "CheckPrincipalArns does not say where check's principals may go"
    account = specs["BucketAccountId"]
    assert account.get("Default") == "" and _pattern_ok(account, "210987654321") and not _pattern_ok(account, "2109876543"), account
    logs = " ".join(specs["AccessLogBucket"]["Description"].split())
    for phrase in ("signatures", "security tokens", "replayable", "session token", "this account",
                   "public access blocked", "incident-response role", "expire within days"):
        assert phrase in logs, f"AccessLogBucket's description does not say {phrase!r}"
    ev = Evaluation(template, params)
    assert _pattern_ok(sg, ",".join(ev.params["ShotGridPrincipalArns"])), "this combination's ShotGridPrincipalArns fail the pattern"
