"""localaws: a local AWS for cog_auth_s3's demo and tests, built on moto; `python local_aws.py` serves it.

local_aws.py's docstring gives its options and the first line it prints.

What it adds to moto 5.2.1 (patched in this process; moto itself is unchanged):
- Request log (localaws.observatory). GET /_local_aws/requests answers [{"service", "operation", "status"}, ...]
  in arrival order ("status": null when a fault dropped the connection); DELETE clears it.
  The service comes from the SigV4 credential scope, else the X-Amz-Target prefix; the
  operation from X-Amz-Target, the Action parameter, or S3's method, path and query
  (path-style only; "Unknown" when none fits).
- Faults. POST /_local_aws/faults {"operation": "UploadPart" or "*", "service": optional,
  "skip": 0, "times": 1, "status": 500, "code": "InternalError", "message": "...",
  "action": "error", "reset" or "delay", "delay_ms": 0} fails (or with "delay" holds back
  by delay_ms, then serves) the next `times` matching requests after letting
  `skip` through, without reaching moto: an AWS-shaped error (S3 XML, JSON services'
  {"__type", "message"}, query services' ErrorResponse), or with "reset" a connection closed
  with no answer. GET lists the rules with their counters left; DELETE clears them.
  /_local_aws/ needs no signature and is not logged (except a user pool domain's managed login under
  /_local_aws/domain/, which is an AWS endpoint: logged and faultable as cognito-idp ManagedLogin*).
- S3 checksums (localaws/s3_checksums.py). A CRC32, SHA1 or SHA256 checksum sent with PutObject or UploadPart (header
  or aws-chunked trailer) is verified: BadDigest (400) on mismatch, InvalidRequest when
  malformed. HEAD with ChecksumMode=ENABLED gives a multipart object its composite
  "<checksum>-<parts>" and x-amz-checksum-type, as GET already did, and so does the
  CompleteMultipartUpload answer, as S3's does.
- S3 fidelity (localaws/s3.py): conditional writes (PutObject with If-None-Match/If-Match,
  CompleteMultipartUpload with If-None-Match) check and store atomically, so of concurrent writers of
  one new key exactly one wins and the others get 412; keys over 1,024 bytes of UTF-8 get 400
  KeyTooLongError on PutObject, CopyObject and CreateMultipartUpload; parts and completions of an
  aborted upload get 404 NoSuchUpload; unsigned requests get an XML AccessDenied; every S3 answer
  carries x-amz-request-id and x-amz-id-2; GetObject/HeadObject of a missing key answer 404 NoSuchKey
  only to a caller allowed s3:ListBucket on the bucket (with no s3:prefix), else 403 AccessDenied; a
  signed request to a bucket that does not exist answers 404 NoSuchBucket before IAM is evaluated.
- S3 authorization (localaws/s3_actions.py): every S3 request is checked for the IAM action AWS names for
  it (s3:GetObjectVersion for a read with versionId, s3:ListBucketVersions, s3:GetObjectAttributes,
  s3:PutBucketOwnershipControls, ...; moto checked several as another action), a copy also for reading its
  source (version), and an object write with ACL or tagging headers also for s3:PutObjectAcl/Tagging.
- AWS managed policies: moto's copy of AWS's managed policies (moto/iam/aws_managed_policies.py, 1,485 of
  them, e.g. arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess) is loaded, so AttachRolePolicy/AttachUserPolicy
  accept them; they are enforced and SimulatePrincipalPolicy reports them as aws-managed.
- Temporary credentials (localaws/credentials.py): STS sessions (AssumeRole*, GetCredentialsForIdentity)
  expire on localaws.clock; a request signed with an expired one is refused (S3: 400 ExpiredToken "The
  provided token has expired."; JSON services ExpiredTokenException, query services ExpiredToken).
  S3 presigned URLs (query-string SigV4) are verified and authorized by the same IAM evaluation as
  header-signed requests, and refused after X-Amz-Date + X-Amz-Expires on the clock (403 AccessDenied
  "Request has expired") or after the signing credentials expire (400 ExpiredToken).
- Speed: moto re-lists its package folder on every request inside a lock all requests
  share; local_aws lists it once.
- Cognito USER_SRP_AUTH is real SRP-6a (localaws/srp.py): PASSWORD_VERIFIER carries a per-user salt kept for
  the server's life, B from a verifier of the user's current password, and a single-use
  SECRET_BLOCK valid for the client's AuthSessionValidity on localaws.clock; RespondToAuthChallenge checks
  TIMESTAMP's format and the PASSWORD_CLAIM_SIGNATURE, refusing a wrong password with
  NotAuthorizedException "Incorrect username or password.". An unknown user gets
  UserNotFoundException, or with PreventUserExistenceErrors=ENABLED a decoy challenge and
  then that same refusal. Then NEW_PASSWORD_REQUIRED (FORCE_CHANGE_PASSWORD users), or
  localaws/cognito_signin.py decides: MFA_SETUP, an MFA factor, SELECT_MFA_TYPE, or tokens.
- Choice-based sign-in (USER_AUTH), one-time codes by email and SMS (delivered to
  GET /_local_aws/messages), real per-user TOTP secrets and codes, SMS and email MFA, MFA_SETUP
  and username validation: see localaws/cognito_signin.py's docstring.
- Managed login (the hosted UI) at a user pool domain PREFIX, served at <endpoint>/_local_aws/domain/PREFIX:
  /oauth2/authorize with PKCE and sign-in/MFA pages, /oauth2/token, /oauth2/revoke, /oauth2/userInfo,
  /logout, OIDC federation through /oauth2/idpresponse, and /<pool id>/.well-known/openid-configuration:
  see localaws/managed_login.py's docstring.
- Cognito checks moto skips (localaws/cognito_auth.py, localaws/cognito_clients.py): SECRET_HASH is required and checked for clients with a secret
  on InitiateAuth and every RespondToAuthChallenge (REFRESH_TOKEN_AUTH accepts the hash of
  the internal username or the sub); ExplicitAuthFlows gates USER_SRP_AUTH and
  USER_PASSWORD_AUTH; a challenge session answers only for its own user;
  AssociateSoftwareToken, VerifySoftwareToken and SetUserMFAPreference are served unsigned.
- werkzeug's per-request stderr line is off (an unread stderr pipe would fill and hang: localaws.server).

IAM and Cognito identity (what local_aws adds over moto 5.2.1, patched in-process):
- IAM is enforced on every request (localaws/iam_enforcement.py, localaws/iam_policy.py): SigV4 signature
  and the caller's policies, with moto's evaluator
  extended to AWS semantics: * and ? wildcards, ${...} policy variables (e.g.
  ${cognito-identity.amazonaws.com:sub}) in Resource and Condition values, Principal/NotPrincipal,
  NotAction/NotResource, and String*, Arn*, Numeric*, Date*, Bool, Null, IpAddress conditions with
  ForAnyValue:/ForAllValues: and ...IfExists; a key the request lacks does not match (except negated
  operators and ...IfExists); a plain (non-set) operator on a multivalued key such as
  cognito-identity.amazonaws.com:amr or aws:TagKeys matches nothing when the request has the key
  (MULTIVALUED_KEYS); an explicit Deny wins. A statement whose condition fails is neutral
  (moto made it a Deny). Request keys: aws:SecureTransport, aws:CurrentTime, aws:EpochTime,
  aws:RequestedRegion, aws:Principal{Arn,Account,Type}, aws:username/aws:userid, the cognito-identity
  keys (sub, aud, amr) of sessions it issued, and s3:prefix/delimiter/max-keys of bucket listings.
- S3: HeadBucket needs s3:ListBucket; CopyObject/UploadPartCopy also need s3:GetObject on the
  source; DeleteObjects checks s3:DeleteObject per key; the bucket policy is evaluated with the
  request's context and caller (its Deny wins, its Allow grants); keys with ":" or "%" sign correctly.
- Unsigned requests are denied, except the operations AWS serves unsigned (Cognito InitiateAuth,
  RespondToAuthChallenge, SignUp..., GetId, GetCredentialsForIdentity). /moto-api/reset-auth is refused.
- cognito-identity (localaws/cognito_identity.py) GetId: one stable <region>:<uuid> per (identity pool, token issuer, sub); the
  Logins token must be an ID token unexpired on local_aws's clock and signed with its user pool's own
  key (localaws/cognito_tokens.py: per-pool keys, token expiry, rotation, revocation; remembered
  devices in localaws/cognito_devices.py), its iss must match
  the Logins key and its pool+client must be one of the pool's CognitoIdentityProviders.
  GetCredentialsForIdentity: Logins must belong to the identity; the pool's mapped role
  (Set/GetIdentityPoolRoles, missing from moto) must trust sts:AssumeRoleWithWebIdentity by
  Federated cognito-identity.amazonaws.com with aud = pool id and amr as AWS sends it; the answer is
  a one-hour STS session "CognitoIdentityCredentials" of that role (Expiration on localaws.clock).
- IAM SimulatePrincipalPolicy/SimulateCustomPolicy on the evaluator above (localaws/iam_simulate.py), and
  identity pools keep AllowClassicFlow (localaws/identity_pools.py); their docstrings list what differs.

Differences from AWS that remain:
- Disabled (NotAuthorizedException "User is disabled.") and unconfirmed users
  (UserNotConfirmedException) are refused at InitiateAuth, before any password proof.
- TIMESTAMP is not compared with the clock; a zero-padded day is signed without its zero,
  so it fails as a wrong password. Failed passwords never lock a user out.
- Refusal messages for an unknown or expired SECRET_BLOCK ("Invalid session for the
  user[, session is expired].") and for a bad SRP_A are best guesses.
- NEW_PASSWORD_REQUIRED sessions never expire (MFA and code sessions do: cognito_signin).
  AdminInitiateAuth has no USER_SRP_AUTH.
- CRC32C and CRC64NVME checksums are stored unverified (without the optional crc32c and
  awscrt packages moto computes them as CRC32); part checksums named in
  CompleteMultipartUpload are not compared; single-part objects report no checksum type.
- Plain HTTP on loopback: aws:SecureTransport is "true" for every request, so a bucket policy that
  denies requests without TLS lets them through (on AWS a plain-HTTP request would be denied).
- Anonymous access (even if a bucket policy allows it) is denied, as with S3 Block Public Access;
  SigV2 presigned URLs get InvalidRequest (as S3 answers for buckets made since June 2020);
  aws:SourceIp, VPC keys, tags and most service-specific keys are absent from the request context;
  ${aws:username, 'default'} defaults are not supported.
- Session policies, permission boundaries, SCPs and cross-account access are not evaluated.
  Multivalued condition keys are a fixed list by name (MULTIVALUED_KEYS). S3 Control, access points,
  s3:BypassGovernanceRetention and KMS permissions are not part of S3 authorization (localaws/s3_actions.py).
  AWS managed policies are moto's snapshot of them, not live AWS.
- Cognito tokens (expiry, rotation, revocation, devices): see localaws/cognito_tokens.py and
  localaws/cognito_devices.py. A SigV4 X-Amz-Date far from local_aws's clock is accepted (no
  RequestTimeTooSkewed / "Signature expired"): clients sign with real time, and a test that moves the
  clock would lock them all out. GetSessionToken/GetFederationToken return moto's unusable examples.
- The body of an S3 PUT sent with Content-Type application/x-www-form-urlencoded is lost (moto parses
  it as a form: BadDigest, or an empty object); CompleteMultipartUpload's If-Match is not checked.
  A missing key with ?versionId= gets NoSuchVersion without S3's s3:ListBucketVersions check; a bucket
  counts as missing unless it is in the caller's own account.
- Identity pools: RoleMappings are stored but not applied (the default authenticated/unauthenticated
  role is used); unauthenticated identities are not merged into authenticated ones; only this local
  cognito-idp is accepted as a login provider.

The package, one module per concern. local_aws.py only parses its options and calls server.serve; no module
imports it. server.INSTALLERS installs every patch, in an order written there with why (most wrap another):
- server: the administrator, INSTALLERS, serve(). observatory: request log, faults, /_local_aws/ dispatch (CONTROL
  below). clock: local_aws's clock.
- S3: s3 (installs every S3 patch, in order: checksums, fidelity, IAM actions, per-key deletes), s3_checksums,
  s3_actions (the IAM action per request). credentials: STS expiry, presigned URLs.
- IAM: iam_enforcement (signatures, unsigned requests), iam_policy (the evaluator), policy_language (Version),
  iam_simulate.
- Cognito user pools, inner layer to outer: cognito_clients and srp (helpers the layers share), cognito_auth,
  cognito_signin, cognito_tokens, cognito_devices; cognito_records holds the refresh-token and device records
  tokens and devices both read; managed_login (hosted UI).
- Cognito identity pools: cognito_identity (GetId, credentials, roles), identity_pools (pool settings).
"""


# Control endpoints under /_local_aws/: path -> handler(method, body bytes) -> (HTTP status int, JSON-able result).
# Modules register here at import; localaws.observatory.Observatory dispatches to them.
CONTROL = {}


def control(path):
    """Register a function as the handler of /_local_aws/<path>."""
    def register(handler):
        CONTROL[path] = handler
        return handler
    return register
