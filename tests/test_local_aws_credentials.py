"""local_aws's temporary credentials over HTTP: expiry on its clock, and S3 presigned URLs signed with them.

These tests move the clock, so they run on a local_aws of their own (clock_aws), never the shared one.
"""

import json
import urllib.error
import urllib.request
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from helpers import PASSWORDS, REGION, advance_clock, run_cli, user_env, write_config

HOUR = 3600


def sign_in(clock_stack, tmp_path, username="alice"):
    """Sign in through the tool with an empty cache (a new ID token and new credentials); its creds JSON."""
    home = tmp_path / uuid.uuid4().hex[:8]
    home.mkdir()
    settings = {k: v for k, v in clock_stack.items() if k not in ("role", "client_secret")}
    config = write_config(home / "config.ini", {"default": {**settings, "username": username,
                                                            "password": PASSWORDS[username]}})
    done = run_cli("--config", config, "creds", "--format", "json", env=user_env(home), cwd=home)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def client(clock_stack, creds, service="s3", **config):
    """A boto3 client of the stack's local_aws holding the tool's temporary credentials."""
    return boto3.client(service, region_name=REGION, endpoint_url=clock_stack["endpoint_url"],
                        aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                        aws_session_token=creds["SessionToken"],
                        config=Config(retries={"total_max_attempts": 1}, **config))


def fetch(url, data=None, method=None):
    """(status, body) of a plain urllib request, as anyone holding a shared link would make it."""
    # urllib's default type for a body is a form, whose body moto's S3 would drop (not what S3 does).
    headers = {"Content-Type": "text/plain"} if data is not None else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, method=method, headers=headers),
                                    timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def error_code(call):
    """(code, message, HTTP status) of a call that must fail."""
    with pytest.raises(ClientError) as raised:
        call()
    response = raised.value.response
    return response["Error"]["Code"], response["Error"].get("Message"), response["ResponseMetadata"]["HTTPStatusCode"]


def test_a_presigned_url_is_honoured_for_the_signers_own_folder_only(clock_stack, clock_aws, tmp_path):
    alice, bob = sign_in(clock_stack, tmp_path, "alice"), sign_in(clock_stack, tmp_path, "bob")
    s3 = client(clock_stack, alice, signature_version="s3v4")
    bucket, own = clock_stack["bucket"], f"{alice['IdentityId']}/shared.txt"
    client(clock_stack, bob).put_object(Bucket=bucket, Key=f"{bob['IdentityId']}/secret.txt", Body=b"bob's")

    put = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": own}, ExpiresIn=600)
    assert fetch(put, data=b"shared by link", method="PUT")[0] == 200
    get = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": own}, ExpiresIn=600)
    assert fetch(get) == (200, b"shared by link")

    # Signed correctly, but alice's role policy does not reach bob's folder: the same IAM evaluation decides.
    for operation, data in (("get_object", None), ("put_object", b"overwrite")):
        url = s3.generate_presigned_url(operation, ExpiresIn=600,
                                        Params={"Bucket": bucket, "Key": f"{bob['IdentityId']}/secret.txt"})
        status, body = fetch(url, data=data, method="PUT" if data else None)
        assert status == 403 and b"<Code>AccessDenied</Code>" in body, (operation, body)
    listing = s3.generate_presigned_url("list_objects_v2", Params={"Bucket": bucket, "Prefix": f"{bob['IdentityId']}/"})
    assert fetch(listing)[0] == 403
    own_listing = s3.generate_presigned_url("list_objects_v2", Params={"Bucket": bucket,
                                                                       "Prefix": f"{alice['IdentityId']}/"})
    status, body = fetch(own_listing)
    assert status == 200 and b"<KeyCount>1</KeyCount>" in body and b"/shared.txt</Key>" in body, body
    admin = clock_aws["admin_session"].client("s3", endpoint_url=clock_stack["endpoint_url"])
    assert admin.get_object(Bucket=bucket, Key=f"{bob['IdentityId']}/secret.txt")["Body"].read() == b"bob's"

    # Any change to what was signed breaks the signature.
    signature = get.rpartition("X-Amz-Signature=")[2]
    forged = get.replace(signature, ("0" if signature[0] != "0" else "1") + signature[1:])
    tampered_key = get.replace(own.split("/", 1)[1], "other.txt")
    for url in (forged, tampered_key):
        status, body = fetch(url)
        assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body, body


