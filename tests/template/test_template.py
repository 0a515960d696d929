"""Template tests: SAM translation in every deployment shape, structural
checks on the result, and proof that each check catches what it guards.

Run from the repository root with `make test-template`, or directly:

    python3 -m unittest discover -s tests/template -v

The HTTPS listener (rules and response headers) is compared with
`s3proxy rules --bucket B --key-prefixes P --signed-host H` for each
parameter set. Set S3PROXY_CLI to a built s3proxy binary
(scripts/test-template.sh builds one); otherwise the tests build it once.
"""

import collections
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
import iam_eval
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
    # network and policy
    checks.check_regional_dns_name,
    checks.check_network_parameters,
    checks.check_network_checks,
    checks.check_kms,
    checks.check_studio_ingress,
    # only ShotGrid's principals, and only object calls
    checks.check_endpoint_policies,
    checks.check_access,
    checks.check_iam_parameters,
    checks.check_web_acl,
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
def routes_for(bucket, key_prefixes, signed_host, read_only=False):
    out = subprocess.run([cli(), "rules", "--bucket", bucket, "--key-prefixes", key_prefixes, "--signed-host", signed_host]
                         + (["--read-only"] if read_only else []),
                         cwd=ROOT, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def routes(params):
    """`s3proxy rules` for one parameter set's BucketName, KeyPrefixes and
    SignedHost: {"rules": [...], "responseHeaders": [...]}."""
    return copy.deepcopy(routes_for(params["BucketName"], params.get("KeyPrefixes", ""), params.get("SignedHost", ""),
                                    params.get("ReadOnly") == "true"))


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

    def test_parameters_are_asked_in_order(self):
        checks.check_parameter_order(load(TEMPLATE))

    def test_version_output_is_the_cli_version(self):
        release = checks.release_version()
        if release is None:
            self.skipTest(f"{checks.RELEASE_GO} does not exist on this branch: the Version output "
                          "cannot be compared with pkg/release.Version")
        self.assertEqual(load(TEMPLATE)["Outputs"]["Version"]["Value"], release)

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
        # 0, 1-3 (one /_direct rule) and 4-5 (a second one) key prefixes;
        # 1-2, 3-4 and 5 passthrough rules; virtual-hosted and path-style
        for prefixes in ["", "a/", "a/,b/", "shotgun/,review/,x.y~z-_/", "a/,b/,c/,d/", "a/,b/,c/,d/,e/"]:
            for combo in ("private-new", "public-existing"):
                for signed in ("", "media-bucket.s3.eu-west-1.amazonaws.com", "s3.eu-west-1.amazonaws.com"):
                    with self.subTest(combo=combo, prefixes=prefixes, signed_host=signed):
                        params = dict(COMBOS[combo], KeyPrefixes=prefixes, SignedHost=signed)
                        checks.check_rule_table(translated(combo), params, routes(params))

    def test_web_acl_toggles_the_association(self):
        arn = "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/s3proxy-rate/0a1b2c3d-0000-4000-8000-000000000000"
        for combo in COMBOS:
            for value in ("", arn):
                with self.subTest(combo=combo, web_acl=value):
                    params = dict(COMBOS[combo], WebAclArn=value)
                    checks.check_web_acl(translated(combo), params)
                    found = Evaluation(translated(combo), params).resources("AWS::WAFv2::WebACLAssociation")
                    self.assertEqual(len(found), 1 if value else 0)

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

    def test_audit_docs(self):
        check_audit_docs(self.read("docs/operate.md"))

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
        self.assertLessEqual(flags, documented, "the flag table in docs/deploy.md lacks flags of `s3proxy check -h`")
        pending = documented - flags
        self.assertLessEqual(pending, PENDING_CLI.get("check", set()), "the flag table in docs/deploy.md names flags `s3proxy check` lacks")
        for path in ("docs/deploy.md", "docs/operate.md", "README.md"):
            text = self.read(path).replace("\\\n", " ")
            for command in re.findall(r"s3proxy check\b[^\n`]*", text):
                with self.subTest(doc=path, command=command):
                    self.assertLessEqual(set(re.findall(r"--([a-z0-9-]+)", command)), flags | PENDING_CLI.get("check", set()))
        if pending:
            self.skipTest(f"`s3proxy check` on this branch lacks {sorted(pending)}; the table documents them ahead of it")

    def test_doc_commands_name_what_exists(self):
        template = load(TEMPLATE)
        known = DocNames(set(template["Parameters"]), set(template["Outputs"]), cli_flags, SAM_FLAGS)
        pending = []
        for path in ("docs/deploy.md", "docs/migrate.md"):
            with self.subTest(doc=path):
                pending += check_doc_commands(self.read(path), known)
        if pending:
            self.skipTest("documented ahead of this branch's CLI (checked once it has them): " + "; ".join(sorted(set(pending))))

    def test_changelog_has_this_release(self):
        version = load(TEMPLATE)["Outputs"]["Version"]["Value"]
        changelog = self.read("CHANGELOG.md")
        releases = re.findall(r"^## (\d+\.\d+\.\d+) ", changelog, re.M)
        self.assertEqual(releases[:1], [version], f"CHANGELOG.md's newest release is not the Version output {version}")
        self.assertEqual(releases, sorted(releases, key=lambda v: tuple(map(int, v.split("."))), reverse=True),
                         "CHANGELOG.md's releases are not newest first")
        # The release that renamed StudioCidr must say so, whatever came after it.
        entries = {e.split(" ", 1)[0]: e for e in changelog.split("\n## ")[1:]}
        self.assertIn("0.3.0", entries, "CHANGELOG.md has no 0.3.0 entry")
        for renamed in ("StudioCidr", "StudioCidrs"):
            self.assertIn(f"`{renamed}`", entries["0.3.0"], f"the 0.3.0 entry does not name the {renamed} rename")

    def test_nothing_cuts_over_before_check(self):
        check_cutover_order(self.read("docs/deploy.md"), self.read("docs/migrate.md"))

    def test_deployer_policy_covers_the_stack(self):
        check_deployer_policy(self.read("docs/deploy.md"), translated("public-new"))


# The SAM CLI flags the docs may use, per command, from the command
# reference (one page per command):
# https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-cli-command-reference-sam-build.html
# https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-cli-command-reference-sam-deploy.html
# https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-cli-command-reference-sam-delete.html
# https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-cli-command-reference-sam-list-stack-outputs.html
# https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-cli-command-reference-sam-validate.html
_SAM_COMMON = {"config-env", "config-file", "help", "debug", "profile", "region", "parameter-overrides", "template-file", "template"}
SAM_FLAGS = {
    "build": _SAM_COMMON | {"build-in-source", "no-build-in-source", "cached", "no-cached", "parallel", "use-container",
                            "build-dir", "beta-features"},
    "deploy": _SAM_COMMON | {"guided", "stack-name", "capabilities", "s3-bucket", "resolve-s3", "s3-prefix",
                             "confirm-changeset", "no-confirm-changeset", "no-execute-changeset", "on-failure",
                             "disable-rollback", "no-disable-rollback", "fail-on-empty-changeset",
                             "no-fail-on-empty-changeset", "tags"},
    "delete": {"config-env", "config-file", "help", "debug", "profile", "region", "stack-name", "no-prompts", "s3-bucket", "s3-prefix"},
    "list stack-outputs": {"config-env", "config-file", "help", "debug", "profile", "region", "stack-name", "output"},
    "validate": _SAM_COMMON | {"lint"},
    "local invoke": _SAM_COMMON | {"event", "env-vars"},
}

# What the docs use ahead of the s3proxy command on a branch: `s3proxy init`,
# `s3proxy preflight` and `check --stack`/`--connect-to`. While the CLI lacks
# them they are skipped, naming them; once it has them, they are checked
# like every other command and flag.
# Commands or flags the docs may name ahead of the CLI: none now.
PENDING_CLI = {}

DocNames = collections.namedtuple("DocNames", "parameters outputs cli_flags sam_flags")


@functools.lru_cache(maxsize=None)
def cli_flags(command):
    """The flags `s3proxy COMMAND --help` lists, or None when there is no
    such command."""
    out = subprocess.run([cli(), command, "--help"], cwd=ROOT, capture_output=True, text=True)
    text = out.stdout + out.stderr
    if out.returncode != 0 and "unknown command" in text:
        return None
    return frozenset(re.findall(r"^ {2,}(?:-[a-z], )?--?([a-z0-9-]+)\b", text, re.M)) - {"h"}


def _code(text):
    """The shell a document shows: fenced sh blocks and inline code, with
    line continuations joined."""
    code, prose, fence = [], [], None
    for line in text.replace("\\\n", " ").splitlines():
        m = re.match(r"^ *```(\w*)", line)
        if m and fence is None:
            fence = m.group(1)
        elif m:
            fence = None
        elif fence is None:
            prose.append(line)
        elif fence in ("", "sh", "bash"):
            code.append(line)
    inline = [c for line in prose for c in re.findall(r"`([^`]+)`", line)]
    return code, inline


def _command_args(line, prefix):
    """What follows prefix on a line, up to the end of that command."""
    for m in re.finditer(r"(?<![\w/.-])" + re.escape(prefix) + r"(?![\w-])(.*)", line):
        yield re.split(r"\s#|&&|\|\||;|\|(?!\|)", m.group(1))[0]


def check_doc_commands(text, known):
    """Every s3proxy and sam command in the text names flags its command
    has, every `out NAME` an output, and every Name=value a parameter.
    Returns what was skipped because the CLI does not have it yet."""
    pending = []
    code, inline = _code(text)
    # Name=value names a parameter in inline code and on sam command lines;
    # other code (an embedded script) may hold keyword arguments.
    settings = inline + [line for line in code if re.search(r"(?<![\w/.-])sam |parameter.overrides", line)]
    for line in settings:
        for name in re.findall(r"(?<![\w./-])([A-Z][a-z][A-Za-z0-9]*)=(?!=)", line):
            assert name in known.parameters, f"{name}=: the template has no parameter {name}: {line!r}"
    for line in code + inline:
        for command in sorted(set(re.findall(r"(?<![\w/.-])s3proxy ([a-z][a-z-]*)\b", line))):
            for args in _command_args(line, "s3proxy " + command):
                used = set(re.findall(r"(?<![\w-])--([a-z0-9-]+)", args))
                have = known.cli_flags(command)
                if have is None:
                    assert command in PENDING_CLI, f"`s3proxy {command}` does not exist: {line!r}"
                    pending.append(f"s3proxy {command}")
                    continue
                unknown = used - have
                assert unknown <= PENDING_CLI.get(command, set()), \
                    f"`s3proxy {command}` has no flags {sorted(unknown - PENDING_CLI.get(command, set()))}: {line!r}"
                pending += [f"s3proxy {command} --{f}" for f in unknown]
        for command, flags in known.sam_flags.items():
            for args in _command_args(line, "sam " + command):
                used = set(re.findall(r"(?<![\w-])--([a-z0-9-]+)", args))
                assert used <= flags, f"`sam {command}` has no flags {sorted(used - flags)}: {line!r}"
        for name in re.findall(r"(?<![\w-])out ([A-Z][A-Za-z0-9]+)", line):
            assert name in known.outputs, f"`out {name}`: the template has no output {name}: {line!r}"
    return pending


# What every deploy needs from the deployer, whatever the template holds,
# and the service each resource type the template creates belongs to.
DEPLOYER_MUST = {"iam:passrole", "iam:createservicelinkedrole", "s3:putbucketpolicy", "s3:getbucketpolicy",
                 "s3:putbucketcors", "s3:getbucketcors", "acm:describecertificate", "cloudformation:createchangeset",
                 "cloudformation:executechangeset", "lambda:publishversion", "lambda:updatealias",
                 "ec2:getmanagedprefixlistentries", "elasticloadbalancing:modifylistenerattributes",
                 "kms:describekey"}
# Actions the deployer needs on one resource (the docs' placeholders): the
# media bucket's HeadBucket, preflight's and check's test objects.
DEPLOYER_MUST_ON = [
    ("s3:listbucket", "arn:aws:s3:::<media bucket>"),
    ("s3:putobject", "arn:aws:s3:::<media bucket>/<prefix>s3proxy-preflight/*"),
    ("s3:getobject", "arn:aws:s3:::<media bucket>/<prefix>s3proxy-preflight/*"),
    ("s3:deleteobject", "arn:aws:s3:::<media bucket>/<prefix>s3proxy-preflight/*"),
    ("s3:putobject", "arn:aws:s3:::<media bucket>/<prefix>s3proxy-check/*"),
    ("s3:deleteobject", "arn:aws:s3:::<media bucket>/<prefix>s3proxy-check/*"),
]


def _listed(v):
    return v if isinstance(v, list) else [v] if v else []


def check_deployer_policy(deploy, template):
    m = re.search(r"^\*\*Credentials\.\*\*.*?^```json\n(.*?)^```", deploy, re.S | re.M)
    assert m, "docs/deploy.md has no deployer policy (a json block after **Credentials.**)"
    policy = json.loads(m.group(1))
    actions = {a.lower() for s in policy["Statement"] if s["Effect"] == "Allow"
               for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    assert DEPLOYER_MUST <= actions, f"the deployer policy lacks {sorted(DEPLOYER_MUST - actions)}"
    for action, resource in DEPLOYER_MUST_ON:
        assert any(s["Effect"] == "Allow" and resource in _listed(s.get("Resource"))
                   and action in {a.lower() for a in _listed(s["Action"])} for s in policy["Statement"]), \
            f"the deployer policy does not grant {action} on {resource}"
    passrole = [s for s in policy["Statement"] if "iam:PassRole" in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])]
    assert all(s.get("Condition", {}).get("StringEquals", {}).get("iam:PassedToService") == "lambda.amazonaws.com" for s in passrole), \
        "iam:PassRole must be limited to Lambda (iam:PassedToService)"
    services = {a.split(":")[0] for a in actions}
    for logical_id, res in template["Resources"].items():
        kind = res["Type"]
        if kind.startswith("Custom::"):
            need = "lambda"  # CloudFormation invokes the service token as the deployer
        else:
            need = {"ElasticLoadBalancingV2": "elasticloadbalancing"}.get(kind.split("::")[1], kind.split("::")[1].lower())
        assert need in services, f"the deployer policy grants nothing on {need}, which {logical_id} ({kind}) needs"


