"""local_aws's S3 fidelity: atomic conditional writes, key length, missing uploads, unsigned requests, request ids.

What S3 does and moto 5.2.1 did not (install() patches moto in-process):
- A conditional write (PutObject with If-None-Match or If-Match, CompleteMultipartUpload with If-None-Match)
  checks and stores under one lock per key, so of several concurrent writers of one new key with
  If-None-Match: * exactly one succeeds and the others get 412 PreconditionFailed. moto checked, then
  stored, with nothing in between to stop a second writer.
- A key over 1,024 bytes of UTF-8 is refused on PutObject, CopyObject and CreateMultipartUpload with
  400 KeyTooLongError "Your key is too long" (moto stored it).
- UploadPart, UploadPartCopy and CompleteMultipartUpload of an upload that was aborted, completed or never
  existed answer 404 NoSuchUpload (moto failed with a KeyError: an HTML 500).
- An unsigned object request (GetObject of an existing key, say) answers the XML AccessDenied every other
  unsigned request gets (moto answered 403 with an empty body).
- Every S3 response carries x-amz-request-id and x-amz-id-2; an error's header id is its <RequestId>.
- GetObject (and its ?acl/?tagging/... reads) and HeadObject of a key that does not exist answer 404 NoSuchKey
  (HEAD: a bare 404) only when the caller may s3:ListBucket the bucket; otherwise 403 AccessDenied, so that a
  caller cannot probe which keys exist. That check is local_aws's IAM evaluation (identity policies and the
  bucket policy, the request's context, presigned URLs alike) of s3:ListBucket on the bucket's ARN with no
  s3:prefix, s3:delimiter or s3:max-keys in the context: a ListBucket grant conditioned on s3:prefix does not
  count. moto answered 404 to everyone.
- HeadObject with versionId=null on a bucket that was never versioned reads the object, as GetObject
  does and as S3 does (moto answered 400); it is authorized as s3:GetObjectVersion.
- A signed request naming a bucket that does not exist answers 404 NoSuchBucket once its signature and
  credentials are checked and before the caller's policies are (moto evaluated them first and answered
  AccessDenied). CreateBucket is exempt; unsigned requests still get AccessDenied.

Differences that remain: CompleteMultipartUpload's If-Match is not checked (moto ignores it); unconditional
writes do not take the per-key lock (S3 lets the last writer win, as here); KeyTooLongError's body lacks
the <Size> and <MaxSizeAllowed> elements S3 adds; a PUT sent with Content-Type
application/x-www-form-urlencoded loses its body (moto's request parsing reads it as a form). A missing key
with ?versionId= answers moto's NoSuchVersion without the s3:ListBucketVersions check S3 makes. The bucket's
existence is looked up in the account of the caller's credentials (buckets of other accounts count as missing).
"""

import base64
import os
import re
import threading
import uuid

MAX_KEY_BYTES = 1024
# Conditional writes of the same key serialize on one of these (chosen by hashing bucket and key): a
# bounded set, so the server's memory does not grow with the number of keys ever written.
_KEY_LOCKS = [threading.Lock() for _ in range(64)]
_REQUEST_ID = re.compile(rb"<RequestId>([^<]+)</RequestId>")
_LISTING_CHECK = threading.local()  # .active while a missing key's s3:ListBucket check is evaluated


def key_lock(bucket_name, key_name):
    """The lock that conditional writes of this key hold across their check and their store."""
    return _KEY_LOCKS[hash((bucket_name, key_name)) % len(_KEY_LOCKS)]


def check_key_length(key_name):
    """Refuse a key longer than S3 allows, with S3's error."""
    from moto.s3.exceptions import S3ClientError

    if len((key_name or "").encode("utf-8")) > MAX_KEY_BYTES:
        raise S3ClientError("KeyTooLongError", "Your key is too long")


