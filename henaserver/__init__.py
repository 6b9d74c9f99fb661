"""henaserver: a small, correct HTTP/1.1 static file server that records its traffic.

Standard library only. Start it with ``python -m henaserver --root DIR``; read the
modules in this order to see how a web server works:

- ``http.py``: bytes -> requests, responses -> bytes (no sockets)
- ``static.py``: URL path -> file, its type, conditional and range requests
- ``connection.py``: one client connection, keep-alive and pipelining
- ``server.py``: listening, accepting and the event loop
- ``capture.py``: the traffic events (docs/events.md)
"""

from .http import HTTPError, Request, RequestHead, RequestParser, Response
from .limits import DEFAULT_LIMITS, Limits

__version__ = "0.1.0"
__all__ = ["DEFAULT_LIMITS", "HTTPError", "Limits", "Request", "RequestHead",
           "RequestParser", "Response", "__version__"]
