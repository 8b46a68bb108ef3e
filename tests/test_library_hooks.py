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


def test_an_s3_client_still_has_what_the_direct_small_object_path_reads():
    """DirectS3 signs with the client's credentials and signer settings, sends over its HTTP session and
    asks its retry handler (the needs-retry event); if botocore moves them, this names which."""
    import boto3
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.config import Config
    from botocore.exceptions import EndpointConnectionError

    client = boto3.client("s3", region_name="eu-west-1", endpoint_url="http://127.0.0.1:9",
                          aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret", aws_session_token="token",
                          config=Config(retries={"mode": "standard", "max_attempts": 3}))
    frozen = client._get_credentials().get_frozen_credentials()
    assert (frozen.access_key, frozen.token) == ("AKIDEXAMPLE", "token"), "client._get_credentials() changed"
    signer = client._request_signer
    assert (signer.signing_name, signer.region_name) == ("s3", "eu-west-1"), "the request signer's names moved"
    assert callable(client._endpoint.http_session.send), "client._endpoint.http_session.send moved"
    request = AWSRequest("PUT", "http://127.0.0.1:9/b/k", data=b"x", headers={"x-amz-checksum-crc32": "jN+SAQ=="})
    S3SigV4Auth(frozen, "s3", "eu-west-1").add_auth(request)
    assert request.headers["X-Amz-Security-Token"] == "token" and "Signature=" in request.headers["Authorization"]
    model = client.meta.service_model.operation_model("PutObject")
    delays = client.meta.events.emit("needs-retry.s3.PutObject", response=None, endpoint=client._endpoint,
                                     operation=model, attempts=1,
                                     caught_exception=EndpointConnectionError(endpoint_url="http://127.0.0.1:9"),
                                     request_dict={"context": {"s3_redirected": True}})
    assert any(isinstance(delay, (int, float)) and delay is not False for _, delay in delays), \
        "the client's retry handler no longer answers needs-retry with a delay"
