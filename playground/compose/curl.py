"""A pasted curl command turned into the exact bytes curl would send (issue 16, point 9).

No Django. No library does this: the curl parsers on PyPI turn a command into Python
``requests`` code (whose bytes differ from curl's), and curlconverter is JavaScript that
needs a build step. So this is a small parser over ``shlex`` (the shell's quoting rules,
plus bash's ``$'...'`` that Chrome's "Copy as cURL" writes), and the request is laid out
in the order curl 7.88-8.x writes it (lib/http.c), checked byte for byte against the real
curl by tests/playground/compose/test_composer_curl.py:

    METHOD /path?query HTTP/1.1        (HTTP/1.0 with -0)
    Host: host[:port]                  (the port only when it is not 80)
    Authorization: Basic ...           (-u user:password)
    User-Agent: curl/VERSION           (-A)
    Accept: */*
    Accept-Encoding: deflate, gzip, br, zstd   (--compressed)
    Referer: ...                       (-e)
    Cookie: ...                        (-b name=value)
    the -H headers, in order           ("Name:" drops a default, "Name;" sends it empty)
    Content-Length: N                  (with a body)
    Content-Type: application/x-www-form-urlencoded   (-d, unless -H gave one)

A -H header of the same name as a default replaces it, in the -H position (Host keeps its
place). Options that only change what curl prints or does afterwards (-v, -s, -L, -o...)
change no byte and are listed as ignored; anything else is refused by name, never
guessed at: the learner sees exactly which part we do not understand.
"""

from __future__ import annotations

import base64
import re
import shlex
from dataclasses import dataclass, field
from urllib.parse import quote_plus, unquote, urlsplit

from ..refusals import Refusal, gettext_noop

# The User-Agent a pasted command gets: the curl of a current Debian/Ubuntu. The
# composer's "curl-like GET" template uses the same (presets.py).
CURL_VERSION = "8.5.0"
# A pasted command is a line or a few: more is not a command someone typed.
MAX_COMMAND_CHARS = 64 * 1024
# What --compressed asks for: a curl built with zlib, brotli and zstd (Debian's).
COMPRESSED = "deflate, gzip, br, zstd"

# Options that change nothing curl sends in the first request (output, verbosity,
# retries, redirects followed afterwards, TLS checks of an http:// URL...).
IGNORED_FLAGS = frozenset({
    "-v", "--verbose", "-s", "--silent", "-S", "--show-error", "-i", "--include",
    "-L", "--location", "-k", "--insecure", "-f", "--fail", "-O", "--remote-name",
    "-#", "--progress-bar", "--no-progress-meter", "-N", "--no-buffer",
    "--fail-with-body", "--http1.1", "--raw", "--no-keepalive", "--path-as-is",
})
IGNORED_WITH_VALUE = frozenset({
    "-o", "--output", "-m", "--max-time", "--connect-timeout", "--retry", "-w",
    "--write-out", "-D", "--dump-header", "--max-redirs", "--retry-delay",
})
WITH_VALUE = frozenset({
    "-X", "--request", "-H", "--header", "-A", "--user-agent", "-e", "--referer",
    "-b", "--cookie", "-u", "--user", "-d", "--data", "--data-ascii", "--data-binary",
    "--data-raw", "--data-urlencode", "--json", "--url",
}) | IGNORED_WITH_VALUE
# Single-letter flags that take no value, for bundles such as -sSL or -sI.
SHORT_FLAGS = frozenset({"s", "S", "i", "L", "k", "f", "O", "v", "N", "G", "I", "0", "#"})

_ANSI_C = re.compile(r"\$'((?:[^'\\]|\\.)*)'", re.DOTALL)
_ANSI_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", "'": "'", '"': '"',
                 "a": "\a", "b": "\b", "e": "\x1b", "f": "\f", "v": "\v", "0": "\0"}
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


class CurlError(Refusal, ValueError):
    """The command cannot be turned into bytes; the message names the part."""


@dataclass
class Curl:
    """What the command asks for, before it is laid out as bytes."""

    url: str = ""
    method: str | None = None
    head: bool = False
    get: bool = False
    http10: bool = False
    compressed: bool = False
    user_agent: str | None = None
    referer: str | None = None
    cookie: str | None = None
    user: str | None = None
    headers: list[str] = field(default_factory=list)
    data: list[bytes] = field(default_factory=list)
    json: bool = False
    ignored: list[str] = field(default_factory=list)