def _require_upload(backend, bucket_name, upload_id):
    """NoSuchUpload unless the multipart upload is open in the bucket."""
    from moto.s3.exceptions import NoSuchUpload

    if upload_id not in backend.get_bucket(bucket_name).multiparts:
        raise NoSuchUpload(upload_id=upload_id)


def _is_signed(request):
    """Whether an S3 request carries a signature, in a header or as a presigned URL's query."""
    return "Authorization" in request.headers or "X-Amz-Signature" in request.args or "Signature" in request.args


def checking_missing_key():
    """Whether the IAM evaluation under way is a missing key's s3:ListBucket check (no s3:prefix context)."""
    return getattr(_LISTING_CHECK, "active", False)


def _require_list_bucket(response, bucket_name):
    """403 AccessDenied unless the caller may s3:ListBucket the bucket, prefix-free, as S3 requires
    before it says a key is missing. The caller's signature was checked already: this re-runs the
    same authentication and authorization path with the action swapped."""
    action = response.data.get("Action")
    response.data["Action"] = "ListBucket"
    _LISTING_CHECK.active = True
    try:
        response._authenticate_and_authorize_s3_action(bucket_name=bucket_name)
    finally:
        _LISTING_CHECK.active = False
        response.data["Action"] = action


def require_bucket(request, resource):
    """NoSuchBucket for an S3 request (authenticated already) whose bucket does not exist, before its
    policies are evaluated, as S3 does. CreateBucket and bucket-less operations (ListBuckets) pass."""
    from moto.s3.exceptions import MissingBucket
    from moto.s3.models import s3_backends

    if request._service != "s3" or request._action == "s3:CreateBucket" or not resource.startswith("arn:aws:s3:::"):
        return
    bucket_name = resource[len("arn:aws:s3:::"):].split("/")[0]
    if bucket_name not in ("", "*") and bucket_name not in s3_backends[request.account_id]["aws"].buckets:
        raise MissingBucket(bucket=bucket_name)


