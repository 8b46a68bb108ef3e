"""The library internals cog_auth_s3's two speed tricks rely on are still there (guards upgrades).

prefetch_models loads service models through botocore's public data loader while SRP waits on the
network; load_awssrp imports pycognito.aws_srp without pycognito's __init__ (PyJWT, cryptography).
If a boto3, botocore or pycognito upgrade moves what they use, these fail and name it.
"""

import inspect
import subprocess
import sys

from helpers import ROOT


def test_botocore_session_hands_out_the_data_loader_the_clients_use():
    import boto3
    import botocore.session

    core = botocore.session.get_session()
    assert "botocore_session" in inspect.signature(boto3.session.Session).parameters, \
        "boto3.session.Session no longer accepts botocore_session="
    loader = core.get_component("data_loader")
    loader.load_service_model("s3", "service-2")  # the call prefetch_models makes, positional
    loader.load_service_model("cognito-identity", "endpoint-rule-set-1")
    session = boto3.session.Session(botocore_session=core, region_name="us-east-1")
    assert session._session.get_component("data_loader") is loader, "boto3 clients no longer read this loader"


def test_aws_srp_loads_without_the_pycognito_package_and_the_package_still_imports_afterwards():
    probe = (
        "import sys; import cog_auth_s3 as tool\n"
        "cls = tool.load_awssrp()\n"
        "assert all(hasattr(cls, m) for m in ('get_auth_params', 'process_challenge')), 'AWSSRP lost a method'\n"
        "assert 'jwt' not in sys.modules, 'pycognito.aws_srp now imports PyJWT: the lean load saves nothing'\n"
        "assert 'pycognito' not in sys.modules, 'the package stub was left in sys.modules'\n"
        "import pycognito; assert hasattr(pycognito, 'Cognito'), 'pycognito did not import whole afterwards'\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def credentials(key, minutes):
    """A credentials dict as a Session holds it, expiring in minutes."""
    import datetime

    moment = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=minutes)
    return {"AccessKeyId": key, "SecretAccessKey": "secret-" + key, "SessionToken": "token-" + key,
            "Expiration": moment.strftime("%Y-%m-%dT%H:%M:%SZ")}


def test_renewing_credentials_renew_in_botocores_window_and_once_per_refused_key():
    import cog_auth_s3 as tool

    renewals = []

    def renew(why):
        renewals.append(why)
        return credentials(f"AK{len(renewals) + 1}", 60)

    live = tool.renewing_credentials(credentials("AK1", 60), renew)
    assert live.get_frozen_credentials().access_key == "AK1" and renewals == []
    live.refused = "AK1"  # what renew_when_refused sets after S3's ExpiredToken
    assert live.get_frozen_credentials().access_key == "AK2" and renewals == ["S3 refused them ()"]
    live.refused = "AK1"  # a part refused before the renewal: no second one
    assert live.get_frozen_credentials().access_key == "AK2" and len(renewals) == 1
    # botocore's mandatory window (10 minutes before the Expiration) renews without being told.
    soon = tool.renewing_credentials(credentials("AK1", 5), renew)
    assert soon.get_frozen_credentials().access_key == "AK3"
    # A client made with them signs with what they hold now (a presigned URL shows the key).
    client = tool.make_client("s3", "us-east-1", "http://127.0.0.1:9", credentials=live, signature_version="s3v4")
    assert "AK2%2F" in client.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "k"})


def test_a_transfer_managers_exit_cancels_with_the_error_and_shutdown_cancel_msg_is_still_broken():
    import boto3
    from s3transfer.manager import TransferManager

    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    params = inspect.signature(TransferManager._shutdown).parameters
    assert list(params)[1:4] == ["cancel", "cancel_msg", "exc_type"], "TransferManager._shutdown changed"
    source = inspect.getsource(TransferManager.shutdown)
    # When this fails s3transfer fixed shutdown(cancel_msg=): interruptible may go back to calling it.
    assert "self._shutdown(cancel, cancel, cancel_msg)" in source
    manager = TransferManager(client)
    error = RuntimeError("boom")
    manager.__exit__(type(error), error, None)  # what interruptible calls; nothing in flight: returns at once