def _sections(text):
    """The document's '## N. Title' sections, in order, as (title, body)."""
    parts = re.split(r"^(## \d+\..*)$", text, flags=re.M)
    return [(parts[i], parts[i + 1]) for i in range(1, len(parts) - 1, 2)]


def _first(sections, pattern):
    for i, (title, body) in enumerate(sections):
        if re.search(pattern, title + body):
            return i
    raise AssertionError(f"no section matches {pattern!r}")


def check_cutover_order(deploy, migrate):
    """Production DNS moves only after the preflight, the deploy, the bucket
    policy, the CORS rule and a passing check against the new ALB; the
    rollback is DNS back at the old proxy, never clearing the setting; the
    old stack stays for a stated time; the hand-made pieces are named."""
    for doc, text, switch in (("migrate.md", migrate, r"^## \d+\. Switch"), ("deploy.md", deploy, r"^## \d+\. Going live")):
        sections = _sections(text.replace("\\\n", " "))
        cut = next((i for i, (title, _) in enumerate(sections) if re.search(switch, title)), None)
        assert cut is not None, f"{doc} has no section matching {switch!r}"
        for what, pattern in (("preflight", r"s3proxy preflight"), ("the bucket policy", r"DenyReadsOutsideProxyNetwork"),
                              ("the CORS rule", r"proxy-redirect-origin-null|put-bucket-cors"),
                              ("a check against the new ALB", r"s3proxy check --stack[^\n]*(--url https://s3-proxy-next|--connect-to)")):
            at = _first(sections, pattern)
            assert at < cut, f"{doc}: {what} (section {sections[at][0]!r}) comes after the cutover ({sections[cut][0]!r})"
        for before in sections[:cut]:
            assert not re.search(r"(change|point) the (existing|production) record", before[1]), \
                f"{doc}: {before[0]!r} moves production DNS before the cutover section"
    for doc, text in (("deploy.md", deploy), ("migrate.md", migrate)):
        for sentence in re.findall(r"[^.]*\bclear[^.]*S3 Proxy Host Address[^.]*\.", text, re.I):
            assert re.search(r"\bnot\b", sentence), f"{doc} tells you to clear the setting: {sentence.strip()!r}"
    assert re.search(r"14 days after", migrate) and re.search(r"14 days after", deploy), "no date to keep the old stack until"
    for piece in ("HTTPS:443 listener", "ECR repository", "delete-listener", "delete-repository"):
        assert piece in migrate, f"migrate.md does not name {piece!r}"


def read_samconfig():
    with open(os.path.join(ROOT, "samconfig.toml"), "rb") as f:
        return tomllib.load(f)


def _overrides(config, env):
    return dict(kv.split("=", 1) for kv in shlex.split(config[env]["deploy"]["parameters"]["parameter_overrides"]))


def check_samconfig(config, parameters):
    assert config["version"] == 0.1, config["version"]
    for env in ENVIRONMENTS:
        assert env in config, f"samconfig.toml has no [{env}] environment"
        assert config[env]["global"]["parameters"]["stack_name"], f"[{env}] has no stack name"
        # sam delete and sam list read the global section, not deploy's
        assert config[env]["global"]["parameters"].get("region"), f"[{env}] has no region in its global section"
        assert "region" not in config[env]["deploy"]["parameters"], f"[{env}] sets region for deploy only"
        # the makefile builder passes no architecture: no cached reuse
        assert config[env]["build"]["parameters"].get("cached") is False, f"[{env}] reuses cached builds"
        deploy = config[env]["deploy"]["parameters"]
        assert "CAPABILITY_IAM" in deploy["capabilities"] and deploy["resolve_s3"], f"[{env}] deploy parameters"
        overrides = _overrides(config, env)
        assert set(overrides) <= set(parameters), f"[{env}] unknown parameters {set(overrides) - set(parameters)}"
        required = {k for k, v in parameters.items() if "Default" not in v}
        assert required <= set(overrides), f"[{env}] no placeholder for {required - set(overrides)}"
        # Every placeholder fails its parameter's
        # constraints, so a forgotten one stops the deploy.
        for key, value in overrides.items():
            if "REPLACE_ME" in value:
                assert not checks._pattern_ok(parameters[key], value), f"[{env}] {key}={value} passes parameter validation"
        # item 11: makefile builds in the checkout, not in a copy of it
        assert config[env]["build"]["parameters"].get("build_in_source") is True, f"[{env}] build_in_source is not on"
        # Every environment adopts an existing VPC whose route tables
        # already have ShotGrid's S3 gateway endpoint, and names the studio.
        assert overrides.get("ExistingVpcId") and overrides.get("ExistingPrivateSubnetIds"), \
            f"[{env}] is not the existing-VPC shape: pressing on would build a new, unrouted VPC"
        gateway = overrides.get("CreateS3GatewayEndpoint", parameters["CreateS3GatewayEndpoint"].get("Default"))
        assert gateway == "false", f"[{env}] CreateS3GatewayEndpoint={gateway}: a second gateway endpoint rolls back"
        assert overrides.get("StudioCidrs") or overrides.get("StudioPrefixListId"), f"[{env}] names no studio network"
    # Media Replication: a read-only proxy, uploads never pass through it.
    replica = _overrides(config, "replica")
    assert replica.get("UploadPassthrough") == "false", "[replica] passes uploads through to the replica bucket"
    assert replica.get("ReadOnly") == "true", "[replica] is not read-only: small signed writes would reach the replica bucket"
    regions = {env: config[env]["global"]["parameters"]["region"] for env in ENVIRONMENTS}
    assert regions["replica"] != regions["default"], "[replica] is in the main bucket's region placeholder"


