"""A small CloudFormation evaluator for tests.

It resolves a (translated) template for one set of parameter values: which
conditions hold, which resources and outputs exist, and what their property
values become once Ref, Fn::Sub, Fn::If and friends are applied. Values that
only exist after deployment (resource Refs, most GetAtts) resolve to readable
placeholders, or to fakes given in `attributes`.

This is not CloudFormation. It implements what this template uses, and raises
on anything else, so a new intrinsic fails loudly instead of passing silently.
"""

import copy
import ipaddress
import re

NO_VALUE = object()

REGION = "eu-west-1"
ACCOUNT = "123456789012"
STACK_NAME = "media-proxy"
STACK_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK_NAME}/0a1b2c3d-4e5f-6789-abcd-ef0123456789"

# What the S3 interface endpoint's DnsEntries look like (regional name first,
# then one per AZ), per the EC2 DescribeVpcEndpoints documentation.
ENDPOINT_ZONE = "Z7HUB22UULQXV"
ENDPOINT_REGIONAL = f"*.vpce-0a1b2c3d4e5f60718-abcdefgh.s3.{REGION}.vpce.amazonaws.com"
# The template no longer reads DnsEntries (no documented order); the custom
# resource returns the regional name, without "*.", as RegionalDnsName.
DEFAULT_ATTRIBUTES = {
    "EndpointTargets.RegionalDnsName": ENDPOINT_REGIONAL[2:],
    "S3InterfaceEndpoint.DnsEntries": [
        f"{ENDPOINT_ZONE}:{ENDPOINT_REGIONAL}",
        f"{ENDPOINT_ZONE}:*.vpce-0a1b2c3d4e5f60718-abcdefgh-{REGION}a.s3.{REGION}.vpce.amazonaws.com",
    ],
}


class Unsupported(Exception):
    pass


