"""doctor, through the CLI on local_aws: a `setup` deployment is clean; each mistake, made with plain admin
calls, is named with its id and exit code; for critical ones the proof matrix says what a real user can do;
--fix --yes repairs it and the user isolation check passes again."""

import json
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError

import cog_auth_s3 as tool
from helpers import (DOCTOR_MISTAKES, PASSWORDS, allowed, REGION, SUB, _listing, _objects, bucket_policy_with,
                     cognito_user_session, identity_pool_with, rule_mapped_role, run_cli, set_app_client, trust,
                     user_env, write_config)

FOLDERS = ("own", "other", "root")
ACTIONS = ("get", "put", "delete", "list")


def doctor(dep, *args, stdin=None):
    """Run doctor --json as the administrator (on the case's own identity pool, when it has one): (exit code, report,
    stderr)."""
    result = dep["admin"]("--json", "doctor", *dep.get("doctor_args", ()), *args,
                          **({"stdin": stdin} if stdin is not None else {}))
    report = json.loads(result.stdout) if result.stdout.strip() else None
    assert report is not None or result.returncode in (2, 4), result.stderr
    return result.returncode, report, result.stderr


def ids(report):
    """The finding ids of a doctor report."""
    return {item["id"] for item in report["findings"]}


def serious(report):
    """The findings other than info (advice such as MFA off, which changes no verdict)."""
    return [item for item in report["findings"] if item["severity"] != "info"]


def cells(report, role):
    """{(folder, action): allowed} of one role in the proof matrix."""
    return {(row["folder"], row["action"]): row["allowed"] for row in report["matrix"] if row["role"] == role}


def user_profile(dep, folder, user):
    """A config file for user on the deployment, with a file for `run` to upload."""
    values = {k: dep[k] for k in ("region", "user_pool_id", "client_id", "identity_pool_id", "bucket", "endpoint_url")}
    upload = folder / "hello.txt"
    upload.write_text("hello\n")
    return write_config(folder / f"{user}.ini", {"default": dict(values, username=user, password=PASSWORDS[user],
                                                                 upload_file=upload)})


def s3_for(credentials, endpoint):
    """An S3 client holding temporary credentials (creds --format json's or Cognito's shape)."""
    return boto3.client("s3", region_name=REGION, endpoint_url=endpoint,
                        aws_access_key_id=credentials["AccessKeyId"],
                        aws_secret_access_key=credentials.get("SecretAccessKey") or credentials["SecretKey"],
                        aws_session_token=credentials["SessionToken"])




def real_cells(s3, bucket, own_id, other_id, admin_s3):
    """{(folder, action): allowed} for what a real session can do in its own folder, another's and the root."""
    found = {}
    for folder, prefix in zip(FOLDERS, (f"{own_id}/", f"{other_id}/", "")):
        key = prefix + tool.PROBE_KEY
        admin_s3.put_object(Bucket=bucket, Key=key, Body=b"seed")  # so a permitted get finds something
        listing = {"Prefix": prefix} if prefix else {}  # a root listing sends no prefix, as in the proof
        for action, call in (("get", lambda: s3.get_object(Bucket=bucket, Key=key)),
                             ("put", lambda: s3.put_object(Bucket=bucket, Key=key, Body=b"x")),
                             ("delete", lambda: s3.delete_object(Bucket=bucket, Key=key)),
                             ("list", lambda: s3.list_objects_v2(Bucket=bucket, **listing))):
            found[(folder, action)] = allowed(call)
    return found


@pytest.fixture(scope="module")
def deployment(setup_deployment):
    """The module's one `setup` deployment: its user pool, users alice and bob and app client serve every case."""
    return setup_deployment("doc" + uuid.uuid4().hex[:8])


def signed_in(dep):
    """alice's session (identity id, S3 client) and bob's identity id in dep's identity pool, signed in by SRP."""
    (alice, credentials), (bob, _) = cognito_user_session(dep, "alice"), cognito_user_session(dep, "bob")
    return {"alice": alice, "bob": bob, "alice_s3": s3_for(credentials, dep["endpoint_url"])}