ENVIRONMENTS = ("default", "prod", "replica")


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
                   "PutObject", "kms:Decrypt", "1. **Before the stack serves anything**",
                   "`ShotGridPrincipalArns`", "`aws_role_arn`", "`OtherReaderArns`", "`BucketAccountId`",
                   "ShotGrid's own servers", "--unlisted-profile", "### Other readers in a shared VPC"):
        assert phrase in section, f"deploy.md §5 lacks {phrase!r}"
    # One edit: step 1 applies the principal deny with the merged read deny.
    step1 = section[section.index("1. **Before the stack serves anything**"):section.index("\n2. ")]
    assert "`DenyVpcReadsExceptListedPrincipals`" in step1, "deploy.md §5 step 1 does not apply the principal deny: it is staged again"
    for phrase in ("s3proxy check", "DNS", "S3 Proxy Host Address", "alarms", "Remove the old stack", "Rollback"):
        assert phrase in migrate, f"migrate.md lacks {phrase!r}"


def check_audit_docs(operate):
    """operate.md names the audit trail for what the function never sees,
    and says what ALB access logs hold and how to keep them."""
    m = re.search(r"^## Audit and logs\n.*?(?=^## )", operate, re.S | re.M)
    assert m, "docs/operate.md has no '## Audit and logs' section"
    section = " ".join(m.group(0).split())
    for phrase in ("CloudTrail", "data events", "AWS::S3::Object", "passthrough writes", "`/_direct` reads",
                   "vpcEndpointId", "X-Amz-Security-Token", "X-Amz-Signature", "session token", "replay",
                   "in this stack's account", "public access blocked", "incident-response role",
                   "expiring within days", "docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-access-logs.html",
                   "docs.aws.amazon.com/AmazonS3/latest/userguide/cloudtrail-logging-s3-info.html"):
        assert phrase in section, f"operate.md 'Audit and logs' lacks {phrase!r}"


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

def _fixed_config(t, logical_id):
    return _props(t, logical_id)["Actions"][0]["FixedResponseConfig"]


def _forward(target_group):
    return [{"Type": "forward", "TargetGroupArn": {"Ref": target_group}}]


def _listener_attr(t, key):
    return next(a for a in _props(t, "HttpsListener")["ListenerAttributes"] if a["Key"] == key)


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
    ("refusal sends to the endpoint", lambda t: _props(t, "ProxyRuleDirectRefuse").update(Actions=_forward("EndpointTargetGroup"))),
    ("/_direct rewritten to the signed host", lambda t: _transforms(t, "ProxyRuleDirect")[1]["HostHeaderRewriteConfig"]["Rewrites"][0].update(
        Replace={"Fn::Sub": "${BucketName}.s3.amazonaws.com"})),
    ("passthrough without its condition", lambda t: _res(t, "ProxyRulePassthrough").pop("Condition")),
    ("passthrough before /_direct", lambda t: _props(t, "ProxyRulePassthrough").update(Priority=15)),
    ("passthrough misses DELETE", lambda t: _props(t, "ProxyRulePassthrough")["Conditions"][0]["HttpRequestMethodConfig"].update(Values=["PUT", "POST"])),
    ("passthrough on every path (bucket APIs reach S3)", lambda t: _props(t, "ProxyRulePassthrough")["Conditions"].pop(1)),
    ("passthrough matches the bucket root", lambda t: _props(t, "ProxyRulePassthrough")["Conditions"][1]["PathPatternConfig"].update(Values=["/*"])),
    ("ping goes to the endpoint", lambda t: _props(t, "ProxyRulePing")["Actions"][0].update(TargetGroupArn={"Ref": "EndpointTargetGroup"})),
    ("ping for every method", lambda t: _props(t, "ProxyRulePing")["Conditions"].pop(0)),
    ("no preflight rule", lambda t: t["Resources"].pop("ProxyRulePreflight")),
    ("every OPTIONS invokes the function", lambda t: _props(t, "ProxyRulePreflight")["Conditions"].pop(1)),
    ("preflights known by another header", lambda t: _props(t, "ProxyRulePreflight")["Conditions"][1]["HttpHeaderConfig"].update(
        HttpHeaderName="Origin")),
    ("unsigned reads invoke the function", lambda t: _props(t, "ProxyRuleUnsignedRead").update(Actions=_forward("LambdaTargetGroup"))),
    ("signed reads without the query condition", lambda t: _props(t, "ProxyRuleSignedRead")["Conditions"].pop(1)),
    ("SigV2 reads refused", lambda t: _props(t, "ProxyRuleSignedRead")["Conditions"][1]["QueryStringConfig"]["Values"].pop(1)),
    ("any query value counts as a signature", lambda t: _props(t, "ProxyRuleSignedRead")["Conditions"][1]["QueryStringConfig"].update(
        Values=[{"Value": "*"}])),
    ("signed reads after the refusal", lambda t: _props(t, "ProxyRuleSignedRead").update(Priority=225)),
    ("fixed 403 as XML, which the ALB refuses", lambda t: _fixed_config(t, "ProxyRuleUnsignedRead").update(ContentType="application/xml")),
    ("fixed 403 as HTML", lambda t: _fixed_config(t, "ProxyRuleUnsignedRead").update(ContentType="text/html")),
    ("fixed 403 turned 200", lambda t: _fixed_config(t, "ProxyRuleUnsignedRead").update(StatusCode="200")),
    ("fixed body drifts from the function's error", lambda t: _fixed_config(t, "ProxyRuleUnsignedRead").update(
        MessageBody="<Error><Code>AccessDenied</Code></Error>")),
    ("no write refusal", lambda t: t["Resources"].pop("ProxyRuleWriteRefuse")),
    ("write refusal forwards to the endpoint", lambda t: _props(t, "ProxyRuleWriteRefuse").update(Actions=_forward("EndpointTargetGroup"))),
    ("signed writes never reach the function", lambda t: t["Resources"].pop("ProxyRuleSignedWrite")),
    ("signed writes to the function even with passthrough", lambda t: _res(t, "ProxyRuleSignedWrite").pop("Condition")),
    ("default action goes to the endpoint", lambda t: _props(t, "HttpsListener").update(DefaultActions=_forward("EndpointTargetGroup"))),
    ("default action invokes the function", lambda t: _props(t, "HttpsListener").update(DefaultActions=_forward("LambdaTargetGroup"))),
    ("default 405 turned 403", lambda t: _props(t, "HttpsListener")["DefaultActions"][0]["FixedResponseConfig"].update(StatusCode="403")),
    ("an extra rule", lambda t: t["Resources"].__setitem__("ProxyRuleExtra", copy.deepcopy(_res(t, "ProxyRulePing")))),
    ("nosniff dropped", lambda t: _props(t, "HttpsListener")["ListenerAttributes"].pop(0)),
    ("nosniff misspelt", lambda t: _listener_attr(t, "routing.http.response.x_content_type_options.header_value").update(Value="no-sniff")),
    ("CSP lets stored pages run script", lambda t: _listener_attr(t, "routing.http.response.content_security_policy.header_value").update(
        Value="default-src *")),
    ("CSP dropped", lambda t: _props(t, "HttpsListener").update(ListenerAttributes=[
        a for a in _props(t, "HttpsListener")["ListenerAttributes"] if "content_security_policy" not in a["Key"]])),
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


