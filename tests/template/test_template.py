"""Template tests: SAM translation in every deployment shape, structural
checks on the result, and proof that each check catches what it guards.

Run from the repository root with `make test-template`, or directly:

    python3 -m unittest discover -s tests/template -v

The rule table is compared with `s3proxy rules -bucket B -key-prefixes P`
for each parameter set. Set S3PROXY_CLI to a built s3proxy binary
(scripts/test-template.sh builds one); otherwise the tests build it once.
"""

import copy
import functools
import json
import os
import re
import shlex
import subprocess
import tempfile
import tomllib
import unittest

import checks
from cfn_eval import STACK_NAME, Evaluation
from combos import COMBOS
from translate import load, translate

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TEMPLATE = os.path.join(ROOT, "template.yaml")

# Every check and the combos it runs on (all of them).
CHECKS = [
    checks.check_https_listener,
    checks.check_http_redirect,
    checks.check_alb_attributes,
    checks.check_lambda_target_group,
    checks.check_visibility,
    checks.check_vpc_mode,
    checks.check_rules_section,
    checks.check_no_s3_writes,
    checks.check_proxy_role_scope,
    checks.check_custom_resource_role,
    checks.check_endpoint_target_group,
    checks.check_proxy_function,
    checks.check_bucket_policy,
    checks.check_outputs,
    checks.check_alarms,
    checks.check_dashboard,
    checks.check_monitoring_outputs,
    # issue 9
    checks.check_regional_dns_name,
    checks.check_network_parameters,
    checks.check_network_checks,
    checks.check_kms,
]


@functools.lru_cache(maxsize=None)
def translated(combo):
    return translate(load(TEMPLATE), COMBOS[combo])


@functools.lru_cache(maxsize=None)
def cli():
    """The s3proxy command: $S3PROXY_CLI, or built once for this run."""
    path = os.environ.get("S3PROXY_CLI")
    if path:
        return path
    out = os.path.join(tempfile.mkdtemp(prefix="s3proxy-cli-"), "s3proxy")
    subprocess.run(["go", "build", "-o", out, "./cmd/s3proxy"], cwd=ROOT, check=True)
    return out