@pytest.fixture
def own_deployment(deployment, admin_client, tmp_path):
    """own_deployment(own_client=False): the module's deployment with an identity pool, roles and bucket of this
    case's own (as setup makes them; helpers.identity_pool_with), and with own_client an app client of its own too,
    so that a case breaks and repairs only what no other case sees. Its "users" are alice's and bob's sessions in
    it, signed in before the case breaks anything."""
    def make(own_client=False):
        name = "dc" + uuid.uuid4().hex[:10]
        client_id = deployment["client_id"]
        if own_client:
            idp = admin_client("cognito-idp")
            setup_client = idp.describe_user_pool_client(UserPoolId=deployment["user_pool_id"],
                                                         ClientId=deployment["client_id"])["UserPoolClient"]
            client_id = idp.create_user_pool_client(
                UserPoolId=deployment["user_pool_id"], ClientName=name, GenerateSecret=False,
                ExplicitAuthFlows=setup_client["ExplicitAuthFlows"],
                PreventUserExistenceErrors=setup_client["PreventUserExistenceErrors"])["UserPoolClient"]["ClientId"]
        made = identity_pool_with(admin_client, deployment, name, user_pool=(deployment["user_pool_id"], client_id))
        dep = {**deployment, "name": name, "client_id": client_id, "identity_pool_id": made["identity_pool_id"],
               "bucket": made["bucket"], "role": made["role"],
               # Another identity pool than the profile's: doctor is told which app client must be its provider.
               "doctor_args": (*made["args"], "--user-pool-id", deployment["user_pool_id"], "--client-id", client_id)}
        return dict(dep, users=dict(signed_in(dep), folder=tmp_path))
    return make


def guest_session(dep):
    """A guest's identity id and S3 client, as anyone without an account gets them."""
    from botocore import UNSIGNED
    from botocore.config import Config

    identity = boto3.client("cognito-identity", region_name=REGION, endpoint_url=dep["endpoint_url"],
                            config=Config(signature_version=UNSIGNED))
    identity_id = identity.get_id(IdentityPoolId=dep["identity_pool_id"])["IdentityId"]
    credentials = identity.get_credentials_for_identity(IdentityId=identity_id)["Credentials"]
    return identity_id, s3_for(credentials, dep["endpoint_url"])


def isolation_holds(dep, users, fresh):
    """alice writes her folder and is refused bob's: freshly signed in through the tool's own isolation check
    when the mistake was in how users get their role, else with her session (IAM reads the role's policies
    and the bucket's on every request, so it meets the repaired ones)."""
    if not fresh:
        s3, bucket = users["alice_s3"], dep["bucket"]
        return allowed(lambda: s3.put_object(Bucket=bucket, Key=f"{users['alice']}/after-fix.txt", Body=b"x")) \
            and not allowed(lambda: s3.put_object(Bucket=bucket, Key=f"{users['bob']}/after-fix.txt", Body=b"x"))
    result = run_cli("--config", user_profile(dep, users["folder"], "alice"), "--no-cache", "--json", "run",
                     "--try-identity", users["bob"], env=user_env(users["folder"]), cwd=users["folder"])
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["isolation"]["verdict"] == "holds"


def test_a_setup_deployment_is_clean_and_its_proof_shows_only_the_own_folder(deployment):
    code, report, _ = doctor(deployment)
    assert (code, serious(report)) == (0, [])
    assert cells(report, deployment["role"]) == {
        (folder, action): folder == "own" for folder in FOLDERS for action in ACTIONS}
    text = deployment["admin"]("doctor")
    assert text.returncode == 0 and "findings: none" in text.stdout and "ALLOW" in text.stdout
    assert "not simulated: service control policies" in text.stdout and len(report["proof"]["simulated"]) == 3
    assert report["proof"]["simulate_calls"] > 0