# Network, endpoint and policy mutations: each runs in every combination it
# applies to, so every variant `make test-template` covers has proof that
# the check can fail there. (name, check, change, applies(params)).
ALWAYS = lambda p: True
NEW_VPC = lambda p: not p.get("ExistingVpcId")
EXISTING_VPC = lambda p: bool(p.get("ExistingVpcId"))
WITH_KMS = lambda p: bool(p.get("BucketKmsKeyArn"))
NETWORK_AND_POLICY_MUTATIONS = [
    ("endpoint targets blind to interface changes", checks.check_custom_resource_role,
     lambda t: _cr(t, "EndpointTargets").pop("NetworkInterfaceIds"), ALWAYS),
    ("endpoint targets fed the subnets instead", checks.check_custom_resource_role,
     lambda t: _cr(t, "EndpointTargets").update(NetworkInterfaceIds={"Fn::GetAtt": ["S3InterfaceEndpoint", "Id"]}), ALWAYS),
    ("gateway endpoint on by default", checks.check_network_parameters,
     lambda t: t["Parameters"]["CreateS3GatewayEndpoint"].update(Default="true"), ALWAYS),
    ("gateway endpoint created in an existing VPC without asking", checks.check_vpc_mode,
     lambda t: _res(t, "S3GatewayEndpoint").pop("Condition"),
     lambda p: EXISTING_VPC(p) and p.get("CreateS3GatewayEndpoint") != "true"),
    ("bucket-only gateway policy in an existing VPC", checks.check_vpc_mode,
     lambda t: _props(t, "S3GatewayEndpoint").update(PolicyDocument=_props(t, "S3InterfaceEndpoint")["PolicyDocument"]),
     lambda p: EXISTING_VPC(p) and p.get("CreateS3GatewayEndpoint") == "true"),
    ("full-access gateway policy in a new VPC", checks.check_vpc_mode,
     lambda t: _props(t, "S3GatewayEndpoint").pop("PolicyDocument"), NEW_VPC),
    ("bucket policy loses the principal deny", checks.check_bucket_policy,
     lambda t: _policy_text(t, '"ArnNotEquals":{"aws:PrincipalArn":["${ProxyFunctionRole.Arn}"', '"Null":{"aws:PrincipalArn":["false"'), ALWAYS),
    ("principal deny also blocks ShotGrid's uploads", checks.check_bucket_policy,
     lambda t: _policy_text(t, '"DenyVpcReadsExceptListedPrincipals","Effect":"Deny","Principal":"*","Action":"s3:GetObject*"',
                            '"DenyVpcReadsExceptListedPrincipals","Effect":"Deny","Principal":"*","Action":"s3:*"'), ALWAYS),
    ("read deny in a shape ShotGrid's cannot merge into", checks.check_bucket_policy,
     lambda t: _policy_text(t, '"aws:SourceVpc":["${TheVpc}"]', '"aws:SourceVpc":"${TheVpc}"'), ALWAYS),
    ("StudioCidrs guessed again", checks.check_network_parameters,
     lambda t: t["Parameters"]["StudioCidrs"].update(Default="10.0.0.0/8"), ALWAYS),
    ("Rules accept 0.0.0.0/0", checks.check_rules_section,
     lambda t: t["Rules"].pop("StudioCidrsAreNotEverything"), ALWAYS),
    ("Rules accept the VPC's own CIDR", checks.check_rules_section,
     lambda t: t["Rules"].pop("NewVpcStudioCidrsAreNotTheVpc"), NEW_VPC),
    ("overlap and zones not checked", checks.check_network_checks,
     lambda t: t["Resources"].pop("NetworkChecks"), ALWAYS),
    ("endpoint created before the checks", checks.check_network_checks,
     lambda t: _res(t, "S3InterfaceEndpoint").pop("DependsOn"), ALWAYS),
    ("checks look at other subnets than the ALB's", checks.check_network_checks,
     lambda t: _cr(t, "NetworkChecks").update(LoadBalancerSubnetIds=_cr(t, "NetworkChecks")["EndpointSubnetIds"]),
     lambda p: p.get("Visibility") == "public"),
    ("checks skip the studio ranges", checks.check_network_checks,
     lambda t: _cr(t, "NetworkChecks").update(StudioCidrs=["0.0.0.0/1"]), ALWAYS),
    ("subnet IDs without a pattern", checks.check_network_parameters,
     lambda t: t["Parameters"]["ExistingPrivateSubnetIds"].pop("AllowedPattern"), ALWAYS),
    ("route table IDs that take anything", checks.check_network_parameters,
     lambda t: t["Parameters"]["ExistingRouteTableIds"].update(AllowedPattern=".*"), ALWAYS),
    ("zones fixed to !GetAZs again", checks.check_network_parameters,
     lambda t: _props(t, "PrivateSubnet1").update(AvailabilityZone={"Fn::Select": [2, {"Fn::GetAZs": ""}]}), NEW_VPC),
    ("Rules let AvailabilityZones mislead in an existing VPC", checks.check_rules_section,
     lambda t: t["Rules"].pop("ZonesOnlyForNewVpc"), EXISTING_VPC),
    ("KMS grant on every key", checks.check_kms,
     lambda t: _kms_statement(t).update(Resource="*"), WITH_KMS),
    ("KMS grant without the S3 condition", checks.check_kms,
     lambda t: _kms_statement(t).pop("Condition"), WITH_KMS),
    ("KMS grant whatever the parameter", checks.check_kms,
     lambda t: _proxy_statements(t).append({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}),
     lambda p: not WITH_KMS(p)),
    ("endpoint URL by DnsEntries position", checks.check_regional_dns_name,
     lambda t: _props(t, "ProxyFunction")["Environment"]["Variables"].update(S3PROXY_ENDPOINT_URL={"Fn::Join": ["", [
         "https://bucket", {"Fn::Select": [1, {"Fn::Split": ["*", {"Fn::Select": [1, {"Fn::Split": [":", {"Fn::Select": [
             0, {"Fn::GetAtt": ["S3InterfaceEndpoint", "DnsEntries"]}]}]}]}]}]}]]}), ALWAYS),
    ("endpoint DNS output by position", checks.check_regional_dns_name,
     lambda t: t["Outputs"]["InterfaceEndpointDnsName"].update(Value={"Fn::Select": [0, {"Fn::GetAtt": ["S3InterfaceEndpoint", "DnsEntries"]}]}), ALWAYS),
    ("no grant for a bucket in another account", checks.check_bucket_policy,
     lambda t: _policy_text(t, '"Sid":"AllowProxyRoleReads","Effect":"Allow","Principal":{"AWS":"${ProxyFunctionRole.Arn}"}',
                            '"Sid":"AllowProxyRoleReads","Effect":"Allow","Principal":{"AWS":"${AWS::AccountId}"}'), ALWAYS),
    ("no public URL for proxy redirects", checks.check_proxy_function,
     lambda t: _props(t, "ProxyFunction")["Environment"]["Variables"].pop("S3PROXY_PUBLIC_URL"), ALWAYS),
    ("public URL from another name", checks.check_proxy_function,
     lambda t: _props(t, "ProxyFunction")["Environment"]["Variables"].update(S3PROXY_PUBLIC_URL={"Fn::Sub": "https://${LoadBalancer.DNSName}"}), ALWAYS),
]


def _endpoint_statement(t, sid):
    for s in _props(t, "S3InterfaceEndpoint")["PolicyDocument"]["Statement"]:
        if "Fn::If" in s:  # a statement that only some parameters include
            s = s["Fn::If"][1]
        if s.get("Sid") == sid:
            return s
    raise AssertionError(f"no interface endpoint statement {sid}")


def _check_area_text(t, old, new):
    """Edit the text of the bucket policy's DenyCheckPrincipalsOutsideCheckArea."""
    area = t["Outputs"]["RecommendedBucketPolicy"]["Value"]["Fn::Sub"][1]["CheckArea"]["Fn::If"][1]["Fn::Sub"]
    assert old in area[0], f"check area text {old!r} not found"
    area[0] = area[0].replace(old, new, 1)


# The statement this design replaced: a deny pinned to one endpoint ID.
PINNED_ENDPOINT_DENY = (
    '{"Sid":"DenyVpcReadsExceptListedPrincipals","Effect":"Deny","Principal":"*","Action":"s3:GetObject*",'
    ' "Resource":"arn:${AWS::Partition}:s3:::${BucketName}/*",'
    ' "Condition":{"StringEquals":{"aws:SourceVpce":"${S3InterfaceEndpoint}"},"ArnNotEquals":{"aws:PrincipalArn":"${ProxyFunctionRole.Arn}"}}},')


def _restore_pinned_deny(t):
    value = t["Outputs"]["RecommendedBucketPolicy"]["Value"]["Fn::Sub"]
    start = value[0].index('{"Sid":"DenyVpcReadsExceptListedPrincipals"')
    end = value[0].index('{"Sid":"AllowProxyRoleReads"')
    value[0] = value[0][:start] + PINNED_ENDPOINT_DENY + value[0][end:]


HAS_PREFIXES = lambda p: bool(p.get("KeyPrefixes"))  # noqa: E731
HAS_OTHER_READERS = lambda p: bool(p.get("OtherReaderArns"))  # noqa: E731
HAS_CHECKERS = lambda p: bool(p.get("CheckPrincipalArns"))  # noqa: E731
READ_ONLY = lambda p: p.get("ReadOnly") == "true"  # noqa: E731
WRITABLE = lambda p: not READ_ONLY(p)  # noqa: E731
CHECK_WRITABLE = lambda p: HAS_CHECKERS(p) and WRITABLE(p)  # noqa: E731


def _unconditional_statement(t, sid):
    """Take an interface endpoint statement out of its Fn::If."""
    statements = _props(t, "S3InterfaceEndpoint")["PolicyDocument"]["Statement"]
    for i, s in enumerate(statements):
        if "Fn::If" in s and s["Fn::If"][1].get("Sid") == sid:
            statements[i] = s["Fn::If"][1]
            return
    raise AssertionError(f"no conditional interface endpoint statement {sid}")


