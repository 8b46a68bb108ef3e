"""Fixtures: a real local_aws server over HTTP, and the CLI run as a subprocess."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOOL = ROOT / "cog_auth_s3.py"
LOCAL_AWS = ROOT / "local_aws.py"


def start_local_aws():
    """Start local_aws.py on a free port; return (process, its interface line as a dict)."""
    proc = subprocess.Popen(
        [sys.executable, str(LOCAL_AWS), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        raise RuntimeError("local_aws.py exited early: " + proc.stderr.read())
    return proc, json.loads(line)


@pytest.fixture(scope="session")
def local_aws():
    """One local AWS for the whole session: {"endpoint_url", "aws_access_key_id", ...}."""
    proc, info = start_local_aws()
    yield info
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def admin_session(local_aws):
    """A boto3 session holding the local administrator's keys."""
    import boto3

    return boto3.Session(
        aws_access_key_id=local_aws["aws_access_key_id"],
        aws_secret_access_key=local_aws["aws_secret_access_key"],
        region_name="us-east-1",
    )


@pytest.fixture
def admin_client(admin_session, local_aws):
    """admin_client("s3") -> a client of the local AWS signed as the administrator."""
    def make(service, region="us-east-1"):
        return admin_session.client(service, region_name=region, endpoint_url=local_aws["endpoint_url"])
    return make
