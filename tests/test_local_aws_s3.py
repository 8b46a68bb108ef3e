"""local_aws's S3: conditional writes, flexible checksums and multipart bookkeeping, over HTTP."""

import base64
import urllib.error
import urllib.request
import uuid
import zlib

import boto3
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.exceptions import ClientError

from helpers import cognito_user_session, least_privilege

MIB = 1024 * 1024


@pytest.fixture
def bucket(s3):
    """A fresh bucket."""
    name = f"bucket-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def crc32(data):
    """S3's base64 CRC32 of some bytes."""
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def error(excinfo):
    """(code, HTTP status) of a botocore ClientError."""
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def open_uploads(s3, bucket):
    """Keys of the multipart uploads still open in a bucket."""
    return [u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]


def test_put_if_none_match_creates_a_new_key_but_refuses_an_existing_one(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"first", IfNoneMatch="*")
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=bucket, Key="k", Body=b"second", IfNoneMatch="*")
    assert error(excinfo) == ("PreconditionFailed", 412)
    assert excinfo.value.response["Error"]["Message"] == "At least one of the pre-conditions you specified did not hold"
    assert excinfo.value.response["Error"]["Condition"] == "If-None-Match"
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"first"


def test_complete_multipart_if_none_match_refuses_an_existing_key_and_leaves_the_upload_open(s3, bucket):
    def upload(body):
        upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
        etag = s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=body)["ETag"]
        return upload_id, {"Parts": [{"PartNumber": 1, "ETag": etag}]}

    upload_id, parts = upload(b"first")
    s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id, MultipartUpload=parts, IfNoneMatch="*")
    upload_id, parts = upload(b"second")
    with pytest.raises(ClientError) as excinfo:
        s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id, MultipartUpload=parts,
                                     IfNoneMatch="*")
    assert error(excinfo) == ("PreconditionFailed", 412)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"first"
    assert open_uploads(s3, bucket) == ["k"]
    s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id)
    assert open_uploads(s3, bucket) == []


def test_put_object_round_trips_the_default_crc32(s3, bucket):
    body = b"some bytes worth checking" * 100
    put = s3.put_object(Bucket=bucket, Key="k", Body=body)
    assert put["ChecksumCRC32"] == crc32(body)
    assert s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")["ChecksumCRC32"] == crc32(body)


def test_multipart_upload_file_gets_a_composite_crc32_with_its_part_count(s3, bucket, tmp_path):
    data = bytes(range(256)) * (12 * MIB // 256)
    path = tmp_path / "big"
    path.write_bytes(data)
    s3.upload_file(str(path), bucket, "big",
                   Config=TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB))
    parts = [data[i:i + 5 * MIB] for i in range(0, len(data), 5 * MIB)]
    composite = crc32(b"".join(base64.b64decode(crc32(part)) for part in parts))
    head = s3.head_object(Bucket=bucket, Key="big", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == f"{composite}-3"
    assert head["ChecksumType"] == "COMPOSITE"
    assert s3.get_object(Bucket=bucket, Key="big")["Body"].read() == data
    assert open_uploads(s3, bucket) == []


def test_put_object_with_a_wrong_crc32_is_refused_as_bad_digest_and_not_stored(s3, bucket):
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=bucket, Key="k", Body=b"abc", ChecksumCRC32=crc32(b"abd"))
    assert error(excinfo) == ("BadDigest", 400)
    assert excinfo.value.response["Error"]["Message"] == "The CRC32 you specified did not match the calculated checksum."
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_put_object_with_a_malformed_checksum_is_an_invalid_request(s3, bucket):
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=bucket, Key="k", Body=b"abc", ChecksumCRC32="not base64!")
    assert error(excinfo) == ("InvalidRequest", 400)


def test_upload_part_with_a_wrong_crc32_is_refused_and_the_part_not_kept(s3, bucket):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k", ChecksumAlgorithm="CRC32")["UploadId"]
    with pytest.raises(ClientError) as excinfo:
        s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"abc",
                       ChecksumCRC32=crc32(b"abd"))
    assert error(excinfo) == ("BadDigest", 400)
    assert s3.list_parts(Bucket=bucket, Key="k", UploadId=upload_id).get("Parts", []) == []
    s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id)


