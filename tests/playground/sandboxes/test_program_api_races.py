"""A running program owns its folder and may swap names in it while the playground
(root) reads there: ``GET .../program/`` must never read through a swapped folder
(review; C's note #10). The swapper here is a thread of the test doing what a hostile
program does (renameat2 RENAME_EXCHANGE in a loop); the rest is the real API.
"""

import ctypes
import os
import threading

import pytest

from playground.files.storage import root_of
from playground.models import Sandbox

pytestmark = pytest.mark.django_db(transaction=True)

LIST = "/api/sandboxes/"
ROUNDS = 400
libc = ctypes.CDLL(None, use_errno=True)
RENAME_EXCHANGE = 2


def exchange(folder_fd: int, a: bytes, b: bytes) -> None:
    libc.renameat2(folder_fd, a, folder_fd, b, RENAME_EXCHANGE)


def test_the_program_is_never_read_through_a_swapped_folder(client, free_port, tmp_path):
    secret = tmp_path / "outside"
    secret.mkdir()
    (secret / "main.py").write_text("THE PLAYGROUND'S SECRET")
    sb = client.post(LIST, {"name": "mine", "port": free_port, "kind": "program",
                            "main_file": "sub/main.py", "source": "print('mine')\n"},
                     content_type="application/json").json()
    root = root_of(Sandbox.objects.get(pk=sb["id"]))
    os.symlink(secret, root / "sub.lnk")
    stop = threading.Event()
    folder = os.open(root, os.O_RDONLY | os.O_DIRECTORY)

    def swap() -> None:
        while not stop.is_set():
            exchange(folder, b"sub", b"sub.lnk")

    swapper = threading.Thread(target=swap, daemon=True)
    swapper.start()
    try:
        leaked = sum("SECRET" in (client.get(sb["links"]["program"]).json()["source"] or "")
                     for _ in range(ROUNDS))
    finally:
        stop.set()
        swapper.join()
        os.close(folder)
    assert leaked == 0, f"read through the swapped folder {leaked} times of {ROUNDS}"
