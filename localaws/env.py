"""Shell exports from local_aws's first line, for `eval "$(python -m localaws.env local_aws.json)"`.

Usage:
    python -m localaws.env [FILE | -]

FILE (or standard input, "-" or none) holds what `python local_aws.py` printed; its first line is read and
printed as one line of `export AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=... AWS_ENDPOINT_URL=...`, each
value quoted for a POSIX shell, so that boto3, the AWS CLI and cog-auth-s3 reach local_aws as its
administrator. A line that is not local_aws's exits 2 with one line on stderr.
"""

import json
import shlex
import sys

# local_aws's first line -> the environment variable boto3 and the AWS CLI read it from.
VARIABLES = {
    "aws_access_key_id": "AWS_ACCESS_KEY_ID",
    "aws_secret_access_key": "AWS_SECRET_ACCESS_KEY",
    "endpoint_url": "AWS_ENDPOINT_URL",
}


def exports(first_line):
    """The export line for local_aws's first line; ValueError when it is not one."""
    try:
        info = json.loads(first_line)
    except json.JSONDecodeError:
        info = None
    if not isinstance(info, dict) or not all(isinstance(info.get(key), str) for key in VARIABLES):
        raise ValueError("not local_aws's first line (a JSON object with " + ", ".join(VARIABLES) + ")")
    return "export " + " ".join(f"{name}={shlex.quote(info[key])}" for key, name in VARIABLES.items())


def main(argv=None):
    """Print the export line for the file (or standard input) named in argv; 2 on bad input."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1 or (args and args[0] in ("-h", "--help")):
        print("usage: python -m localaws.env [FILE | -]", file=sys.stderr)
        return 2
    try:
        if not args or args[0] == "-":
            first_line = sys.stdin.readline()
        else:
            with open(args[0], encoding="utf-8") as stream:
                first_line = stream.readline()
        print(exports(first_line))
    except (OSError, ValueError) as error:
        print(f"localaws.env: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
