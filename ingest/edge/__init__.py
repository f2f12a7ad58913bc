"""The edge: what every request meets before an endpoint, as pure ASGI middleware.

Starlette's own pattern (`TrustedHostMiddleware`): no `BaseHTTPMiddleware`, which would break
contextvars and buffer bodies. Outermost first: the request id (so every later log line has it),
the client address behind trusted proxies, admission control (so an overload is refused before
anything is read), then the body's size and pace.
"""

from ingest.edge.admission import AdmissionMiddleware
from ingest.edge.body import BodyLimitMiddleware
from ingest.edge.proxies import TrustedProxiesMiddleware
from ingest.edge.request_id import RequestIdMiddleware

__all__ = [
    "AdmissionMiddleware",
    "BodyLimitMiddleware",
    "RequestIdMiddleware",
    "TrustedProxiesMiddleware",
]