def direct_operation(name="PutObject", method="PUT"):
    """The stand-in operation model DirectS3 hands botocore's retry handler."""
    import types

    import cog_auth_s3 as tool

    return tool.DirectOperation(name, {"method": method}, types.SimpleNamespace(service_name="s3"))


def test_botocores_pieces_the_direct_small_object_path_builds_on_are_still_there():
    """DirectS3 signs with S3SigV4Auth, sends over URLLib3Session, resolves the endpoint with EndpointProvider and
    asks botocore's standard retry handler, without a client; if botocore moves them, this names which."""
    import inspect

    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    from botocore.httpsession import URLLib3Session

    import cog_auth_s3 as tool

    wanted = {"verify", "proxies", "timeout", "max_pool_connections", "socket_options"}
    assert wanted <= set(inspect.signature(URLLib3Session).parameters), "URLLib3Session's settings moved"
    session = tool.s3_http_session("http://127.0.0.1:9/b/", {})
    assert callable(session.send), "URLLib3Session.send moved"
    request = AWSRequest("PUT", "http://127.0.0.1:9/b/k", data=b"x", headers={"x-amz-checksum-crc32": "jN+SAQ=="})
    request.context.update(tool.DirectS3.PAYLOAD_CONTEXT)
    S3SigV4Auth(Credentials("AKIDEXAMPLE", "secret", "token"), "s3", "eu-west-1").add_auth(request)
    assert request.headers["X-Amz-Security-Token"] == "token" and "Signature=" in request.headers["Authorization"]
    assert "Credential=AKIDEXAMPLE/" in request.headers["Authorization"]  # what renew_when_refused reads back
    assert tool.total_attempts(tool.CLIENT_TUNING["retries"]) == 4, "botocore counts max_attempts as retries"


def test_the_standard_retry_handler_decides_with_what_the_direct_path_gives_it():
    """botocore's RetryHandler retries a lost connection, a 503 and throttling, and not a 403, reading no more of
    the operation model than DirectOperation holds (an AttributeError here names what it reads now)."""
    from botocore.awsrequest import AWSResponse
    from botocore.exceptions import EndpointConnectionError

    import cog_auth_s3 as tool

    def delay(handler, attempts=1, status=None, code=None, caught=None):
        response = None if status is None else (AWSResponse("http://x", status, {}, None), {"Error": {"Code": code}})
        return handler.needs_retry(response=response, attempts=attempts, caught_exception=caught,
                                   operation=direct_operation(), request_dict={"context": {}})

    handler = tool.s3_retry_handler(4)
    assert delay(handler, caught=EndpointConnectionError(endpoint_url="http://127.0.0.1:9")) is not None
    assert delay(handler, status=503, code="SlowDown") is not None
    assert delay(handler, status=400, code="Throttling") is not None
    assert delay(handler, status=500, code="InternalError", attempts=4) is None  # the 4th attempt is the last
    assert delay(handler, status=403, code="AccessDenied") is None
    assert delay(handler, status=400, code="ExpiredToken") is None  # renewal_retry's, not botocore's


