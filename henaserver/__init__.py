"""henaserver: a small, correct HTTP/1.1 static file server that records its traffic.

Standard library only. Start it with ``python -m henaserver --root DIR``; read the
modules in this order to see how a web server works:

- ``limits.py``: every limit, with the reason it exists
- ``http.py``: what a request is, and each protocol rule as a small pure function
- ``parser.py``: bytes -> requests, a state machine that never touches a socket
- ``response.py``: responses -> bytes
- ``pages.py``: where every error becomes a response with a short page
- ``conditional.py``: validators, conditional requests (304, 412) and byte ranges
- ``static.py``: URL path -> file under the root, one stat per name, and its type
- ``modes.py``: the tutorial's serving modes as a policy, and response rules
- ``exchange.py``: one request and its answer, as recorded
- ``output.py``: the outgoing side of a connection, answers written in order
- ``persistence.py``: whether a connection stays open after an exchange (RFC 9112 9.3)
- ``states.py``: a connection's states and the moves between them, as data
- ``pace.py``: how slow a request may be, and whom to close when the server is full
- ``connection.py``: one client connection as a named state machine: keep-alive,
  pipelining, closing
- ``admission.py``: the listening socket, and what to do when descriptors run out
- ``server.py``: listening, accepting and the event loop
- ``capture.py``: the traffic events and their one serializer (docs/events.md)
- ``responses.py``, ``relay_exchange.py``, ``relay_connection.py``, ``relay.py``: the
  capture relay, which records another server's traffic (docs/relay.md)
- ``__main__.py``: the command line
"""

from .http import HTTPError, Request, RequestHead
from .limits import DEFAULT_LIMITS, Limits
from .parser import RequestParser
from .response import Response

__version__ = "0.1.0"
__all__ = ["DEFAULT_LIMITS", "HTTPError", "Limits", "Request", "RequestHead",
           "RequestParser", "Response", "__version__"]
