"""Structural checks on the translated template.

Each check takes the translated (plain CloudFormation) template and one set
of parameter values, and raises AssertionError naming what is wrong. They are
plain functions so that test_template.py can run them both on the real
template (they must pass) and on deliberately broken copies (they must fail).
"""

import fnmatch
import json
import re

from cfn_eval import ENDPOINT_REGIONAL, NO_VALUE, Evaluation

ELB = "AWS::ElasticLoadBalancingV2::"

# The contract of DESIGN.md §3: the function reads exactly these.
ENV_CONTRACT = {
    "S3PROXY_BUCKET", "S3PROXY_REGION", "S3PROXY_SIGNED_HOST", "S3PROXY_UPSTREAM_URL",
    "S3PROXY_ENDPOINT_URL", "S3PROXY_REDIRECT_VIA", "S3PROXY_INLINE_MAX_BYTES",
    "S3PROXY_REDIRECT_TTL", "S3PROXY_KEY_PREFIXES", "S3PROXY_ALLOWED_ORIGINS", "S3PROXY_LOG_LEVEL",
    "S3PROXY_PUBLIC_URL",
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
MAX_CONDITION_VALUES, MAX_RULE_VALUES, MAX_RULE_WILDCARDS = 3, 5, 5


def _rule_name(logical_id):
    """ProxyRuleDirectRefuse -> direct-refuse, ProxyRuleDirect2 -> direct-2:
    the names `s3proxy rules` uses (logical IDs cannot hold hyphens)."""
    bare = logical_id.removeprefix("ProxyRule")
    return re.sub(r"(?<!^)(?=[A-Z0-9])", "-", bare).lower()


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
            wildcards += sum(v.count("*") + v.count("?") for v in vals)
    assert values <= MAX_RULE_VALUES, f"{logical_id}: {values} condition values (ALB limit 5)"
    assert wildcards <= MAX_RULE_WILDCARDS, f"{logical_id}: {wildcards} wildcards (ALB limit 5)"


def rule_table(template, params):
    """The listener rule table the template deploys, in the shape of
    `s3proxy rules`."""
    ev = Evaluation(template, params)
    https_id, https = listener(ev, 443)
    env = ev.resolve(lambda_function(ev, "ProxyFunction")["Properties"]["Environment"]["Variables"])
    targets = {}
    for k, v in ev.resources(ELB + "TargetGroup").items():
        targets[k] = {"lambda": "lambda", "ip": "endpoint"}.get(v["Properties"].get("TargetType"), "?")
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
            else:
                entry.setdefault("other", []).append(c["Field"])
        actions = raw.get("Actions", [])
        assert len(actions) == 1 and actions[0]["Type"] == "forward", f"{logical_id} actions {actions}"
        entry["target"] = targets_of(actions[0]["TargetGroupArn"])
        for t in p.get("Transforms", []):
            if t["Type"] == "host-header-rewrite":
                rw = t["HostHeaderRewriteConfig"]["Rewrites"]
                assert len(rw) == 1 and rw[0]["Regex"] in ("^.*$", ".*"), f"{logical_id}: host rewrite must replace the whole host"
                entry["hostRewrite"] = _host_name(rw[0]["Replace"], env)
            elif t["Type"] == "url-rewrite":
                pattern = entry.get("pathPatterns", ["?"])[0]
                entry["stripPrefix"] = _strip_prefix(pattern, t["UrlRewriteConfig"]["Rewrites"])
            else:
                entry.setdefault("other", []).append(t["Type"])
        table.append(entry)
    actions = https["Properties"]["DefaultActions"]
    assert len(actions) == 1 and actions[0]["Type"] == "forward", f"HTTPS default actions {actions}"
    table.append({"name": "default", "priority": 0, "target": targets_of(actions[0]["TargetGroupArn"])})
    return table


def check_rule_table(template, params, routes):
    """The deployed table equals `s3proxy rules`, with passthrough on and off."""
    def key(r):
        return (r["priority"] == 0, r["priority"])

    with_pt = sorted(rule_table(template, dict(params, UploadPassthrough="true")), key=key)
    without_pt = sorted(rule_table(template, dict(params, UploadPassthrough="false")), key=key)
    names_without = {r["name"] for r in without_pt}
    for r in with_pt:
        if r["name"] not in names_without:
            r["onlyWithPassthrough"] = True
    assert all(r in with_pt for r in without_pt), \
        f"rules differ between passthrough on and off beyond the passthrough rule:\n{without_pt}\n{with_pt}"
    def present(v):  # `s3proxy rules` omits empty fields (omitempty)
        return v is not None and v is not False and v != "" and v != []

    want = sorted([{k: v for k, v in r.items() if present(v)} for r in routes], key=key)
    assert with_pt == want, (
        "template rules differ from `s3proxy rules`:\n template: "
        + json.dumps(with_pt, indent=1) + "\n s3proxy:  " + json.dumps(want, indent=1))


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
    sources = {r["FromPort"]: r.get("CidrIp") for r in sg["SecurityGroupIngress"]}
    want_source = "0.0.0.0/0" if public else ev.params["StudioCidr"]
    assert sources == {443: want_source, 80: want_source}, f"ALB ingress {sources}, want 443 and 80 from {want_source}"


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
            # issue 9, item 3: in an existing VPC the gateway endpoint carries
            # every same-region S3 request of those route tables' subnets; it
            # keeps AWS's default full-access policy (no PolicyDocument).
            assert "PolicyDocument" not in p, \
                f"{logical_id} in an existing VPC must keep the default full-access policy, has {p['PolicyDocument']}"
            continue
        assert "PolicyDocument" in p, f"{logical_id} has the default full-access policy; limit it to the bucket"
        resources = {r for s in p["PolicyDocument"]["Statement"] for r in _as_list(s["Resource"])}
        assert resources == {f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"}, \
            f"{logical_id} policy must be limited to the bucket, covers {resources}"


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
    # issue 9, item 5: a studio range that is everything, or the new VPC itself
    broken.append(dict(params, StudioCidr="0.0.0.0/0"))
    if not ev.params["ExistingVpcId"]:
        broken.append(dict(params, StudioCidr=ev.params["VpcCidr"]))
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
    _, cr = one({k: v for k, v in ev.resources().items() if v["Type"] == "Custom::EndpointTargets"}, "EndpointTargets")
    p = cr["Properties"]
    assert p["ServiceToken"] == {"Fn::GetAtt": ["EndpointTargetsFunction", "Arn"]}, "wrong service token"
    assert is_ref(p["TargetGroupArn"], "EndpointTargetGroup"), "custom resource fills the wrong group"
    # issue 9, item 1: every change of the endpoint's interfaces (SubnetIds
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
    assert set(by_sid) == POLICY_SIDS, f"policy statements {sorted(by_sid)}, want {sorted(POLICY_SIDS)}"
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
    # Task 2 (issue 8): through the interface endpoint only the proxy role
    # reads; writes there are not denied (ShotGrid's principals sign uploads).
    ep = by_sid["DenyEndpointReadsExceptProxyRole"]
    assert ep["Effect"] == "Deny" and ep["Principal"] == "*", ep
    assert _as_list(ep["Action"]) == ["s3:GetObject*"], f"endpoint deny covers {ep['Action']}: reads only, never writes"
    assert _as_list(ep["Resource"]) == [f"arn:aws:s3:::{bucket}/*"], f"endpoint deny covers {ep['Resource']}"
    assert ep["Condition"] == {"StringEquals": {"aws:SourceVpce": endpoint},
                               "ArnNotEquals": {"aws:PrincipalArn": role}}, ep["Condition"]
    # issue 9, item 10: a bucket in another account needs the owner's grant.
    allow = by_sid["AllowProxyRoleReads"]
    assert allow["Effect"] == "Allow" and allow["Principal"] == {"AWS": role}, allow
    assert sorted(allow["Action"]) == ["s3:GetObject", "s3:GetObjectVersion"], allow["Action"]
    assert allow["Resource"] == prefixes, allow["Resource"]
    assert ev.outputs().get("ProxyFunctionRoleArn") == role, "the ProxyFunctionRoleArn output names another role"


POLICY_SIDS = {"DenyInsecureTransport", "DenyReadsOutsideProxyNetwork", "DenyEndpointReadsExceptProxyRole",
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
    stack must have (issue 5, §3)."""
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


# ------------------------------------------------------------------ issue 9

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
    # 5: the studio network is asked for, never guessed.
    assert "Default" not in specs["StudioCidr"], f"StudioCidr defaults to {specs['StudioCidr'].get('Default')}"
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
    # 7: a new VPC's subnets are in the chosen zones.
    zones = [z for z in ev.params["AvailabilityZones"] if z]
    subnets = ev.resources("AWS::EC2::Subnet")
    if subnets:
        want = zones or ["eu-west-1a", "eu-west-1b"]  # the evaluator's !GetAZs
        for logical_id, sub in subnets.items():
            index = 0 if logical_id.endswith("1") else 1
            az = ev.properties(logical_id)["AvailabilityZone"]
            assert az == want[index], f"{logical_id} is in {az}, want {want[index]}"


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
    assert p["StudioCidr"] == ev.params["StudioCidr"], p["StudioCidr"]
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
