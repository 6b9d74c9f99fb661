"""What one class broadcast costs (docs/classes.md, "One request to everyone"): a class
of N students (30 by default), each with a running henaserver sandbox serving the same
three starter-like files, and the teacher's one request sent to all of them through the
real API view (classes/broadcast_api.py) and the real reference servers.

    .venv/bin/python bench/broadcast_cost.py                # 30 students
    .venv/bin/python bench/broadcast_cost.py --students 10 --request "GET / HTTP/1.1"

Prints the wall time of the broadcast and the CPU it took: the playground process's
own (user+system), the reference henaservers' (reaped children, getrusage), the
students' sandboxes' (their /proc times before and after). One process: the playground
in this script (Django's test client calls the view; the sandboxes are its children).
"""

from __future__ import annotations

import argparse
import base64
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from servers import cpu_seconds, free_port  # bench/ is this script's sys.path[0]

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
FILES = {"index.html": b"<!DOCTYPE html>\n<title>Hi</title>\n<link rel=stylesheet "
         b"href=style.css>\n<h1>Hi</h1>\n", "style.css": b"h1 { color: teal }\n",
         "notes.txt": b"hello\n"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--request", default="GET / HTTP/1.1")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="broadcast-cost-")
    os.environ.update(DJANGO_SETTINGS_MODULE="playground.settings",
                      PLAYGROUND_DB=f"{tmp}/db.sqlite3", PLAYGROUND_DATA_DIR=f"{tmp}/data",
                      PLAYGROUND_PORT_RANGE="1024-65535")
    import django

    django.setup()
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment

    from playground.class_models import TEACHERS_GROUP, Classroom, Membership
    from playground.files.storage import root_of
    from playground.models import Sandbox
    from playground.sandboxes import runtime

    call_command("migrate", verbosity=0)
    setup_test_environment()
    sato = User.objects.create_user("sato")
    sato.groups.add(Group.objects.get(name=TEACHERS_GROUP))
    room = Classroom.objects.create(name="bench", teacher=sato, join_code="BENCH234")
    for number in range(args.students):
        user = User.objects.create_user(f"s{number:02d}")
        Membership.objects.create(classroom=room, user=user)
        client = Client()
        client.force_login(user)
        made = client.post("/api/sandboxes/", {"name": "site", "port": free_port()},
                           content_type="application/json").json()
        for name, data in FILES.items():
            (root_of(Sandbox.objects.get(pk=made["id"])) / name).write_bytes(data)
        started = client.post(made["links"]["start"]).json()
        assert started["status"] == "running", started
    pids = list(runtime.supervisor().pids().values())
    teacher = Client()
    teacher.force_login(sato)
    raw = (args.request + "\r\nHost: localhost\r\nConnection: close\r\n\r\n").encode()
    body = {"request_b64": base64.b64encode(raw).decode(), "line_endings": "exact"}

    sandboxes_before = sum(cpu_seconds(pid) for pid in pids)
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    answer = teacher.post(f"/api/classes/{room.pk}/broadcast/", body,
                          content_type="application/json").json()
    wall = time.perf_counter() - began
    me2, kids2 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    sandboxes = sum(cpu_seconds(pid) for pid in pids) - sandboxes_before
    runtime.supervisor().stop_all()
    print(f"students {args.students}, answered {answer['answered']} of {answer['total']}, "
          f"references started {answer.get('references', '?')}")
    own = me2.ru_utime + me2.ru_stime - me.ru_utime - me.ru_stime
    references = kids2.ru_utime + kids2.ru_stime - kids.ru_utime - kids.ru_stime
    print(f"wall {wall:.2f} s; CPU: playground {own:.2f} s, references {references:.2f} s,"
          f" sandboxes {sandboxes:.2f} s")


if __name__ == "__main__":
    main()
