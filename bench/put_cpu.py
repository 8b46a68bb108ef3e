"""Server CPU per PutObject: local_aws (administrator, and a Cognito user's session) vs plain moto server.

Usage: python bench/put_cpu.py [--puts N] [--rounds R] [--json]

Starts `python local_aws.py` and `python -m moto.server` (auth off, as moto ships) on free ports, sends
N PutObject requests of 1 KiB per round from this process, and reads the server process's own CPU time
(utime + stime from /proc/<pid>/stat) before and after each round. Prints the median CPU milliseconds
per PutObject of R rounds. Client CPU is not counted. Linux only (/proc).

moto's server closes every connection (werkzeug's "Connection: close"); local_aws keeps them open. A third
server, moto's own application behind local_aws's request handler (keep-alive, nothing else of local_aws),
tells local_aws's own share apart from what keep-alive saves.
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def free_port():
    """A TCP port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# moto's application, as `python -m moto.server` serves it, behind local_aws's request handler.
MOTO_KEPT_ALIVE = """
import sys
sys.path.insert(0, sys.argv[2])
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server
from localaws.server import quiet_request_handler
make_server("127.0.0.1", int(sys.argv[1]), DomainDispatcherApplication(create_backend_app), threaded=True,
            request_handler=quiet_request_handler()).serve_forever()
"""


def start_moto(kept_alive=False):
    """Plain moto server on a free port, or moto's application behind local_aws's request handler;
    (process, endpoint)."""
    port = free_port()
    command = [sys.executable, "-c", MOTO_KEPT_ALIVE, str(port), str(ROOT)] if kept_alive else \
        [sys.executable, "-m", "moto.server", "-p", str(port)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(endpoint + "/moto-api/", timeout=1)
            return proc, endpoint
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("moto server did not start")


def rounds(pid, client, bucket, key_prefix, puts, count):
    """Median server CPU ms per PutObject over count rounds of puts requests."""
    body = b"x" * 1024
    client.put_object(Bucket=bucket, Key=f"{key_prefix}warm", Body=body)
    per_put = []
    for r in range(count):
        before = cpu_seconds(pid)
        for i in range(puts):
            client.put_object(Bucket=bucket, Key=f"{key_prefix}{r}-{i}.bin", Body=body)
        per_put.append((cpu_seconds(pid) - before) * 1000 / puts)
    return statistics.median(per_put), per_put


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--puts", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print {server: median ms} as JSON instead")
    args = parser.parse_args()
    results = {}

    for name, kept_alive in (("moto server (no auth)", False),
                             ("moto's app, local_aws's keep-alive handler (no auth)", True)):
        proc, endpoint = start_moto(kept_alive)
        try:
            s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=endpoint,
                              aws_access_key_id="test", aws_secret_access_key="test")
            s3.create_bucket(Bucket="plain")
            results[name] = rounds(proc.pid, s3, "plain", "k/", args.puts, args.rounds)
        finally:
            proc.terminate()
            proc.wait(timeout=10)

    import helpers

    proc, info = helpers.start_local_aws()
    try:
        session = boto3.Session(aws_access_key_id=info["aws_access_key_id"],
                                aws_secret_access_key=info["aws_secret_access_key"], region_name="us-east-1")
        world = helpers.World(session, info["endpoint_url"])
        results["local_aws, administrator"] = rounds(proc.pid, world.admin("s3"), world.bucket, "admin/",
                                                     args.puts, args.rounds)
        results["local_aws, Cognito user (role + bucket policy)"] = rounds(
            proc.pid, world.s3["alice"], world.bucket, f"{world.id['alice']}/", args.puts, args.rounds)
    finally:
        helpers.stop_local_aws(proc)

    if args.json:
        print(json.dumps({name: median for name, (median, _) in results.items()}))
        return
    print(f"server CPU per PutObject of 1 KiB ({args.puts} puts x {args.rounds} rounds, median; rounds in ms):")
    for name, (median, each) in results.items():
        print(f"  {name:54s} {median:6.2f} ms   {json.dumps([round(x, 2) for x in each])}")


if __name__ == "__main__":
    main()