def install():
    """Patch moto's S3 responses and backend with the behaviours above."""
    from moto.s3.models import S3Backend
    from moto.s3.responses import S3Response

    put_object, copy_object = S3Response.put_object, S3Response.copy_object
    key_response_post, key_response = S3Response._key_response_post, S3Response._key_response
    create_multipart_upload = S3Backend.create_multipart_upload
    upload_part, upload_part_copy = S3Backend.upload_part, S3Backend.upload_part_copy
    complete_multipart_upload = S3Backend.complete_multipart_upload
    key_response_get, head_object = S3Response._key_response_get, S3Response.head_object

    def atomic_put_object(self):
        """PutObject; with If-None-Match or If-Match, check and store under the key's lock."""
        key_name = self.parse_key_name()
        check_key_length(key_name)
        if not (self.headers.get("If-None-Match") or self.headers.get("If-Match")):
            return put_object(self)
        with key_lock(self.bucket_name, key_name):
            return put_object(self)

    def length_checked_copy_object(self):
        """CopyObject refuses a destination key S3 would find too long."""
        check_key_length(self.parse_key_name())
        return copy_object(self)

    def atomic_key_response_post(self, request, body, bucket_name, query, key_name):
        """CompleteMultipartUpload with a condition checks and stores under the key's lock."""
        if "uploadId" in query and (self.headers.get("If-None-Match") or self.headers.get("If-Match")):
            with key_lock(bucket_name, key_name):
                return key_response_post(self, request, body, bucket_name, query, key_name)
        return key_response_post(self, request, body, bucket_name, query, key_name)

    def denying_key_response(self, request, full_url):
        """An unsigned object request gets S3's XML AccessDenied before moto's empty 403 for existing keys."""
        if request.method != "OPTIONS" and not _is_signed(request):
            self._authenticate_and_authorize_s3_action(
                bucket_name=self.parse_bucket_name_from_url(request, full_url), key_name=self.parse_key_name())
        return key_response(self, request, full_url)

    def listing_checked_key_response_get(self, query, key_name):
        """GetObject of a missing key: NoSuchKey only for a caller who may list the bucket."""
        from moto.s3.exceptions import MissingKey

        try:
            return key_response_get(self, query, key_name)
        except MissingKey:
            _require_list_bucket(self, self.bucket_name)
            raise

    def listing_checked_head_object(self, bucket_name, query, key_name, headers):
        """HeadObject of a missing key: a bare 404 only for a caller who may list the bucket.
        versionId=null on a never-versioned bucket reads the object (moto answered 400)."""
        if query.get("versionId") == ["null"] and self.backend.get_bucket(bucket_name).versioning_status is None:
            # Authorized as asked (s3:GetObjectVersion); then the current object, which is the null version.
            self._set_action("KEY", "HEAD", query)
            self._authenticate_and_authorize_s3_action(bucket_name=bucket_name, key_name=key_name)
            self._authenticate_and_authorize_s3_action = lambda **kwargs: None
            try:
                return head_object(self, bucket_name, {k: v for k, v in query.items() if k != "versionId"},
                                   key_name, headers)
            finally:
                del self._authenticate_and_authorize_s3_action
        answer = head_object(self, bucket_name, query, key_name, headers)
        if answer[0] == 404 and not query.get("versionId"):
            _require_list_bucket(self, bucket_name)
        return answer

    def checked_create_multipart_upload(self, bucket_name, key_name, *args, **kwargs):
        check_key_length(key_name)
        return create_multipart_upload(self, bucket_name, key_name, *args, **kwargs)

    def checked_upload_part(self, bucket_name, multipart_id, *args, **kwargs):
        _require_upload(self, bucket_name, multipart_id)
        return upload_part(self, bucket_name, multipart_id, *args, **kwargs)

    def checked_upload_part_copy(self, dest_bucket_name, multipart_id, *args, **kwargs):
        _require_upload(self, dest_bucket_name, multipart_id)
        return upload_part_copy(self, dest_bucket_name, multipart_id, *args, **kwargs)

    def checked_complete_multipart_upload(self, bucket_name, multipart_id, body):
        _require_upload(self, bucket_name, multipart_id)
        return complete_multipart_upload(self, bucket_name, multipart_id, body)

    S3Response.put_object = atomic_put_object
    S3Response.copy_object = length_checked_copy_object
    S3Response._key_response_post = atomic_key_response_post
    S3Response._key_response = denying_key_response
    S3Response._key_response_get = listing_checked_key_response_get
    S3Response.head_object = listing_checked_head_object
    S3Backend.create_multipart_upload = checked_create_multipart_upload
    S3Backend.upload_part = checked_upload_part
    S3Backend.upload_part_copy = checked_upload_part_copy
    S3Backend.complete_multipart_upload = checked_complete_multipart_upload


def with_request_ids(app):
    """WSGI wrapper: S3 answers (environ "local_aws.service" == "s3") get x-amz-request-id and x-amz-id-2."""
    def call(environ, start_response):
        if environ.get("local_aws.service") != "s3":
            return app(environ, start_response)
        captured = []

        def capture(status, headers, exc_info=None):
            captured[:] = [status, headers, exc_info]
            return lambda data: None  # moto's Flask app returns its body; it never writes

        body = app(environ, capture)
        status, headers, exc_info = captured  # werkzeug's responses start before they return
        names = {name.lower() for name, _ in headers}
        request_id = None
        if int(status.split()[0]) >= 300 and environ.get("REQUEST_METHOD") != "HEAD":
            whole = b"".join(body)  # an error document: small
            getattr(body, "close", lambda: None)()
            body = [whole]
            found = _REQUEST_ID.search(whole)
            request_id = found and found.group(1).decode()
        extra = []
        if "x-amz-request-id" not in names:
            extra.append(("x-amz-request-id", request_id or uuid.uuid4().hex[:16].upper()))
        if "x-amz-id-2" not in names:
            extra.append(("x-amz-id-2", base64.b64encode(os.urandom(48)).decode()))
        start_response(status, list(headers) + extra, exc_info)
        return body
    return call
