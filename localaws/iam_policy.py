"""local_aws's IAM policy evaluator: moto's, extended to AWS's semantics."""

import re
import sys
import threading
from urllib.parse import parse_qs, urlparse

import localaws.s3
import localaws.s3_actions

_REQUEST = threading.local()  # .context (condition keys, lower-cased -> list of str) and .caller of the request
_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_LITERAL_VARIABLES = " literal variables"  # context marker (no condition key has a space): see _pattern


def _as_list(value):
    """Policy values as a list of strings (JSON booleans spelled as AWS does)."""
    values = value if isinstance(value, list) else [value]
    return [str(v).lower() if isinstance(v, bool) else str(v) for v in values]


def _pattern(value, context, wildcards):
    """Regex for a policy value with ${...} variables substituted literally; None if one is unresolved.
    In a document whose Version is not 2012-10-17 (context[_LITERAL_VARIABLES]), ${...} is plain text."""
    def glob(text):
        text = re.escape(text)
        return text.replace(r"\*", ".*").replace(r"\?", ".") if wildcards else text

    if context.get(_LITERAL_VARIABLES):
        return glob(value)
    parts, pos = [], 0
    for match in _VARIABLE.finditer(value):
        parts.append(glob(value[pos:match.start()]))
        name = match.group(1)
        # IAM User Guide, "Specifying default values": ${key, 'text'} is text when the request lacks key.
        default = re.fullmatch(r"\s*(.+?)\s*,\s*'([^']*)'\s*", name)
        if name in ("*", "?", "$"):
            parts.append(re.escape(name))
        else:
            resolved = context.get((default.group(1) if default else name).lower()) or (
                [default.group(2)] if default else None)
            if not resolved or len(resolved) != 1:
                return None  # AWS: an element whose variable has no value (and no default) matches nothing
            parts.append(re.escape(resolved[0]))
        pos = match.end()
    parts.append(glob(value[pos:]))
    return "".join(parts)


def _value_matches(policy_value, value, context, wildcards=True, ignore_case=False):
    """Does one policy value (with variables and, if asked, * and ? wildcards) match value?"""
    pattern = _pattern(policy_value, context, wildcards)
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return pattern is not None and re.fullmatch(pattern, value, flags) is not None


def _compare(convert, compare):
    """A condition test that converts both sides (numbers, dates) before comparing."""
    def test(policy_value, value, context):
        try:
            return compare(convert(value), convert(policy_value))
        except ValueError:
            return False
    return test


def _date(text):
    """An AWS date condition value: epoch seconds or ISO 8601."""
    import datetime

    if text.isdigit():
        return datetime.datetime.fromtimestamp(int(text), datetime.timezone.utc)
    parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)


def _ip_in(policy_value, value, context):
    """IpAddress: is the address inside the policy's CIDR block?"""
    import ipaddress

    try:
        return ipaddress.ip_address(value) in ipaddress.ip_network(policy_value, strict=False)
    except ValueError:
        return False


def _condition_operators():
    """Condition operator -> (test(policy_value, request_value, context), negated)."""
    import operator

    exact = lambda p, v, c: _value_matches(p, v, c, wildcards=False)
    exact_ci = lambda p, v, c: _value_matches(p, v, c, wildcards=False, ignore_case=True)
    like = lambda p, v, c: _value_matches(p, v, c)
    operators = {
        "StringEquals": (exact, False), "StringNotEquals": (exact, True),
        "StringEqualsIgnoreCase": (exact_ci, False), "StringNotEqualsIgnoreCase": (exact_ci, True),
        "StringLike": (like, False), "StringNotLike": (like, True),
        "ArnEquals": (like, False), "ArnLike": (like, False),
        "ArnNotEquals": (like, True), "ArnNotLike": (like, True),
        "Bool": (lambda p, v, c: p.lower() == v.lower(), False),
        "BinaryEquals": (exact, False),
        "IpAddress": (_ip_in, False), "NotIpAddress": (_ip_in, True),
    }
    for name, compare in {"Equals": operator.eq, "LessThan": operator.lt, "LessThanEquals": operator.le,
                          "GreaterThan": operator.gt, "GreaterThanEquals": operator.ge}.items():
        operators["Numeric" + name] = (_compare(float, compare), False)
        operators["Date" + name] = (_compare(_date, compare), False)
    operators["NumericNotEquals"] = (_compare(float, operator.eq), True)
    operators["DateNotEquals"] = (_compare(_date, operator.eq), True)
    return operators


_OPERATORS = _condition_operators()

