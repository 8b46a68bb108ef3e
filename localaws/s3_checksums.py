"""local_aws's S3 checksums: sent CRC32/SHA1/SHA256 verified, composite checksums reported."""

# ---- S3: checksum verification and HEAD checksum fields

# moto computes CRC32C and CRC64NVME as CRC32 unless optional libraries are installed,
# so only these can be checked against what the client sent.
VERIFIABLE_CHECKSUMS = {"CRC32": 4, "SHA1": 20, "SHA256": 32}


def sent_checksum(response):
    """(algorithm, value) of a verifiable checksum the client sent in a header or trailer, or None."""
    import re

    trailer = response.headers.get("x-amz-trailer", "").strip().lower()
    for algorithm in VERIFIABLE_CHECKSUMS:
        name = f"x-amz-checksum-{algorithm.lower()}"
        if response.headers.get(name):
            return algorithm, response.headers[name]
        if trailer == name:
            found = re.search(rb"(?i)" + name.encode() + rb":\s*(\S+)", response.raw_body or b"")
            return algorithm, found.group(1).decode() if found else ""
    return None


def verify_checksum(response):
    """Refuse a body whose sent checksum is malformed or does not match, as S3 does."""
    import base64
    import binascii

    from moto.s3.exceptions import S3ClientError
    from moto.s3.utils import compute_checksum

    sent = sent_checksum(response)
    if not sent:
        return
    algorithm, value = sent
    try:
        well_formed = len(base64.b64decode(value, validate=True)) == VERIFIABLE_CHECKSUMS[algorithm]
    except (binascii.Error, ValueError):
        well_formed = False
    if not well_formed:
        raise S3ClientError("InvalidRequest", f"Value for x-amz-checksum-{algorithm.lower()} header is invalid.")
    body = response.body or b""
    if compute_checksum(body.encode() if isinstance(body, str) else body, algorithm).decode() != value:
        raise S3ClientError("BadDigest", f"The {algorithm} you specified did not match the calculated checksum.")
