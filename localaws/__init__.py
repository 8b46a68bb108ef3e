"""localaws: the parts of local_aws.py (the local AWS for cog_auth_s3's demo and tests), one module per concern.

local_aws.py stays the entry point (`python local_aws.py [--port N] [--latency-ms MS]`); it installs
what these modules patch into moto and serves /_local_aws/ control paths registered in CONTROL.
"""

# Control endpoints under /_local_aws/: path -> handler(method, body bytes) -> (HTTP status int, JSON-able result).
# Modules register here at import; the Observatory in local_aws.py dispatches to them.
CONTROL = {}


def control(path):
    """Register a function as the handler of /_local_aws/<path>."""
    def register(handler):
        CONTROL[path] = handler
        return handler
    return register