def test_s3s_model_marks_no_error_retryable_so_the_direct_path_needs_none_of_its_error_shapes():
    """StandardRetryConditions also retries errors a model marks retryable; DirectOperation has no error shapes,
    which is right only while S3's model marks none."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("s3")
    marked = [(name, shape.name) for name in ("PutObject", "GetObject", "ListObjectsV2")
              for shape in model.operation_model(name).error_shapes if shape.metadata.get("retryable") is not None]
    assert marked == [], f"S3's model now marks errors retryable: give DirectOperation these error shapes: {marked}"


def test_botocores_parser_reads_s3s_error_and_listing_as_the_client_does():
    from botocore.parsers import create_parser

    import cog_auth_s3 as tool

    error = b"<Error><Code>NoSuchBucket</Code><Message>gone</Message></Error>"
    parsed = create_parser("rest-xml").parse({"status_code": 404, "body": error, "headers": {}}, None)
    assert parsed["Error"]["Code"] == "NoSuchBucket"
    listing = (b'<ListBucketResult><Name>b</Name><Prefix>p%2F</Prefix><KeyCount>1</KeyCount><IsTruncated>false'
               b'</IsTruncated><EncodingType>url</EncodingType><Contents><Key>p%2Fa+b</Key><Size>3</Size>'
               b'<LastModified>2026-01-02T03:04:05.000Z</LastModified><ETag>"e"</ETag></Contents></ListBucketResult>')
    client = tool.s3_client({"AccessKeyId": "a", "SecretAccessKey": "b", "SessionToken": "c"}, "us-east-1",
                            "http://127.0.0.1:9")
    direct = tool.DirectS3(client, "b")

    class Answer:
        status_code, content, headers = 200, listing, {}

    direct.http.send = lambda request: Answer()
    page = direct.list_page("p/")
    assert page["Contents"][0]["Key"] == "p/a b" and page["Contents"][0]["LastModified"].year == 2026
    assert client.made is None, "parsing a listing made a boto3 client"


def client_request_url(region, bucket, endpoint_url, key="k/a b+c.txt"):
    """The URL botocore's own S3 client sends a PutObject to (caught before it is sent)."""
    import boto3
    from botocore.config import Config

    import cog_auth_s3 as tool

    client = boto3.session.Session().client(
        "s3", region_name=region, endpoint_url=endpoint_url, aws_access_key_id="a", aws_secret_access_key="b",
        config=Config(**tool.CLIENT_TUNING))
    seen = []

    class Sent(Exception):
        pass

    def catch(request, **kwargs):
        seen.append(request.url)
        raise Sent()

    client.meta.events.register("before-send.s3.PutObject", catch)
    try:
        client.put_object(Bucket=bucket, Key=key, Body=b"x")
    except Sent:
        pass
    return seen[0], client


ADDRESSES = [("us-east-1", "my-bucket", None), ("eu-west-1", "my-bucket", None), ("ap-southeast-2", "a.b.c", None),
             ("us-east-1", "bench-123456789012", "http://127.0.0.1:4566"),
             ("eu-west-1", "bench-123456789012", "http://localhost:4566"),
             ("cn-north-1", "my-bucket", None), ("us-gov-west-1", "my-bucket", None)]


def test_the_direct_path_addresses_a_bucket_as_botocores_client_does():
    """s3_endpoint gives the URL the client itself sends to: virtual-hosted on AWS, path style on a custom
    endpoint (an IP or a host name), other partitions too; and the same base as the client's presigned URL
    where that one is not the global endpoint (presigned URLs use s3.amazonaws.com for any region)."""
    from urllib.parse import quote

    from botocore.loaders import create_loader

    import cog_auth_s3 as tool

    loader, key = create_loader(), "k/a b+c.txt"
    for region, bucket, endpoint in ADDRESSES:
        base, _, name, signing_region = tool.s3_endpoint(loader, bucket, region, endpoint)
        sent, client = client_request_url(region, bucket, endpoint, key)
        assert base + quote(key, safe="/~") == sent, (region, bucket, endpoint)
        assert (name, signing_region) == ("s3", region)
        if endpoint or region == "us-east-1":
            presigned = client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key})
            assert presigned.startswith(base), (presigned, base)


