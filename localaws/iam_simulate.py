"""localaws.iam_simulate: IAM SimulatePrincipalPolicy and SimulateCustomPolicy, which moto 5.2.1 lacks.

Each statement is judged by the evaluator that enforces every request local_aws serves (moto's
IAMPolicyStatement.is_action_permitted, which local_aws.py replaces with statement_is_action_permitted),
and the decision is the one local_aws.py's _permitted makes: an explicit Deny anywhere wins, else an
Allow, else an implicit deny. So a simulation answers what a request with the same context would get.

As AWS does (since AWS returns one result per action):
- ContextEntries (ContextKeyName, ContextKeyValues, ContextKeyType) are the request's only condition keys
  and policy variables; nothing is filled in from the simulating request itself.
- One EvaluationResult per action: EvalDecision is the most restrictive decision over ResourceArns
  (default "*"), ResourceSpecificResults the decision per resource; EvalResourceName is the resource
  when there is one, else "*". MatchedStatements are the statements that decided (only the Deny
  statements when one denies), each with SourcePolicyId (the inline policy's name or the managed policy's
  name), SourcePolicyType (role, user, group, user-managed, aws-managed, PolicyInputList.N as "none",
  resource) and Start/EndPosition (1-based line and column of the statement in the stored document).
  MissingContextValues names the condition keys and ${...} variables of statements matching the action
  that no context entry supplied.
- SimulatePrincipalPolicy reads a role's or user's inline and attached policies (a user's groups' too),
  plus PolicyInputList; PermissionsBoundaryPolicyInputList caps an Allow; ResourcePolicy is evaluated
  with CallerArn (else PolicySourceArn) as the principal.

Differences from AWS that remain:
- The principal's own permissions boundary, SCPs and cross-account rules are not read; ResourceOwner
  and ResourceHandlingOption are accepted and ignored; MaxItems/Marker paging is not done (all results
  come in one page) and EvalDecisionDetails is never filled in.
- A CallerArn of a role is accepted (AWS takes only a user's ARN there).
- ContextKeyType is not checked against the values: a value is compared as the operator reads it; whether
  a key is multivalued comes from its name (local_aws.MULTIVALUED_KEYS), not from a stringList type.
"""

import json
import re

from localaws.policy_language import variables_are_literal

_VARIABLE = re.compile(r"\$\{([^}]*)\}")


def statement_spans(document):
    """[(statement, (start line, column), (end line, column))] for a policy document's text, 1-based."""
    decoder = json.JSONDecoder()

    def skip(pos):
        while pos < len(document) and document[pos] in " \t\r\n":
            pos += 1
        return pos

    def position(offset):
        line = document.count("\n", 0, offset) + 1
        return {"Line": line, "Column": offset - (document.rfind("\n", 0, offset) + 1) + 1}

    pos = skip(0)
    if document[pos:pos + 1] != "{":
        return []
    pos = skip(pos + 1)
    while pos < len(document) and document[pos] != "}":
        key, pos = decoder.raw_decode(document, pos)
        pos = skip(skip(pos) + 1)  # past the ':'
        start = pos
        value, pos = decoder.raw_decode(document, pos)
        if key == "Statement":
            if isinstance(value, dict):
                return [(value, position(start), position(pos))]
            spans, item = [], skip(start + 1)
            for statement in value:
                _, end = decoder.raw_decode(document, item)
                spans.append((statement, position(item), position(end)))
                item = skip(skip(end) + 1)  # past the ','
            return spans
        pos = skip(skip(pos) + (document[skip(pos)] == ","))
    return []


def principal_policies(account_id, arn):
    """[(source id, source type, document text)] of a role's or user's inline and attached policies."""
    from moto.iam.exceptions import InvalidInput, NoSuchEntity
    from moto.iam.models import AWSManagedPolicy, iam_backends

    backend = iam_backends[account_id]["global"]
    match = re.fullmatch(r"arn:aws[\w-]*:iam::\d{12}:(role|user)/(?:.*/)?([\w+=,.@-]+)", arn or "")
    if not match:
        raise InvalidInput(f"Invalid ARN: {arn}; PolicySourceArn must name a role or user")
    kind, name = match.groups()
    try:
        owner = backend.get_role(name) if kind == "role" else backend.get_user(name)
    except Exception:
        raise NoSuchEntity(f"The {kind} with name {name} cannot be found.")
    owners = [(kind, owner)] + [("group", group) for group in (backend.get_groups_for_user(name)
                                                               if kind == "user" else [])]
    found = []
    for owner_kind, item in owners:
        for policy_name, document in item.policies.items():
            found.append((policy_name, owner_kind, document))
        for managed in item.managed_policies.values():
            version = next(v for v in managed.versions if v.is_default)
            found.append((managed.name, "aws-managed" if isinstance(managed, AWSManagedPolicy) else "user-managed",
                          version.document))
    return found


def context_of(entries):
    """ContextEntries as the evaluator's request context: lower-cased key -> list of strings."""
    context = {}
    for entry in entries or []:
        values = [str(v) for v in entry.get("ContextKeyValues") or []]
        context.setdefault(entry["ContextKeyName"].lower(), []).extend(values)
    return context