def test_a_presigned_url_needs_sigv4_and_at_most_a_week(clock_stack, tmp_path):
    alice = sign_in(clock_stack, tmp_path)
    params = {"Bucket": clock_stack["bucket"], "Key": f"{alice['IdentityId']}/x"}
    sigv2 = client(clock_stack, alice, signature_version="s3").generate_presigned_url("get_object", Params=params)
    status, body = fetch(sigv2)
    assert status == 400 and b"<Code>InvalidRequest</Code>" in body and b"AWS4-HMAC-SHA256" in body, body
    too_long = client(clock_stack, alice, signature_version="s3v4").generate_presigned_url(
        "get_object", Params=params, ExpiresIn=604801)
    status, body = fetch(too_long)
    assert status == 400 and b"<Code>AuthorizationQueryParametersError</Code>" in body, body


def test_a_presigned_url_dies_at_its_own_expiry_or_its_credentials_whichever_is_first(clock_stack, clock_aws, tmp_path):
    alice = sign_in(clock_stack, tmp_path)
    s3 = client(clock_stack, alice, signature_version="s3v4")
    params = {"Bucket": clock_stack["bucket"], "Key": f"{alice['IdentityId']}/expiring.txt"}
    s3.put_object(Body=b"for a while", **params)
    short = s3.generate_presigned_url("get_object", Params=params, ExpiresIn=300)
    long = s3.generate_presigned_url("get_object", Params=params, ExpiresIn=2 * HOUR)
    assert fetch(short) == (200, b"for a while") and fetch(long) == (200, b"for a while")

    advance_clock(clock_aws["endpoint_url"], 301)
    status, body = fetch(short)
    assert status == 403 and b"<Code>AccessDenied</Code><Message>Request has expired</Message>" in body, body
    assert fetch(long) == (200, b"for a while")

    advance_clock(clock_aws["endpoint_url"], HOUR)  # past the credentials' one hour, inside the URL's two
    status, body = fetch(long)
    assert status == 400 and b"<Code>ExpiredToken</Code>" in body, body


def test_expired_temporary_credentials_are_refused_and_a_new_sign_in_works(clock_stack, clock_aws, tmp_path):
    old = sign_in(clock_stack, tmp_path)
    key = f"{old['IdentityId']}/late.txt"
    client(clock_stack, old).put_object(Bucket=clock_stack["bucket"], Key=key, Body=b"in time")
    advance_clock(clock_aws["endpoint_url"], HOUR + 60)

    assert error_code(lambda: client(clock_stack, old).put_object(Bucket=clock_stack["bucket"], Key=key, Body=b"late")) == \
        ("ExpiredToken", "The provided token has expired.", 400)
    # JSON and query services answer in their own protocol.
    assert error_code(lambda: client(clock_stack, old, "cognito-idp").list_user_pools(MaxResults=1))[:2] == \
        ("ExpiredTokenException", "The security token included in the request is expired")
    assert error_code(lambda: client(clock_stack, old, "sts").get_caller_identity()) == \
        ("ExpiredToken", "The security token included in the request is expired", 403)

    new = sign_in(clock_stack, tmp_path)  # a fresh ID token, then GetId and GetCredentialsForIdentity
    assert new["IdentityId"] == old["IdentityId"] and new["AccessKeyId"] != old["AccessKeyId"]
    client(clock_stack, new).put_object(Bucket=clock_stack["bucket"], Key=key, Body=b"renewed")
    assert client(clock_stack, new).get_object(Bucket=clock_stack["bucket"], Key=key)["Body"].read() == b"renewed"


def test_sessions_are_issued_on_local_aws_clock(clock_stack, clock_aws, tmp_path):
    import datetime

    clock = advance_clock(clock_aws["endpoint_url"], 3 * HOUR)
    now = datetime.datetime.strptime(clock["now"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    expiration = datetime.datetime.fromisoformat(sign_in(clock_stack, tmp_path)["Expiration"].replace("Z", "+00:00"))
    assert datetime.timedelta(minutes=55) < expiration - now <= datetime.timedelta(hours=1, minutes=1)
    sts = clock_aws["admin_session"].client("sts", endpoint_url=clock_stack["endpoint_url"])
    iam = clock_aws["admin_session"].client("iam", endpoint_url=clock_stack["endpoint_url"])
    arn = iam.create_role(RoleName="admin-assumable", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                               "Principal": {"AWS": "arn:aws:iam::123456789012:root"}}]}))["Role"]["Arn"]
    role = sts.assume_role(RoleArn=arn, RoleSessionName="admin", DurationSeconds=900)["Credentials"]
    assert datetime.timedelta(minutes=14) < role["Expiration"] - now <= datetime.timedelta(minutes=16)
