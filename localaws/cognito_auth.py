"""local_aws's checks around moto's InitiateAuth/RespondToAuthChallenge: SRP, SECRET_HASH, flows."""

import json

from localaws.cognito_clients import check_flow_enabled, check_secret_hash, find_pool_client, secret_hash
from localaws.srp import srp_challenge, srp_verify


def install():
    """Wrap moto's InitiateAuth/RespondToAuthChallenge with AWS's checks (MFA: localaws.cognito_signin)."""
    from moto.cognitoidp.exceptions import NotAuthorizedError
    from moto.cognitoidp.models import CognitoIdpBackend
    from moto.core.authorization import ActionAuthenticatorMixin

    initiate_auth = CognitoIdpBackend.initiate_auth
    respond = CognitoIdpBackend.respond_to_auth_challenge

    def checked_initiate_auth(self, client_id, auth_flow, auth_parameters):
        pool, client = find_pool_client(self, client_id)
        if pool is None:
            return initiate_auth(self, client_id, auth_flow, auth_parameters)
        params = dict(auth_parameters or {})
        check_flow_enabled(client, auth_flow)
        if auth_flow == "USER_SRP_AUTH":
            return srp_challenge(self, pool, client, params, initiate_auth)
        if auth_flow == "USER_PASSWORD_AUTH":
            check_secret_hash(client, params, [params.get("USERNAME")])
        elif auth_flow in ("REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"):
            stored = pool.refresh_tokens.get(params.get("REFRESH_TOKEN"))
            user = stored and stored[1] and pool._get_user(stored[1])
            if user:
                # AWS hashes the internal username (the sub for alias sign-in: pycognito #18/#196).
                check_secret_hash(client, params, [params.get("USERNAME"), user.username, user.id])
                if client.generate_secret:
                    params["SECRET_HASH"] = secret_hash(client, stored[1])  # the name moto re-checks
        return initiate_auth(self, client_id, auth_flow, params)

    def checked_respond(self, session, client_id, challenge_name, challenge_responses):
        pool, client = find_pool_client(self, client_id)
        if pool is None:
            return respond(self, session, client_id, challenge_name, challenge_responses)
        responses = dict(challenge_responses or {})
        if challenge_name == "PASSWORD_VERIFIER":
            srp_verify(self, pool, client, responses)
        else:
            user = pool._get_user(responses.get("USERNAME") or "")
            check_secret_hash(client, responses, [responses.get("USERNAME"), user and user.username])
            # moto would answer for whichever USERNAME is sent; AWS binds the session to its user.
            if session in self.sessions:
                session_user = pool._get_user(self.sessions[session][0])
                if user is None or session_user is None or user.id != session_user.id:
                    raise NotAuthorizedError("Invalid session for the user.")
        if client.generate_secret and responses.get("USERNAME"):
            responses["SECRET_HASH"] = secret_hash(client, responses["USERNAME"])  # the name moto re-checks
        result = respond(self, session, client_id, challenge_name, responses)
        if result.get("ChallengeName") == "NEW_PASSWORD_REQUIRED":
            user = pool._get_user(responses["USERNAME"])
            attributes = {a["Name"]: a["Value"] for a in user.attributes if a["Name"] != "sub"}
            result["ChallengeParameters"].update({
                "USER_ID_FOR_SRP": user.username, "requiredAttributes": "[]",
                "userAttributes": json.dumps(attributes),
            })
        return result

    CognitoIdpBackend.initiate_auth = checked_initiate_auth
    CognitoIdpBackend.respond_to_auth_challenge = checked_respond
    # A user sets up TOTP with their access token, unsigned, as SDKs send these; IAM enforcement
    # must let them through like the other token-authorized operations.
    ActionAuthenticatorMixin.PUBLIC_OPERATIONS += [
        f"AWSCognitoIdentityProviderService.{operation}"
        for operation in ("AssociateSoftwareToken", "VerifySoftwareToken", "SetUserMFAPreference")]