def referenced_keys(statement, literal_variables=False):
    """Condition keys and ${...} variables (unless they are literal text) a statement reads."""
    keys = {key for block in (statement.get("Condition") or {}).values() for key in block}
    if literal_variables:
        return keys
    text = json.dumps({k: v for k, v in statement.items() if k in ("Resource", "NotResource", "Condition")})
    keys |= {name for name in _VARIABLE.findall(text) if name not in ("*", "?", "$")}
    return keys


def judge(sources, action, resource, context, principal=None):
    """(decision, matched statements, missing context keys) for one action on one resource."""
    from moto.iam.access_control import IAMPolicyStatement, PermissionResult

    allowed, denied, missing = [], [], set()
    for source_id, source_type, text, spans in sources:
        literal = variables_are_literal(text)
        for statement, start, end in spans:
            evaluated = IAMPolicyStatement(statement)
            evaluated.literal_variables = literal  # Version other than 2012-10-17: ${...} is text
            result = evaluated.is_action_permitted(
                action, resource, principal if source_type == "resource" else None, context)
            match = {"SourcePolicyId": source_id, "SourcePolicyType": source_type,
                     "StartPosition": start, "EndPosition": end}
            if result == PermissionResult.DENIED:
                denied.append(match)
            elif result == PermissionResult.PERMITTED:
                allowed.append(match)
            if IAMPolicyStatement(dict(statement, Effect="Allow", Condition={}, Resource="*")).is_action_permitted(
                    action, "*", None, {}) == PermissionResult.PERMITTED:
                missing |= {key for key in referenced_keys(statement, literal) if key.lower() not in context}
    if denied:
        return "explicitDeny", denied, missing
    return ("allowed", allowed, missing) if allowed else ("implicitDeny", [], missing)


def with_spans(sources):
    """Add each source's statements with their positions, refusing a document that is not a policy."""
    from moto.iam.exceptions import MalformedPolicyDocument

    prepared = []
    for source_id, source_type, document in sources:
        text = document if isinstance(document, str) else json.dumps(document)
        try:
            spans = statement_spans(text)
        except (ValueError, IndexError):
            spans = None
        if not spans:
            raise MalformedPolicyDocument("Syntax errors in policy.")
        prepared.append((source_id, source_type, text, spans))
    return prepared


RESTRICTIVE = ("explicitDeny", "implicitDeny", "allowed")


def simulate(self, sources):
    """The EvaluationResults of a Simulate*Policy request over the given policy sources."""
    from moto.core.responses import ActionResult

    identity = with_spans(sources)
    boundary = with_spans([(f"PermissionsBoundaryPolicyInputList.{n}", "none", doc) for n, doc in
                           enumerate(self._get_param("PermissionsBoundaryPolicyInputList") or [], 1)])
    resource_policy = self._get_param("ResourcePolicy")
    resource_sources = with_spans([("ResourcePolicy", "resource", resource_policy)]) if resource_policy else []
    principal = self._get_param("CallerArn") or self._get_param("PolicySourceArn")
    context = context_of(self._get_param("ContextEntries"))
    resources = self._get_param("ResourceArns") or ["*"]
    results = []
    for action in self._get_param("ActionNames") or []:
        per_resource = []
        for resource in resources:
            decision, matched, missing = judge(identity + resource_sources, action, resource, context, principal)
            if boundary and decision == "allowed":
                capped, _, more = judge(boundary, action, resource, context)
                missing |= more
                decision = "allowed" if capped == "allowed" else capped
            per_resource.append({"EvalResourceName": resource, "EvalResourceDecision": decision,
                                 "MatchedStatements": matched, "MissingContextValues": sorted(missing)})
        worst = min(per_resource, key=lambda r: RESTRICTIVE.index(r["EvalResourceDecision"]))
        results.append({
            "EvalActionName": action, "EvalResourceName": resources[0] if len(resources) == 1 else "*",
            "EvalDecision": worst["EvalResourceDecision"], "MatchedStatements": worst["MatchedStatements"],
            "MissingContextValues": sorted({k for r in per_resource for k in r["MissingContextValues"]}),
            "ResourceSpecificResults": per_resource,
        })
    return ActionResult({"EvaluationResults": results, "IsTruncated": False})


def simulate_principal_policy(self):
    """SimulatePrincipalPolicy: the principal's own policies plus PolicyInputList."""
    sources = principal_policies(self.current_account, self._get_param("PolicySourceArn"))
    extra = [(f"PolicyInputList.{n}", "none", doc) for n, doc in enumerate(self._get_param("PolicyInputList") or [], 1)]
    return simulate(self, sources + extra)


def simulate_custom_policy(self):
    """SimulateCustomPolicy: only the policies given in PolicyInputList."""
    return simulate(self, [(f"PolicyInputList.{n}", "none", doc)
                           for n, doc in enumerate(self._get_param("PolicyInputList") or [], 1)])


def install():
    """Add the two operations to moto's IAM responses; moto dispatches to the method named after the action."""
    from moto.iam.responses import IamResponse

    IamResponse.simulate_principal_policy = simulate_principal_policy
    IamResponse.simulate_custom_policy = simulate_custom_policy