@functools.lru_cache(maxsize=None)
def routes_for(bucket, key_prefixes):
    out = subprocess.run([cli(), "rules", "-bucket", bucket, "-key-prefixes", key_prefixes], cwd=ROOT,
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def routes(params):
    """`s3proxy rules` for one parameter set's BucketName and KeyPrefixes."""
    return routes_for(params["BucketName"], params.get("KeyPrefixes", ""))


class TestTranslation(unittest.TestCase):
    def test_every_combination_translates(self):
        for combo in COMBOS:
            with self.subTest(combo=combo):
                out = translated(combo)
                self.assertNotIn("Transform", out)
                types = {r["Type"] for r in out["Resources"].values()}
                self.assertNotIn("AWS::Serverless::Function", types)
                self.assertIn("AWS::Lambda::Alias", types)

    def test_functions_build_with_the_makefile(self):
        raw = load(TEMPLATE)
        with open(os.path.join(ROOT, "Makefile"), encoding="utf-8") as f:
            makefile = f.read()
        functions = {k: v for k, v in raw["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}
        self.assertEqual(set(functions), {"ProxyFunction", "EndpointTargetsFunction"})
        for name, fn in functions.items():
            with self.subTest(function=name):
                self.assertEqual(fn.get("Metadata", {}).get("BuildMethod"), "makefile")
                self.assertEqual(fn["Properties"]["CodeUri"], ".")
                self.assertIn(f"\nbuild-{name}:", makefile)

    def test_parameters_are_documented(self):
        for name, spec in load(TEMPLATE)["Parameters"].items():
            with self.subTest(parameter=name):
                self.assertTrue(spec.get("Description"), "no Description")
                constrained = {"AllowedValues", "AllowedPattern", "MinValue"} & set(spec) or spec["Type"] != "String"
                self.assertTrue(constrained, "no constraint")

    def test_samconfig_environments(self):
        check_samconfig(read_samconfig(), load(TEMPLATE)["Parameters"])

    def test_conditions_drive_the_modes(self):
        conditions = load(TEMPLATE)["Conditions"]
        for name in ("IsPublic", "CreateVpc", "CreatePublicNetwork", "PassthroughEnabled"):
            self.assertIn(name, conditions)


class TestStructure(unittest.TestCase):
    def test_checks(self):
        for combo in COMBOS:
            for check in CHECKS:
                with self.subTest(combo=combo, check=check.__name__):
                    check(translated(combo), COMBOS[combo])

    def test_rule_table_matches_s3proxy_rules(self):
        for combo in COMBOS:
            with self.subTest(combo=combo):
                checks.check_rule_table(translated(combo), COMBOS[combo], routes(COMBOS[combo]))

    def test_rule_table_for_every_prefix_count(self):
        # 0, 1-3 (one /_direct rule) and 4-5 (a second one) key prefixes
        for prefixes in ["", "a/", "a/,b/", "shotgun/,review/,x.y~z-_/", "a/,b/,c/,d/", "a/,b/,c/,d/,e/"]:
            for combo in ("private-new", "public-existing"):
                with self.subTest(combo=combo, prefixes=prefixes):
                    params = dict(COMBOS[combo], KeyPrefixes=prefixes)
                    checks.check_rule_table(translated(combo), params, routes(params))

    def test_key_prefixes_are_expressible_as_path_patterns(self):
        spec = load(TEMPLATE)["Parameters"]["KeyPrefixes"]
        for ok in ["", "shotgun/", "a,b,c,d,e", "plates~v2/,x.y_z-1/"]:
            self.assertTrue(re.fullmatch(spec["AllowedPattern"], ok), ok)
        # percent-encoding, ALB wildcards, a leading slash, a sixth prefix
        for bad in ["o'brien/", "(x)/", "a b/", "été/", "a*/", "a?/", "/shotgun/", "a,b,c,d,e,f", "a,,b"]:
            self.assertFalse(re.fullmatch(spec["AllowedPattern"], bad), bad)

    def test_bucket_policy_is_json_for_any_prefixes(self):
        for prefixes in ["", "shotgun/", "a,b,c,d,e", "plates~v2/,x.y_z-/"]:
            with self.subTest(prefixes=prefixes):
                params = dict(COMBOS["private-new"], KeyPrefixes=prefixes)
                checks.check_bucket_policy(translated("private-new"), params)
                checks.check_proxy_role_scope(translated("private-new"), params)

    def test_alarm_email_toggles_the_subscription(self):
        for email in ["", "ops@studio.example.com"]:
            for combo in ("private-new", "public-existing"):
                with self.subTest(combo=combo, email=email):
                    params = dict(COMBOS[combo], AlarmEmail=email)
                    checks.check_alarms(translated(combo), params)
                    subs = Evaluation(translated(combo), params).resources("AWS::SNS::Subscription")
                    self.assertEqual(len(subs), 1 if email else 0)


class TestDocs(unittest.TestCase):
    """The operator docs name what the template and the CLI really have."""

    @staticmethod
    def read(path):
        with open(os.path.join(ROOT, path), encoding="utf-8") as f:
            return f.read()

    def test_every_alarm_has_a_runbook_entry(self):
        operate = self.read("docs/operate.md")
        ev = Evaluation(translated("private-existing"), COMBOS["private-existing"])
        for logical_id in ev.resources("AWS::CloudWatch::Alarm"):
            with self.subTest(alarm=logical_id):
                p = ev.properties(logical_id)
                slug = p["AlarmName"].removeprefix(STACK_NAME + "-")
                self.assertNotEqual(slug, p["AlarmName"], "alarm names start with the stack name")
                self.assertIn(f'"{slug}"', p["AlarmDescription"], "the description names its runbook entry")
                self.assertIn(f"`{slug}`", operate, "docs/operate.md has no runbook entry")

    def test_every_output_is_in_the_deploy_guide(self):
        deploy = self.read("docs/deploy.md")
        for name in load(TEMPLATE)["Outputs"]:
            with self.subTest(output=name):
                self.assertIn(f"`{name}`", deploy)

    def test_bucket_policy_docs_match_the_output(self):
        check_policy_docs(self.read("docs/deploy.md"), self.read("docs/migrate.md"))

    def test_checklist_names_real_outputs_and_steps(self):
        check_checklist(self.read("docs/deploy.md"), set(load(TEMPLATE)["Outputs"]))

    def test_check_flags_match_the_cli(self):
        out = subprocess.run([cli(), "check", "-h"], cwd=ROOT,
                             capture_output=True, text=True)
        # Go's flag package ("  -url string") or a --long listing
        # ("      --url string", "  -h, --help"); help is not a check flag.
        flags = set(re.findall(r"^ {2,}(?:-[a-z], )?--?([a-z0-9-]+)\b", out.stderr + out.stdout, re.M)) - {"h", "help"}
        self.assertIn("url", flags, f"cannot read the flags from `s3proxy check -h`:\n{out.stderr}")
        deploy = self.read("docs/deploy.md")
        documented = set(re.findall(r"^\| `--([a-z0-9-]+)` \|", deploy, re.M))
        self.assertEqual(documented, flags, "the flag table in docs/deploy.md differs from `s3proxy check -h`")
        for path in ("docs/deploy.md", "docs/operate.md", "README.md"):
            text = self.read(path).replace("\\\n", " ")
            for command in re.findall(r"s3proxy check\b[^\n`]*", text):
                with self.subTest(doc=path, command=command):
                    self.assertLessEqual(set(re.findall(r"--([a-z0-9-]+)", command)), flags)


def read_samconfig():
    with open(os.path.join(ROOT, "samconfig.toml"), "rb") as f:
        return tomllib.load(f)


def _overrides(config, env):
    return dict(kv.split("=", 1) for kv in shlex.split(config[env]["deploy"]["parameters"]["parameter_overrides"]))


def check_samconfig(config, parameters):
    assert config["version"] == 0.1, config["version"]
    for env in ("default", "prod"):
        assert config[env]["global"]["parameters"]["stack_name"], f"[{env}] has no stack name"
        deploy = config[env]["deploy"]["parameters"]
        assert "CAPABILITY_IAM" in deploy["capabilities"] and deploy["resolve_s3"], f"[{env}] deploy parameters"
        overrides = _overrides(config, env)
        assert set(overrides) <= set(parameters), f"[{env}] unknown parameters {set(overrides) - set(parameters)}"
        required = {k for k, v in parameters.items() if "Default" not in v}
        assert required <= set(overrides), f"[{env}] no placeholder for {required - set(overrides)}"
        # issue 9, item 6: every placeholder fails its parameter's
        # constraints, so a forgotten one stops the deploy.
        for key, value in overrides.items():
            if "REPLACE_ME" in value:
                assert not checks._pattern_ok(parameters[key], value), f"[{env}] {key}={value} passes parameter validation"
        # item 11: makefile builds in the checkout, not in a copy of it
        assert config[env]["build"]["parameters"].get("build_in_source") is True, f"[{env}] build_in_source is not on"
    # item 2: the shipped production config adopts an existing VPC whose
    # route tables already have ShotGrid's S3 gateway endpoint.
    prod = _overrides(config, "prod")
    assert prod.get("ExistingVpcId"), "[prod] is meant for an existing VPC"
    gateway = prod.get("CreateS3GatewayEndpoint", parameters["CreateS3GatewayEndpoint"].get("Default"))
    assert gateway == "false", f"[prod] CreateS3GatewayEndpoint={gateway}: a second gateway endpoint rolls back"


def check_policy_docs(deploy, migrate):
    """Item 4: the migration-shaped bucket-policy section and migrate.md
    name every statement the output holds and say what to replace, in
    which order, and how to roll back."""
    m = re.search(r"^## 5\. Bucket policy.*?(?=^## )", deploy, re.S | re.M)
    assert m, "docs/deploy.md has no '## 5. Bucket policy' section"
    section = m.group(0)
    for sid in checks.POLICY_SIDS:
        assert f"`{sid}`" in section, f"deploy.md §5 does not name {sid}"
        assert f"`{sid}`" in migrate, f"migrate.md does not name {sid}"
    for phrase in ("**replace**", "Fine Tuning", "Rolling back", "aws:PrincipalArn", "another account",
                   "PutObject", "kms:Decrypt", "1. **Before the stack serves anything**"):
        assert phrase in section, f"deploy.md §5 lacks {phrase!r}"
    for phrase in ("s3proxy check", "DNS", "S3 Proxy Host Address", "alarms", "Remove the old stack", "Rollback"):
        assert phrase in migrate, f"migrate.md lacks {phrase!r}"


def check_checklist(deploy, outputs):
    """The first-deployment checklist: starts with upload passthrough and the
    legacy global host; each row names a real `s3proxy check` step or none;
    every output it reads exists."""
    steps = set(re.findall(r"^\| `([a-z-]+)` \| ", deploy, re.M))
    assert {"ping", "put-small", "get-large"} <= steps, f"cannot read the check steps from deploy.md: {steps}"
    m = re.search(r"^## 10\. First-deployment checklist.*?(?=^## )", deploy, re.S | re.M)
    assert m, "docs/deploy.md has no '## 10. First-deployment checklist' section"
    section = m.group(0)
    rows = [r for r in section.splitlines() if re.match(r"^\| \d+ \|", r)]
    assert len(rows) >= 10, f"the checklist has {len(rows)} rows"
    assert "legacy global" in rows[0] and "put-small" in rows[0], \
        "the checklist must start with uploads to the endpoint with the legacy global host"
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert len(cells) == 5, f"row {cells[0]} has {len(cells)} cells, want 5"
        named = set(re.findall(r"`([a-z-]+)`", cells[2]))
        assert cells[2].startswith("none") or named & steps, f"row {cells[0]} names no s3proxy check step: {cells[2]!r}"
        assert named <= steps | {"NetworkChecks"}, f"row {cells[0]} names unknown steps {named - steps}"
    for a, b in re.findall(r"\$\(out (\w+)\)|`out (\w+)`", section):
        assert (a or b) in outputs, f"the checklist reads output {a or b}, which the template does not have"


# Mutations: (name, combo, check, change). Each change breaks exactly what
# its check guards; the check must pass before and fail after.
def _res(t, logical_id):
    return t["Resources"][logical_id]


def _props(t, logical_id):
    return t["Resources"][logical_id]["Properties"]


def _set_attr(t, logical_id, key, attr_list, value):
    for a in _props(t, logical_id)[attr_list]:
        if isinstance(a, dict) and a.get("Key") == key:
            a["Value"] = value


def _proxy_statements(t):
    return _props(t, "ProxyFunctionRole")["Policies"][0]["PolicyDocument"]["Statement"]


def _transforms(t, rule):
    return _props(t, rule)["Transforms"]


def _dashboard_edit(old, new, count=1):
    """A change to the dashboard's !Sub text; fails loudly if old is gone."""
    def change(t):
        body = _props(t, "Dashboard")["DashboardBody"]
        assert body["Fn::Sub"].count(old) >= count, f"dashboard text {old!r} not found"
        body["Fn::Sub"] = body["Fn::Sub"].replace(old, new, count)
    return change


def _denied_query(t, qid):
    return next(q for q in _props(t, "DeniedRateAlarm")["Metrics"] if q["Id"] == qid)


MUTATIONS = [
    ("MemorySize hard-coded", "private-new", checks.check_proxy_function,
     lambda t: _props(t, "ProxyFunction").update(MemorySize=3008)),
    ("ReservedConcurrency ignored", "private-existing", checks.check_proxy_function,
     lambda t: _props(t, "ProxyFunction").pop("ReservedConcurrentExecutions")),
    ("concurrency reserved while the parameter says none", "private-new", checks.check_proxy_function,
     lambda t: _props(t, "ProxyFunction").update(ReservedConcurrentExecutions=10)),
    ("provisioned concurrency dropped from the live alias", "private-existing", checks.check_proxy_function,
     lambda t: _props(t, "ProxyFunctionAliaslive").pop("ProvisionedConcurrencyConfig")),
    ("provisioned concurrency on the function instead of the alias", "private-existing", checks.check_proxy_function,
     lambda t: _props(t, "ProxyFunction").update(
         ProvisionedConcurrencyConfig=_props(t, "ProxyFunctionAliaslive").pop("ProvisionedConcurrencyConfig"))),
    ("no HTTP listener", "private-new", checks.check_http_redirect,
     lambda t: t["Resources"].pop("HttpListener")),
    ("HTTP forwards instead of redirecting", "private-new", checks.check_http_redirect,
     lambda t: _props(t, "HttpListener").update(DefaultActions=[{"Type": "forward", "TargetGroupArn": {"Ref": "LambdaTargetGroup"}}])),
    ("TLS 1.0 policy", "private-new", checks.check_https_listener,
     lambda t: _props(t, "HttpsListener").update(SslPolicy="ELBSecurityPolicy-2016-08")),
    ("HTTPS listener turned HTTP", "public-new", checks.check_https_listener,
     lambda t: _props(t, "HttpsListener").update(Protocol="HTTP")),
    ("invalid headers kept", "private-new", checks.check_alb_attributes,
     lambda t: _set_attr(t, "LoadBalancer", "routing.http.drop_invalid_header_fields.enabled", "LoadBalancerAttributes", "false")),
    ("multi-value headers off", "private-new", checks.check_lambda_target_group,
     lambda t: _set_attr(t, "LambdaTargetGroup", "lambda.multi_value_headers.enabled", "TargetGroupAttributes", "false")),
    ("target group created before its permission", "private-new", checks.check_lambda_target_group,
     lambda t: _res(t, "LambdaTargetGroup").pop("DependsOn")),
    ("permission for another group name", "private-new", checks.check_lambda_target_group,
     lambda t: _props(t, "ProxyInvokePermission").update(SourceArn={"Fn::Sub": "arn:${AWS::Partition}:elasticloadbalancing:${AWS::Region}:${AWS::AccountId}:targetgroup/other/*"})),
    ("proxy role may PutObject", "private-new", checks.check_no_s3_writes,
     lambda t: _proxy_statements(t)[0]["Action"].append("s3:PutObject")),
    ("custom-resource role gets s3:*", "public-existing", checks.check_no_s3_writes,
     lambda t: _props(t, "EndpointTargetsFunctionRole")["Policies"][0]["PolicyDocument"]["Statement"].append(
         {"Effect": "Allow", "Action": "s3:*", "Resource": "*"})),
    ("a wildcard action", "private-new", checks.check_no_s3_writes,
     lambda t: _proxy_statements(t).append({"Effect": "Allow", "Action": "*", "Resource": "*"})),
    ("an S3 managed policy", "private-new", checks.check_no_s3_writes,
     lambda t: _props(t, "ProxyFunctionRole")["ManagedPolicyArns"].append("arn:aws:iam::aws:policy/AmazonS3FullAccess")),
    ("proxy role reads the whole bucket", "private-new", checks.check_proxy_role_scope,
     lambda t: _proxy_statements(t)[0].update(Resource="arn:aws:s3:::media-bucket/*")),
    ("custom resource may register anywhere", "private-new", checks.check_custom_resource_role,
     lambda t: _props(t, "EndpointTargetsFunctionRole")["Policies"][0]["PolicyDocument"]["Statement"][1].update(Resource="*")),
    ("custom resource without ServiceTimeout", "private-new", checks.check_custom_resource_role,
     lambda t: _props(t, "EndpointTargets").pop("ServiceTimeout")),
    ("accelerator in private mode", "private-new", checks.check_visibility,
     lambda t: _res(t, "Accelerator").pop("Condition")),
    ("accelerator missing in public mode", "public-new", checks.check_visibility,
     lambda t: t["Resources"].pop("AcceleratorEndpointGroup")),
    ("internal ALB in public mode", "public-existing", checks.check_visibility,
     lambda t: _props(t, "LoadBalancer").update(Scheme="internal")),
    ("VPC created in existing-VPC mode", "private-existing", checks.check_vpc_mode,
     lambda t: _res(t, "Vpc").pop("Condition")),
    ("interface endpoint open to every bucket", "private-new", checks.check_vpc_mode,
     lambda t: _props(t, "S3InterfaceEndpoint")["PolicyDocument"]["Statement"][0].update(Resource="*")),
    ("public mode allows endpoint redirects", "public-new", checks.check_rules_section,
     lambda t: t["Rules"].pop("PublicNeedsProxyRedirects")),
    ("health check rejects S3's 403", "private-new", checks.check_endpoint_target_group,
     lambda t: _props(t, "EndpointTargetGroup").update(Matcher={"HttpCode": "200"})),
    ("endpoint URL missing", "private-new", checks.check_proxy_function,
     lambda t: _props(t, "ProxyFunction")["Environment"]["Variables"].pop("S3PROXY_ENDPOINT_URL")),
    ("function logs as text", "private-new", checks.check_proxy_function,
     lambda t: _props(t, "ProxyFunction")["LoggingConfig"].update(LogFormat="Text")),
    ("bucket policy is not JSON", "private-new", checks.check_bucket_policy,
     lambda t: t["Outputs"]["RecommendedBucketPolicy"]["Value"]["Fn::Sub"].__setitem__(
         0, t["Outputs"]["RecommendedBucketPolicy"]["Value"]["Fn::Sub"][0].replace('"Deny",', '"Deny"', 1))),
    ("bucket policy without the VPC condition", "private-existing", checks.check_bucket_policy,
     lambda t: t["Outputs"]["RecommendedBucketPolicy"]["Value"]["Fn::Sub"].__setitem__(
         0, t["Outputs"]["RecommendedBucketPolicy"]["Value"]["Fn::Sub"][0].replace('"aws:SourceVpc":["${TheVpc}"],', ""))),
    ("CNAME target is the ALB in public mode", "public-new", checks.check_outputs,
     lambda t: t["Outputs"]["DnsNameToCname"].update(Value={"Fn::GetAtt": ["LoadBalancer", "DNSName"]})),
    # alarms
    ("no ALB 5xx alarm", "private-new", checks.check_alarms,
     lambda t: t["Resources"].pop("LoadBalancer5xxAlarm")),
    ("LambdaUserError watched without its target group", "public-new", checks.check_alarms,
     lambda t: _props(t, "LambdaUserErrorAlarm")["Dimensions"].pop(1)),
    ("unhealthy hosts counted in the function's group", "private-existing", checks.check_alarms,
     lambda t: _props(t, "EndpointUnhealthyAlarm")["Dimensions"][1].update(
         Value={"Fn::GetAtt": ["LambdaTargetGroup", "TargetGroupFullName"]})),
    ("throttles looked for in the ALB namespace", "private-new", checks.check_alarms,
     lambda t: _props(t, "ProxyFunctionThrottlesAlarm").update(Namespace="AWS/ApplicationELB")),
    ("errors alarm on another function", "public-existing", checks.check_alarms,
     lambda t: _props(t, "ProxyFunctionErrorsAlarm")["Dimensions"][0].update(Value={"Ref": "EndpointTargetsFunction"})),
    ("an alarm that never says OK", "private-new", checks.check_alarms,
     lambda t: _props(t, "ProxyFunctionErrorsAlarm").pop("OKActions")),
    ("an alarm notifying another topic", "private-new", checks.check_alarms,
     lambda t: _props(t, "LambdaInternalErrorAlarm").update(AlarmActions=["arn:aws:sns:eu-west-1:123456789012:elsewhere"])),
    ("missing data left to the default", "public-new", checks.check_alarms,
     lambda t: _props(t, "ProxyTarget5xxAlarm").pop("TreatMissingData")),
    ("e-mail subscription without AlarmEmail", "private-new", checks.check_alarms,
     lambda t: _res(t, "AlarmEmailSubscription").pop("Condition")),
    ("e-mail subscription to another address", "public-new", checks.check_alarms,
     lambda t: _props(t, "AlarmEmailSubscription").update(Endpoint="someone@elsewhere.example")),
    ("denied alarm is a plain count", "private-new", checks.check_alarms,
     lambda t: _denied_query(t, "rate").update(Expression="FILL(denied, 0)")),
    ("denied share counts pings", "private-new", checks.check_alarms,
     lambda t: _denied_query(t, "errored")["MetricStat"]["Metric"]["Dimensions"][1].update(Value="ping")),
    ("denied share without the volume floor", "private-existing", checks.check_alarms,
     lambda t: _denied_query(t, "rate").update(Expression="100 * FILL(denied, 0) / judged")),
    ("denied share undefined when a decision has no data", "private-new", checks.check_alarms,
     lambda t: _denied_query(t, "judged").update(Expression="inlined + redirected + relayed + denied + errored")),
    ("denied share of another bucket", "public-existing", checks.check_alarms,
     lambda t: _denied_query(t, "denied")["MetricStat"]["Metric"]["Dimensions"][0].update(Value="other-bucket")),
    # dashboard
    ("dashboard body is not JSON", "private-new", checks.check_dashboard,
     _dashboard_edit('"widgets": [', '"widgets" [')),
    ("dashboard misses the relay decision", "public-new", checks.check_dashboard,
     _dashboard_edit('"Decision", "relay", {"label": "relay"}', '"Decision", "inline", {"label": "relay"}')),
    ("dashboard reads another namespace", "private-existing", checks.check_dashboard,
     _dashboard_edit('"S3Proxy"', '"s3proxy"', count=3)),
    ("dashboard shows latency without p99", "private-new", checks.check_dashboard,
     _dashboard_edit('"stat": "p99", "label": "inline p99"', '"stat": "p90", "label": "inline p90"')),
    ("dashboard shows another bucket", "public-existing", checks.check_dashboard,
     _dashboard_edit('"Bucket", "${BucketName}", "Decision", "inline"', '"Bucket", "media", "Decision", "inline"')),
    ("dashboard without the ALB 5xx", "private-new", checks.check_dashboard,
     _dashboard_edit('"HTTPCode_ELB_5XX_Count"', '"HTTPCode_ELB_502_Count"')),
    ("dashboard in another region", "private-new", checks.check_dashboard,
     _dashboard_edit('"region": "${AWS::Region}"', '"region": "us-east-1"')),
    ("alarm widget misses an alarm", "public-new", checks.check_dashboard,
     _dashboard_edit('"${DeniedRateAlarm.Arn}"', '"${ProxyTarget5xxAlarm.Arn}"')),
    ("log widget reads another log group", "private-new", checks.check_dashboard,
     _dashboard_edit("SOURCE '${ProxyLogGroup}'", "SOURCE '/aws/lambda/other'")),
    ("dashboard URL for another region", "private-new", checks.check_monitoring_outputs,
     lambda t: t["Outputs"]["DashboardUrl"].update(Value={"Fn::Sub": "https://console.aws.amazon.com/cloudwatch/home#dashboards/dashboard/${Dashboard}"})),
]

RULE_MUTATIONS = [
    ("/_direct keeps its prefix", lambda t: _transforms(t, "ProxyRuleDirect").pop(0)),
    ("/_direct carries PUT", lambda t: _props(t, "ProxyRuleDirect")["Conditions"][0]["HttpRequestMethodConfig"].update(
        Values=["GET", "HEAD", "PUT"])),
    ("/_direct open to every path", lambda t: _props(t, "ProxyRuleDirect")["Conditions"][1].update(
        PathPatternConfig={"Values": ["/_direct/*"]})),
    ("/_direct open to every bucket", lambda t: _props(t, "ProxyRuleDirect")["Conditions"][1]["PathPatternConfig"].update(
        Values=[{"Fn::Sub": "/_direct/*/shotgun/*"}])),
    ("no refusal rule for the rest of /_direct", lambda t: t["Resources"].pop("ProxyRuleDirectRefuse")),
    ("refusal before the /_direct rules", lambda t: _props(t, "ProxyRuleDirectRefuse").update(Priority=15)),
    ("refusal sends to the endpoint", lambda t: _props(t, "ProxyRuleDirectRefuse")["Actions"][0].update(
        TargetGroupArn={"Ref": "EndpointTargetGroup"})),
    ("/_direct rewritten to the signed host", lambda t: _transforms(t, "ProxyRuleDirect")[1]["HostHeaderRewriteConfig"]["Rewrites"][0].update(
        Replace={"Fn::Sub": "${BucketName}.s3.amazonaws.com"})),
    ("passthrough without its condition", lambda t: _res(t, "ProxyRulePassthrough").pop("Condition")),
    ("passthrough before /_direct", lambda t: _props(t, "ProxyRulePassthrough").update(Priority=15)),
    ("passthrough misses DELETE", lambda t: _props(t, "ProxyRulePassthrough")["Conditions"][0]["HttpRequestMethodConfig"].update(Values=["PUT", "POST"])),
    ("ping goes to the endpoint", lambda t: _props(t, "ProxyRulePing")["Actions"][0].update(TargetGroupArn={"Ref": "EndpointTargetGroup"})),
    ("default action goes to the endpoint", lambda t: _props(t, "HttpsListener")["DefaultActions"][0].update(TargetGroupArn={"Ref": "EndpointTargetGroup"})),
    ("an extra rule", lambda t: t["Resources"].__setitem__("ProxyRuleExtra", copy.deepcopy(_res(t, "ProxyRulePing")))),
]


def _cr(t, logical_id):
    return t["Resources"][logical_id]["Properties"]


def _policy_text(t, old, new):
    value = t["Outputs"]["RecommendedBucketPolicy"]["Value"]["Fn::Sub"]
    assert old in value[0], f"bucket policy text {old!r} not found"
    value[0] = value[0].replace(old, new, 1)


def _kms_statement(t):
    for s in _proxy_statements(t):
        if isinstance(s, dict) and "Fn::If" in s and s["Fn::If"][0] == "HasBucketKmsKey":
            return s["Fn::If"][1]
    raise AssertionError("no KMS statement")


# Issue 9 (and issue 8's template side): each runs in every combination it
# applies to, so every variant `make test-template` covers has proof that
# the check can fail there. (name, check, change, applies(params)).
ALWAYS = lambda p: True
NEW_VPC = lambda p: not p.get("ExistingVpcId")
EXISTING_VPC = lambda p: bool(p.get("ExistingVpcId"))
WITH_KMS = lambda p: bool(p.get("BucketKmsKeyArn"))
ISSUE9_MUTATIONS = [
    ("1: endpoint targets blind to interface changes", checks.check_custom_resource_role,
     lambda t: _cr(t, "EndpointTargets").pop("NetworkInterfaceIds"), ALWAYS),
    ("1: endpoint targets fed the subnets instead", checks.check_custom_resource_role,
     lambda t: _cr(t, "EndpointTargets").update(NetworkInterfaceIds={"Fn::GetAtt": ["S3InterfaceEndpoint", "Id"]}), ALWAYS),
    ("2: gateway endpoint on by default", checks.check_network_parameters,
     lambda t: t["Parameters"]["CreateS3GatewayEndpoint"].update(Default="true"), ALWAYS),
    ("2: gateway endpoint created in an existing VPC without asking", checks.check_vpc_mode,
     lambda t: _res(t, "S3GatewayEndpoint").pop("Condition"),
     lambda p: EXISTING_VPC(p) and p.get("CreateS3GatewayEndpoint") != "true"),
    ("3: bucket-only gateway policy in an existing VPC", checks.check_vpc_mode,
     lambda t: _props(t, "S3GatewayEndpoint").update(PolicyDocument=_props(t, "S3InterfaceEndpoint")["PolicyDocument"]),
     lambda p: EXISTING_VPC(p) and p.get("CreateS3GatewayEndpoint") == "true"),
    ("3: full-access gateway policy in a new VPC", checks.check_vpc_mode,
     lambda t: _props(t, "S3GatewayEndpoint").pop("PolicyDocument"), NEW_VPC),
    ("4/8: bucket policy loses the endpoint-reads deny", checks.check_bucket_policy,
     lambda t: _policy_text(t, '"ArnNotEquals":{"aws:PrincipalArn":"${ProxyFunctionRole.Arn}"}', '"Null":{"aws:PrincipalArn":"false"}'), ALWAYS),
    ("4/8: endpoint deny also blocks ShotGrid's uploads", checks.check_bucket_policy,
     lambda t: _policy_text(t, '"DenyEndpointReadsExceptProxyRole","Effect":"Deny","Principal":"*","Action":"s3:GetObject*"',
                            '"DenyEndpointReadsExceptProxyRole","Effect":"Deny","Principal":"*","Action":"s3:*"'), ALWAYS),
    ("4: read deny in a shape ShotGrid's cannot merge into", checks.check_bucket_policy,
     lambda t: _policy_text(t, '"aws:SourceVpc":["${TheVpc}"]', '"aws:SourceVpc":"${TheVpc}"'), ALWAYS),
    ("5: StudioCidr guessed again", checks.check_network_parameters,
     lambda t: t["Parameters"]["StudioCidr"].update(Default="10.0.0.0/8"), ALWAYS),
    ("5: Rules accept 0.0.0.0/0", checks.check_rules_section,
     lambda t: t["Rules"].pop("StudioCidrIsNotEverything"), ALWAYS),
    ("5: Rules accept the VPC's own CIDR", checks.check_rules_section,
     lambda t: t["Rules"].pop("NewVpcStudioCidrIsNotTheVpc"), NEW_VPC),
    ("5/7: overlap and zones not checked", checks.check_network_checks,
     lambda t: t["Resources"].pop("NetworkChecks"), ALWAYS),
    ("5/7: endpoint created before the checks", checks.check_network_checks,
     lambda t: _res(t, "S3InterfaceEndpoint").pop("DependsOn"), ALWAYS),
    ("7: checks look at other subnets than the ALB's", checks.check_network_checks,
     lambda t: _cr(t, "NetworkChecks").update(LoadBalancerSubnetIds=_cr(t, "NetworkChecks")["EndpointSubnetIds"]),
     lambda p: p.get("Visibility") == "public"),
    ("7: checks skip the studio CIDR", checks.check_network_checks,
     lambda t: _cr(t, "NetworkChecks").update(StudioCidr="0.0.0.0/1"), ALWAYS),
    ("6: subnet IDs without a pattern", checks.check_network_parameters,
     lambda t: t["Parameters"]["ExistingPrivateSubnetIds"].pop("AllowedPattern"), ALWAYS),
    ("6: route table IDs that take anything", checks.check_network_parameters,
     lambda t: t["Parameters"]["ExistingRouteTableIds"].update(AllowedPattern=".*"), ALWAYS),
    ("7: zones fixed to !GetAZs again", checks.check_network_parameters,
     lambda t: _props(t, "PrivateSubnet1").update(AvailabilityZone={"Fn::Select": [2, {"Fn::GetAZs": ""}]}), NEW_VPC),
    ("7: Rules let AvailabilityZones mislead in an existing VPC", checks.check_rules_section,
     lambda t: t["Rules"].pop("ZonesOnlyForNewVpc"), EXISTING_VPC),
    ("8: KMS grant on every key", checks.check_kms,
     lambda t: _kms_statement(t).update(Resource="*"), WITH_KMS),
    ("8: KMS grant without the S3 condition", checks.check_kms,
     lambda t: _kms_statement(t).pop("Condition"), WITH_KMS),
    ("8: KMS grant whatever the parameter", checks.check_kms,
     lambda t: _proxy_statements(t).append({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}),
     lambda p: not WITH_KMS(p)),
    ("9: endpoint URL by DnsEntries position", checks.check_regional_dns_name,
     lambda t: _props(t, "ProxyFunction")["Environment"]["Variables"].update(S3PROXY_ENDPOINT_URL={"Fn::Join": ["", [
         "https://bucket", {"Fn::Select": [1, {"Fn::Split": ["*", {"Fn::Select": [1, {"Fn::Split": [":", {"Fn::Select": [
             0, {"Fn::GetAtt": ["S3InterfaceEndpoint", "DnsEntries"]}]}]}]}]}]}]]}), ALWAYS),
    ("9: endpoint DNS output by position", checks.check_regional_dns_name,
     lambda t: t["Outputs"]["InterfaceEndpointDnsName"].update(Value={"Fn::Select": [0, {"Fn::GetAtt": ["S3InterfaceEndpoint", "DnsEntries"]}]}), ALWAYS),
    ("10: no grant for a bucket in another account", checks.check_bucket_policy,
     lambda t: _policy_text(t, '"Sid":"AllowProxyRoleReads","Effect":"Allow","Principal":{"AWS":"${ProxyFunctionRole.Arn}"}',
                            '"Sid":"AllowProxyRoleReads","Effect":"Allow","Principal":{"AWS":"${AWS::AccountId}"}'), ALWAYS),
    ("issue 8: no public URL for proxy redirects", checks.check_proxy_function,
     lambda t: _props(t, "ProxyFunction")["Environment"]["Variables"].pop("S3PROXY_PUBLIC_URL"), ALWAYS),
    ("issue 8: public URL from another name", checks.check_proxy_function,
     lambda t: _props(t, "ProxyFunction")["Environment"]["Variables"].update(S3PROXY_PUBLIC_URL={"Fn::Sub": "https://${LoadBalancer.DNSName}"}), ALWAYS),
]


class TestChecksCatchBreakage(unittest.TestCase):
    def test_samconfig_breakages(self):
        parameters = load(TEMPLATE)["Parameters"]
        check_samconfig(read_samconfig(), parameters)

        def prod_override(config, key, value):
            ov = _overrides(config, "prod")
            ov[key] = value
            config["prod"]["deploy"]["parameters"]["parameter_overrides"] = " ".join(
                f'{k}="{v}"' for k, v in ov.items())

        def loose(name):
            p = copy.deepcopy(parameters)
            p[name].pop("AllowedPattern")
            return p

        for name, change_config, params in [
            ("11: sam build copies the checkout again", lambda c: c["default"]["build"]["parameters"].pop("build_in_source"), parameters),
            ("11: prod builds in a copy", lambda c: c["prod"]["build"]["parameters"].update(build_in_source=False), parameters),
            ("2: prod creates a second gateway endpoint", lambda c: prod_override(c, "CreateS3GatewayEndpoint", "true"), parameters),
            ("6: a subnet placeholder passes validation", lambda c: None, loose("ExistingPrivateSubnetIds")),
            ("5: StudioCidr placeholder missing", lambda c: prod_override(c, "StudioCidr", "10.0.0.0/8") or
             c["prod"]["deploy"]["parameters"].update(parameter_overrides=c["prod"]["deploy"]["parameters"]["parameter_overrides"].replace('StudioCidr="10.0.0.0/8" ', "")),
             parameters),
        ]:
            with self.subTest(breakage=name):
                config = copy.deepcopy(read_samconfig())
                change_config(config)
                with self.assertRaises(AssertionError, msg=f"check_samconfig missed: {name}"):
                    check_samconfig(config, params)

    def test_docs_breakages(self):
        deploy, migrate = TestDocs.read("docs/deploy.md"), TestDocs.read("docs/migrate.md")
        outputs = set(load(TEMPLATE)["Outputs"])
        check_policy_docs(deploy, migrate)
        check_checklist(deploy, outputs)
        rows = re.findall(r"^\| \d+ \|.*$", deploy, re.M)
        for name, check, change in [
            ("4: §5 forgets the endpoint-reads deny", "policy",
             lambda d, m: (d.replace("`DenyEndpointReadsExceptProxyRole`", "the endpoint deny"), m)),
            ("4: §5 says to add, not replace", "policy", lambda d, m: (d.replace("**replace**", "add"), m)),
            ("4: no rollback in §5", "policy", lambda d, m: (d.replace("Rolling back", "Undoing"), m)),
            ("4: migrate.md skips the check", "policy", lambda d, m: (d, m.replace("s3proxy check", "a test"))),
            ("checklist starts elsewhere", "checklist", lambda d, m: (d.replace(rows[0], "\0").replace(rows[1], rows[0]).replace("\0", rows[1]), m)),
            ("checklist row with no step", "checklist",
             lambda d, m: (d.replace(rows[1], rows[1].replace("`get-small`, `put-small`", "a read")), m)),
            ("checklist names an unknown step", "checklist",
             lambda d, m: (d.replace(rows[1], rows[1].replace("`get-small`", "`get-tiny`")), m)),
            ("checklist reads a missing output", "checklist",
             lambda d, m: (d.replace("`out EndpointTargetIps`", "`out EndpointTargetAddresses`"), m)),
        ]:
            with self.subTest(breakage=name):
                d, m = change(deploy, migrate)
                self.assertNotEqual((d, m), (deploy, migrate), "the breakage changed nothing")
                with self.assertRaises(AssertionError, msg=f"docs check missed: {name}"):
                    if check == "policy":
                        check_policy_docs(d, m)
                    else:
                        check_checklist(d, outputs)

    def test_issue9_mutations_fail_in_every_combination(self):
        for name, check, change, applies in ISSUE9_MUTATIONS:
            ran = 0
            for combo, params in COMBOS.items():
                if not applies(params):
                    continue
                ran += 1
                with self.subTest(mutation=name, combo=combo):
                    original = translated(combo)
                    check(original, params)  # passes as is
                    broken = copy.deepcopy(original)
                    change(broken)
                    with self.assertRaises(AssertionError, msg=f"{check.__name__} missed: {name} in {combo}"):
                        check(broken, params)
            self.assertTrue(ran, f"mutation {name!r} applies to no combination")

    def test_mutations_fail_their_check(self):
        for name, combo, check, change in MUTATIONS:
            with self.subTest(mutation=name):
                original = translated(combo)
                check(original, COMBOS[combo])  # passes as is
                broken = copy.deepcopy(original)
                change(broken)
                with self.assertRaises(AssertionError, msg=f"{check.__name__} missed: {name}"):
                    check(broken, COMBOS[combo])

    def test_rule_mutations_fail_the_table_check(self):
        for name, change in RULE_MUTATIONS:
            for combo, params in COMBOS.items():
                with self.subTest(mutation=name, combo=combo):
                    broken = copy.deepcopy(translated(combo))
                    change(broken)
                    with self.assertRaises(AssertionError, msg=f"rule table check missed: {name}"):
                        checks.check_rule_table(broken, params, routes(params))

    def test_second_direct_rule_mutations(self):
        for combo, params in COMBOS.items():
            if len(params.get("KeyPrefixes", "").split(",")) < 4:
                continue
            for name, change in [
                ("no second /_direct rule", lambda t: t["Resources"].pop("ProxyRuleDirect2")),
                ("fourth prefix dropped", lambda t: _props(t, "ProxyRuleDirect2")["Conditions"][1]["PathPatternConfig"]["Values"].pop(0)),
                ("six values in one rule", lambda t: _props(t, "ProxyRuleDirect2")["Conditions"][0]["HttpRequestMethodConfig"].update(
                    Values=["GET", "HEAD", "OPTIONS", "PUT"])),
            ]:
                with self.subTest(mutation=name, combo=combo):
                    broken = copy.deepcopy(translated(combo))
                    change(broken)
                    with self.assertRaises(AssertionError, msg=f"rule table check missed: {name}"):
                        checks.check_rule_table(broken, params, routes(params))

    def test_routes_drift_fails_the_table_check(self):
        drifted = copy.deepcopy(routes(COMBOS["private-new"]))
        drifted[0]["priority"] += 1
        with self.assertRaises(AssertionError):
            checks.check_rule_table(translated("private-new"), COMBOS["private-new"], drifted)


if __name__ == "__main__":
    unittest.main()