@pytest.mark.parametrize("mistake", list(DOCTOR_MISTAKES))
def test_doctor_names_each_mistake_and_fix_repairs_it(mistake, own_deployment, admin_client):
    breaker, finding_id, code = DOCTOR_MISTAKES[mistake]
    deployment = own_deployment(own_client=mistake.startswith("client-"))
    users = deployment["users"]
    breaker(admin_client, deployment)

    found, report, stderr = doctor(deployment)
    assert finding_id in ids(report) and found == code, (found, report["findings"], stderr)
    if found == 5:  # critical: the proof must say what a real session can really do
        admin_s3 = admin_client("s3")
        assert cells(report, deployment["role"]) == real_cells(
            users["alice_s3"], deployment["bucket"], users["alice"], users["bob"], admin_s3)
        if mistake == "pool-guests-reach-bucket":
            guest_id, guest_s3 = guest_session(deployment)
            assert cells(report, f"{deployment['name']}-guests-too-open") == real_cells(
                guest_s3, deployment["bucket"], guest_id, users["bob"], admin_s3)

    fixed, report, stderr = doctor(deployment, "--fix", "--yes")
    if mistake.startswith("client-"):  # setup makes app clients but never rewrites one: left to the admin
        assert fixed == code and f"not fixed by doctor: {finding_id}" in stderr
        set_app_client(admin_client, deployment)
        fixed, report, stderr = doctor(deployment)
    assert (fixed, serious(report)) == (0, []), stderr
    assert isolation_holds(deployment, users, fresh=mistake.startswith(("trust-", "pool-", "client-")))


