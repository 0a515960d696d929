"""A small IAM policy evaluator for the policies the template emits.

It answers, for one S3 request, what the bucket policy, the VPC endpoint's
policy and the caller's identity policy make of it, with the semantics AWS
documents:

- "Policy evaluation logic": an explicit Deny in any policy wins; a VPC
  endpoint policy must allow the request as well (it is an allow list);
  otherwise an Allow in the identity or the bucket policy grants it (same
  account) or both must (cross-account).
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
  https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-access.html
- Condition blocks: operators AND together, keys within an operator AND
  together, the values of one key OR together; a negated operator
  (StringNotEquals, ArnNotEquals, ArnNotLike, NotIpAddress ...) is true when
  the key is absent from the request; a positive one is false then, unless
  it ends in IfExists. Condition key names are case-insensitive, values are
  not (String*, Arn*).
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html
- Actions match case-insensitively with * and ? wildcards; resources
  case-sensitively with them; ArnEquals and ArnLike compare the six
  colon-separated parts of an ARN one by one, each with wildcards.

- NotResource: the statement applies to every resource the list does not
  match (with the same wildcards as Resource).
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notresource.html

It implements what the template's policies use and raises Unsupported on
anything else (NotPrincipal, NotAction, a statement with both Resource and
NotResource, an unknown operator), so a new construct fails the tests
instead of being misread.
"""

import fnmatch
import ipaddress
from dataclasses import dataclass, field


class Unsupported(Exception):
    pass


def _list(v):
    return v if isinstance(v, list) else [v]


def _wild(pattern, value, case=True):
    if case:
        return fnmatch.fnmatchcase(value, pattern)
    return fnmatch.fnmatchcase(value.lower(), pattern.lower())


def _arn_match(pattern, value):
    p, v = pattern.split(":", 5), value.split(":", 5)
    if len(p) != 6 or len(v) != 6:
        return False
    return all(fnmatch.fnmatchcase(b, a) for a, b in zip(p, v))


def _string_equals(pattern, value):
    return pattern == value


def _ip_in(pattern, value):
    try:
        return ipaddress.ip_address(value) in ipaddress.ip_network(pattern, strict=False)
    except ValueError:
        return False


def _bool(pattern, value):
    return str(pattern).lower() == str(value).lower()


# operator -> (how one policy value matches one request value, negated)
OPERATORS = {
    "StringEquals": (_string_equals, False),
    "StringNotEquals": (_string_equals, True),
    "StringLike": (lambda p, v: _wild(p, v), False),
    "StringNotLike": (lambda p, v: _wild(p, v), True),
    "ArnEquals": (_arn_match, False),
    "ArnLike": (_arn_match, False),
    "ArnNotEquals": (_arn_match, True),
    "ArnNotLike": (_arn_match, True),
    "Bool": (_bool, False),
    "IpAddress": (_ip_in, False),
    "NotIpAddress": (_ip_in, True),
}


def condition_holds(condition, context):
    """Whether a Condition block holds for a request context ({key: value
    or [values]}; absent keys are simply missing)."""
    ctx = {k.lower(): _list(v) for k, v in context.items()}
    for operator, block in (condition or {}).items():
        if_exists = operator.endswith("IfExists")
        base = operator[: -len("IfExists")] if if_exists else operator
        if base == "Null":
            for key, want in block.items():
                absent = key.lower() not in ctx
                if absent != _bool(want, "true"):
                    return False
            continue
        if base not in OPERATORS:
            raise Unsupported(f"condition operator {operator}")
        match, negated = OPERATORS[base]
        for key, values in block.items():
            got = ctx.get(key.lower())
            if got is None:
                if negated or if_exists:
                    continue
                return False
            hit = any(match(str(p), str(v)) for p in _list(values) for v in got)
            if hit == negated:
                return False
    return True


