"""The reference for henaserver's speed: a static-file ASGI app under uvicorn + httptools.

    bench/.venv-ref/bin/python bench/uvicorn_app.py ROOT   # bench/reference.py makes it

What the issue measured: one stat per request, the file's bytes cached by inode, size
and mtime (a changed file is never served stale), GET and HEAD, 404 otherwise. It runs
in the bench's own virtualenv (uvicorn and httptools are not the project's dependencies)
and prints ``http://127.0.0.1:PORT/`` once it listens, like henaserver.
"""

import mimetypes
import os
import socket
import sys

import uvicorn

ROOT = os.path.realpath(sys.argv[1])
cache: dict[str, tuple[tuple[int, int, int], bytes]] = {}


async def app(scope, receive, send):
    assert scope["type"] == "http"
    path = os.path.realpath(os.path.join(ROOT, scope["path"].lstrip("/")))
    try:
        st = os.stat(path) if path.startswith(ROOT + os.sep) else None
    except OSError:
        st = None
    if st is None or not os.path.isfile(path):
        await send({"type": "http.response.start", "status": 404,
                    "headers": [(b"content-length", b"0")]})
        return await send({"type": "http.response.body", "body": b""})
    key = (st.st_ino, st.st_size, st.st_mtime_ns)
    if path not in cache or cache[path][0] != key:
        with open(path, "rb") as f:
            cache[path] = (key, f.read())
    body = cache[path][1]
    kind = mimetypes.guess_type(path)[0] or "application/octet-stream"
    await send({"type": "http.response.start", "status": 200, "headers": [
        (b"content-type", kind.encode()), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body",
                "body": b"" if scope["method"] == "HEAD" else body})


if __name__ == "__main__":
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    # Accepted sockets inherit it (Linux); asyncio sets it only on sockets it creates.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    print(f"http://127.0.0.1:{sock.getsockname()[1]}/", flush=True)
    uvicorn.run(app, fd=sock.fileno(), http="httptools", loop="asyncio", log_level="warning",
                access_log=False)