def test_the_bucket_policy_is_proven_for_the_users_role_not_for_the_administrator(own_deployment, admin_client):
    deployment = own_deployment()
    users = deployment["users"]
    bucket, s3 = deployment["bucket"], admin_client("s3")
    role_arn = admin_client("iam").get_role(RoleName=deployment["role"])["Role"]["Arn"]
    before = bucket_policy_with(admin_client, deployment, {
        "Sid": "RoleReadsAll", "Effect": "Allow", "Principal": {"AWS": role_arn}, "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*"})
    try:
        code, report, stderr = doctor(deployment)
        assert code == 5 and "bucket-policy-reaches-other-folders" in ids(report), stderr
        assert cells(report, deployment["role"]) == real_cells(users["alice_s3"], bucket, users["alice"],
                                                               users["bob"], s3)
        assert cells(report, deployment["role"])[("other", "get")]
        fixed, report, stderr = doctor(deployment, "--fix", "--yes")  # a role policy rewrite can't repair it
        assert fixed == 5 and "not fixed by doctor: bucket-policy-reaches-other-folders" in stderr
        s3.put_bucket_policy(Bucket=bucket, Policy=before)
        admin_arn = admin_client("sts").get_caller_identity()["Arn"]
        bucket_policy_with(admin_client, deployment, {
            "Sid": "AdminAll", "Effect": "Allow", "Principal": {"AWS": admin_arn}, "Action": "s3:*",
            "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]})
        code, report, stderr = doctor(deployment)
        assert (code, serious(report)) == (0, []), stderr
        assert any("bucket policy" in item for item in report["proof"]["simulated"])
    finally:
        s3.put_bucket_policy(Bucket=bucket, Policy=before)


@pytest.mark.parametrize("mapping_type", ["Rules", "Token"])
def test_roles_given_through_role_mappings_are_audited_and_a_role_no_token_can_name_is_not(mapping_type,
                                                                                              own_deployment,
                                                                                              admin_client):
    deployment = own_deployment()
    name = f"{deployment['name']}-by-{mapping_type.lower()}"
    roles = rule_mapped_role(admin_client, deployment, name, [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{deployment['bucket']}/*"}],
        mapping_type)
    try:
        code, report, _ = doctor(deployment)
        if mapping_type == "Rules":
            assert code == 5 and "perm-reaches-other-folders" in ids(report)
            assert cells(report, name)[("other", "get")] and not cells(report, deployment["role"])[("other", "get")]
        else:
            # No user pool group has the role, so no ID token can name it (test_doctor_leaks covers group roles).
            assert (code, serious(report)) == (0, []) and not cells(report, name)
    finally:
        admin_client("cognito-identity").set_identity_pool_roles(IdentityPoolId=deployment["identity_pool_id"],
                                                                 Roles=roles)


def test_fix_adds_the_profiles_provider_and_keeps_other_apps_providers(own_deployment, admin_client):
    deployment = own_deployment()
    idp, identity = admin_client("cognito-idp"), admin_client("cognito-identity")
    other_pool = idp.create_user_pool(PoolName=f"{deployment['name']}-other-app", AdminCreateUserConfig={
        "AllowAdminCreateUserOnly": True})["UserPool"]["Id"]
    other_client = idp.create_user_pool_client(UserPoolId=other_pool, ClientName="app",
                                               PreventUserExistenceErrors="ENABLED")["UserPoolClient"]["ClientId"]
    other = {"ProviderName": f"cognito-idp.{REGION}.amazonaws.com/{other_pool}", "ClientId": other_client,
             "ServerSideTokenCheck": False}
    identity.update_identity_pool(IdentityPoolId=deployment["identity_pool_id"], IdentityPoolName=deployment["name"],
                                  AllowUnauthenticatedIdentities=False, CognitoIdentityProviders=[other])
    code, report, _ = doctor(deployment)
    assert code == 4 and "pool-provider-mismatch" in ids(report)
    code, report, stderr = doctor(deployment, "--fix", "--yes")
    assert (code, serious(report)) == (0, []), stderr
    providers = identity.describe_identity_pool(IdentityPoolId=deployment["identity_pool_id"])[
        "CognitoIdentityProviders"]
    assert other in providers and deployment["client_id"] in {p["ClientId"] for p in providers}


def test_fix_without_a_terminal_needs_yes_and_changes_nothing(own_deployment, admin_client):
    deployment = own_deployment()
    admin_client("s3").delete_bucket_encryption(Bucket=deployment["bucket"])
    code, report, stderr = doctor(deployment, "--fix")
    assert code == 2 and report is None and "--yes" in stderr and len(stderr.splitlines()) == 3
    assert "bucket-no-encryption" in ids(doctor(deployment)[1])
    code, report, _ = doctor(deployment, "--fix", "--yes")
    assert (code, serious(report)) == (0, [])


def test_fix_on_a_terminal_asks_and_a_no_changes_nothing(own_deployment, admin_client):
    import os
    import pty

    deployment = own_deployment()
    admin_client("s3").delete_bucket_encryption(Bucket=deployment["bucket"])
    for answer, remaining in (b"n\n", {"bucket-no-encryption"}), (b"y\n", set()):
        leader, follower = pty.openpty()
        os.write(leader, answer)
        try:
            code, report, stderr = doctor(deployment, "--fix", stdin=follower)
        finally:
            os.close(follower)
            os.close(leader)
        assert "Apply these changes? [y/N]" in stderr and code == 0 and {i["id"] for i in serious(report)} == remaining
        assert ("nothing was changed" in stderr) == bool(remaining)


@pytest.mark.parametrize("operation, args", [("SimulatePrincipalPolicy", ()),
                                             ("PutBucketEncryption", ("--fix", "--yes"))])
def test_a_failing_request_ends_doctor_in_one_line_and_exit_4(operation, args, own_deployment, admin_client, faults):
    deployment = own_deployment()
    admin_client("s3").delete_bucket_encryption(Bucket=deployment["bucket"])
    faults.add(operation, status=500, code="ServiceFailure")
    result = deployment["admin"]("doctor", *deployment["doctor_args"], *args)
    assert result.returncode == 4 and result.stdout == ""
    assert result.stderr.splitlines()[-1].startswith("cog-auth-s3: error: ") and "ServiceFailure" in result.stderr
    assert "Traceback" not in result.stderr
    faults.clear()
    assert deployment["admin"]("doctor", *deployment["doctor_args"], "--fix", "--yes").returncode == 0


def test_a_read_the_administrator_is_refused_names_the_permission(deployment, admin_client):
    iam = admin_client("iam")
    name = "doctor-" + uuid.uuid4().hex[:8]
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="all-but-role-policies", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"},
                                               {"Effect": "Deny", "Action": "iam:GetRolePolicy", "Resource": "*"}]}))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    result = deployment["admin"]("--json", "doctor", AWS_ACCESS_KEY_ID=key["AccessKeyId"],
                                 AWS_SECRET_ACCESS_KEY=key["SecretAccessKey"])
    report = json.loads(result.stdout)
    unreadable = [item for item in report["findings"] if item["id"] == "unreadable"]
    assert result.returncode == 4 and unreadable and "iam:GetRolePolicy" in unreadable[0]["fix"]
    assert f"role {deployment['role']}: its policies could not be read" in report["proof"]["not_simulated"]


def test_doctor_usage_errors_exit_2(deployment, tmp_path):
    empty = run_cli("--config", write_config(tmp_path / "c.ini", {"default": {}}), "doctor",
                    env=user_env(tmp_path), cwd=tmp_path)
    assert empty.returncode == 2 and "--identity-pool-id" in empty.stderr
    assert deployment["admin"]("doctor", "--yes").returncode == 2
    other_region = deployment["admin"]("doctor", "--region", "eu-west-1")
    assert other_region.returncode == 2 and "make them agree" in other_region.stderr


def test_setup_guests_is_clean_any_bucket_access_of_the_guest_role_is_critical_and_teardown_removes_it(
        setup_deployment, deployment, admin_client):
    dep = setup_deployment("dg" + uuid.uuid4().hex[:8], "--guests")
    code, report, _ = doctor(dep)
    assert (code, serious(report)) == (0, [])
    assert set(cells(report, dep["guest_role"]).values()) == {False}
    # From another deployment's folder: its profile's bucket, user pool and client are not this pool's.
    code, report, stderr = doctor(deployment, "--identity-pool-id", dep["identity_pool_id"])
    assert (code, serious(report)) == (0, []) and cells(report, dep["guest_role"]), stderr
    # A trust mistake on the guests' role is repaired there, not on the signed-in users' role.
    guest_trust = trust(dep["identity_pool_id"])
    guest_trust["Statement"][0]["Condition"] = {"StringEquals": {
        "cognito-identity.amazonaws.com:aud": "us-east-1:00000000-1111-2222-3333-444444444444"}}
    admin_client("iam").update_assume_role_policy(RoleName=dep["guest_role"], PolicyDocument=json.dumps(guest_trust))
    code, report, _ = doctor(dep)
    assert code == 5 and {item["resource"] for item in report["findings"] if item["id"] == "trust-other-pool"} == {
        f"role {dep['guest_role']} (trust policy)"}
    code, report, stderr = doctor(dep, "--fix", "--yes")
    assert (code, serious(report)) == (0, []), stderr
    assert admin_client("iam").get_role(RoleName=dep["role"])["Role"]["AssumeRolePolicyDocument"] == \
        tool.trust_policy(dep["identity_pool_id"])
    admin_client("iam").put_role_policy(RoleName=dep["guest_role"], PolicyName="oops", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket",
                                                "Resource": f"arn:aws:s3:::{dep['bucket']}"}]}))
    code, report, _ = doctor(dep)
    assert code == 5 and "guest-bucket-access" in ids(report)
    assert cells(report, dep["guest_role"])[("root", "list")]
    removed = dep["admin"]("teardown", "--name", dep["name"], "--force")
    assert removed.returncode == 0, removed.stderr
    for role in (dep["role"], dep["guest_role"]):
        with pytest.raises(ClientError):
            admin_client("iam").get_role(RoleName=role)


def test_doctor_follows_the_profiles_folder_template(setup_deployment, admin_client):
    template = "private/{identity_id}/"
    dep = setup_deployment("df" + uuid.uuid4().hex[:8], "--folder", template)
    code, report, stderr = doctor(dep)
    assert (code, serious(report)) == (0, []), stderr
    assert cells(report, dep["role"]) == {(folder, action): folder == "own" for folder in FOLDERS for action in ACTIONS}
    own = f"private/{SUB}/"
    admin_client("iam").put_role_policy(RoleName=dep["role"], PolicyName="own-folder-in-bucket",
                                        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                                            _objects(dep["bucket"], f"{own}*"),
                                            _listing(dep["bucket"], ["private/", "private/*"])]}))
    code, report, _ = doctor(dep)
    assert code == 5 and "perm-list-too-broad" in ids(report)
    code, report, stderr = doctor(dep, "--fix", "--yes")
    assert (code, serious(report)) == (0, []), stderr
    assert admin_client("iam").get_role_policy(RoleName=dep["role"], PolicyName="own-folder-in-bucket")[
        "PolicyDocument"] == tool.role_policies(dep["bucket"], dep["identity_pool_id"], REGION, template)[
        "PermissionsPolicy"]


# ---- the pure checks, on documents

POOL = "us-east-1:0e3c1234-5678-4bfd-956f-2acfa1efd61f"


def test_the_policies_setup_attaches_raise_no_finding():
    policies = tool.role_policies("bkt", POOL, REGION)
    role = {"name": "r", "trust": policies["TrustPolicy"],
            "policies": [{"name": "p", "document": policies["PermissionsPolicy"], "inline": True}]}
    assert tool.check_trust(role, POOL, "authenticated") == []
    assert tool.check_permissions(role, "bkt", "aws", REGION) == []


def test_policy_values_resolve_variables_and_an_unset_variable_matches_nothing():
    own = {"cognito-identity.amazonaws.com:sub": "us-east-1:a"}
    assert tool.policy_value_matches("arn:aws:s3:::b/${cognito-identity.amazonaws.com:sub}/*",
                                     "arn:aws:s3:::b/us-east-1:a/k", own)
    assert not tool.policy_value_matches("arn:aws:s3:::b/${cognito-identity.amazonaws.com:sub}/*",
                                         "arn:aws:s3:::b/us-east-1:b/k", own)
    assert not tool.policy_value_matches("arn:aws:s3:::b/${aws:username}/*", "arn:aws:s3:::b/x/k", own)


def test_simulation_reports_the_deciding_statement_and_deny_wins(admin_client):
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::b/${aws:username}/*"}]}, indent=2)
    result = admin_client("iam").simulate_custom_policy(
        PolicyInputList=[policy], ActionNames=["s3:GetObject", "s3:DeleteObject"], ResourceArns=["arn:aws:s3:::b/u/k"],
        ContextEntries=[{"ContextKeyName": "aws:username", "ContextKeyValues": ["u"], "ContextKeyType": "string"}])
    get, delete = result["EvaluationResults"]
    assert (get["EvalDecision"], delete["EvalDecision"]) == ("allowed", "explicitDeny")
    assert delete["MatchedStatements"][0]["StartPosition"] == {"Line": 9, "Column": 5}
    assert delete["MatchedStatements"][0]["SourcePolicyId"] == "PolicyInputList.1"


def trust_with(**changes):
    """setup's trust policy with its one statement changed (None drops a key) or its condition block replaced."""
    document = tool.trust_policy(POOL)
    statement = document["Statement"][0]
    for key, value in changes.items():
        if value is None:
            statement.pop(key, None)
        else:
            statement[key] = value
    return document


@pytest.mark.parametrize("document, kind, expected", [
    (trust_with(Action="sts:AssumeRole"), "authenticated", {"trust-wrong-action"}),
    (trust_with(Principal={"Federated": "cognito-identity.amazon.com"}), "authenticated", {"trust-wrong-principal"}),
    (trust_with(Condition={"ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"}}),
     "authenticated", {"trust-aud-missing"}),
    (trust_with(Condition={"StringEquals": {"cognito-identity.amazonaws.com:aud": [POOL, "us-east-1:other"]},
                           "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"}}),
     "authenticated", {"trust-other-pool"}),
    (trust_with(Condition={"StringEquals": {"cognito-identity.amazonaws.com:aud": POOL}}), "authenticated",
     {"trust-amr-missing"}),
    (tool.trust_policy(POOL, "unauthenticated"), "unauthenticated", set()),
    (tool.trust_policy(POOL, "unauthenticated"), "authenticated", {"trust-amr-mismatch", "trust-amr-admits-guests"}),
    (trust_with(Condition={"StringEquals": {"cognito-identity.amazonaws.com:aud": POOL}, "ForAnyValue:StringLike": {
        "cognito-identity.amazonaws.com:amr": ["authenticated", "unauthenticated"]}}), "authenticated",
     {"trust-amr-admits-guests"}),
    (trust_with(Condition={"StringEquals": {"cognito-identity.amazonaws.com:aud": POOL}, "ForAnyValue:StringLike": {
        "cognito-identity.amazonaws.com:amr": "*authenticated"}}), "authenticated", {"trust-amr-admits-guests"}),
    (trust_with(Condition={"StringEquals": {"cognito-identity.amazonaws.com:aud": POOL}, "StringLike": {
        "cognito-identity.amazonaws.com:amr": "authenticated"}}), "authenticated",
     {"trust-amr-mismatch", "condition-plain-operator-multivalued"}),
    (trust_with(Condition={"StringLike": {"cognito-identity.amazonaws.com:aud": "us-east-1:*"},
                           "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"}}),
     "authenticated", {"trust-other-pool"}),
])
def test_trust_checks_name_each_variant(document, kind, expected):
    found = tool.check_trust({"name": "r", "trust": document}, POOL, kind)
    assert {item["id"] for item in found} == expected


@pytest.mark.parametrize("client, expected", [
    ({"ExplicitAuthFlows": ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
      "PreventUserExistenceErrors": "ENABLED"}, set()),
    ({"PreventUserExistenceErrors": "ENABLED"}, set()),  # no flows: AWS's default set, SRP and refresh included
    ({"ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH"], "PreventUserExistenceErrors": "ENABLED"},
     {"client-no-srp", "client-no-refresh"}),
    ({"ExplicitAuthFlows": ["ADMIN_NO_SRP_AUTH"], "PreventUserExistenceErrors": "LEGACY"},
     {"client-user-existence-errors"}),  # legacy flags imply SRP and refresh
])
def test_app_client_checks(client, expected):
    found = tool.check_app_client({"ClientId": "c", "UserPoolId": "us-east-1_p", **client})
    assert {item["id"] for item in found} == expected


def test_bucket_checks_skip_what_could_not_be_read_and_name_the_rest():
    assert tool.check_bucket("b", {}) == []  # nothing read, nothing concluded
    found = tool.check_bucket("b", {"public_access_block": {"BlockPublicAcls": True}, "policy": None,
                                    "encryption": None, "lifecycle": []})
    assert {item["id"] for item in found} == {"bucket-public-access", "bucket-no-tls-deny", "bucket-no-encryption",
                                              "bucket-no-abort-lifecycle"}


def test_setup_and_doctor_agree_on_what_denies_requests_without_tls():
    bucket_arn = "arn:aws:s3:::b"
    get_only = dict(tool.tls_statement("b", REGION), Action="s3:GetObject")
    assert tool.denies_insecure_transport(tool.tls_statement("b", REGION), bucket_arn)
    assert not tool.denies_insecure_transport(get_only, bucket_arn)  # puts without TLS would still pass
    found = tool.check_bucket("b", {"policy": {"Statement": [get_only]}})
    assert {item["id"] for item in found} == {"bucket-no-tls-deny"}


def test_iam_clients_give_up_on_a_silent_endpoint_in_seconds():
    assert tool.make_client("iam", REGION, "http://127.0.0.1:9")._client_config.read_timeout == \
        tool.SMALL_CALL_TUNING["read_timeout"]


def test_exit_code_follows_the_worst_finding():
    make = lambda severity: tool.finding("x", severity, "r", "d", "f")  # noqa: E731
    assert [tool.audit_exit_code(items) for items in ([], [make("warning")], [make("warning"), make("error")],
                                                      [make("error"), make("critical")])] == [0, 0, 4, 5]
