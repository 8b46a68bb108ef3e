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


def patch_s3():
    """Verify sent checksums on PutObject/UploadPart; give HEAD the composite "-N" and checksum type."""
    from moto.s3.responses import S3Response

    put_object, upload_part, head_object = S3Response.put_object, S3Response.upload_part, S3Response.head_object

    def checked_put_object(self):
        verify_checksum(self)
        return put_object(self)

    def checked_upload_part(self):
        verify_checksum(self)  # before moto stores the part, as S3 stores no bad part
        return upload_part(self)

    def head_object_with_checksum_type(self, bucket_name, query, key_name, headers):
        status, response_headers, body = head_object(self, bucket_name, query, key_name, headers)
        if status == 200 and headers.get("x-amz-checksum-mode") == "ENABLED" and "partNumber" not in query:
            key = self.backend.head_object(bucket_name, key_name, version_id=query.get("versionId", [None])[0])
            if key is not None and key.checksum_algorithm and key.checksum_type:
                if key.checksum_type == "COMPOSITE":
                    response_headers[f"x-amz-checksum-{key.checksum_algorithm.lower()}"] = \
                        f"{key.checksum_value}-{key.checksum_parts}"
                response_headers["x-amz-checksum-type"] = key.checksum_type
        return status, response_headers, body

    key_response_post = S3Response._key_response_post

    def complete_with_checksum(self, request, body, bucket_name, query, key_name):
        """CompleteMultipartUpload answers with the object's composite checksum, as S3 does."""
        status, headers, xml = key_response_post(self, request, body, bucket_name, query, key_name)
        if status == 200 and "uploadId" in query and "</CompleteMultipartUploadResponse>" in str(xml):
            key = self.backend.head_object(bucket_name, key_name)
            if key is not None and key.checksum_algorithm and key.checksum_type == "COMPOSITE":
                name = f"Checksum{key.checksum_algorithm.upper()}"
                extra = (f"<{name}>{key.checksum_value}-{key.checksum_parts}</{name}>"
                         f"<ChecksumType>COMPOSITE</ChecksumType>")
                xml = xml.replace("</CompleteMultipartUploadResponse>", extra + "</CompleteMultipartUploadResponse>")
        return status, headers, xml

    S3Response.put_object = checked_put_object
    S3Response.upload_part = checked_upload_part
    S3Response.head_object = head_object_with_checksum_type
    S3Response._key_response_post = complete_with_checksum