def _principal_matches(spec, principal):
    """A statement's Principal against the caller: "*" is everyone,
    anonymous included; {"AWS": ...} names an ARN (a role matches its
    sessions: the request carries the role's ARN), an account ID or its
    root, which stands for every principal of that account."""
    if spec == "*" or spec == {"AWS": "*"}:
        return True
    if not isinstance(spec, dict) or set(spec) - {"AWS"}:
        raise Unsupported(f"Principal {spec!r}")
    if principal is None:
        return False
    account = principal.split(":")[4]
    for p in _list(spec["AWS"]):
        if p == principal or p == account or p == f"arn:aws:iam::{account}:root":
            return True
    return False


def statement_applies(statement, request):
    for unsupported in ("NotPrincipal", "NotAction"):
        if unsupported in statement:
            raise Unsupported(unsupported)
    if ("Resource" in statement) == ("NotResource" in statement):
        raise Unsupported("a statement needs exactly one of Resource and NotResource")
    if "Principal" in statement and not _principal_matches(statement["Principal"], request.principal):
        return False
    if not any(_wild(a, request.action, case=False) for a in _list(statement["Action"])):
        return False
    if "NotResource" in statement:
        if any(_wild(r, request.resource) for r in _list(statement["NotResource"])):
            return False
    elif not any(_wild(r, request.resource) for r in _list(statement["Resource"])):
        return False
    return condition_holds(statement.get("Condition"), request.context())


def evaluate(policy, request):
    """("Deny", sids) when a Deny statement applies, ("Allow", sids) when
    only Allows do, ("NoMatch", []) otherwise."""
    if policy is None:
        return "NoMatch", []
    denies, allows = [], []
    for i, s in enumerate(policy["Statement"]):
        if s.get("Effect") not in ("Allow", "Deny"):
            raise Unsupported(f"Effect {s.get('Effect')!r}")
        if statement_applies(s, request):
            (denies if s["Effect"] == "Deny" else allows).append(s.get("Sid", f"#{i}"))
    if denies:
        return "Deny", denies
    if allows:
        return "Allow", allows
    return "NoMatch", []


# AWS's default endpoint policy: full access.
FULL_ACCESS = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}


@dataclass
class Request:
    """One S3 request as IAM sees it. principal is the caller's ARN (the
    role's for an assumed-role session), None when anonymous. keys are the
    network keys (aws:SourceVpc, aws:SourceVpce, aws:SourceIp);
    resource_account the bucket owner's account; identity_allows whether the
    caller's own IAM policies grant the action."""
    principal: str | None
    action: str
    resource: str
    keys: dict = field(default_factory=dict)
    resource_account: str = ""
    secure: bool = True
    identity_allows: bool = True

    def context(self):
        ctx = dict(self.keys)
        ctx["aws:SecureTransport"] = "true" if self.secure else "false"
        if self.resource_account:
            ctx["aws:ResourceAccount"] = self.resource_account
        if self.principal is not None:
            ctx["aws:PrincipalArn"] = self.principal
        return ctx


@dataclass
class Decision:
    allowed: bool
    why: str

    def __bool__(self):
        return self.allowed


def decide(request, bucket_policy, endpoint_policy=None):
    """The whole decision for one request. endpoint_policy is the policy of
    the VPC endpoint the request came through (FULL_ACCESS for one without
    a policy of its own), or None when it came through no endpoint."""
    verdict, sids = evaluate(bucket_policy, request)
    if verdict == "Deny":
        return Decision(False, "bucket policy denies: " + ",".join(sids))
    if endpoint_policy is not None:
        ev, esids = evaluate(endpoint_policy, request)
        if ev == "Deny":
            return Decision(False, "endpoint policy denies: " + ",".join(esids))
        if ev != "Allow":
            return Decision(False, "endpoint policy allows nothing of this")
    same_account = request.principal is not None and request.principal.split(":")[4] == request.resource_account
    bucket_allows = verdict == "Allow"
    if same_account:
        ok = request.identity_allows or bucket_allows
    else:
        ok = (request.identity_allows or request.principal is None) and bucket_allows
    if not ok:
        return Decision(False, "nothing allows it" if same_account else "the bucket owner's policy does not grant it")
    return Decision(True, "allowed by " + ("bucket policy " + ",".join(sids) if bucket_allows else "identity policy"))
