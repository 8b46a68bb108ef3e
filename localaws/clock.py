"""local_aws's clock: real time plus an offset that POST /_local_aws/clock moves forward.

Everything in local_aws that issues or checks an expiry (tokens, codes, STS credentials,
presigned URLs) reads now() from here, so a test can make an hour pass in no time.
The clock only moves forward, as AWS's does.
"""

import datetime
import json
import threading
import time

from localaws import control

_lock = threading.Lock()
_offset = [0.0]


def now():
    """Seconds since the epoch on local_aws's clock."""
    return time.time() + _offset[0]


def utcnow():
    """local_aws's clock as a naive UTC datetime, the form moto's own utcnow() returns."""
    return datetime.datetime.fromtimestamp(now(), datetime.timezone.utc).replace(tzinfo=None)


def advance(seconds):
    """Move the clock forward by seconds; return the total offset."""
    if seconds < 0:
        raise ValueError("the clock only moves forward")
    with _lock:
        _offset[0] += seconds
        return _offset[0]


def state():
    """What GET and POST /_local_aws/clock answer."""
    return {"offset_seconds": _offset[0], "now": utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")}


@control("clock")
def clock_endpoint(method, body):
    """GET: the clock; POST {"advance_seconds": N}: move it forward by N seconds."""
    if method == "GET":
        return 200, state()
    if method == "POST":
        try:
            seconds = float(json.loads(body or b"{}")["advance_seconds"])
            advance(seconds)
        except (ValueError, KeyError, TypeError) as err:
            return 400, {"error": f"bad clock request: {err!r}; send {{\"advance_seconds\": N}} with N >= 0"}
        return 200, state()
    return 405, {"error": "GET or POST"}
