"""henaserver: a small, correct HTTP/1.1 static file server that records its traffic.

Standard library only. Start it with ``python -m henaserver --root DIR``; read the
modules in this order to see how a web server works:

- ``http.py``: what a request is, and each protocol rule as a small pure function
- ``parser.py``: bytes -> requests, a state machine that never touches a socket
- ``response.py``: responses -> bytes
- ``static.py``: URL path -> file, its type, conditional and range requests
- ``connection.py``: one client connection, keep-alive and pipelining
- ``server.py``: listening, accepting and the event loop
- ``capture.py``: the traffic events (docs/events.md)
"""

from .http import HTTPError, Request, RequestHead
from .limits import DEFAULT_LIMITS, Limits
from .parser import RequestParser
from .response import Response

__version__ = "0.1.0"
__all__ = ["DEFAULT_LIMITS", "HTTPError", "Limits", "Request", "RequestHead",
           "RequestParser", "Response", "__version__"]
