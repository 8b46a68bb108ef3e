"""The library internals cog_auth_s3's two speed tricks rely on are still there (guards upgrades).

prefetch_models loads service models through botocore's public data loader while SRP waits on the
network; load_awssrp imports pycognito.aws_srp without pycognito's __init__ (PyJWT, cryptography).
If a boto3, botocore or pycognito upgrade moves what they use, these fail and name it.
"""

import inspect
import subprocess
import sys

from conftest import ROOT


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