def _ansi_c(match: re.Match[str]) -> str:
    """bash's $'...' (what Chrome's "Copy as cURL" writes) as a plain quoted word."""
    def one(escape: re.Match[str]) -> str:
        text = escape.group(0)
        if text[1] in "xu" and len(text) > 2:  # a lone \x stays as written, as in bash
            code = int(text[2:], 16)
            if 0xD800 <= code <= 0xDFFF:  # no character: the bytes could not be written
                raise CurlError(gettext_noop("%(escape)s is half of a UTF-16 pair, not a "
                                             "character"), escape=text)
            return chr(code)
        return _ANSI_ESCAPES.get(text[1], text)
    inner = re.sub(r"\\(x[0-9A-Fa-f]{1,2}|u[0-9A-Fa-f]{4}|.)", one, match.group(1),
                   flags=re.DOTALL)
    return shlex.quote(inner)


def words(command: str) -> list[str]:
    """The command split as bash would: quotes, backslash line continuations, $'...'."""
    if len(command) > MAX_COMMAND_CHARS:
        raise CurlError(gettext_noop("the command is longer than %(limit)s characters"),
                        limit=MAX_COMMAND_CHARS)
    text = _ANSI_C.sub(_ansi_c, command.replace("\\\r\n", " ").replace("\\\n", " "))
    try:
        found = shlex.split(text)
    except ValueError as error:  # "No closing quotation"
        raise CurlError(gettext_noop("the command cannot be split into words: %(error)s"),
                        error=str(error)) from None
    if found and found[0] in ("curl", "curl.exe"):
        found = found[1:]
    if not found:
        raise CurlError(gettext_noop("paste a curl command, for example: curl http://localhost/"))
    return found


def _expand(args: list[str]) -> list[str]:
    """-sSL as -s -S -L, and -XPOST / -HName:v as -X POST / -H Name:v."""
    out = []
    for arg in args:
        if arg.startswith("-") and not arg.startswith("--") and len(arg) > 2:
            if f"-{arg[1]}" in WITH_VALUE:
                out += [arg[:2], arg[2:]]
                continue
            if all(letter in SHORT_FLAGS for letter in arg[1:]):
                out += [f"-{letter}" for letter in arg[1:]]
                continue
        out.append(arg)
    return out


def _data(option: str, value: str) -> bytes:
    """One -d-like value as bytes; @file is refused (the playground reads no files)."""
    if option in ("-d", "--data", "--data-ascii", "--data-binary", "--json") \
            and value.startswith("@"):
        raise CurlError(gettext_noop("%(option)s %(value)s reads a file, which the composer "
                                     "cannot: paste the data itself"),
                        option=option, value=value)
    if option == "--data-urlencode":
        name, eq, content = value.partition("=")
        if content.startswith("@") or (not eq and name.startswith("@")):
            raise CurlError(gettext_noop("%(option)s %(value)s reads a file, which the "
                                         "composer cannot: paste the data itself"),
                            option=option, value=value)
        encoded = quote_plus(content if eq else name, safe="")
        return ((name + "=") if eq and name else "").encode() + encoded.encode()
    return value.encode()


def parse(command: str) -> Curl:
    """The command's options, or CurlError naming what is not understood."""
    curl = Curl()
    args = _expand(words(command))
    at = 0
    while at < len(args):
        arg = args[at]
        at += 1
        if arg in WITH_VALUE:
            if at >= len(args):
                raise CurlError(gettext_noop("%(option)s needs a value"), option=arg)
            value = args[at]
            at += 1
            _apply(curl, arg, value)
        elif arg in ("-I", "--head"):
            curl.head = True
        elif arg in ("-G", "--get"):
            curl.get = True
        elif arg in ("-0", "--http1.0"):
            curl.http10 = True
        elif arg == "--compressed":
            curl.compressed = True
        elif arg in IGNORED_FLAGS:
            curl.ignored.append(arg)
        elif arg.startswith("-") and arg != "-":
            raise CurlError(gettext_noop("curl option %(option)s is not supported by the "
                                         "composer"), option=arg)
        elif curl.url:
            raise CurlError(gettext_noop("one URL at a time: %(first)s and %(second)s"),
                            first=curl.url, second=arg)
        else:
            curl.url = arg
    if not curl.url:
        raise CurlError(gettext_noop("the command has no URL"))
    if curl.head and curl.data and not curl.get:
        # curl itself refuses: "You can only select one HTTP request method!"
        raise CurlError(gettext_noop("-I (HEAD) and -d (POST) together: curl refuses this "
                                     "too, pick one"))
    return curl