# Condition keys whose request-context value is a set: "Multivalued" in the IAM User Guide's AWS global
# condition context keys, ArrayOf... in the Service Authorization Reference, and Cognito's "multi-value amr
# claim". The guide ("Single-valued vs. multivalued context keys") says these "require a condition set
# operator" (ForAnyValue:/ForAllValues:). A plain operator (negated and ...IfExists ones too) never matches
# such a key when the request has it, however many values it holds (a guest's amr is ["unauthenticated"]),
# as @cloud-copilot/iam-simulate evaluates it (its authors confirmed it with AWS, re:Inforce 2025 IAM431).
# Decided by key name, not by how many values a request happens to carry.
MULTIVALUED_KEYS = frozenset(key.lower() for key in (
    "cognito-identity.amazonaws.com:amr",
    "aws:TagKeys", "aws:CalledVia", "aws:PrincipalServiceNamesList",
    "aws:PrincipalOrgPaths", "aws:ResourceOrgPaths", "aws:SourceOrgPaths", "aws:VpceOrgPaths",
    "sts:TransitiveTagKeys",
))


def _condition_matches(operator_name, key, policy_values, context, effect):
    """Evaluate one condition key as AWS does, including ForAnyValue:/ForAllValues: and ...IfExists."""
    qualifier, _, name = operator_name.rpartition(":")
    if_exists = name.endswith("IfExists") and name != "Null"
    name = name[:-len("IfExists")] if if_exists else name
    values = context.get(key.lower())
    if name == "Null":
        return (not values) == (policy_values[0].lower() == "true")
    if name not in _OPERATORS:
        print(f"local_aws: condition operator {operator_name} is not supported; "
              f"treating it as {'matching (Deny)' if effect == 'Deny' else 'not matching (Allow)'}",
              file=sys.stderr)
        return effect == "Deny"
    test, negated = _OPERATORS[name]
    if not values:
        if qualifier == "ForAllValues":
            return True
        if qualifier == "ForAnyValue":
            return False
        return if_exists or negated  # AWS: a missing key matches only negated operators and ...IfExists
    if not qualifier and key.lower() in MULTIVALUED_KEYS:
        return False  # a multivalued key needs a set operator; without one it matches nothing

    def value_ok(value):
        hit = any(test(p, value, context) for p in policy_values)
        return not hit if negated else hit

    if qualifier == "ForAllValues" or (negated and not qualifier):
        return all(value_ok(v) for v in values)
    return any(value_ok(v) for v in values)


def _caller_of(principal):
    """A principal ARN (as moto passes it) or {type: ids} dict -> {type: [ids it answers to]}."""
    if isinstance(principal, dict):
        return {kind: _as_list(ids) for kind, ids in principal.items()}
    account = principal.split(":")[4]
    ids = [principal, f"arn:aws:iam::{account}:root", account]
    role = re.match(r"arn:aws:sts::(\d+):assumed-role/([^/]+)/", principal)
    if role:
        ids.append(f"arn:aws:iam::{role.group(1)}:role/{role.group(2)}")
    return {"AWS": ids}


def _principal_applies(statement, caller):
    """Does the statement's Principal/NotPrincipal cover the caller? Identity policies have neither."""
    for element, wanted in (("Principal", True), ("NotPrincipal", False)):
        if element in statement:
            spec = statement[element]
            hit = spec == "*" or any(
                (kind == "AWS" and "*" in _as_list(ids)) or set(_as_list(ids)) & set(caller.get(kind, ()))
                for kind, ids in (spec.items() if isinstance(spec, dict) else ()))
            return hit == wanted
    return True


def _element_matches(statement, element, value, context, ignore_case=False):
    """Action/NotAction or Resource/NotResource against value; True if the statement has neither."""
    if element in statement:
        return any(_value_matches(p, value, context, ignore_case=ignore_case) for p in _as_list(statement[element]))
    if "Not" + element in statement:
        return not any(_value_matches(p, value, context, ignore_case=ignore_case)
                       for p in _as_list(statement["Not" + element]))
    return element == "Resource"  # trust policies have no Resource; every statement needs an Action


def statement_is_action_permitted(self, action, resource="*", principal=None, incoming_condition_values=None):
    """IAMPolicyStatement.is_action_permitted with AWS semantics: wildcards, variables, principals and
    conditions; a statement whose principal or condition does not match is neutral, not a Deny."""
    from moto.iam.access_control import PermissionResult

    statement = self._statement
    context = dict(getattr(_REQUEST, "context", None) or {})
    context.update({k.lower(): _as_list(v) for k, v in (incoming_condition_values or {}).items()})
    if getattr(self, "literal_variables", False):  # set by localaws.policy_language from the Version
        context[_LITERAL_VARIABLES] = True
    caller = _caller_of(principal) if principal else getattr(_REQUEST, "caller", None)
    if not _element_matches(statement, "Action", action, context, ignore_case=True):
        return PermissionResult.NEUTRAL
    if caller is not None and not _principal_applies(statement, caller):
        return PermissionResult.NEUTRAL
    if not _element_matches(statement, "Resource", resource, context):
        return PermissionResult.NEUTRAL
    effect = statement.get("Effect")
    for operator_name, keys in (statement.get("Condition") or {}).items():
        for key, policy_values in keys.items():
            if not _condition_matches(operator_name, key, _as_list(policy_values), context, effect):
                return PermissionResult.NEUTRAL
    return PermissionResult.PERMITTED if effect == "Allow" else PermissionResult.DENIED


