"""Ready-made bytes for the learner, in one place: the composer's request templates and
the raw response presets of the "fixed response" mode and of the response rules.

Every text is written with bare LF line endings, as a learner types it in a textarea;
the composer and the editors turn LF into CRLF unless told to send exactly what is
typed (``composer.to_crlf``). Each template carries the one thing to look at.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from . import curl

# The oversized-header template must be larger than henaserver's head limit (32 KiB,
# henaserver/limits.py) to earn its 431; 40,000 bytes clears it with room to spare.
OVERSIZED_HEADER_BYTES = 40_000

# Apache's reply to the tutorial's TCP client, as recorded in its client_recv.txt
# (STEP3): Content-Length 45 is the 44-character page plus its final newline.
IT_WORKS = (
    "HTTP/1.1 200 OK\n"
    "Date: Wed, 28 Oct 2020 07:57:45 GMT\n"
    "Server: Apache/2.4.41 (Unix)\n"
    "Content-Location: index.html.en\n"
    "Vary: negotiate\n"
    "TCN: choice\n"
    "Last-Modified: Thu, 29 Aug 2019 05:05:59 GMT\n"
    'ETag: "2d-5913a76187bc0"\n'
    "Accept-Ranges: bytes\n"
    "Content-Length: 45\n"
    "Keep-Alive: timeout=5, max=100\n"
    "Connection: Keep-Alive\n"
    "Content-Type: text/html\n"
    "\n"
    "<html><body><h1>It works!</h1></body></html>\n"
)

_HELLO_BODY = (
    "<!DOCTYPE html>\n<html>\n  <head>\n    <meta charset=\"utf-8\">\n"
    "    <title>Page Title</title>\n  </head>\n  <body>\n    <h1>Hello, World</h1>\n"
    "  </body>\n</html>\n"
)
# The Hello World page of the second article; its Content-Length counts the body's bare
# LF line endings (the CRLF conversion only touches the head, see composer.to_crlf).
HELLO_WORLD = (
    "HTTP/1.1 200 OK\nContent-Type: text/html; charset=utf-8\n"
    f"Content-Length: {len(_HELLO_BODY.encode())}\n\n{_HELLO_BODY}"
)

HELLO = "HTTP/1.1 200 OK\nContent-Type: text/plain\nContent-Length: 5\n\nHello"
NOT_FOUND = ("HTTP/1.1 404 Not Found\nContent-Type: text/plain\nContent-Length: 9\n\n"
             "Not Found")

RESPONSE_PRESETS: dict[str, dict[str, str]] = {
    "it-works": {"label": _("Apache's “It works!” (the tutorial's client_recv.txt)"),
                 "text": IT_WORKS},
    "hello-world": {"label": _("A Hello World page"), "text": HELLO_WORLD},
}

# "/test answers Hello, everything else 404": the other article's first HTTP server.
RULE_PRESETS: dict[str, dict[str, Any]] = {
    "test-hello": {
        "label": _("/test → Hello, everything else → 404"),
        "rules": [
            {"method": "GET", "path": "/test", "response": HELLO},
            {"method": "*", "path": "*", "response": NOT_FOUND},
        ],
    },
}


def request_templates(host: str) -> list[dict[str, Any]]:
    """The composer's templates, with ``host`` (the sandbox's real host:port) in Host.

    Each is ``{id, label, text, line_endings, pieces, delay_ms, explain}``: ``pieces`` and
    ``delay_ms`` describe a slow send (1 piece = all at once).
    """
    browser = (
        f"GET / HTTP/1.1\nHost: {host}\nConnection: keep-alive\n"
        "Upgrade-Insecure-Requests: 1\n"
        "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36\n"
        "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,"
        "image/webp,image/apng,*/*;q=0.8\n"
        "Sec-Fetch-Site: none\nSec-Fetch-Mode: navigate\nSec-Fetch-User: ?1\n"
        "Sec-Fetch-Dest: document\nAccept-Encoding: gzip, deflate, br\n"
        "Accept-Language: ja-JP,ja;q=0.9,en-US;q=0.8,en;q=0.7\n\n"
    )
    items = [
        ("browser", gettext_noop("Browser-like GET"), browser,
         gettext_noop(
             "What Chrome sends for a page: the tutorial's server_recv.txt. Every header is a "
             "wish the server may ignore; the response still starts with a status line.")),
        ("curl", gettext_noop("curl-like GET"),
         f"GET / HTTP/1.1\nHost: {host}\nUser-Agent: curl/{curl.CURL_VERSION}\nAccept: */*\n\n",
         gettext_noop(
             "The smallest polite request: a request line, Host, and an empty line that ends "
             "the head.")),
        ("head", gettext_noop("HEAD"),
         f"HEAD / HTTP/1.1\nHost: {host}\n\n",
         gettext_noop("The same headers as a GET, Content-Length included, but no body "
                      "(RFC 9110 §9.3.2).")),
        ("http10", gettext_noop("HTTP/1.0"),
         "GET / HTTP/1.0\n\n",
         gettext_noop("HTTP/1.0 needs no Host, and the server closes the connection after the "
                      "response: look for “Connection: close” and “closed by the server” below.")),
        ("pipelined", gettext_noop("Two pipelined requests"),
         f"GET / HTTP/1.1\nHost: {host}\n\n"
         f"GET /index.css HTTP/1.1\nHost: {host}\nConnection: close\n\n",
         gettext_noop(
             "Two requests in one send on one connection: two responses come back, in order, "
             "and the traffic view shows them as requests 0 and 1 of the same connection.")),
        ("malformed", gettext_noop("Malformed request line"),
         f"GET /index.html HTTP/1.1 extra\nHost: {host}\n\n",
         gettext_noop("A request line is exactly method, target and version separated by single "
                      "spaces (RFC 9112 §3): anything else gets 400 Bad Request and a closed "
                      "connection.")),
        ("no-host", gettext_noop("Missing Host"),
         "GET / HTTP/1.1\n\n",
         gettext_noop("A missing Host gets 400 because HTTP/1.1 requires it (RFC 9112 §3.2); nginx "
                      "and Apache do the same.")),
        ("oversized", gettext_noop("Oversized header"),
         f"GET / HTTP/1.1\nHost: {host}\nX-Big: {'a' * OVERSIZED_HEADER_BYTES}\n\n",
         gettext_noop("A head larger than the server's 32 KiB limit is refused with 431 Request "
                      "Header Fields Too Large (RFC 6585 §5) before it is ever parsed.")),
        ("slow", gettext_noop("Sent in slow pieces"),
         f"GET / HTTP/1.1\nHost: {host}\nConnection: close\n\n",
         gettext_noop("The same bytes in 5 pieces, 300 ms apart: the server reassembles them. In "
                      "the traffic view, “receiving the head” now takes over a second.")),
    ]
    return [
        {"id": key, "label": gettext(label), "text": text, "line_endings": "crlf",
         "pieces": 5 if key == "slow" else 1, "delay_ms": 300 if key == "slow" else 0,
         "explain": gettext(explain)}
        for key, label, text, explain in items
    ]
