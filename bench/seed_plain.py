"""The anchor for the cold flow: the seed's four steps written plainly with boto3 and pycognito.

Usage: seed_plain.py CONFIG_JSON   (region, user_pool_id, client_id, identity_pool_id, username,
                                    password, bucket, upload_file, endpoint_url)
No cache, no checks, no output formatting: what a developer would write from the tutorial.
"""

import json
import os
import sys

import boto3
from pycognito.aws_srp import AWSSRP

cfg = json.loads(sys.argv[1])
endpoint = cfg["endpoint_url"]
idp = boto3.client("cognito-idp", region_name=cfg["region"], endpoint_url=endpoint)
srp = AWSSRP(username=cfg["username"], password=cfg["password"], pool_id=cfg["user_pool_id"],
             client_id=cfg["client_id"], client=idp)
id_token = srp.authenticate_user()["AuthenticationResult"]["IdToken"]
provider = f"cognito-idp.{cfg['region']}.amazonaws.com/{cfg['user_pool_id']}"
identity = boto3.client("cognito-identity", region_name=cfg["region"], endpoint_url=endpoint)
identity_id = identity.get_id(IdentityPoolId=cfg["identity_pool_id"], Logins={provider: id_token})["IdentityId"]
creds = identity.get_credentials_for_identity(IdentityId=identity_id, Logins={provider: id_token})["Credentials"]
s3 = boto3.client("s3", region_name=cfg["region"], endpoint_url=endpoint, aws_access_key_id=creds["AccessKeyId"],
                  aws_secret_access_key=creds["SecretKey"], aws_session_token=creds["SessionToken"])
with open(cfg["upload_file"], "rb") as handle:
    s3.put_object(Bucket=cfg["bucket"], Key=f"{identity_id}/{os.path.basename(cfg['upload_file'])}", Body=handle)
print(identity_id)
