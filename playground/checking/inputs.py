"""The files a run asks for, made fresh for each run so that no answer can be
memorised: random names (``chk-7f3a9c.html``) and random contents, written into the
server's folder before the first check and removed after the last, even when the run
fails or is stopped. Nothing existing is ever overwritten: the names are random, and
a name that exists anyway makes ``write`` raise (FileExistsError, O_EXCL) rather than
replace the learner's file.
"""

from __future__ import annotations

import os
import secrets
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

# Japanese text: three bytes per character in UTF-8, so a Content-Length counted in
# characters is visibly wrong for the .html file.
JAPANESE = ("こんにちは、サーバーさん。", "これはチェックのためのページです。",
            "バイトを数えてください、文字ではなく。", "改行は CR LF です。")


@dataclass(frozen=True)
class GeneratedFile:
    """One file: ``name`` is its path under the folder ("/"-separated), ``path`` the
    path of the request that names it."""

    name: str
    content: bytes
    media_type: str

    @property
    def path(self) -> str:
        return "/" + self.name


@dataclass
class GeneratedFiles:
    """The run's files. ``missing`` names a file that does not exist (for the 404);
    ``secret`` is written next to the folder, outside it (stage 11), when possible:
    ``secret_path`` is then its absolute path and ``secret_escape`` the request path
    that climbs out to it ("/../chk-secret-….txt")."""

    token: str
    html: GeneratedFile
    css: GeneratedFile
    png: GeneratedFile
    js: GeneratedFile
    nested: GeneratedFile        # in a subfolder: "chk-d-…/chk-….css"
    missing: str                 # a request path naming nothing: "/chk-….html"
    secret: GeneratedFile
    secret_path: str = ""
    secret_escape: str = ""
    _written: list[Path] = field(default_factory=list)
    _dirs: list[Path] = field(default_factory=list)

    @classmethod
    def make(cls) -> GeneratedFiles:
        token = secrets.token_hex(4)
        folder = f"chk-d-{secrets.token_hex(3)}"
        return cls(
            token=token,
            html=GeneratedFile(_name("html"), _html(token), "text/html"),
            css=GeneratedFile(_name("css"), _css(token), "text/css"),
            png=GeneratedFile(_name("png"), _png(), "image/png"),
            js=GeneratedFile(_name("js"), _js(token), "text/javascript"),
            nested=GeneratedFile(f"{folder}/{_name('css')}", _css(token), "text/css"),
            missing="/" + _name("html"),
            secret=GeneratedFile(f"chk-secret-{secrets.token_hex(4)}.txt",
                                 f"secret {secrets.token_hex(16)}\n".encode(), "text/plain"),
        )

    @property
    def served(self) -> tuple[GeneratedFile, ...]:
        """The files written inside the folder."""
        return (self.html, self.css, self.png, self.js, self.nested)

    def write(self, docroot: str) -> None:
        """Write the files into ``docroot`` (and the secret beside it)."""
        root = Path(docroot)
        for file in self.served:
            target = root / file.name
            if target.parent != root:
                target.parent.mkdir(mode=0o755)
                self._dirs.append(target.parent)
                os.chmod(target.parent, 0o755)  # the umask may hide it from the server
            self._create(target, file.content)
        outside = root.resolve().parent
        if outside != root.resolve() and os.access(outside, os.W_OK):
            try:
                self._create(outside / self.secret.name, self.secret.content)
            except OSError:
                return  # no secret this run: stage 11 checks without it
            self.secret_path = str(outside / self.secret.name)
            self.secret_escape = "/../" + self.secret.name

    def _create(self, target: Path, content: bytes) -> None:
        # O_EXCL: never overwrite the learner's file (the random name makes it rare).
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        self._written.append(target)
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o644)
            f.write(content)

    def remove(self) -> None:
        """Remove everything written (safe to call twice, or after a failed write)."""
        for target in reversed(self._written):
            try:
                target.unlink()
            except FileNotFoundError:
                pass
        for folder in reversed(self._dirs):
            try:
                folder.rmdir()
            except OSError:
                pass
        self._written.clear()
        self._dirs.clear()


def _name(extension: str) -> str:
    return f"chk-{secrets.token_hex(3)}.{extension}"


def _html(token: str) -> bytes:
    lines = [secrets.choice(JAPANESE) for _ in range(2 + secrets.randbelow(4))]
    text = "\n".join(f"  <p>{line}</p>" for line in lines)
    return (f'<!doctype html>\n<html lang="ja">\n<head>\n  <meta charset="utf-8">\n'
            f"  <title>チェック {token}</title>\n</head>\n<body>\n{text}\n"
            f"  <p>{token}</p>\n</body>\n</html>\n").encode()


def _css(token: str) -> bytes:
    color = secrets.token_hex(3)
    return f"/* {token} */\nh1 {{ color: #{color}; }}\n".encode("ascii")


def _js(token: str) -> bytes:
    return f'console.log("check {token}");\n'.encode("ascii")


def _png() -> bytes:
    """A small valid PNG: random size and colours (RGB, 8 bits)."""
    width, height = 2 + secrets.randbelow(6), 2 + secrets.randbelow(6)
    rows = b"".join(b"\x00" + secrets.token_bytes(width * 3) for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
