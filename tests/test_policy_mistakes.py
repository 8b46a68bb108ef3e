"""The role-policy mistakes seen in the wild, reproduced on local_aws: each one leaks or breaks, visibly."""

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from helpers import SUB, jwt_sub, stack_config as user_config


def user_s3(cli, tmp_path, stack, user="alice"):
    """An S3 client holding the user's temporary credentials, and their identity id."""
    creds = json.loads(cli("--config", user_config(tmp_path, stack, user), "--no-cache", "creds", "--format",
                           "json").stdout)
    client = boto3.client("s3", region_name="us-east-1", endpoint_url=stack["endpoint_url"],
                          aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
                          aws_session_token=creds["SessionToken"])
    return client, creds["IdentityId"]


def refused(call, **params):
    with pytest.raises(ClientError) as info:
        call(**params)
    return info.value.response["Error"]["Code"] == "AccessDenied"


def test_a_policy_without_the_slash_after_the_variable_lets_a_user_into_lookalike_folders(cli, make_stack,
                                                                                        tmp_path):
    no_slash = make_stack("noslash", permissions=lambda bucket: {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/{SUB}*"}]})
    s3, me = user_s3(cli, tmp_path, no_slash)
    s3.put_object(Bucket=no_slash["bucket"], Key=f"{me}x/leak.txt", Body=b"x")  # the leak is real here
    right, me_right = user_s3(cli, tmp_path, make_stack("slash"))
    assert refused(right.put_object, Bucket="slash-bucket", Key=f"{me_right}x/leak.txt", Body=b"x")


def test_an_unconditioned_list_grant_lets_every_user_list_every_key(cli, make_stack, tmp_path):
    open_list = make_stack("openlist", permissions=lambda bucket: {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"}]})
    s3, _ = user_s3(cli, tmp_path, open_list)
    s3.list_objects_v2(Bucket=open_list["bucket"])  # everyone's keys: the leak is real here
    right, _ = user_s3(cli, tmp_path, make_stack("closedlist"))
    assert refused(right.list_objects_v2, Bucket="closedlist-bucket")


def test_folders_named_after_the_user_pool_sub_are_refused(cli, stack, tmp_path):
    config = user_config(tmp_path, stack)
    token = json.loads(cli("--config", config, "--no-cache", "--json").stdout)["id_token"]
    s3, _ = user_s3(cli, tmp_path, stack)
    assert refused(s3.put_object, Bucket=stack["bucket"], Key=f"{jwt_sub(token)}/x.txt", Body=b"x")


def test_an_identity_pool_without_its_role_ends_in_exit_4_naming_the_fix(cli, make_stack, admin_client, tmp_path):
    orphan = make_stack("norole")
    admin_client("cognito-identity").set_identity_pool_roles(IdentityPoolId=orphan["identity_pool_id"], Roles={})
    result = cli("--config", user_config(tmp_path, orphan), "--no-cache", "creds")
    assert result.returncode == 4 and "role" in result.stderr and len(result.stderr.splitlines()) == 1