def _write_refuse_body(t):
    cfg = _props(t, "ProxyRuleWriteRefuse")["Actions"][0]["FixedResponseConfig"]
    cfg["MessageBody"] = cfg["MessageBody"]["Fn::If"][2]


def _rule_table_check(t, params):
    checks.check_rule_table(t, params, routes(params))


# Rule mutations that change a rule a read-only stack does not create
# (READ_ONLY_MUTATIONS covers those rules there).
RULES_A_READ_ONLY_STACK_LACKS = {"passthrough before /_direct", "passthrough misses DELETE",
                                 "passthrough on every path (bucket APIs reach S3)", "passthrough matches the bucket root",
                                 "signed writes never reach the function"}

# Read-only (Media Replication's replica): each breakage lets a write
# through somewhere. (name, check, change)
READ_ONLY_MUTATIONS = [
    ("passthrough rules in a read-only stack", _rule_table_check,
     lambda t: t["Conditions"].update(PassthroughEnabled={"Fn::Equals": [{"Ref": "UploadPassthrough"}, "true"]})),
    ("the signed-write relay rule in a read-only stack", _rule_table_check,
     lambda t: t["Conditions"].update(NoPassthrough={"Fn::Not": [{"Condition": "Writable"}]})),
    ("the writable refusal text in a read-only stack", _rule_table_check, _write_refuse_body),
    ("ShotGrid's endpoint writes in a read-only stack", checks.check_access, lambda t: _unconditional_statement(t, "ShotGridWrites")),
    ("check's endpoint writes in a read-only stack", checks.check_access,
     lambda t: t["Conditions"].update(CheckWritesEnabled={"Condition": "HasCheckPrincipals"})),
    ("the function not told it is read-only", checks.check_proxy_function,
     lambda t: _props(t, "ProxyFunction")["Environment"]["Variables"].pop("S3PROXY_READ_ONLY")),
    ("the function told it may write", checks.check_proxy_function,
     lambda t: _props(t, "ProxyFunction")["Environment"]["Variables"].update(S3PROXY_READ_ONLY="false")),
]
# Only ShotGrid's principals, and only object calls: each breakage runs in
# every combination it applies to. (name, check, change, applies)
PRINCIPAL_MUTATIONS = [
    ("the principal deny pinned to the interface endpoint's ID", checks.check_access,
     lambda t: _policy_text(t, '"StringEquals":{"aws:SourceVpc":"${TheVpc}"}', '"StringEquals":{"aws:SourceVpce":"${S3InterfaceEndpoint}"}'), ALWAYS),
    ("the endpoint-pinned deny of before", checks.check_access, _restore_pinned_deny, ALWAYS),
    ("ShotGrid left out of the principal deny's exceptions", checks.check_access,
     lambda t: _policy_text(t, ',"${ShotGridArns}"', ""), ALWAYS),
    ("the principal deny's exceptions turned around", checks.check_access,
     lambda t: _policy_text(t, '"ArnNotEquals":{"aws:PrincipalArn":["${ProxyFunctionRole.Arn}"', '"ArnEquals":{"aws:PrincipalArn":["${ProxyFunctionRole.Arn}"'), ALWAYS),
    ("anonymous reads let through the principal deny", checks.check_access,
     lambda t: _policy_text(t, '"StringEquals":{"aws:SourceVpc":"${TheVpc}"},', '"StringEquals":{"aws:SourceVpc":"${TheVpc}"},"Null":{"aws:PrincipalArn":"false"},'), ALWAYS),
    ("the principal deny also covers writes", checks.check_access,
     lambda t: _policy_text(t, '"DenyVpcReadsExceptListedPrincipals","Effect":"Deny","Principal":"*","Action":"s3:GetObject*"',
                            '"DenyVpcReadsExceptListedPrincipals","Effect":"Deny","Principal":"*","Action":"s3:*"'), ALWAYS),
    ("other readers not listed", checks.check_access, lambda t: _policy_text(t, "${OtherReaders}", ""), HAS_OTHER_READERS),
    ("check's principals left out of the principal deny's exceptions", checks.check_access,
     lambda t: _policy_text(t, "${CheckReaders}", ""), HAS_CHECKERS),
    ("check's principals read everything (no check-area deny)", checks.check_access,
     lambda t: _policy_text(t, "${CheckArea}", ""), HAS_CHECKERS),
    ("the check-area deny spares the whole bucket", checks.check_access,
     lambda t: _check_area_text(t, '"NotResource":[${Areas}]', '"NotResource":["arn:${AWS::Partition}:s3:::${BucketName}/*"]'), HAS_CHECKERS),
    ("the check-area deny spares the prefixes' s3proxy-check anywhere", checks.check_access,
     lambda t: _check_area_text(t, '"NotResource":[${Areas}]', '"NotResource":["arn:${AWS::Partition}:s3:::${BucketName}/*s3proxy-check/*"]'), HAS_CHECKERS),
    ("the check-area deny pinned to the interface endpoint", checks.check_access,
     lambda t: _check_area_text(t, '"aws:SourceVpc":"${Vpc}"', '"aws:SourceVpce":"${S3InterfaceEndpoint}"'), HAS_CHECKERS),
    ("check's endpoint writes on the whole prefixes", checks.check_access,
     lambda t: _endpoint_statement(t, "CheckWrites").update(Resource=_endpoint_statement(t, "ShotGridWrites")["Resource"]), CHECK_WRITABLE),
    ("check's endpoint writes for any principal", checks.check_access,
     lambda t: _endpoint_statement(t, "CheckWrites")["Condition"].pop("ArnEquals"), CHECK_WRITABLE),
    ("check's endpoint writes lack DeleteObject", checks.check_access,
     lambda t: _endpoint_statement(t, "CheckWrites")["Action"].remove("s3:DeleteObject"), CHECK_WRITABLE),
    ("check's endpoint writes in any account", checks.check_endpoint_policies,
     lambda t: _endpoint_statement(t, "CheckWrites")["Condition"].pop("StringEquals"), CHECK_WRITABLE),
    ("CheckPrincipalArns takes wildcards", checks.check_iam_parameters,
     lambda t: t["Parameters"]["CheckPrincipalArns"].update(AllowedPattern=".*"), ALWAYS),
    ("CheckPrincipalArns required", checks.check_iam_parameters,
     lambda t: t["Parameters"]["CheckPrincipalArns"].pop("Default"), ALWAYS),
    ("no TLS-only deny", checks.check_access,
     lambda t: _policy_text(t, '"aws:SecureTransport":"false"', '"aws:SecureTransport":"never"'), ALWAYS),
    ("interface endpoint back to s3:* on the bucket", checks.check_access,
     lambda t: _props(t, "S3InterfaceEndpoint").update(PolicyDocument={"Version": "2012-10-17", "Statement": [
         {"Sid": "ThisBucketOnly", "Effect": "Allow", "Principal": "*", "Action": "s3:*",
          "Resource": [{"Fn::Sub": "arn:${AWS::Partition}:s3:::${BucketName}"}, {"Fn::Sub": "arn:${AWS::Partition}:s3:::${BucketName}/*"}]}]}), ALWAYS),
    ("endpoint writes for any principal", checks.check_access,
     lambda t: _endpoint_statement(t, "ShotGridWrites")["Condition"].pop("ArnEquals"), WRITABLE),
    ("endpoint reads for any principal", checks.check_access,
     lambda t: _endpoint_statement(t, "ProxyRoleReads")["Condition"].pop("ArnEquals"), ALWAYS),
    ("endpoint writes in any account", checks.check_access,
     lambda t: _endpoint_statement(t, "ShotGridWrites")["Condition"].pop("StringEquals"), WRITABLE),
    ("endpoint reads in any account", checks.check_endpoint_policies,
     lambda t: _endpoint_statement(t, "ProxyRoleReads")["Condition"].pop("StringEquals"), ALWAYS),
    ("endpoint writes include ACLs", checks.check_access,
     lambda t: _endpoint_statement(t, "ShotGridWrites")["Action"].append("s3:PutObjectAcl"), WRITABLE),
    ("endpoint reads on the whole bucket", checks.check_access,
     lambda t: _endpoint_statement(t, "ProxyRoleReads").update(Resource={"Fn::Sub": "arn:${AWS::Partition}:s3:::${BucketName}/*"}), HAS_PREFIXES),
    ("endpoint lacks ListParts for ShotGrid", checks.check_access,
     lambda t: _endpoint_statement(t, "ShotGridWrites")["Action"].remove("s3:ListMultipartUploadParts"), WRITABLE),
    ("new-VPC gateway endpoint in any account", checks.check_endpoint_policies,
     lambda t: _props(t, "S3GatewayEndpoint")["PolicyDocument"]["Fn::If"][1]["Statement"][0].pop("Condition"), NEW_VPC),
    ("ShotGridPrincipalArns optional", checks.check_iam_parameters,
     lambda t: t["Parameters"]["ShotGridPrincipalArns"].update(Default=""), ALWAYS),
    ("ShotGridPrincipalArns takes anything", checks.check_iam_parameters,
     lambda t: t["Parameters"]["ShotGridPrincipalArns"].update(AllowedPattern=".*"), ALWAYS),
    ("ShotGridPrincipalArns takes session ARNs", checks.check_iam_parameters,
     lambda t: t["Parameters"]["ShotGridPrincipalArns"].update(
         AllowedPattern="^arn:aws[a-z-]*:(iam|sts)::[0-9]{12}:(role|user|assumed-role)/[A-Za-z0-9+=,.@_/-]{1,512}$"), ALWAYS),
    ("AccessLogBucket silent about what the logs hold", checks.check_iam_parameters,
     lambda t: t["Parameters"]["AccessLogBucket"].update(Description="Optional bucket for ALB access logs."), ALWAYS),
]


