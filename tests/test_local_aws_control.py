"""local_aws's /_local_aws/ endpoints: the request log and fault injection, over HTTP."""

import json
import urllib.error
import urllib.request
import uuid

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError

NO_RETRIES = Config(retries={"total_max_attempts": 1})


def control(local_aws, method, path, body=None):
    """Call a /_local_aws/ endpoint, unsigned; return its decoded JSON (or None)."""
    request = urllib.request.Request(local_aws["endpoint_url"] + "/_local_aws/" + path, method=method,
                                     data=None if body is None else json.dumps(body).encode())
    with urllib.request.urlopen(request) as response:
        text = response.read()
    return json.loads(text) if text else None


@pytest.fixture
def clean(local_aws):
    """An empty request log and no faults, before and after the test."""
    control(local_aws, "DELETE", "requests")
    control(local_aws, "DELETE", "faults")
    yield
    control(local_aws, "DELETE", "faults")


def test_request_log_names_service_operation_and_status_in_arrival_order(local_aws, admin_client, s3, clean):
    bucket = f"bucket-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3.head_object(Bucket=bucket, Key="k")
    s3.get_object(Bucket=bucket, Key="k")
    s3.list_objects_v2(Bucket=bucket)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="m")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="m", UploadId=upload_id, PartNumber=1, Body=b"y")
    s3.list_multipart_uploads(Bucket=bucket)
    s3.abort_multipart_upload(Bucket=bucket, Key="m", UploadId=upload_id)
    s3.delete_object(Bucket=bucket, Key="k")
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="missing")
    admin_client("sts").get_caller_identity()
    admin_client("iam").list_users()
    unsigned = boto3.client("cognito-idp", region_name="us-east-1", endpoint_url=local_aws["endpoint_url"],
                            config=Config(signature_version=UNSIGNED, retries={"total_max_attempts": 1}))
    with pytest.raises(ClientError):
        unsigned.initiate_auth(ClientId="no-such-client", AuthFlow="USER_SRP_AUTH",
                               AuthParameters={"USERNAME": "u", "SRP_A": "2"})
    assert control(local_aws, "GET", "requests") == [
        {"service": "s3", "operation": "CreateBucket", "status": 200},
        {"service": "s3", "operation": "PutObject", "status": 200},
        {"service": "s3", "operation": "HeadObject", "status": 200},
        {"service": "s3", "operation": "GetObject", "status": 200},
        {"service": "s3", "operation": "ListObjectsV2", "status": 200},
        {"service": "s3", "operation": "CreateMultipartUpload", "status": 200},
        {"service": "s3", "operation": "UploadPart", "status": 200},
        {"service": "s3", "operation": "ListMultipartUploads", "status": 200},
        {"service": "s3", "operation": "AbortMultipartUpload", "status": 204},
        {"service": "s3", "operation": "DeleteObject", "status": 204},
        {"service": "s3", "operation": "HeadObject", "status": 404},
        {"service": "sts", "operation": "GetCallerIdentity", "status": 200},
        {"service": "iam", "operation": "ListUsers", "status": 200},
        {"service": "cognito-idp", "operation": "InitiateAuth", "status": 400},
    ]


def test_request_log_clears_on_delete_and_omits_its_own_calls(local_aws, s3, clean):
    s3.list_buckets()
    control(local_aws, "GET", "faults")
    assert control(local_aws, "GET", "requests") == [{"service": "s3", "operation": "ListBuckets", "status": 200}]
    control(local_aws, "DELETE", "requests")
    assert control(local_aws, "GET", "requests") == []


def test_fault_fails_the_matching_requests_after_skipping_some_with_an_s3_error(local_aws, s3, clean):
    bucket = f"bucket-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="m")["UploadId"]
    control(local_aws, "POST", "faults", {"operation": "UploadPart", "skip": 1, "times": 2, "status": 500,
                                          "code": "InternalError", "message": "injected"})
    outcomes = []
    for number in range(1, 5):
        try:
            s3.upload_part(Bucket=bucket, Key="m", UploadId=upload_id, PartNumber=number, Body=b"z")
            outcomes.append("ok")
        except ClientError as e:
            outcomes.append((e.response["Error"]["Code"], e.response["Error"]["Message"],
                             e.response["ResponseMetadata"]["HTTPStatusCode"]))
    assert outcomes == ["ok", ("InternalError", "injected", 500), ("InternalError", "injected", 500), "ok"]
    # Failed parts never reached moto.
    parts = s3.list_parts(Bucket=bucket, Key="m", UploadId=upload_id)["Parts"]
    assert [p["PartNumber"] for p in parts] == [1, 4]
    assert [e["status"] for e in control(local_aws, "GET", "requests") if e["operation"] == "UploadPart"] == \
        [200, 500, 500, 200]
    s3.abort_multipart_upload(Bucket=bucket, Key="m", UploadId=upload_id)