def _session_of(access_key):
    """The STS session behind an AssumedRoleAccessKey, or None for an IAM user's key."""
    from moto.iam.access_control import AssumedRoleAccessKey
    from moto.sts.models import sts_backends

    if not isinstance(access_key, AssumedRoleAccessKey):
        return None
    return sts_backends[access_key.account_id][access_key.partition].get_assumed_role_from_access_key(
        access_key._access_key_id)


def _request_context(request, session):
    """Condition keys of a signed request (lower-cased names -> list of values)."""
    from moto.core.utils import utcnow

    now = utcnow()
    key = request._access_key
    context = {
        # Served on loopback only: treated as TLS so that the usual "deny without TLS" bucket policy passes.
        "aws:securetransport": ["true"],
        "aws:currenttime": [now.strftime("%Y-%m-%dT%H:%M:%SZ")],
        "aws:epochtime": [str(int(now.timestamp()))],
        "aws:requestedregion": [request._region],
        "aws:principalaccount": [request.account_id],
    }
    if session is None:
        context.update({"aws:principalarn": [key.arn], "aws:principaltype": ["User"],
                        "aws:username": [key._owner_user_name]})
    else:
        context.update({"aws:principalarn": [session.role_arn], "aws:principaltype": ["AssumedRole"],
                        "aws:userid": [session.user_id]})
        context.update(getattr(session, "local_aws_context", {}))
    if request._service == "s3" and request._action in ("s3:ListBucket", "s3:ListBucketVersions",
                                                        "s3:ListBucketMultipartUploads") \
            and not localaws.s3.checking_missing_key():  # S3 checks that one with no s3:prefix
        query = parse_qs(urlparse(request._path).query, keep_blank_values=True)
        for name in ("prefix", "delimiter", "max-keys"):
            if name in query:
                context["s3:" + name] = query[name]
    return context


def _bucket_policy(request, resource):
    """The bucket policy that applies to an S3 resource ARN, if any."""
    from moto.s3.models import s3_backends

    if request._service != "s3" or not resource.startswith("arn:aws:s3:::"):
        return None
    bucket = s3_backends[request.account_id]["aws"].buckets.get(resource[len("arn:aws:s3:::"):].split("/")[0])
    return bucket.policy.decode() if bucket is not None and bucket.policy else None


def _permitted(request, action, resource):
    """AWS's decision for one action: an explicit Deny anywhere wins, else an Allow in the identity's
    policies or the bucket policy (same account), else denied."""
    from moto.iam.access_control import IAMPolicy, PermissionResult

    policies = list(request._access_key.collect_policies())
    bucket_policy = _bucket_policy(request, resource)
    if bucket_policy:
        policies.append(bucket_policy)
    results = [IAMPolicy(policy).is_action_permitted(action, resource) for policy in policies]
    if PermissionResult.DENIED in results:
        return False
    if request._is_assuming_role_operation(resource):
        return PermissionResult.PERMITTED in results and request._check_role_trust_relationship(resource)
    return PermissionResult.PERMITTED in results


def check_action_permitted(self, resource):
    """IAMRequestBase.check_action_permitted with the request's context, the bucket policy and the
    extra permissions AWS requires (HeadBucket is s3:ListBucket; a copy needs s3:GetObject on its source;
    see localaws.s3_actions)."""
    if self._action == "sts:GetCallerIdentity":  # AWS allows it even under an explicit Deny
        return
    localaws.s3.require_bucket(self, resource)  # NoSuchBucket comes before any policy is evaluated
    session = _session_of(self._access_key)
    if self._action == "s3:HeadBucket":
        self._action = "s3:ListBucket"
    checks = [(self._action, resource)]
    if self._service == "s3":
        copy_source = self._headers.get("x-amz-copy-source")
        if copy_source:
            checks.append(localaws.s3_actions.copy_source_check(copy_source))
        checks += localaws.s3_actions.extra_checks(self._action, self._headers, resource)
    _REQUEST.context = _request_context(self, session)
    _REQUEST.caller = _caller_of(session.arn if session else self._access_key.arn)
    try:
        for action, checked_resource in checks:
            if not _permitted(self, action, checked_resource):
                self._action = action
                self._raise_access_denied()
    finally:
        _REQUEST.context = _REQUEST.caller = None


def install():
    """Patch moto's IAM evaluator to evaluate policies as AWS does (S3's DeleteObjects: localaws.s3)."""
    from moto.iam.access_control import IAMPolicyStatement, IAMRequestBase

    IAMPolicyStatement.is_action_permitted = statement_is_action_permitted
    IAMRequestBase.check_action_permitted = check_action_permitted
