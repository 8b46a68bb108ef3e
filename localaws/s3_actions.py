"""localaws.s3_actions: the IAM action S3 authorizes for each request, as the Service Authorization
Reference ("Actions defined by Amazon S3") and each operation's "Permissions" section name it.

moto 5.2.1 picks the action from a table keyed on the sub-resource in the query string (ACTION_MAP in
moto/s3/responses.py). Several of its entries are wrong or missing, so these requests were checked
against another action than AWS's:
- HeadObject and GetObject{Acl,Tagging,Attributes} with versionId: AWS checks the ...Version... action
  (s3:GetObjectVersion, s3:GetObjectVersionAcl, s3:GetObjectVersionTagging,
  s3:GetObjectVersionAttributes); moto checked s3:GetObject (HEAD) or s3:GetObjectVersion (the others).
- GetObjectAttributes: moto checked s3:GetObject; DeleteObjectTagging: s3:DeleteObject.
- Put{Object,ObjectAcl,ObjectTagging} with versionId: s3:PutObjectVersionAcl / ...VersionTagging.
- Bucket sub-resources moto's table lacks (ownershipControls, replication, encryption, object-lock,
  requestPayment, inventory, analytics, metrics, intelligent-tiering, policyStatus) and publicAccessBlock
  (moto's table spells it public_access_block, which no request carries): a PUT was checked as
  s3:CreateBucket, a GET as s3:ListBucket, a DELETE as s3:DeleteBucket.
- DeleteObjects: each key is checked as s3:DeleteObject, or s3:DeleteObjectVersion when it names a version.

Requests checked for more than one action: CopyObject and UploadPartCopy also need s3:GetObject (or
s3:GetObjectVersion when x-amz-copy-source names a versionId) on the source; PutObject, CopyObject and
CreateMultipartUpload with an ACL header (x-amz-acl, x-amz-grant-*) also need s3:PutObjectAcl, and with
x-amz-tagging also s3:PutObjectTagging.

Not modelled: s3:BypassGovernanceRetention, s3:PutObjectRetention/LegalHold sent as headers on PutObject,
KMS permissions for SSE-KMS, and S3 Control (account-level) actions.
"""

# Sub-resource in the query string -> IAM action (AWS evaluates one sub-resource per request).
# Object requests: (sub-resource, action without versionId, action with versionId).
KEY_ACTIONS = {
    "HEAD": [("", "GetObject", "GetObjectVersion")],
    "GET": [
        ("uploadId", "ListMultipartUploadParts", "ListMultipartUploadParts"),
        ("acl", "GetObjectAcl", "GetObjectVersionAcl"),
        ("tagging", "GetObjectTagging", "GetObjectVersionTagging"),
        ("attributes", "GetObjectAttributes", "GetObjectVersionAttributes"),
        ("retention", "GetObjectRetention", "GetObjectRetention"),
        ("legal-hold", "GetObjectLegalHold", "GetObjectLegalHold"),
        ("torrent", "GetObjectTorrent", "GetObjectVersionTorrent"),
        ("", "GetObject", "GetObjectVersion"),
    ],
    "PUT": [
        ("acl", "PutObjectAcl", "PutObjectVersionAcl"),
        ("tagging", "PutObjectTagging", "PutObjectVersionTagging"),
        ("retention", "PutObjectRetention", "PutObjectRetention"),
        ("legal-hold", "PutObjectLegalHold", "PutObjectLegalHold"),
        ("", "PutObject", "PutObject"),  # UploadPart and UploadPartCopy too
    ],
    "DELETE": [
        ("uploadId", "AbortMultipartUpload", "AbortMultipartUpload"),
        ("tagging", "DeleteObjectTagging", "DeleteObjectVersionTagging"),
        ("", "DeleteObject", "DeleteObjectVersion"),
    ],
    "POST": [
        ("restore", "RestoreObject", "RestoreObject"),
        ("select", "GetObject", "GetObject"),  # SelectObjectContent
        ("", "PutObject", "PutObject"),  # CreateMultipartUpload, CompleteMultipartUpload
    ],
}