def test_fault_on_a_json_service_answers_in_its_json_error_shape(local_aws, admin_session, clean):
    control(local_aws, "POST", "faults", {"operation": "ListUserPools", "status": 400,
                                          "code": "TooManyRequestsException", "message": "slow down"})
    idp = admin_session.client("cognito-idp", endpoint_url=local_aws["endpoint_url"], config=NO_RETRIES)
    with pytest.raises(ClientError) as excinfo:
        idp.list_user_pools(MaxResults=1)
    assert excinfo.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert excinfo.value.response["Error"]["Message"] == "slow down"
    assert idp.list_user_pools(MaxResults=1)["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_delete_faults_clears_them(local_aws, s3, clean):
    control(local_aws, "POST", "faults", {"operation": "ListBuckets", "times": 5})
    control(local_aws, "DELETE", "faults")
    assert control(local_aws, "GET", "faults") == []
    assert s3.list_buckets()["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_reset_fault_drops_the_connection_without_an_answer(local_aws, s3, clean):
    control(local_aws, "POST", "faults", {"operation": "ListBuckets", "action": "reset"})
    with pytest.raises(ConnectionClosedError):
        s3.list_buckets()
    assert s3.list_buckets()["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_bad_fault_rule_is_refused(local_aws, clean):
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        control(local_aws, "POST", "faults", {"skip": 1})
    assert excinfo.value.code == 400


def test_a_connection_stays_open_across_requests_even_after_a_body_the_server_refused_unread(local_aws, s3, clean):
    """HTTP/1.1 keep-alive, as S3 has it: werkzeug would close every connection (its 'Connection: close')."""
    import http.client
    from urllib.parse import urlsplit

    endpoint = urlsplit(local_aws["endpoint_url"])
    connection = http.client.HTTPConnection(endpoint.hostname, endpoint.port, timeout=30)
    bucket = f"bucket-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    rule = json.dumps({"operation": "NoSuchOperation", "status": 500, "code": "InternalError"}).encode()
    answers = []
    # Unsigned: refused before its 64 KiB body is read. Then a request whose body is read, and a GET.
    for method, path, body in (("PUT", f"/{bucket}/refused", b"x" * 65536), ("POST", "/_local_aws/faults", rule),
                               ("GET", "/_local_aws/faults", None)):
        connection.request(method, path, body=body)
        response = connection.getresponse()
        answers.append((response.status, response.will_close, response.read()))
        assert connection.sock is not None, f"{method} {path} closed the connection"
    assert [(status, will_close) for status, will_close, _ in answers] == [(403, False), (200, False), (200, False)]
    assert b"AccessDenied" in answers[0][2]
    assert [rule["operation"] for rule in json.loads(answers[2][2])] == ["NoSuchOperation"]  # read whole, in turn
    connection.request("GET", "/_local_aws/requests", headers={"Connection": "close"})
    response = connection.getresponse()
    assert response.status == 200 and response.will_close  # a client that asks to close is answered and closed


def test_a_client_that_expects_100_continue_gets_it_once_then_its_answer_on_the_same_connection(local_aws, clean):
    """http.server and werkzeug both answered Expect: 100-continue: two interim answers to one request."""
    import socket
    from urllib.parse import urlsplit

    endpoint = urlsplit(local_aws["endpoint_url"])
    rule = json.dumps({"operation": "NoSuchOperation", "status": 500, "code": "InternalError"}).encode()
    with socket.create_connection((endpoint.hostname, endpoint.port), timeout=30) as sock:
        sock.sendall(b"POST /_local_aws/faults HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n" % len(rule))
        stream = sock.makefile("rb")
        assert stream.readline() == b"HTTP/1.1 100 Continue\r\n" and stream.readline() == b"\r\n"
        sock.sendall(rule + b"GET /_local_aws/faults HTTP/1.1\r\nHost: x\r\n\r\n")
        statuses = []
        for _ in range(2):
            statuses.append(stream.readline())
            length = 0
            while (line := stream.readline()) != b"\r\n":
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            body = stream.read(length)
        assert statuses == [b"HTTP/1.1 200 OK\r\n"] * 2, statuses
        assert [rule["operation"] for rule in json.loads(body)] == ["NoSuchOperation"]


def test_an_http_1_0_client_asking_keep_alive_is_told_the_connection_closes_and_it_does(local_aws, clean):
    """Keep-alive here is HTTP/1.1's; an HTTP/1.0 client that asks for it must hear "Connection: close", or it
    may wait for the server to close a connection the server keeps open."""
    import socket
    from urllib.parse import urlsplit

    endpoint = urlsplit(local_aws["endpoint_url"])
    with socket.create_connection((endpoint.hostname, endpoint.port), timeout=10) as sock:
        sock.sendall(b"GET /_local_aws/faults HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
        answer = sock.makefile("rb").read()  # to the end: the server must close
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"\r\nConnection: close" in head and body == b"[]", answer
