"""Template tests: SAM translation in every deployment shape, structural
checks on the result, and proof that each check catches what it guards.

Run from the repository root with `make test-template`, or directly:

    python3 -m unittest discover -s tests/template -v

The rule table is compared with `go run ./cmd/s3proxy rules`; set
S3PROXY_RULES_JSON to a file holding that output to skip the go run.
"""

import copy
import functools
import json
import os
import re
import shlex
import subprocess
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
]


@functools.lru_cache(maxsize=None)
def translated(combo):
    return translate(load(TEMPLATE), COMBOS[combo])


@functools.lru_cache(maxsize=None)
def routes():
    path = os.environ.get("S3PROXY_RULES_JSON")
    if path:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    out = subprocess.run(["go", "run", "./cmd/s3proxy", "rules"], cwd=ROOT, check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout)


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
        with open(os.path.join(ROOT, "samconfig.toml"), "rb") as f:
            config = tomllib.load(f)
        self.assertEqual(config["version"], 0.1)
        parameters = load(TEMPLATE)["Parameters"]
        for env in ("default", "prod"):
            with self.subTest(env=env):
                self.assertTrue(config[env]["global"]["parameters"]["stack_name"])
                deploy = config[env]["deploy"]["parameters"]
                self.assertIn("CAPABILITY_IAM", deploy["capabilities"])
                self.assertTrue(deploy["resolve_s3"])
                overrides = dict(kv.split("=", 1) for kv in shlex.split(deploy["parameter_overrides"]))
                self.assertLessEqual(set(overrides), set(parameters), "unknown parameter in overrides")
                required = {k for k, v in parameters.items() if "Default" not in v}
                self.assertLessEqual(required, set(overrides), "a required parameter has no placeholder")

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
                checks.check_rule_table(translated(combo), COMBOS[combo], routes())

    def test_bucket_policy_is_json_for_any_prefixes(self):
        for prefixes in ["", "shotgun/", "a,b,c,d,e", "o'brien/,(x)/!_.-"]:
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

    def test_check_flags_match_the_cli(self):
        out = subprocess.run(["go", "run", "./cmd/s3proxy", "check", "-h"], cwd=ROOT,
                             capture_output=True, text=True)
        flags = set(re.findall(r"^  -([a-z0-9-]+)", out.stderr + out.stdout, re.M))
        self.assertIn("url", flags, f"cannot read the flags from `s3proxy check -h`:\n{out.stderr}")
        deploy = self.read("docs/deploy.md")
        documented = set(re.findall(r"^\| `--([a-z0-9-]+)` \|", deploy, re.M))
        self.assertEqual(documented, flags, "the flag table in docs/deploy.md differs from `s3proxy check -h`")
        for path in ("docs/deploy.md", "docs/operate.md", "README.md"):
            text = self.read(path).replace("\\\n", " ")
            for command in re.findall(r"s3proxy check\b[^\n`]*", text):
                with self.subTest(doc=path, command=command):
                    self.assertLessEqual(set(re.findall(r"--([a-z0-9-]+)", command)), flags)


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
         0, t["Outputs"]["RecommendedBucketPolicy"]["Value"]["Fn::Sub"][0].replace('"aws:SourceVpc":"${TheVpc}",', ""))),
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
    ("/_direct rewritten to the signed host", lambda t: _transforms(t, "ProxyRuleDirect")[1]["HostHeaderRewriteConfig"]["Rewrites"][0].update(
        Replace={"Fn::Sub": "${BucketName}.s3.amazonaws.com"})),
    ("passthrough without its condition", lambda t: _res(t, "ProxyRulePassthrough").pop("Condition")),
    ("passthrough before /_direct", lambda t: _props(t, "ProxyRulePassthrough").update(Priority=15)),
    ("passthrough misses DELETE", lambda t: _props(t, "ProxyRulePassthrough")["Conditions"][0]["HttpRequestMethodConfig"].update(Values=["PUT", "POST"])),
    ("ping goes to the endpoint", lambda t: _props(t, "ProxyRulePing")["Actions"][0].update(TargetGroupArn={"Ref": "EndpointTargetGroup"})),
    ("default action goes to the endpoint", lambda t: _props(t, "HttpsListener")["DefaultActions"][0].update(TargetGroupArn={"Ref": "EndpointTargetGroup"})),
    ("an extra rule", lambda t: t["Resources"].__setitem__("ProxyRuleExtra", copy.deepcopy(_res(t, "ProxyRulePing")))),
]


class TestChecksCatchBreakage(unittest.TestCase):
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
            with self.subTest(mutation=name):
                broken = copy.deepcopy(translated("private-new"))
                change(broken)
                with self.assertRaises(AssertionError, msg=f"rule table check missed: {name}"):
                    checks.check_rule_table(broken, COMBOS["private-new"], routes())

    def test_routes_drift_fails_the_table_check(self):
        drifted = copy.deepcopy(routes())
        drifted[0]["priority"] += 1
        with self.assertRaises(AssertionError):
            checks.check_rule_table(translated("private-new"), COMBOS["private-new"], drifted)


if __name__ == "__main__":
    unittest.main()