def test_list_multipart_uploads_shows_open_uploads_until_aborted(s3, bucket):
    ids = [s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"] for key in ("a", "b")]
    assert sorted(open_uploads(s3, bucket)) == ["a", "b"]
    s3.abort_multipart_upload(Bucket=bucket, Key="a", UploadId=ids[0])
    assert open_uploads(s3, bucket) == ["b"]
    s3.abort_multipart_upload(Bucket=bucket, Key="b", UploadId=ids[1])
    assert open_uploads(s3, bucket) == []


def put_with_trailer(admin_session, local_aws, bucket, body, checksum):
    """PUT an aws-chunked body whose CRC32 comes in a trailer, as SDKs do over HTTPS; return the status."""
    encoded = f"{len(body):x}\r\n".encode() + body + f"\r\n0\r\nx-amz-checksum-crc32:{checksum}\r\n\r\n".encode()
    request = AWSRequest("PUT", f"{local_aws['endpoint_url']}/{bucket}/k", data=encoded, headers={
        "Content-Type": "application/octet-stream", "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(len(body)), "x-amz-trailer": "x-amz-checksum-crc32",
        "x-amz-sdk-checksum-algorithm": "CRC32"})
    request.context["checksum"] = {"request_algorithm": {"in": "trailer", "algorithm": "crc32"}}
    S3SigV4Auth(admin_session.get_credentials(), "s3", "us-east-1").add_auth(request)
    prepared = request.prepare()
    try:
        with urllib.request.urlopen(urllib.request.Request(prepared.url, data=encoded, method="PUT",
                                                           headers=dict(prepared.headers))) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_crc32_in_an_aws_chunked_trailer_is_verified(s3, bucket, admin_session, local_aws):
    assert put_with_trailer(admin_session, local_aws, bucket, b"hello", crc32(b"hello")) == 200
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"hello"
    status, body = put_with_trailer(admin_session, local_aws, bucket, b"hello", crc32(b"jello"))
    assert status == 400 and "<Code>BadDigest</Code>" in body


def race(count, attempt):
    """Run attempt(i) in count threads released together; return {i: None or the ClientError's (code, status)}."""
    import threading

    barrier, outcomes = threading.Barrier(count), {}

    def run(i):
        prepared = attempt(i)
        barrier.wait()
        try:
            prepared()
            outcomes[i] = None
        except ClientError as e:
            outcomes[i] = (e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_concurrent_if_none_match_completions_of_one_key_let_exactly_one_win(s3, bucket):
    bodies = {i: bytes([i]) * (6 * MIB) for i in range(4)}

    def prepare(i):
        """Create and fill an upload of the key; return its completion, sent when all are ready."""
        upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
        parts = [{"PartNumber": n, "ETag": s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id,
                                                          PartNumber=n, Body=bodies[i])["ETag"]} for n in (1, 2)]
        return lambda: s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id,
                                                    MultipartUpload={"Parts": parts}, IfNoneMatch="*")

    outcomes = race(4, prepare)
    winners = [i for i, refusal in outcomes.items() if refusal is None]
    assert len(winners) == 1, outcomes
    assert sorted(r for r in outcomes.values() if r) == [("PreconditionFailed", 412)] * 3
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == bodies[winners[0]] * 2


def test_concurrent_if_none_match_puts_of_one_key_let_exactly_one_win(s3, bucket):
    outcomes = race(8, lambda i: lambda: s3.put_object(Bucket=bucket, Key="k", Body=bytes([i]) * 8 * MIB,
                                                          IfNoneMatch="*"))
    winners = [i for i, refusal in outcomes.items() if refusal is None]
    assert len(winners) == 1, outcomes
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == bytes([winners[0]]) * 8 * MIB


def test_keys_over_1024_utf8_bytes_are_refused_on_every_write_that_names_one(s3, bucket):
    at_limit, over = "é" * 512, "é" * 512 + "x"  # 1,024 and 1,025 bytes of UTF-8 (but 512 and 513 characters)
    s3.put_object(Bucket=bucket, Key=at_limit, Body=b"fits")
    writes = {
        "PutObject": lambda: s3.put_object(Bucket=bucket, Key=over, Body=b"x"),
        "CreateMultipartUpload": lambda: s3.create_multipart_upload(Bucket=bucket, Key=over),
        "CopyObject": lambda: s3.copy_object(Bucket=bucket, Key=over, CopySource={"Bucket": bucket, "Key": at_limit}),
    }
    for name, write in writes.items():
        with pytest.raises(ClientError) as excinfo:
            write()
        assert error(excinfo) == ("KeyTooLongError", 400), name
        assert excinfo.value.response["Error"]["Message"] == "Your key is too long", name
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == [at_limit]
    assert open_uploads(s3, bucket) == []


