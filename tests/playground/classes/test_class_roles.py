"""Roles and classes (issue 15, point 1; docs/classes.md): a teacher (the group
"teachers", not a superuser) creates a class and gets a join code and link; students
join with it, logged in; a teacher sees only their own classes and students; students
never see each other. The API (docs/api.md) and the pages, through the real views."""

import io
import threading

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import Client
from testkit.boards import logged_in

from playground.class_models import TEACHERS_GROUP, Classroom, Membership
from playground.classes import codes
from playground.models import Sandbox
from playground.sandboxes.ownership import is_teacher, watched_by

pytestmark = pytest.mark.django_db(transaction=True)


def _teacher(name: str, **extra) -> User:
    user = User.objects.create_user(name, password="pw-" + name, **extra)
    call_command("make_teacher", name, stdout=io.StringIO())
    return User.objects.get(pk=user.pk)  # a fresh object: no cached permissions


def _create_class(client: Client, name: str = "HTTP Monday") -> dict:
    response = client.post("/api/classes/", {"name": name}, content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()


def _join(client: Client, code: str):
    return client.post("/api/classes/join/", {"code": code},
                       content_type="application/json")


def test_a_teacher_is_the_group_not_staff_or_superuser_status():
    sato = _teacher("sato", first_name="Hanako", last_name="Sato")
    staff = User.objects.create_user("staff", is_staff=True)
    assert is_teacher(sato) and not sato.is_staff and not sato.is_superuser
    assert list(sato.groups.all()) == [Group.objects.get(name=TEACHERS_GROUP)]
    assert not is_teacher(staff)
    made = _create_class(logged_in(sato))
    assert made["name"] == "HTTP Monday" and made["students"] == 0
    code = made["join_code"]
    assert len(code) == 9 and code[4] == "-" and codes.normalize(code)
    assert made["join_link"] == f"http://testserver/classes/join/{code}/"
    refused = logged_in(staff).post("/api/classes/", {"name": "x"},
                                    content_type="application/json")
    assert refused.status_code == 403 and "teacher" in refused.json()["error"]


@pytest.mark.parametrize("name", ["", "   ", "x" * 81, None, 42])
def test_a_class_needs_a_name(name):
    response = logged_in(_teacher("sato")).post("/api/classes/", {"name": name},
                                                content_type="application/json")
    assert response.status_code == 400 and response.json()["field"] == "name"
    assert not Classroom.objects.exists()


def test_students_join_with_the_code_typed_any_way_and_twice_is_fine():
    made = _create_class(logged_in(_teacher("sato")))
    student = logged_in(User.objects.create_user("ken"))
    first = _join(student, made["join_code"].lower().replace("-", " "))
    assert first.status_code == 201 and first.json()["added"] is True
    assert first.json()["class"]["name"] == "HTTP Monday"
    assert first.json()["class"]["teacher"] == "sato"
    again = _join(student, made["join_code"])
    assert again.status_code == 200 and again.json()["added"] is False
    assert Membership.objects.count() == 1
    listed = logged_in(User.objects.get(username="sato")).get("/api/classes/").json()
    assert listed["teaching"][0]["students"] == 1


@pytest.mark.parametrize("code", ["ACEF-GHJK", "nope", "", "0000-0000", None])
def test_a_bad_code_is_a_clear_404(code):
    _create_class(logged_in(_teacher("sato")))
    response = _join(logged_in(User.objects.create_user("ken")), code)
    assert response.status_code == 404
    assert "join code" in response.json()["error"] and response.json()["field"] == "code"
    assert not Membership.objects.exists()


def test_concurrent_joins_make_one_membership():
    made = _create_class(logged_in(_teacher("sato")))
    ken = User.objects.create_user("ken")
    statuses: list[int] = []
    barrier = threading.Barrier(6)

    def click() -> None:
        browser = logged_in(ken)
        barrier.wait()
        statuses.append(_join(browser, made["join_code"]).status_code)

    threads = [threading.Thread(target=click) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(statuses)[-1] in (200, 201) and set(statuses) <= {200, 201}
    assert len(statuses) == 6 and Membership.objects.count() == 1


def test_teachers_see_only_their_classes_and_students_never_each_other(free_ports):
    sato, tanaka = _teacher("sato"), _teacher("tanaka")
    a = _create_class(logged_in(sato), "A")
    b = _create_class(logged_in(tanaka), "B")
    ken, mio = User.objects.create_user("ken"), User.objects.create_user("mio")
    assert _join(logged_in(ken), a["join_code"]).status_code == 201
    assert _join(logged_in(mio), b["join_code"]).status_code == 201
    port_ken, port_mio = free_ports(2)
    ken_box = Sandbox.objects.create(name="k", port=port_ken, user=ken)
    mio_box = Sandbox.objects.create(name="m", port=port_mio, user=mio)
    assert list(watched_by(sato)) == [ken_box] and list(watched_by(tanaka)) == [mio_box]
    assert not watched_by(ken).exists()  # a student watches nobody
    assert [c["name"] for c in logged_in(sato).get("/api/classes/").json()["teaching"]] \
        == ["A"]
    # A student sees the class and its teacher, never the other students.
    seen = logged_in(ken).get("/api/classes/").json()
    assert seen["is_teacher"] is False and seen["teaching"] == []
    assert [c["name"] for c in seen["joined"]] == ["A"]
    assert _join(logged_in(mio), a["join_code"]).status_code == 201
    page = logged_in(ken).get("/classes/").content.decode()
    assert "mio" not in logged_in(ken).get("/api/classes/").content.decode()
    assert "mio" not in page and "A" in page


def test_a_teacher_does_not_join_their_own_class():
    sato = _teacher("sato")
    made = _create_class(logged_in(sato))
    response = _join(logged_in(sato), made["join_code"])
    assert response.status_code == 400 and not Membership.objects.exists()


def test_leaving_a_class():
    made = _create_class(logged_in(_teacher("sato")))
    ken = logged_in(User.objects.create_user("ken"))
    _join(ken, made["join_code"])
    assert ken.post(f"/api/classes/{made['id']}/leave/").json() == {"left": made["id"]}
    assert not Membership.objects.exists()
    assert ken.post(f"/api/classes/{made['id']}/leave/").status_code == 404


def test_classes_need_a_login_even_without_require_login(client):
    for method, url in (("get", "/api/classes/"), ("post", "/api/classes/"),
                        ("post", "/api/classes/join/"), ("post", "/api/classes/1/leave/")):
        response = getattr(client, method)(url, content_type="application/json")
        assert response.status_code == 401, url
        assert "log in" in response.json()["error"]
    assert client.put("/api/classes/").status_code == 405
    for url in ("/classes/", "/classes/join/ACEF-GHJK/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"] == f"/accounts/login/?next={url}"
