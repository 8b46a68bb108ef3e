"""localaws.identity_pools: the identity pool setting moto 5.2.1 drops, AllowClassicFlow.

moto accepts AllowClassicFlow on CreateIdentityPool and UpdateIdentityPool but neither stores nor
returns it, so DescribeIdentityPool could not show an administrator (or `doctor`) that the classic
(basic) flow is on. Here it is kept per pool and returned by Create/Update/DescribeIdentityPool as AWS
does: false unless set; an update, which replaces the pool's configuration, sets it again (false if absent).

Difference from AWS that remains: the classic flow itself (GetOpenIdToken, then STS
AssumeRoleWithWebIdentity) is not enforced either way: moto's GetOpenIdToken answers whatever the setting.
"""

import json


def _with_classic_flow(response, account_id, allowed=None):
    """Store allowed (when given) on the pool and add AllowClassicFlow to its JSON description."""
    from moto.cognitoidentity.models import cognitoidentity_backends

    description = json.loads(response)
    pool_id = description["IdentityPoolId"]
    backend = cognitoidentity_backends[account_id][pool_id.split(":")[0]]
    pool = backend.identity_pools[pool_id]
    if allowed is not None:
        pool.local_aws_allow_classic_flow = allowed
    description["AllowClassicFlow"] = getattr(pool, "local_aws_allow_classic_flow", False)
    return json.dumps(description)


def install():
    """Wrap moto's Create/Update/DescribeIdentityPool responses to keep and return AllowClassicFlow."""
    from moto.cognitoidentity.responses import CognitoIdentityResponse

    def wrap(original, takes_setting):
        def handler(self):
            response = original(self)
            allowed = bool(self._get_bool_param("AllowClassicFlow", False)) if takes_setting else None
            return _with_classic_flow(response, self.current_account, allowed)
        handler.__doc__ = f"{original.__name__} with AllowClassicFlow kept and returned."
        return handler

    CognitoIdentityResponse.create_identity_pool = wrap(CognitoIdentityResponse.create_identity_pool, True)
    CognitoIdentityResponse.update_identity_pool = wrap(CognitoIdentityResponse.update_identity_pool, True)
    CognitoIdentityResponse.describe_identity_pool = wrap(CognitoIdentityResponse.describe_identity_pool, False)