def test_parts_and_completion_of_an_aborted_upload_answer_no_such_upload(s3, bucket):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"part")["ETag"]
    s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id)
    s3.put_object(Bucket=bucket, Key="source", Body=b"copy me")
    calls = {
        "UploadPart": lambda: s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=2, Body=b"x"),
        "UploadPartCopy": lambda: s3.upload_part_copy(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=2,
                                                      CopySource={"Bucket": bucket, "Key": "source"}),
        "CompleteMultipartUpload": lambda: s3.complete_multipart_upload(
            Bucket=bucket, Key="k", UploadId=upload_id, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]}),
    }
    for name, call in calls.items():
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error(excinfo) == ("NoSuchUpload", 404), name
    assert "k" not in [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


@pytest.mark.parametrize("path", ["{bucket}/existing", "{bucket}/missing", "{bucket}?list-type=2", ""])
def test_unsigned_requests_get_an_xml_access_denied(s3, bucket, local_aws, path):
    s3.put_object(Bucket=bucket, Key="existing", Body=b"private")
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(f"{local_aws['endpoint_url']}/{path.format(bucket=bucket)}", timeout=30)
    body = excinfo.value.read().decode()
    assert excinfo.value.code == 403
    assert "<Code>AccessDenied</Code><Message>Access Denied</Message>" in body, body
    request_id = excinfo.value.headers["x-amz-request-id"]
    assert request_id and f"<RequestId>{request_id}</RequestId>" in body
    assert excinfo.value.headers["x-amz-id-2"]


def test_every_s3_answer_carries_a_request_id_and_an_id_2(s3, bucket):
    answers = [
        s3.put_object(Bucket=bucket, Key="k", Body=b"x"),
        s3.get_object(Bucket=bucket, Key="k"),
        s3.head_object(Bucket=bucket, Key="k"),
        s3.list_objects_v2(Bucket=bucket),
        s3.delete_object(Bucket=bucket, Key="k"),
    ]
    for refused in (lambda: s3.get_object(Bucket=bucket, Key="k"), lambda: s3.head_object(Bucket=bucket, Key="k")):
        with pytest.raises(ClientError) as excinfo:
            refused()
        answers.append(excinfo.value.response)
    ids = [answer["ResponseMetadata"]["HTTPHeaders"].get("x-amz-request-id") for answer in answers]
    assert all(ids) and len(set(ids)) == len(ids), ids
    assert all(answer["ResponseMetadata"]["HTTPHeaders"].get("x-amz-id-2") for answer in answers)


def listing_too(bucket):
    """least_privilege plus s3:ListBucket on the whole bucket, with no condition."""
    policy = least_privilege(bucket)
    policy["Statement"].append({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"})
    return policy


@pytest.fixture(scope="module")
def user_s3():
    """user_s3(stack, username) -> (identity id, S3 client with that user's Cognito credentials, no retries)."""
    def make(stack, username="alice"):
        identity_id, creds = cognito_user_session(stack, username)
        return identity_id, boto3.client(
            "s3", region_name=stack["region"], endpoint_url=stack["endpoint_url"],
            aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretKey"],
            aws_session_token=creds["SessionToken"],
            config=Config(signature_version="s3v4", retries={"total_max_attempts": 1}))
    return make


@pytest.fixture(scope="module")
def alice(stack, user_s3):
    """alice of the shared least-privilege stack: (identity id, S3 client)."""
    return user_s3(stack)


def test_a_missing_key_is_access_denied_to_a_caller_who_may_list_only_under_a_prefix(stack, alice):
    identity_id, s3 = alice
    key = f"{identity_id}/missing-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=stack["bucket"], Key=key)
    assert error(excinfo) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as excinfo:
        s3.head_object(Bucket=stack["bucket"], Key=key)
    assert error(excinfo) == ("403", 403)
    s3.put_object(Bucket=stack["bucket"], Key=key, Body=b"now here")  # the same key, once it exists, is served
    assert s3.get_object(Bucket=stack["bucket"], Key=key)["Body"].read() == b"now here"
    s3.delete_object(Bucket=stack["bucket"], Key=key)


def test_a_missing_key_stays_access_denied_when_the_request_smuggles_an_s3_prefix(stack, alice):
    identity_id, s3 = alice
    credentials = s3._request_signer._credentials
    url = f"{stack['endpoint_url']}/{stack['bucket']}/{identity_id}/missing?prefix={identity_id}/"
    request = AWSRequest("GET", url)
    S3SigV4Auth(credentials, "s3", stack["region"]).add_auth(request)
    prepared = request.prepare()
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(urllib.request.Request(prepared.url, headers=dict(prepared.headers)), timeout=30)
    assert excinfo.value.code == 403 and b"<Code>AccessDenied</Code>" in excinfo.value.read()


def test_a_presigned_get_of_a_missing_key_is_access_denied_without_list_permission(stack, alice):
    identity_id, s3 = alice
    url = s3.generate_presigned_url("get_object", Params={"Bucket": stack["bucket"], "Key": f"{identity_id}/gone"})
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(url, timeout=30)
    assert excinfo.value.code == 403 and b"<Code>AccessDenied</Code>" in excinfo.value.read()


def test_a_missing_key_is_no_such_key_to_a_caller_who_may_list_the_bucket(make_stack, user_s3):
    stack = make_stack("lister", permissions=listing_too)
    identity_id, s3 = user_s3(stack)
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=stack["bucket"], Key=f"{identity_id}/missing")
    assert error(excinfo) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as excinfo:
        s3.head_object(Bucket=stack["bucket"], Key=f"{identity_id}/missing")
    assert error(excinfo) == ("404", 404)
    with pytest.raises(ClientError) as excinfo:  # listing does not grant reading another folder
        s3.get_object(Bucket=stack["bucket"], Key="someone-else/missing")
    assert error(excinfo) == ("AccessDenied", 403)


def test_a_missing_key_is_no_such_key_to_the_administrator(s3, bucket):
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=bucket, Key="missing")
    assert error(excinfo) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as excinfo:
        s3.head_object(Bucket=bucket, Key="missing")
    assert error(excinfo) == ("404", 404)


def test_a_signed_request_to_a_missing_bucket_is_no_such_bucket_before_iam(stack, alice):
    identity_id, s3 = alice
    missing = f"missing-{uuid.uuid4().hex[:12]}"
    for call in (lambda: s3.put_object(Bucket=missing, Key=f"{identity_id}/k", Body=b"x"),
                 lambda: s3.get_object(Bucket=missing, Key=f"{identity_id}/k"),
                 lambda: s3.list_objects_v2(Bucket=missing, Prefix=f"{identity_id}/")):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error(excinfo) == ("NoSuchBucket", 404)
        assert excinfo.value.response["Error"]["BucketName"] == missing
    with pytest.raises(ClientError) as excinfo:
        s3.head_object(Bucket=missing, Key=f"{identity_id}/k")
    assert error(excinfo) == ("404", 404)
    with pytest.raises(ClientError) as excinfo:  # the bucket that exists still answers by IAM
        s3.list_objects_v2(Bucket=stack["bucket"])
    assert error(excinfo) == ("AccessDenied", 403)


def test_an_unsigned_request_to_a_missing_bucket_stays_access_denied(local_aws):
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(f"{local_aws['endpoint_url']}/missing-{uuid.uuid4().hex[:12]}/k", timeout=30)
    assert excinfo.value.code == 403 and b"<Code>AccessDenied</Code>" in excinfo.value.read()


def test_a_bad_signature_to_a_missing_bucket_is_refused_as_a_bad_signature(s3):
    other = boto3.client("s3", region_name="us-east-1", endpoint_url=s3.meta.endpoint_url,
                         aws_access_key_id=s3._request_signer._credentials.access_key, aws_secret_access_key="wrong",
                         config=Config(retries={"total_max_attempts": 1}))
    with pytest.raises(ClientError) as excinfo:
        other.get_object(Bucket=f"missing-{uuid.uuid4().hex[:12]}", Key="k")
    assert error(excinfo) == ("SignatureDoesNotMatch", 403)
