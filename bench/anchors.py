"""Anchor programs for the benchmarks, each the plain boto3 way of doing what `put` does.

Usage: anchors.py MODE BUCKET KEY PATH   with AWS_* credentials and AWS_ENDPOINT_URL in the environment.
    upload_file  boto3's upload_file with its default transfer settings
    read_put     put_object(Body=f.read()): the whole file in memory
    loop_put     PATH is a folder: put_object for each file, one at a time, keys KEY/<name>
"""

import os
import sys

import boto3

mode, bucket, key, path = sys.argv[1:5]
s3 = boto3.client("s3")
if mode == "upload_file":
    s3.upload_file(path, bucket, key)
elif mode == "read_put":
    with open(path, "rb") as handle:
        s3.put_object(Bucket=bucket, Key=key, Body=handle.read())
elif mode == "loop_put":
    for name in sorted(os.listdir(path)):
        with open(os.path.join(path, name), "rb") as handle:
            s3.put_object(Bucket=bucket, Key=f"{key}/{name}", Body=handle)
else:
    sys.exit(f"unknown mode {mode}")
