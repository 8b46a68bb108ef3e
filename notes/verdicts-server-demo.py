"""Prints the server behaviours of notes/docs-verdicts-server.md against a fresh local_aws (run from the repo root)."""
import json, sys, uuid
sys.path.insert(0, "tests")
import boto3, conftest
from botocore.exceptions import ClientError
from test_local_aws_s3_actions import ActionWorld, OTHER

proc, info = conftest.start_local_aws()
try:
    session = boto3.Session(aws_access_key_id=info["aws_access_key_id"],
                            aws_secret_access_key=info["aws_secret_access_key"], region_name="us-east-1")
    aw = ActionWorld(session, info["endpoint_url"])
    key = f"{OTHER}/bob.txt"
    aw.admin("s3").put_object(Bucket=aw.bucket, Key=key, Body=b"bob's")
    def attempt(label, call, **kw):
        try:
            call(**kw); print(f"{label}: allowed")
        except ClientError as e:
            print(f"{label}: {e.response['Error']['Code']}")
    aw.allow()
    print("# least-privilege role (own folder only), alice on another identity's object:")
    attempt("GetObject VersionId=null", aw.user.get_object, Bucket=aw.bucket, Key=key, VersionId="null")
    attempt("GetObjectAttributes", aw.user.get_object_attributes, Bucket=aw.bucket, Key=key, ObjectAttributes=["ETag"])
    attempt("ListObjectVersions", aw.user.list_object_versions, Bucket=aw.bucket, Prefix=f"{OTHER}/")
    attempt("AbortMultipartUpload made-up id, own folder", aw.user.abort_multipart_upload, Bucket=aw.bucket,
            Key=f"{aw.identity_id('alice', aw.probe_pool)}/x", UploadId="made-up")
    attempt("AbortMultipartUpload made-up id, other folder", aw.user.abort_multipart_upload, Bucket=aw.bucket,
            Key=f"{OTHER}/x", UploadId="made-up")
    print("# role also allowed s3:GetObjectVersion on the bucket:")
    aw.allow({"Effect": "Allow", "Action": "s3:GetObjectVersion", "Resource": f"arn:aws:s3:::{aw.bucket}/*"})
    attempt("GetObject VersionId=null", aw.user.get_object, Bucket=aw.bucket, Key=key, VersionId="null")
    attempt("HeadObject VersionId=null", aw.user.head_object, Bucket=aw.bucket, Key=key, VersionId="null")
    attempt("GetObject (no VersionId)", aw.user.get_object, Bucket=aw.bucket, Key=key)
    print("# AmazonS3ReadOnlyAccess attached to the role:")
    aw.allow()
    role = aw.probe_role.split("/")[-1]
    aw.admin("iam").attach_role_policy(RoleName=role, PolicyArn="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
    attempt("GetObject", aw.user.get_object, Bucket=aw.bucket, Key=key)
    r = aw.admin("iam").simulate_principal_policy(PolicySourceArn=aw.probe_role, ActionNames=["s3:GetObject"],
        ResourceArns=[f"arn:aws:s3:::{aw.bucket}/{key}"])["EvaluationResults"][0]
    print("SimulatePrincipalPolicy:", r["EvalDecision"], [(m["SourcePolicyId"], m["SourcePolicyType"]) for m in r["MatchedStatements"]])
    aw.admin("iam").detach_role_policy(RoleName=role, PolicyArn="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
    print("# own-folder read conditioned on amr:")
    own = f"{aw.identity_id('alice', aw.probe_pool)}/mine.txt"
    aw.admin("s3").put_object(Bucket=aw.bucket, Key=own, Body=b"mine")
    for op in ("StringLike", "ForAnyValue:StringLike"):
        aw.use({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{aw.bucket}/${{cognito-identity.amazonaws.com:sub}}/*",
            "Condition": {op: {"cognito-identity.amazonaws.com:amr": "authenticated"}}}]})
        attempt(f"{op} amr authenticated -> GetObject own", aw.user.get_object, Bucket=aw.bucket, Key=own)
    print("# same policy (ForAnyValue) under Version 2008-10-17:")
    aw.use({"Version": "2008-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{aw.bucket}/${{cognito-identity.amazonaws.com:sub}}/*",
        "Condition": {"ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"}}}]})
    attempt("PutRolePolicy accepted; GetObject own", aw.user.get_object, Bucket=aw.bucket, Key=own)
finally:
    conftest.stop_local_aws(proc)
