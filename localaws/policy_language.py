"""localaws.policy_language: the policy language Version, as IAM documents it.

IAM User Guide, "IAM JSON policy elements: Version": IAM supports "2012-10-17" (current) and "2008-10-17"
(earlier); with no Version element the value defaults to 2008-10-17, and under 2008-10-17 "variables such
as ${aws:username} aren't recognized as variables and are instead treated as literal strings in the policy".

What local_aws does (install() patches moto 5.2.1, which refused every document without Version 2012-10-17):
- Inline policies (PutRolePolicy, PutUserPolicy, PutGroupPolicy) and role trust policies (CreateRole,
  UpdateAssumeRolePolicy) with Version "2008-10-17" or no Version are stored as sent.
- Managed policies (CreatePolicy, CreatePolicyVersion) still need 2012-10-17 and are refused with
  MalformedPolicyDocument "Policy document must be version 2012-10-17 or greater." (the error AWS gives
  there: the console and CloudFormation's AWS::IAM::ManagedPolicy report it for older documents).
- Every evaluation (S3 and other requests, SimulatePrincipalPolicy/SimulateCustomPolicy, role trust, bucket
  policies) reads ${...} in a document whose Version is not 2012-10-17 as literal text: a Resource
  "B/${cognito-identity.amazonaws.com:sub}/*" matches only the key that literally starts with that text.

Not verified against AWS itself (no account here): that inline policies accept the older Version is read from
the guide's wording ("IAM supports ... 2008-10-17", "You might see this version on older existing policies")
and from trust policies AWS itself still creates with 2008-10-17.
"""

import json

CURRENT = "2012-10-17"
VALID = ("2008-10-17", CURRENT)


def variables_are_literal(document):
    """Whether ${...} in this policy document (dict or JSON text) is literal text: Version is not 2012-10-17."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return False
    return not isinstance(document, dict) or document.get("Version") != CURRENT


def statements(document):
    """The statements of a policy document (dict), a lone statement as a one-item list."""
    found = document.get("Statement", [])
    return found if isinstance(found, list) else [found]


def install():
    """Accept older Versions where IAM does, and mark statements whose variables are literal."""
    from moto.iam.access_control import IAMPolicy, IAMPolicyStatement, PermissionResult
    from moto.iam.models import IAMBackend
    from moto.iam.policy_validation import IAMPolicyDocumentValidator, IAMTrustPolicyDocumentValidator

    def any_valid_version(validator):
        """Version is 2008-10-17, 2012-10-17 or absent (it defaults to 2008-10-17)."""
        assert validator._policy_json.get("Version", VALID[0]) in VALID

    class InlinePolicyValidator(IAMPolicyDocumentValidator):
        """moto's identity policy checks, with the Versions IAM accepts for inline policies."""
        _validate_version = any_valid_version

    IAMTrustPolicyDocumentValidator._validate_version = any_valid_version

    def inline(find):
        """put_{role,user,group}_policy: validate as an inline policy, then store on the entity."""
        def put_policy(self, name, policy_name, policy_json):
            entity = find(self, name)
            InlinePolicyValidator(policy_json).validate()
            entity.put_policy(policy_name, policy_json)
        return put_policy

    IAMBackend.put_role_policy = inline(IAMBackend.get_role)
    IAMBackend.put_user_policy = inline(IAMBackend.get_user)
    IAMBackend.put_group_policy = inline(IAMBackend.get_group)

    def is_action_permitted(self, action, resource="*", principal=None, incoming_condition_values=None):
        """IAMPolicy.is_action_permitted: any Deny wins, else any Allow; statements know their Version."""
        literal = variables_are_literal(self._policy_json)
        permitted = False
        for statement in statements(self._policy_json):
            evaluated = IAMPolicyStatement(statement)
            evaluated.literal_variables = literal
            result = evaluated.is_action_permitted(action, resource, principal, incoming_condition_values)
            if result == PermissionResult.DENIED:
                return result
            permitted = permitted or result == PermissionResult.PERMITTED
        return PermissionResult.PERMITTED if permitted else PermissionResult.NEUTRAL

    IAMPolicy.is_action_permitted = is_action_permitted
