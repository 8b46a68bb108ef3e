"""local_aws.py's contract (its first line) and localaws.env, which turns that line into shell exports."""

import json
import socket
import subprocess
import sys

from conftest import LOCAL_AWS, ROOT, stop_local_aws


def free_port():
    """A port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_local_aws_with_a_port_prints_its_endpoint_and_admin_keys_as_its_first_line():
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(LOCAL_AWS), "--port", str(port)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = json.loads(proc.stdout.readline() or "null")
    finally:
        stop_local_aws(proc)
    assert list(first) == ["endpoint_url", "aws_access_key_id", "aws_secret_access_key"]
    assert first["endpoint_url"] == f"http://127.0.0.1:{port}"
    assert first["aws_access_key_id"].startswith("AKIA") and len(first["aws_secret_access_key"]) == 40


def test_env_exports_let_a_shell_call_local_aws_as_its_administrator(local_aws, tmp_path):
    line_file = tmp_path / "local_aws.json"
    line_file.write_text(json.dumps(local_aws) + "\n")
    script = ('eval "$("$PYTHON" -m localaws.env "$LINE")" && "$PYTHON" -c '
              '"import boto3; print(boto3.client(\'sts\', region_name=\'us-east-1\').get_caller_identity()[\'Arn\'])"')
    env = {"PATH": "/usr/bin:/bin", "PYTHON": sys.executable, "LINE": str(line_file), "HOME": str(tmp_path),
           "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
    done = subprocess.run(["sh", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith(":user/local-aws-admin")


def test_env_reads_standard_input_and_quotes_every_value():
    line = json.dumps({"endpoint_url": "http://127.0.0.1:1", "aws_access_key_id": "AKIA1",
                       "aws_secret_access_key": "a/b+c'd"})
    done = subprocess.run([sys.executable, "-m", "localaws.env"], cwd=ROOT, input=line + "\n{ignored}\n",
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ("export AWS_ACCESS_KEY_ID=AKIA1 AWS_SECRET_ACCESS_KEY='a/b+c'\"'\"'d' "
                           "AWS_ENDPOINT_URL=http://127.0.0.1:1\n")


def test_env_refuses_a_line_that_is_not_local_aws_in_one_line_with_exit_2(tmp_path):
    for text in ("", "not json\n", '{"endpoint_url": "http://x"}\n'):
        done = subprocess.run([sys.executable, "-m", "localaws.env", "-"], cwd=ROOT, input=text,
                              capture_output=True, text=True, timeout=30)
        assert (done.returncode, done.stdout) == (2, "")
        assert done.stderr.startswith("localaws.env: not local_aws's first line") and done.stderr.count("\n") == 1
    missing = subprocess.run([sys.executable, "-m", "localaws.env", str(tmp_path / "absent.json")], cwd=ROOT,
                             capture_output=True, text=True, timeout=30)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "absent.json" in missing.stderr