def _apply(curl: Curl, option: str, value: str) -> None:
    if option in IGNORED_WITH_VALUE:
        curl.ignored.append(f"{option} {value}")
    elif option in ("-X", "--request"):
        curl.method = value
    elif option in ("-H", "--header"):
        if not _HEADER_NAME.match(value) or not re.match(r"[^:;]+[:;]", value):
            raise CurlError(gettext_noop("-H %(value)s is not a header (Name: value)"),
                            value=value)
        curl.headers.append(value)
    elif option in ("-A", "--user-agent"):
        curl.user_agent = value
    elif option in ("-e", "--referer"):
        curl.referer = value.removesuffix(";auto")
    elif option in ("-b", "--cookie"):
        if "=" not in value:
            raise CurlError(gettext_noop("-b %(value)s names a cookie file, which the composer "
                                         "cannot read: write -b 'name=value'"), value=value)
        curl.cookie = value
    elif option in ("-u", "--user"):
        if ":" not in value:
            raise CurlError(gettext_noop("-u %(value)s has no password (curl would ask for it): "
                                         "write -u user:password"), value=value)
        curl.user = value
    elif option == "--url":
        curl.url = value
    else:  # the -d family and --json
        curl.json = curl.json or option == "--json"
        curl.data.append(_data(option, value))


def _target(curl: Curl) -> tuple[str, str]:
    """(request target, Host value) from the URL, as curl writes them."""
    url = curl.url if "://" in curl.url else "http://" + curl.url
    if re.search(r"\s", url):
        raise CurlError(gettext_noop("the URL %(url)s contains a space: write it as %%20"),
                        url=curl.url)
    try:
        parts = urlsplit(url)
    except ValueError:  # "Invalid IPv6 URL": a [ without its ]
        raise CurlError(gettext_noop("the URL %(url)s has a bad host"), url=curl.url) from None
    if parts.scheme.lower() != "http":
        raise CurlError(gettext_noop("the composer speaks plain HTTP: %(url)s is not an "
                                     "http:// URL"), url=curl.url)
    try:
        port = parts.port
    except ValueError:
        raise CurlError(gettext_noop("the URL %(url)s has a bad port"), url=curl.url) from None
    if not parts.hostname:
        raise CurlError(gettext_noop("the URL %(url)s has no host"), url=curl.url)
    if parts.username is not None and curl.user is None:  # http://user:password@host/
        curl.user = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
    host = parts.netloc.rpartition("@")[2]
    if port == 80:
        host = host.rsplit(":", 1)[0]
    path = parts.path or "/"
    query = parts.query
    if curl.get and curl.data:
        query = "&".join(filter(None, [query, b"&".join(curl.data).decode("latin-1")]))
    return path + ("?" + query if query else ""), host


def _named(headers: list[str], name: str) -> bool:
    return any(re.split(r"[:;]", h, maxsplit=1)[0].strip().lower() == name for h in headers)


def to_bytes(curl: Curl, version: str = CURL_VERSION) -> bytes:
    """The request curl ``version`` sends for ``curl`` (the order in this module's
    docstring)."""
    target, host = _target(curl)
    body = None if curl.get else (b"&".join(curl.data) if curl.data else None)
    method = curl.method or ("HEAD" if curl.head else "POST" if body is not None else "GET")
    custom = list(curl.headers)
    if curl.json:
        custom += [h for h in ("Content-Type: application/json", "Accept: application/json")
                   if not _named(custom, h.split(":")[0].lower())]
    host_line = next((h for h in custom if _named([h], "host")), f"Host: {host}")
    defaults = [
        ("authorization", curl.user and "Authorization: Basic "
         + base64.b64encode(curl.user.encode()).decode()),
        ("user-agent", f"User-Agent: {curl.user_agent or 'curl/' + version}"
         if curl.user_agent != "" else None),
        ("accept", "Accept: */*"),
        ("accept-encoding", curl.compressed and f"Accept-Encoding: {COMPRESSED}"),
        ("referer", curl.referer and f"Referer: {curl.referer}"),
        ("cookie", curl.cookie and f"Cookie: {curl.cookie}"),
    ]
    lines = [f"{method} {target} HTTP/{'1.0' if curl.http10 else '1.1'}", host_line]
    lines += [line for name, line in defaults if line and not _named(custom, name)]
    for header in custom:
        name, sep, value = re.split(r"([:;])", header, maxsplit=1)
        if name.strip().lower() == "host":
            continue
        if sep == ";":  # "Name;" sends the header with an empty value
            lines.append(f"{name}:")
        elif value.strip():  # "Name:" with nothing after it only removes a default
            lines.append(header)
    if body is not None:
        if not _named(custom, "content-length"):
            lines.append(f"Content-Length: {len(body)}")
        if not _named(custom, "content-type"):
            lines.append("Content-Type: application/x-www-form-urlencoded")
    head = "".join(line + "\r\n" for line in lines) + "\r\n"
    # curl sends its arguments' bytes as the shell gave them: UTF-8 here.
    return head.encode("utf-8") + (body or b"")


def request_bytes(command: str, version: str = CURL_VERSION) -> tuple[bytes, list[str]]:
    """The bytes curl would send for ``command``, and the options that change none."""
    curl = parse(command)
    return to_bytes(curl, version), curl.ignored
