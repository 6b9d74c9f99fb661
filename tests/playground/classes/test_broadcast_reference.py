"""The reference servers of a broadcast (classes/reference.py): one per distinct folder
content, not one per student (a class holding the same starter files starts one), one
per folder again when the request is conditional (the answer then depends on each
copy's times), and none left running once the broadcast has ended.

Real henaserver sandboxes, real reference servers, the real API view.
"""

from __future__ import annotations

import os

import pytest
from test_broadcast_api import GET_INDEX, PAGE, a_student, by_student, logged_in, send
from testkit.boards import classroom, teacher

from playground.classes import reference
from playground.files.storage import root_of
from playground.models import Sandbox

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def klass():
    return classroom(teacher("sato"))


def _class_of_three(klass, free_ports) -> None:
    """aoi and ren hold the same bytes (written at other times); mio another page."""
    ports = free_ports(3)
    for number, name in enumerate(("aoi", "ren", "mio")):
        _, made = a_student(klass, name, ports[number])
        page = root_of(Sandbox.objects.get(pk=made["id"])) / "index.html"
        if name == "mio":
            page.write_bytes(PAGE.replace(b"Hello", b"Hi"))
        os.utime(page, ns=(1_700_000_000_000_000_000 + number, ) * 2)  # each its own time


def test_the_same_files_share_one_reference(klass, free_ports):
    _class_of_three(klass, free_ports)
    answer = send(logged_in(klass.teacher), klass).json()
    assert (answer["answered"], answer["references"]) == (3, 2)
    results = by_student(answer)
    for name in ("aoi", "ren", "mio"):  # each against the same bytes, times apart
        assert results[name]["diff"]["same_apart_from_expected"], results[name]["diff"]
    assert reference.supervisor().pids() == {}  # all stopped


def test_a_conditional_request_gets_a_reference_per_folder(klass, free_ports):
    _class_of_three(klass, free_ports)
    conditional = GET_INDEX.replace(
        b"\r\n\r\n", b"\r\nIf-Modified-Since: Tue, 14 Nov 2023 22:13:20 GMT\r\n\r\n")
    answer = send(logged_in(klass.teacher), klass, conditional).json()
    assert answer["references"] == 3
    for result in answer["results"]:  # 304 or 200 alike, from the same times
        assert result["diff"]["same_apart_from_expected"], result["diff"]
    assert reference.supervisor().pids() == {}


def test_fingerprints(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    for folder in (one, two):
        (folder / "css").mkdir(parents=True)
        (folder / "css" / "a.css").write_bytes(b"h1{}")
    os.utime(two / "css" / "a.css", ns=(1, 1))
    assert reference.fingerprint(str(one), False) == reference.fingerprint(str(two), False)
    assert reference.fingerprint(str(one), True) != reference.fingerprint(str(two), True)
    (two / "css" / "a.css").rename(two / "css" / "b.css")  # another name, same bytes
    assert reference.fingerprint(str(one), False) != reference.fingerprint(str(two), False)
    assert reference.depends_on_times(b"GET / HTTP/1.1\r\nif-none-match: \"x\"\r\n\r\n")
    assert not reference.depends_on_times(b"GET / HTTP/1.1\r\nX-If-Match: 1\r\n\r\n")
