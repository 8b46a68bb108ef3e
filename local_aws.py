"""local_aws.py: a local AWS for cog_auth_s3's demo and tests, built on moto (the package localaws/).

Usage:
    python local_aws.py [--port N] [--latency-ms MS]

--latency-ms delays every AWS request by MS, to emulate a network round trip in
benchmarks; tests and the demo leave it at 0.

It listens on 127.0.0.1 only. Its first line on stdout is one JSON object,
{"endpoint_url": ..., "aws_access_key_id": ..., "aws_secret_access_key": ...},
naming the administrator's keys; then it serves until stopped (SIGINT/SIGTERM).

What it adds to moto and where it still differs from AWS: localaws/__init__.py's docstring and
docs/local_aws.md. This file only parses the options; localaws.server serves.
"""

import argparse
import sys

from localaws.server import serve


def main(argv=None):
    parser = argparse.ArgumentParser(description="A local AWS on moto, on 127.0.0.1 only.")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    parser.add_argument("--latency-ms", type=int, default=0, metavar="MS",
                        help="delay every AWS request by MS, to emulate a network round trip (benchmarks)")
    args = parser.parse_args(argv)
    serve(args.port, args.latency_ms)
    return 0


if __name__ == "__main__":
    sys.exit(main())