def test_aws_settings_change_the_direct_paths_address_as_they_change_the_clients(tmp_path, monkeypatch):
    """An AWS profile asking virtual-hosted addressing on a custom endpoint, and AWS_USE_FIPS_ENDPOINT, reach the
    direct path as they reach the client."""
    from urllib.parse import quote

    from botocore.loaders import create_loader

    import cog_auth_s3 as tool

    config = tmp_path / "config"
    config.write_text("[profile other]\ns3 =\n    addressing_style = virtual\n")
    for name in ("AWS_CONFIG_FILE", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_USE_FIPS_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_PROFILE", "other")
    settings = tool.aws_settings()
    assert settings["addressing_style"] == "virtual"
    base, _, _, _ = tool.s3_endpoint(create_loader(), "bucket-one", "us-east-1", "http://localhost:4566", settings)
    assert base == "http://bucket-one.localhost:4566/"
    assert base + "k" == client_request_url("us-east-1", "bucket-one", "http://localhost:4566", "k")[0]
    monkeypatch.setenv("AWS_USE_FIPS_ENDPOINT", "true")
    settings = tool.aws_settings()
    base, _, _, _ = tool.s3_endpoint(create_loader(), "bucket-one", "us-west-2", None, settings)
    assert base + quote("k") == client_request_url("us-west-2", "bucket-one", None, "k")[0]
    assert "fips" in base


def test_the_direct_path_lists_a_bucket_at_the_url_botocores_client_does(tmp_path, monkeypatch):
    """A listing names the bucket alone: path style ends at the bucket, a bare host gets a /, and an endpoint's
    own path keeps its trailing / (virtual-hosted on an endpoint with a path: the client sends /p/, not /p)."""
    import boto3
    from botocore.config import Config

    import cog_auth_s3 as tool

    for name in ("AWS_CONFIG_FILE", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_USE_FIPS_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    keys = {"AccessKeyId": "a", "SecretAccessKey": "b", "SessionToken": "c"}
    for style in ("path", "virtual"):
        (tmp_path / "config").write_text(f"[default]\ns3 =\n    addressing_style = {style}\n")
        for endpoint in ("http://127.0.0.1:4566/", "http://h.example:4566/p", "http://h.example:4566/p/", None):
            client = boto3.session.Session().client(
                "s3", region_name="eu-west-1", endpoint_url=endpoint, aws_access_key_id="a",
                aws_secret_access_key="b", config=Config(**tool.CLIENT_TUNING, s3={"addressing_style": style}))
            seen = []

            def catch(request, **kwargs):
                seen.append(request.url.split("?")[0])
                return "not sent"  # botocore takes a before-send answer as the response, and parses it

            client.meta.events.register("before-send.s3.ListObjectsV2", catch)
            try:
                client.list_objects_v2(Bucket="my-bucket")
            except Exception:
                pass
            direct = tool.DirectS3(tool.s3_client(keys, "eu-west-1", endpoint), "my-bucket")
            assert direct.address[1] == seen[0], (style, endpoint)


def test_a_bucket_in_another_region_than_the_profiles_is_followed_by_the_direct_path_as_by_the_client(tmp_path):
    """S3 refuses a request signed for the wrong region with 400 AuthorizationHeaderMalformed naming the bucket's
    <Region>; botocore's client re-signs for that region and goes on (S3RegionRedirectorv2). The direct path must
    too, or a profile whose region is the user pool's, not the bucket's, breaks small files only. local_aws keeps
    every bucket in one region, so a server of S3's region check alone stands in for it here."""
    import http.server
    import re
    import threading

    import cog_auth_s3 as tool

    seen = []

    class RegionCheck(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def answer(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            region = re.search(r"Credential=[^/]+/\d+/([^/]+)/s3/", self.headers.get("Authorization", "")).group(1)
            seen.append((self.command, region))
            if region != "eu-west-1":
                status, body = 400, (f"<Error><Code>AuthorizationHeaderMalformed</Code><Message>the region "
                                     f"'{region}' is wrong; expecting 'eu-west-1'</Message><Region>eu-west-1"
                                     f"</Region><RequestId>r</RequestId></Error>").encode()
            elif self.command == "GET":
                status, body = 200, (b"<ListBucketResult><Name>far</Name><KeyCount>1</KeyCount><IsTruncated>false"
                                     b"</IsTruncated><EncodingType>url</EncodingType><Contents><Key>k/a+b.txt</Key>"
                                     b"<Size>1</Size></Contents></ListBucketResult>")
            else:
                status, body = 200, b""
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_PUT = answer

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RegionCheck)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_address[1]}"
        keys = {"AccessKeyId": "a", "SecretAccessKey": "b", "SessionToken": "c"}
        tool.s3_client(keys, "us-east-1", endpoint).put_object(Bucket="far", Key="k/by-client", Body=b"x")
        assert seen == [("PUT", "us-east-1"), ("PUT", "eu-west-1")]  # the stand-in is what the client follows
        seen.clear()
        direct = tool.DirectS3(tool.s3_client(keys, "us-east-1", endpoint), "far")
        (tmp_path / "f").write_bytes(b"x")
        direct.put(tmp_path / "f", "k/direct", 1, tool.S3Writes(), no_clobber=False)
        assert [item["Key"] for item in direct.objects("k/")] == ["k/a b.txt"]
        assert seen == [("PUT", "us-east-1"), ("PUT", "eu-west-1"), ("GET", "eu-west-1")]  # readdressed once, kept
    finally:
        server.shutdown()
        server.server_close()