class TestIamEvaluator(unittest.TestCase):
    """The evaluator's own semantics, each against what AWS documents."""

    R = "arn:aws:s3:::b/shotgun/x.mov"

    def req(self, **kw):
        base = dict(principal="arn:aws:iam::111111111111:role/a", action="s3:GetObject", resource=self.R,
                    keys={"aws:SourceVpc": "vpc-1"}, resource_account="111111111111")
        base.update(kw)
        return iam_eval.Request(**base)

    def test_conditions(self):
        holds = iam_eval.condition_holds
        ctx = {"aws:SourceVpc": "vpc-1", "aws:PrincipalArn": "arn:aws:iam::111111111111:role/a"}
        cases = [
            ("negated operator, key absent", {"StringNotEquals": {"aws:SourceVpce": "vpce-1"}}, True),
            ("positive operator, key absent", {"StringEquals": {"aws:SourceVpce": "vpce-1"}}, False),
            ("IfExists, key absent", {"StringEqualsIfExists": {"aws:SourceVpce": "vpce-1"}}, True),
            ("IfExists, key present and different", {"StringEqualsIfExists": {"aws:SourceVpc": "vpc-2"}}, False),
            ("values OR", {"StringEquals": {"aws:SourceVpc": ["vpc-2", "vpc-1"]}}, True),
            ("negated values: none may match", {"StringNotEquals": {"aws:SourceVpc": ["vpc-2", "vpc-1"]}}, False),
            ("keys AND", {"StringNotEquals": {"aws:SourceVpc": "vpc-1", "aws:SourceVpce": "vpce-1"}}, False),
            ("operators AND", {"StringEquals": {"aws:SourceVpc": "vpc-1"}, "ArnNotEquals": {"aws:PrincipalArn": "arn:aws:iam::111111111111:role/a"}}, False),
            ("key names case-insensitive", {"StringEquals": {"AWS:SOURCEVPC": "vpc-1"}}, True),
            ("values case-sensitive", {"StringEquals": {"aws:SourceVpc": "VPC-1"}}, False),
            ("ArnEquals per part with wildcards", {"ArnEquals": {"aws:PrincipalArn": "arn:aws:iam::*:role/a"}}, True),
            ("ArnLike does not cross parts", {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111111111111:*/a"}}, True),
            ("ArnNotLike on another role", {"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::111111111111:role/b"}}, True),
            ("ArnNotEquals, key absent (anonymous)", {"ArnNotEquals": {"aws:userid": "x"}}, True),
            ("Bool", {"Bool": {"aws:SecureTransport": "false"}}, False),
            ("Null true on absent", {"Null": {"aws:SourceVpce": "true"}}, True),
            ("Null false on present", {"Null": {"aws:SourceVpc": "true"}}, False),
            ("NotIpAddress, key absent", {"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}}, True),
        ]
        ctx["aws:SecureTransport"] = "true"
        for name, cond, want in cases:
            with self.subTest(case=name):
                self.assertEqual(holds(cond, ctx), want)
        ip = {"aws:SourceIp": "192.0.2.9"}
        self.assertTrue(holds({"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}}, ip))
        self.assertFalse(holds({"NotIpAddress": {"aws:SourceIp": ["198.51.100.1/32", "192.0.2.0/24"]}}, ip))
        with self.assertRaises(iam_eval.Unsupported):
            holds({"NumericLessThan": {"s3:max-keys": "10"}}, ctx)

    def test_actions_resources_principals(self):
        applies = iam_eval.statement_applies
        s = {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject*", "Resource": "arn:aws:s3:::b/shotgun/*"}
        self.assertTrue(applies(s, self.req(action="s3:getobjectversion")), "actions are case-insensitive")
        self.assertTrue(applies(s, self.req(action="s3:GetObjectAttributes")))
        self.assertFalse(applies(s, self.req(action="s3:PutObject")))
        self.assertFalse(applies(s, self.req(resource="arn:aws:s3:::b/Shotgun/x.mov")), "resources are case-sensitive")
        self.assertFalse(applies(s, self.req(resource="arn:aws:s3:::b2/shotgun/x.mov")))
        self.assertTrue(applies(s, self.req(principal=None)), '"*" includes anonymous callers')
        named = dict(s, Principal={"AWS": "arn:aws:iam::111111111111:role/a"})
        self.assertTrue(applies(named, self.req()))
        self.assertFalse(applies(named, self.req(principal="arn:aws:iam::111111111111:role/b")))
        self.assertFalse(applies(named, self.req(principal=None)))
        self.assertTrue(applies(dict(s, Principal={"AWS": "111111111111"}), self.req()), "an account names its principals")
        with self.assertRaises(iam_eval.Unsupported):
            applies(dict(s, NotPrincipal={"AWS": "x"}), self.req())

    def test_decisions(self):
        allow = {"Effect": "Allow", "Principal": "*", "Action": "s3:*", "Resource": "*"}
        deny = {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}
        decide = iam_eval.decide
        self.assertFalse(decide(self.req(), {"Statement": [allow, deny]}), "an explicit deny wins")
        self.assertTrue(decide(self.req(), {"Statement": []}), "same account: the identity policy suffices")
        self.assertFalse(decide(self.req(identity_allows=False), {"Statement": []}), "nothing allows it")
        self.assertTrue(decide(self.req(identity_allows=False), {"Statement": [allow]}), "same account: the bucket policy suffices")
        cross = self.req(resource_account="222222222222")
        self.assertFalse(decide(cross, {"Statement": []}), "cross-account needs the bucket owner's grant")
        self.assertTrue(decide(cross, {"Statement": [allow]}))
        self.assertFalse(decide(self.req(), None, {"Statement": []}), "an endpoint policy is an allow list")
        self.assertTrue(decide(self.req(), None, iam_eval.FULL_ACCESS))
        self.assertFalse(decide(self.req(), None, {"Statement": [allow, deny]}))


def _private_ingress(t, logical_id):
    """The private-mode rule list of a security group (the ALB's is an
    Fn::If on IsPublic; the endpoint's is the list itself)."""
    rules = _props(t, logical_id)["SecurityGroupIngress"]
    return rules["Fn::If"][2] if isinstance(rules, dict) else rules


def _drop_ingress(t, logical_id, condition):
    rules = _private_ingress(t, logical_id)
    kept = [r for r in rules if not (isinstance(r, dict) and r.get("Fn::If", [None])[0] == condition)]
    assert len(kept) < len(rules), f"no {condition} rule in {logical_id}"
    rules[:] = kept


def _output(t, key):
    return t["Outputs"][key]


PRIVATE = lambda p: p.get("Visibility", "private") == "private"
CIDRS = lambda p: len([c for c in p.get("StudioCidrs", "").split(",") if c])
PREFIX_LIST = lambda p: bool(p.get("StudioPrefixListId"))
# The network input, the order of the questions, the checks before the ALB
# and the outputs `s3proxy check --stack` reads. (name, check, change,
# applies(params)); each runs in every combination it applies to.
DEPLOY_MUTATIONS = [
    ("ALB admits only the first studio range", checks.check_visibility,
     lambda t: _drop_ingress(t, "AlbSecurityGroup", "HasStudioCidr2"), lambda p: PRIVATE(p) and CIDRS(p) > 1),
    ("ALB ignores the fifth studio range", checks.check_visibility,
     lambda t: _drop_ingress(t, "AlbSecurityGroup", "HasStudioCidr5"), lambda p: PRIVATE(p) and CIDRS(p) == 5),
    ("ALB ignores the prefix list", checks.check_visibility,
     lambda t: _drop_ingress(t, "AlbSecurityGroup", "HasStudioPrefixList"), lambda p: PRIVATE(p) and PREFIX_LIST(p)),
    ("endpoint ignores the prefix list", checks.check_studio_ingress,
     lambda t: _drop_ingress(t, "EndpointSecurityGroup", "HasStudioPrefixList"), PREFIX_LIST),
    ("endpoint admits only the first studio range", checks.check_studio_ingress,
     lambda t: _drop_ingress(t, "EndpointSecurityGroup", "HasStudioCidr2"), lambda p: CIDRS(p) > 1),
    ("endpoint open to everyone", checks.check_studio_ingress,
     lambda t: _private_ingress(t, "EndpointSecurityGroup").append(
         {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0"}), ALWAYS),
    ("Rules accept no studio network at all", checks.check_rules_section,
     lambda t: t["Rules"].pop("StudioNetworkGiven"), ALWAYS),
    ("new-VPC subnets fixed again", checks.check_network_parameters,
     lambda t: _props(t, "PrivateSubnet1").update(CidrBlock="10.100.0.0/24"), NEW_VPC),
    ("two new-VPC subnets share a block", checks.check_network_parameters,
     lambda t: _props(t, "PrivateSubnet2").update(CidrBlock=_props(t, "PrivateSubnet1")["CidrBlock"]), NEW_VPC),
    ("new-VPC default is ShotGrid's VPC", checks.check_network_parameters,
     lambda t: t["Parameters"]["VpcCidr"].update(Default="10.100.0.0/16"), ALWAYS),
    ("studio ranges take a placeholder", checks.check_network_parameters,
     lambda t: t["Parameters"]["StudioCidrs"].pop("AllowedPattern"), ALWAYS),
    ("checks skip the certificate", checks.check_network_checks,
     lambda t: _cr(t, "NetworkChecks").pop("CertificateArn"), ALWAYS),
    ("certificate checked for another name", checks.check_network_checks,
     lambda t: _cr(t, "NetworkChecks").update(DomainName="studio.example.com"), ALWAYS),
    ("certificate region compared with a constant", checks.check_network_checks,
     lambda t: _cr(t, "NetworkChecks").update(Region="us-east-1"), ALWAYS),
    ("checks skip the bucket's region", checks.check_network_checks,
     lambda t: _cr(t, "NetworkChecks").pop("BucketName"), ALWAYS),
    ("checks skip the prefix list", checks.check_network_checks,
     lambda t: _cr(t, "NetworkChecks").pop("StudioPrefixListId"), ALWAYS),
    ("ALB built beside the checks", checks.check_network_checks,
     lambda t: _res(t, "LoadBalancer").pop("DependsOn"), ALWAYS),
    ("custom resource may describe every certificate", checks.check_custom_resource_role,
     lambda t: _props(t, "EndpointTargetsFunctionRole")["Policies"][0]["PolicyDocument"]["Statement"][2].update(Resource="*"),
     ALWAYS),
    ("SignedHost output is the empty parameter", checks.check_outputs,
     lambda t: _output(t, "SignedHost").update(Value={"Ref": "SignedHost"}), lambda p: not p.get("SignedHost")),
    ("BucketRegion output is the empty parameter", checks.check_outputs,
     lambda t: _output(t, "BucketRegion").update(Value={"Ref": "BucketRegion"}), lambda p: not p.get("BucketRegion")),
    ("KeyPrefixes output empty instead of absent", checks.check_outputs,
     lambda t: _output(t, "KeyPrefixes").pop("Condition"), lambda p: not p.get("KeyPrefixes")),
    ("AllowedOrigins output missing", checks.check_outputs,
     lambda t: t["Outputs"].pop("AllowedOrigins"), lambda p: bool(p.get("AllowedOrigins"))),
    ("ProxyUrl without https", checks.check_outputs,
     lambda t: _output(t, "ProxyUrl").update(Value={"Ref": "ProxyDomainName"}), ALWAYS),
    ("Version output not a release", checks.check_outputs,
     lambda t: _output(t, "Version").update(Value="dev"), ALWAYS),
    ("ReadOnly output missing", checks.check_outputs,
     lambda t: t["Outputs"].pop("ReadOnly"), ALWAYS),
]

# The parameter order and labels, on the template as written (the console
# and sam deploy --guided read that).
ORDER_MUTATIONS = [
    ("a new VPC's CIDR asked first", lambda t: t.update(Parameters={
        "VpcCidr": t["Parameters"]["VpcCidr"], **{k: v for k, v in t["Parameters"].items() if k != "VpcCidr"}})),
    ("the existing VPC asked after the bucket", lambda t: t.update(Parameters={
        **{k: v for k, v in t["Parameters"].items() if k != "ExistingVpcId"}, "ExistingVpcId": t["Parameters"]["ExistingVpcId"]})),
    ("a parameter without a label", lambda t: t["Metadata"]["AWS::CloudFormation::Interface"]["ParameterLabels"].pop("StudioCidrs")),
    ("a parameter in no group", lambda t: t["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"][1]["Parameters"].remove(
        "StudioPrefixListId")),
    ("a parameter without a description", lambda t: t["Parameters"]["StudioPrefixListId"].pop("Description")),
]

class TestChecksCatchBreakage(unittest.TestCase):
    def assert_mutations_fail(self, mutations):
        """Each (name, check, change, applies) passes its check on every
        combination it applies to, fails it once changed, and applies to at
        least one."""
        for name, check, change, applies in mutations:
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
                    self.assertNotEqual(broken, original, "the breakage changed nothing")
                    with self.assertRaises(AssertionError, msg=f"{check.__name__} missed: {name} in {combo}"):
                        check(broken, params)
            self.assertTrue(ran, f"mutation {name!r} applies to no combination")

    def test_deploy_mutations_fail_in_every_combination(self):
        self.assert_mutations_fail(DEPLOY_MUTATIONS)

    def test_order_mutations_fail(self):
        checks.check_parameter_order(load(TEMPLATE))
        for name, change in ORDER_MUTATIONS:
            with self.subTest(mutation=name):
                broken = load(TEMPLATE)
                change(broken)
                with self.assertRaises(AssertionError, msg=f"check_parameter_order missed: {name}"):
                    checks.check_parameter_order(broken)

    def test_version_check_reads_the_go_constant(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "release.go")
            with open(path, "w", encoding="utf-8") as f:
                f.write('package release\n\n// Version is the release.\nconst Version = "9.8.7"\n')
            self.assertEqual(checks.release_version(path), "9.8.7")
            with open(path, "w", encoding="utf-8") as f:
                f.write("package release\n")
            with self.assertRaises(AssertionError):
                checks.release_version(path)
            self.assertIsNone(checks.release_version(os.path.join(d, "absent.go")))

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
            ("5: no studio network in prod", lambda c: prod_override(c, "StudioCidrs", "10.0.0.0/8") or
             c["prod"]["deploy"]["parameters"].update(parameter_overrides=c["prod"]["deploy"]["parameters"]["parameter_overrides"].replace('StudioCidrs="10.0.0.0/8" ', "")),
             parameters),
            ("region for deploy only", lambda c: c["default"]["deploy"]["parameters"].update(
                region=c["default"]["global"]["parameters"].pop("region")), parameters),
            ("cached builds again", lambda c: c["prod"]["build"]["parameters"].update(cached=True), parameters),
            ("[default] builds a new VPC", lambda c: c["default"]["deploy"]["parameters"].update(
                parameter_overrides=" ".join(f'{k}="{v}"' for k, v in _overrides(c, "default").items()
                                             if not k.startswith("Existing"))), parameters),
            ("replica passes uploads through", lambda c: c["replica"]["deploy"]["parameters"].update(
                parameter_overrides=c["replica"]["deploy"]["parameters"]["parameter_overrides"].replace(
                    'UploadPassthrough="false"', 'UploadPassthrough="true"')), parameters),
            ("replica writable", lambda c: c["replica"]["deploy"]["parameters"].update(
                parameter_overrides=c["replica"]["deploy"]["parameters"]["parameter_overrides"].replace(
                    ' ReadOnly="true"', "")), parameters),
            ("no replica environment", lambda c: c.pop("replica"), parameters),
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
        checklist = re.search(r"^## 10\. First-deployment checklist.*?(?=^## )", deploy, re.S | re.M).group(0)
        rows = re.findall(r"^\| \d+ \|.*$", checklist, re.M)
        for name, check, change in [
            ("4: §5 forgets the principal deny", "policy",
             lambda d, m: (d.replace("`DenyVpcReadsExceptListedPrincipals`", "the principal deny"), m)),
            ("§5 stages the principal deny again", "policy",
             lambda d, m: (d.replace("Add\n   `DenyVpcReadsExceptListedPrincipals`, `DenyCheckPrincipalsOutsideCheckArea`\n   (with `CheckPrincipalArns` set) and `AllowProxyRoleReads` as they are;",
                                     "Add `DenyCheckPrincipalsOutsideCheckArea` and `AllowProxyRoleReads`;"), m)),
            ("§5 loses the shared-VPC subsection", "policy",
             lambda d, m: (d.replace("### Other readers in a shared VPC", "### Other readers"), m)),
            ("migrate.md forgets the principal deny", "policy",
             lambda d, m: (d, m.replace("`DenyVpcReadsExceptListedPrincipals`", "the deny"))),
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

    def test_audit_docs_breakages(self):
        operate = TestDocs.read("docs/operate.md")
        check_audit_docs(operate)
        for name, change in [
            ("no audit section", lambda o: o.replace("## Audit and logs", "## Audit")),
            ("CloudTrail not named", lambda o: o.replace("CloudTrail", "the trail")),
            ("logs without the incident role", lambda o: o.replace("incident-response role", "security team")),
            ("logs kept forever", lambda o: o.replace("**expiring within days**", "**kept**")),
            ("logs in any account", lambda o: o.replace("**in this stack's account.**", "**anywhere.**")),
            ("the minted token not mentioned", lambda o: o.replace("session token", "token")),
        ]:
            with self.subTest(breakage=name):
                broken = change(operate)
                self.assertNotEqual(broken, operate, "the breakage changed nothing")
                with self.assertRaises(AssertionError, msg=f"audit docs check missed: {name}"):
                    check_audit_docs(broken)

    def test_doc_command_breakages(self):
        deploy, migrate = TestDocs.read("docs/deploy.md"), TestDocs.read("docs/migrate.md")
        template = load(TEMPLATE)
        known = DocNames(set(template["Parameters"]), set(template["Outputs"]), cli_flags, SAM_FLAGS)
        check_doc_commands(deploy, known)
        check_doc_commands(migrate, known)
        check_deployer_policy(deploy, translated("public-new"))
        for name, doc, old, new in [
            ("an s3proxy flag that exists nowhere", "deploy", "--origin https://studio.shotgrid.autodesk.com", "--site https://studio.shotgrid.autodesk.com"),
            ("a misspelt pending flag", "deploy", '--connect-to "$(out LoadBalancerDnsName)"', '--connect "$(out LoadBalancerDnsName)"'),
            ("an s3proxy command that exists nowhere", "deploy", "s3proxy preflight\n", "s3proxy verify\ns3proxy verify --x\n"),
            ("a sam flag that exists nowhere", "deploy", "sam deploy --on-failure DELETE", "sam deploy --on-fail DELETE"),
            ("an output that does not exist", "deploy", "out ProxyUrl", "out ProxyURL"),
            ("a parameter that does not exist", "deploy", 'set `Architecture="x86_64"`', 'set `Arch="x86_64"`'),
            ("the old parameter name", "migrate", "StudioCidrs=", "StudioCidr="),
        ]:
            with self.subTest(breakage=name):
                text = deploy if doc == "deploy" else migrate
                self.assertIn(old, text, f"the breakage's text is gone from docs/{doc}.md")
                broken = text.replace(old, new, 1)
                if name == "an s3proxy command that exists nowhere":
                    broken = broken.replace("s3proxy verify\n", "`s3proxy verify`\n", 1)
                with self.assertRaises(AssertionError, msg=f"docs command check missed: {name}"):
                    check_doc_commands(broken, known)
        for name, change in [
            ("no iam:PassRole", lambda d: d.replace('"Action": "iam:PassRole"', '"Action": "iam:GetRole"', 1)),
            ("PassRole to any service", lambda d: d.replace('"iam:PassedToService": "lambda.amazonaws.com"', '"iam:PassedToService": "*"', 1)),
            ("no CORS call", lambda d: d.replace('"s3:PutBucketCORS", ', "", 1)),
            ("no Global Accelerator", lambda d: d.replace('"globalaccelerator:', '"accelerator:')),
            ("no ModifyListenerAttributes", lambda d: d.replace('"elasticloadbalancing:ModifyListenerAttributes", ', "", 1)),
            ("no kms:DescribeKey", lambda d: d.replace('"Action": "kms:DescribeKey"', '"Action": "kms:ListKeys"', 1)),
            ("no HeadBucket (s3:ListBucket on the media bucket)", lambda d: d.replace('"s3:GetBucketLocation", "s3:ListBucket"]', '"s3:GetBucketLocation"]', 1)),
            ("no preflight writes", lambda d: d.replace("<prefix>s3proxy-preflight/*", "<prefix>s3proxy-check/*", 1)),
        ]:
            with self.subTest(breakage=name):
                broken = change(deploy)
                self.assertNotEqual(broken, deploy, "the breakage changed nothing")
                with self.assertRaises(AssertionError, msg=f"deployer policy check missed: {name}"):
                    check_deployer_policy(broken, translated("public-new"))

    def test_cutover_breakages(self):
        deploy, migrate = TestDocs.read("docs/deploy.md"), TestDocs.read("docs/migrate.md")
        check_cutover_order(deploy, migrate)
        sections = dict(_sections(migrate))
        switch = next(k for k in sections if re.search(r"^## \d+\. Switch", k))
        check = next(k for k in sections if "Prove it" in k)
        for name, d, m in [
            ("switch before the check", deploy, migrate.replace(check + sections[check], "").replace(
                "## 8. Rollback", check + sections[check] + "## 8. Rollback")),
            ("the old clear-the-setting rollback", deploy.replace(
                "Do **not** clear \"S3 Proxy Host Address\" as a rollback:", "Quickest: clear \"S3 Proxy Host Address\" so"), migrate),
            ("no CORS step", deploy, migrate.replace("proxy-redirect-origin-null", "extra").replace("put-bucket-cors", "x")),
            ("no date for the old stack", deploy, migrate.replace("14 days after", "some time after")),
            ("the hand-made listener forgotten", deploy, migrate.replace("delete-listener", "delete-stack")),
            ("deploy.md goes live before its check", deploy.replace("## 11. Going live", "## 6b. Going live", 1).replace(
                "## 6. Bucket CORS", "## 11. Bucket CORS", 1), migrate),
        ]:
            with self.subTest(breakage=name):
                self.assertNotEqual((d, m), (deploy, migrate), "the breakage changed nothing")
                with self.assertRaises(AssertionError, msg=f"cutover check missed: {name}"):
                    check_cutover_order(d, m)

    def test_network_and_policy_mutations_fail_in_every_combination(self):
        self.assert_mutations_fail(NETWORK_AND_POLICY_MUTATIONS)

    def test_read_only_mutations_fail(self):
        self.assert_mutations_fail([(name, check, change, READ_ONLY) for name, check, change in READ_ONLY_MUTATIONS])

    def test_principal_mutations_fail_in_every_combination(self):
        self.assert_mutations_fail(PRINCIPAL_MUTATIONS)

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
                if READ_ONLY(params) and name in RULES_A_READ_ONLY_STACK_LACKS:
                    continue
                with self.subTest(mutation=name, combo=combo):
                    broken = copy.deepcopy(translated(combo))
                    change(broken)
                    with self.assertRaises(AssertionError, msg=f"rule table check missed: {name}"):
                        checks.check_rule_table(broken, params, routes(params))

    def test_second_direct_rule_mutations(self):
        for combo, params in COMBOS.items():
            count = len(params.get("KeyPrefixes", "").split(","))
            if count < 4:
                continue
            fifth = [("fifth prefix never passed through", lambda t: t["Resources"].pop("ProxyRulePassthrough3"))] if count == 5 else []
            for name, change in [
                ("no second /_direct rule", lambda t: t["Resources"].pop("ProxyRuleDirect2")),
                ("fourth prefix dropped", lambda t: _props(t, "ProxyRuleDirect2")["Conditions"][1]["PathPatternConfig"]["Values"].pop(0)),
                ("six values in one rule", lambda t: _props(t, "ProxyRuleDirect2")["Conditions"][0]["HttpRequestMethodConfig"].update(
                    Values=["GET", "HEAD", "OPTIONS", "PUT"])),
                ("no second passthrough rule", lambda t: t["Resources"].pop("ProxyRulePassthrough2")),
                ("six values in a passthrough rule", lambda t: _props(t, "ProxyRulePassthrough2")["Conditions"][1]["PathPatternConfig"]["Values"].append(
                    "/x/*")),
            ] + fifth:
                with self.subTest(mutation=name, combo=combo):
                    broken = copy.deepcopy(translated(combo))
                    change(broken)
                    with self.assertRaises(AssertionError, msg=f"rule table check missed: {name}"):
                        checks.check_rule_table(broken, params, routes(params))

    def test_routes_drift_fails_the_table_check(self):
        for name, drift in [
            ("a priority", lambda d: d["rules"][0].update(priority=d["rules"][0]["priority"] + 1)),
            ("a fixed body", lambda d: next(r for r in d["rules"] if r["action"]["type"] == "fixed-response")["action"]["response"].update(
                body="<Error/>")),
            ("a query pair", lambda d: next(r for r in d["rules"] if r.get("query"))["query"].pop()),
            ("a response header", lambda d: d["responseHeaders"][0].update(value="sniff")),
        ]:
            with self.subTest(drift=name):
                drifted = routes(COMBOS["private-new"])
                drift(drifted)
                with self.assertRaises(AssertionError):
                    checks.check_rule_table(translated("private-new"), COMBOS["private-new"], drifted)

    def test_path_style_mutation_fails_the_table_check(self):
        # Object patterns for a signed host that does not name the bucket
        # are /<bucket>/<prefix>*; a template that forgets it is caught.
        for combo in ("private-new", "public-existing"):
            params = dict(COMBOS[combo], SignedHost="s3.eu-west-1.amazonaws.com")
            checks.check_rule_table(translated(combo), params, routes(params))
            broken = copy.deepcopy(translated(combo))
            broken["Conditions"]["PathStyleSignedHost"] = {"Fn::Equals": ["a", "b"]}
            with self.subTest(combo=combo), self.assertRaises(AssertionError):
                checks.check_rule_table(broken, params, routes(params))

    def test_web_acl_mutations(self):
        arn = "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/s3proxy-rate/0a1b2c3d-0000-4000-8000-000000000000"
        for name, value, change in [
            ("attached without the parameter", "", lambda t: _res(t, "LoadBalancerWebAcl").pop("Condition")),
            ("attached to the listener", arn, lambda t: _props(t, "LoadBalancerWebAcl").update(ResourceArn={"Ref": "HttpsListener"})),
            ("another ACL than the parameter's", arn, lambda t: _props(t, "LoadBalancerWebAcl").update(WebACLArn=arn.replace("rate", "other"))),
            ("never attached", arn, lambda t: t["Resources"].pop("LoadBalancerWebAcl")),
            ("WAF Classic ARNs accepted", arn, lambda t: t["Parameters"]["WebAclArn"].update(AllowedPattern="^.*$")),
        ]:
            for combo in COMBOS:
                with self.subTest(mutation=name, combo=combo):
                    params = dict(COMBOS[combo], WebAclArn=value)
                    checks.check_web_acl(translated(combo), params)
                    broken = copy.deepcopy(translated(combo))
                    change(broken)
                    with self.assertRaises(AssertionError, msg=f"check_web_acl missed: {name}"):
                        checks.check_web_acl(broken, params)


if __name__ == "__main__":
    unittest.main()
