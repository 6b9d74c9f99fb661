"""A program sandbox's folder changes under the playground's feet: the learner's program
runs (as its own uid) while the playground (root) reads its files for the API. Between
the check of a path and its open, the program can swap a file or a folder for a symlink
(root would follow it anywhere: the secret key) or a FIFO (the open would block the
playground's thread forever). Here a thread of the test does the swapping, as fast as a
hostile program would, and the API must never follow, never block.
"""

import ctypes
import os
import threading

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from playground.files.storage import root_of
from playground.models import Sandbox

pytestmark = pytest.mark.django_db(transaction=True)

LIST = "/api/sandboxes/"
SECRET = b"SECRET-KEY-OF-THE-PLAYGROUND"
TRIES = 100


@pytest.fixture
def sandbox(client, free_port, settings):
    settings.PLAYGROUND_MAX_FILE_BYTES = settings.PLAYGROUND_MAX_SANDBOX_BYTES = 10**6
    response = client.post(LIST, {"name": "mine", "port": free_port, "kind": "program",
                                  "source": "print('hi')\n"},
                           content_type="application/json")
    assert response.status_code == 201, response.content
    data = response.json()
    return data, str(root_of(Sandbox.objects.get(pk=data["id"])))


class Swapper:
    """Swaps, in a loop, the entry ``name`` of ``folder`` between ``a`` and ``b`` (two
    other entries of the same folder) by rename, as a program in its folder can."""

    def __init__(self, folder, name, a, b):
        self.paths = [os.path.join(folder, n) for n in (name, a, b)]
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        name, a, b = self.paths
        while not self.stopping.is_set():
            for other in (a, b):
                os.rename(other, name)
                os.rename(name, other)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join()


def never_blocks(fifo, work):
    """Run ``work`` in a thread; if it blocks on ``fifo`` (opened to read, waiting for
    a writer), open the FIFO to write so that it ends, and fail."""
    done = threading.Event()
    errors = []

    def run():
        try:
            work()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            done.set()
    threading.Thread(target=run, daemon=True).start()
    finished = done.wait(30)
    while not done.is_set():  # blocked: let it go (the test fails below)
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass
        done.wait(0.05)
    assert finished, "a read of the sandbox's files blocked on a FIFO"
    if errors:
        raise errors[0]


def test_a_fifo_swapped_in_never_blocks_a_read(client, sandbox):
    data, root = sandbox
    for name in ("main.py", "blob"):  # "blob": no extension, so the listing reads it
        with open(os.path.join(root, name + ".file"), "wb") as f:
            f.write(b"print('hi')\n")
        os.mkfifo(os.path.join(root, name + ".fifo"))
    with open(os.path.join(root, "blob"), "wb") as f:
        f.write(b"text")

    def reads():
        for _ in range(TRIES):
            for url in (data["links"]["program"], data["links"]["files"] + "main.py"):
                assert client.get(url).status_code in (200, 404)
            if not _ % 10:  # the listing opens "blob" to see if it is text
                assert client.get(data["links"]["files"]).status_code == 200

    with Swapper(root, "main.py", "main.py.file", "main.py.fifo"), \
            Swapper(root, "blob", "blob.file", "blob.fifo"):
        never_blocks(os.path.join(root, "main.py"), reads)


def test_a_symlink_swapped_in_is_never_followed(client, sandbox, tmp_path):
    data, root = sandbox
    outside = tmp_path / "outside"
    outside.mkdir()
    for name in ("app.py", "x.txt"):
        (outside / name).write_bytes(SECRET)
    # A folder "d" that is now a real folder, now a symlink to the outside...
    os.mkdir(os.path.join(root, "d.real"))
    for name in ("app.py", "x.txt"):
        with open(os.path.join(root, "d.real", name), "wb") as f:
            f.write(b"print('mine')\n")
    os.symlink(outside, os.path.join(root, "d.link"))
    # ... and a file "y.txt" that is now a file, now a symlink to the secret.
    with open(os.path.join(root, "y.txt.file"), "wb") as f:
        f.write(b"mine")
    os.symlink(outside / "x.txt", os.path.join(root, "y.txt.link"))
    response = client.put(data["links"]["program"],
                          {"main_file": "d.real/app.py", "source": "print('mine')\n"},
                          content_type="application/json")
    assert response.status_code == 200, response.content
    Sandbox.objects.filter(pk=data["id"]).update(main_file="d/app.py")

    seen = []
    with Swapper(root, "d", "d.real", "d.link"), \
            Swapper(root, "y.txt", "y.txt.file", "y.txt.link"):
        for _ in range(TRIES):
            for url in (data["links"]["program"], data["links"]["files"] + "d/x.txt",
                        data["links"]["files"] + "y.txt"):
                response = client.get(url)
                body = (response.getvalue() if response.streaming else response.content)
                seen.append(response.status_code)
                assert SECRET not in body, url
    assert 200 in seen  # the reads did happen, between the swaps


def test_the_file_list_survives_files_coming_and_going(client, sandbox):
    """A program writes its files as it likes (a temporary file renamed into place): the
    listing must not fail (500) on one that went between its walk and its lstat."""
    data, root = sandbox
    for name in ("c.txt.1", "c.txt.2"):
        with open(os.path.join(root, name), "wb") as f:
            f.write(name.encode())
    with Swapper(root, "c.txt", "c.txt.1", "c.txt.2"):
        for _ in range(TRIES):
            assert client.get(data["links"]["files"]).status_code == 200


class Exchanger(Swapper):
    """Exchanges ``name`` and ``other`` in one step, again and again (renameat2's
    RENAME_EXCHANGE: a program can call it with ctypes), so ``name`` is now a real
    folder, now a symlink, and never missing."""

    def __init__(self, folder, name, other):
        super().__init__(folder, name, other, other)
        self.libc = ctypes.CDLL(None, use_errno=True)

    def run(self):
        name, other, _ = (os.fsencode(p) for p in self.paths)
        while not self.stopping.is_set():
            assert self.libc.renameat2(-100, name, -100, other, 2) == 0, ctypes.get_errno()


def test_a_write_or_delete_never_lands_outside(client, sandbox, tmp_path):
    """The playground (root) writes an upload, a program, or deletes a file, in a folder
    the program swaps for a symlink to elsewhere: never elsewhere."""
    data, root = sandbox
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_bytes(SECRET)
    os.mkdir(os.path.join(root, "d"))
    os.symlink(outside, os.path.join(root, "d.link"))
    files = data["links"]["files"]
    with Exchanger(root, "d", "d.link"):
        for n in range(TRIES):
            upload = client.post(files, {"files": SimpleUploadedFile("d/up.txt", b"up")})
            client.post(files, {"files": SimpleUploadedFile(f"d/new{n}/up.txt", b"up")})
            put = client.put(data["links"]["program"],
                             {"main_file": "d/app.py", "source": "print(1)\n"},
                             content_type="application/json")
            client.post(files, {"files": SimpleUploadedFile("d/keep.txt", b"k")})
            gone = client.delete(files + "d/keep.txt")
            for response in (upload, put, gone):
                assert response.status_code < 500, response.content
            assert sorted(os.listdir(outside)) == ["keep.txt"], n
    assert (outside / "keep.txt").read_bytes() == SECRET