# Bucket requests: (sub-resource, action). Deleting a configuration needs its Put... action, as AWS documents.
_CONFIGURATIONS = [
    ("ownershipControls", "GetBucketOwnershipControls", "PutBucketOwnershipControls", "PutBucketOwnershipControls"),
    ("replication", "GetReplicationConfiguration", "PutReplicationConfiguration", "PutReplicationConfiguration"),
    ("encryption", "GetEncryptionConfiguration", "PutEncryptionConfiguration", "PutEncryptionConfiguration"),
    ("publicAccessBlock", "GetBucketPublicAccessBlock", "PutBucketPublicAccessBlock", "PutBucketPublicAccessBlock"),
    ("lifecycle", "GetLifecycleConfiguration", "PutLifecycleConfiguration", "PutLifecycleConfiguration"),
    ("policy", "GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy"),
    ("acl", "GetBucketAcl", "PutBucketAcl", None),
    ("versioning", "GetBucketVersioning", "PutBucketVersioning", None),
    ("object-lock", "GetBucketObjectLockConfiguration", "PutBucketObjectLockConfiguration", None),
    ("website", "GetBucketWebsite", "PutBucketWebsite", "DeleteBucketWebsite"),
    ("tagging", "GetBucketTagging", "PutBucketTagging", "PutBucketTagging"),
    ("logging", "GetBucketLogging", "PutBucketLogging", None),
    ("cors", "GetBucketCORS", "PutBucketCORS", "PutBucketCORS"),
    ("notification", "GetBucketNotification", "PutBucketNotification", None),
    ("accelerate", "GetAccelerateConfiguration", "PutAccelerateConfiguration", None),
    ("requestPayment", "GetBucketRequestPayment", "PutBucketRequestPayment", None),
    ("inventory", "GetInventoryConfiguration", "PutInventoryConfiguration", "PutInventoryConfiguration"),
    ("analytics", "GetAnalyticsConfiguration", "PutAnalyticsConfiguration", "PutAnalyticsConfiguration"),
    ("metrics", "GetMetricsConfiguration", "PutMetricsConfiguration", "PutMetricsConfiguration"),
    ("intelligent-tiering", "GetIntelligentTieringConfiguration", "PutIntelligentTieringConfiguration",
     "PutIntelligentTieringConfiguration"),
    ("policyStatus", "GetBucketPolicyStatus", None, None),
    ("location", "GetBucketLocation", None, None),
]
BUCKET_ACTIONS = {
    "HEAD": [("", "ListBucket")],  # HeadBucket
    "GET": [("uploads", "ListBucketMultipartUploads"), ("versions", "ListBucketVersions")]
    + [(name, get) for name, get, _, _ in _CONFIGURATIONS if get] + [("", "ListBucket")],
    "PUT": [(name, put) for name, _, put, _ in _CONFIGURATIONS if put] + [("", "CreateBucket")],
    "DELETE": [(name, delete) for name, _, _, delete in _CONFIGURATIONS if delete] + [("", "DeleteBucket")],
    "POST": [("delete", "DeleteObject"), ("", "PutObject")],  # DeleteObjects (per key), browser POST upload
}

# Headers that make an object write also need another permission.
ACL_HEADERS = ("x-amz-acl", "x-amz-grant-read", "x-amz-grant-read-acp", "x-amz-grant-write-acp",
               "x-amz-grant-full-control")


def iam_action(resource_type, method, query):
    """The IAM action (without "s3:") for an S3 request on a bucket ("BUCKET") or an object ("KEY")."""
    if resource_type == "KEY":
        versioned = bool(query.get("versionId"))
        for name, plain, version in KEY_ACTIONS.get(method, KEY_ACTIONS["GET"]):
            if not name or name in query:
                return version if versioned else plain
    for name, action in BUCKET_ACTIONS.get(method, BUCKET_ACTIONS["GET"]):
        if not name or name in query:
            return action
    raise AssertionError("every table ends with a default")


def extra_checks(action, headers, object_arn):
    """Further (action, resource) pairs an object write with ACL or tagging headers needs."""
    if action != "s3:PutObject" or not object_arn.startswith("arn:aws:s3:::") or "/" not in object_arn:
        return []
    lowered = {name.lower() for name in headers.keys()}
    checks = []
    if lowered & set(ACL_HEADERS):
        checks.append(("s3:PutObjectAcl", object_arn))
    if "x-amz-tagging" in lowered:
        checks.append(("s3:PutObjectTagging", object_arn))
    return checks


def copy_source_check(copy_source):
    """(action, resource) a copy needs on its source: s3:GetObject, or s3:GetObjectVersion for a version."""
    from urllib.parse import parse_qs, unquote

    path, _, query = copy_source.partition("?")
    source = unquote(path).lstrip("/")
    action = "s3:GetObjectVersion" if parse_qs(query).get("versionId") else "s3:GetObject"
    return action, f"arn:aws:s3:::{source}"


def install():
    """Make moto's S3 responses name AWS's IAM action for every request."""
    from moto.s3.responses import S3Response

    def set_action(self, action_resource_type, method, querystring):
        """The IAM action AWS checks for this request (moto passes "KEY" or "BUCKET" and the query)."""
        self.data["Action"] = iam_action(action_resource_type, method, querystring)

    S3Response._set_action = set_action