class Evaluation:
    """One template evaluated with one set of parameter values."""

    def __init__(self, template, parameters=None, attributes=None):
        self.template = copy.deepcopy(template)
        self.attributes = dict(DEFAULT_ATTRIBUTES, **(attributes or {}))
        self.params = {}
        for name, spec in self.template.get("Parameters", {}).items():
            value = (parameters or {}).get(name, spec.get("Default"))
            if value is None:
                raise ValueError(f"parameter {name} has no default and no value")
            value = str(value) if not isinstance(value, list) else value
            if spec.get("Type") == "CommaDelimitedList" and isinstance(value, str):
                value = value.split(",")
            self.params[name] = value
        unknown = set(parameters or {}) - set(self.params)
        if unknown:
            raise ValueError(f"unknown parameters {sorted(unknown)}")
        self.pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::StackName": STACK_NAME,
            "AWS::StackId": STACK_ID,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
        self._conditions = {}

    # ---------------------------------------------------------------- queries

    def condition(self, name):
        if name not in self._conditions:
            definition = self.template.get("Conditions", {}).get(name)
            if definition is None:
                raise KeyError(f"no condition {name}")
            self._conditions[name] = bool(self.resolve(definition))
        return self._conditions[name]

    def exists(self, item):
        cond = item.get("Condition")
        return cond is None or self.condition(cond)

    def resources(self, type_=None):
        """The resources that exist, as {logical ID: raw resource}."""
        return {
            k: v
            for k, v in self.template.get("Resources", {}).items()
            if self.exists(v) and (type_ is None or v.get("Type") == type_)
        }

    def properties(self, logical_id):
        """The resolved properties of an existing resource."""
        resource = self.resources()[logical_id]
        return self.resolve(resource.get("Properties", {}))

    def outputs(self):
        return {
            k: self.resolve(v["Value"])
            for k, v in self.template.get("Outputs", {}).items()
            if self.exists(v)
        }

    def rule_failures(self):
        """AssertDescriptions of the template Rules these parameters break."""
        failures = []
        for name, rule in self.template.get("Rules", {}).items():
            if "RuleCondition" in rule and not self.resolve(rule["RuleCondition"]):
                continue
            for assertion in rule.get("Assertions", []):
                if not self.resolve(assertion["Assert"]):
                    failures.append(f"{name}: {assertion.get('AssertDescription', '')}")
        return failures

    # ------------------------------------------------------------- resolution

    def resolve(self, value):
        if isinstance(value, list):
            out = [self.resolve(v) for v in value]
            return [v for v in out if v is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref" or key.startswith("Fn::") or key == "Condition":
                return self._function(key, arg)
        out = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not NO_VALUE}

    def _ref(self, name):
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.params:
            return self.params[name]
        if name in self.template.get("Resources", {}):
            return self.attributes.get(name, f"<{name}>")
        raise KeyError(f"Ref to unknown name {name}")

    def _getatt(self, resource, attribute):
        if resource not in self.template.get("Resources", {}):
            raise KeyError(f"GetAtt on unknown resource {resource}")
        return self.attributes.get(f"{resource}.{attribute}", f"<{resource}.{attribute}>")

    def _sub(self, text, variables):
        def replace(m):
            name = m.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                v = variables[name]
            elif "." in name and name.split(".", 1)[0] in self.template.get("Resources", {}):
                v = self._getatt(*name.split(".", 1))
            else:
                v = self._ref(name)
            if not isinstance(v, str):
                raise Unsupported(f"Fn::Sub variable {name} is not a string: {v!r}")
            return v

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def _function(self, key, arg):
        r = self.resolve
        if key == "Ref":
            return self._ref(arg)
        if key == "Condition":
            return self.condition(arg)
        if key == "Fn::GetAtt":
            resource, attribute = arg.split(".", 1) if isinstance(arg, str) else arg
            return self._getatt(resource, attribute)
        if key == "Fn::If":
            cond, yes, no = arg
            return r(yes) if self.condition(cond) else r(no)
        if key == "Fn::Equals":
            a, b = (r(x) for x in arg)
            return a == b
        if key == "Fn::Not":
            return not r(arg[0])
        if key == "Fn::And":
            return all(r(x) for x in arg)
        if key == "Fn::Or":
            return any(r(x) for x in arg)
        if key == "Fn::EachMemberEquals":
            values, want = r(arg[0]), r(arg[1])
            return all(v == want for v in values)
        if key == "Fn::Contains":
            values, want = r(arg[0]), r(arg[1])
            return want in values
        if key == "Fn::Join":
            delimiter, items = arg
            parts = r(items)
            if not all(isinstance(p, str) for p in parts):
                raise Unsupported(f"Fn::Join of non-strings: {parts!r}")
            return delimiter.join(parts)
        if key == "Fn::Split":
            delimiter, text = arg[0], r(arg[1])
            return text.split(delimiter)
        if key == "Fn::Select":
            index, items = int(r(arg[0])), r(arg[1])
            if index >= len(items):
                raise IndexError(f"Fn::Select index {index} out of {items!r}")
            return items[index]
        if key == "Fn::Sub":
            if isinstance(arg, str):
                return self._sub(arg, {})
            text, variables = arg
            return self._sub(text, {k: r(v) for k, v in variables.items()})
        if key == "Fn::Cidr":
            # The first count blocks of cidrBits host bits each, in order, as
            # CloudFormation documents it; too few is an error there too.
            block, count, bits = r(arg[0]), int(r(arg[1])), int(r(arg[2]))
            network = ipaddress.ip_network(block, strict=False)
            subnets = []
            for s in network.subnets(new_prefix=network.max_prefixlen - bits):
                if len(subnets) == count:
                    break
                subnets.append(str(s))
            if len(subnets) < count:
                raise ValueError(f"Fn::Cidr cannot carve {count} /{network.max_prefixlen - bits} blocks from {block}")
            return subnets
        if key == "Fn::GetAZs":
            return [f"{REGION}a", f"{REGION}b", f"{REGION}c"]
        raise Unsupported(f"intrinsic {key} is not implemented in the test evaluator")
