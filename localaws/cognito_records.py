"""local_aws's Cognito records that tokens and devices both read: refresh tokens and devices, per pool."""


def records(pool):
    """What local_aws knows of each refresh token of a pool: expiry, device, family, when rotated out."""
    if not hasattr(pool, "local_aws_refresh"):
        pool.local_aws_refresh = {}
    return pool.local_aws_refresh


def devices(pool):
    """device key -> record, for every device the pool has handed out."""
    if not hasattr(pool, "local_aws_devices"):
        pool.local_aws_devices = {}
    return pool.local_aws_devices


def confirmed(pool, device_key, username):
    """Whether device_key is a confirmed device of this user (moto user name)."""
    device = devices(pool).get(device_key or "")
    user = pool._get_user(username)
    return bool(device and user and device["sub"] == user.id and device["verifier"] is not None)
