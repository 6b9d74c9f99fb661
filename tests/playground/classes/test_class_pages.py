"""The classes' pages (docs/classes.md): /classes/ for a teacher and a student, the
"New class" and "Join a class" forms, the join link (anonymous visitors log in first
and come back), a bad code's 404 page, the notice on the home page, the header's
"Classes" link, Japanese, and the admin's pages for the three models."""

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from testkit.boards import logged_in

from playground.class_models import Classroom, Membership, TeacherNotice
from playground.classes import codes, memberships
from playground.models import Sandbox

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sato() -> User:
    User.objects.create_user("sato", password="pw-sato", first_name="Hanako",
                             last_name="Sato")
    call_command("make_teacher", "sato", stdout=io.StringIO())
    return User.objects.get(username="sato")


@pytest.fixture
def lesson(sato) -> Classroom:
    return memberships.create_class(sato, "HTTP Monday")


def _link(classroom: Classroom) -> str:
    return f"/classes/join/{codes.display(classroom.join_code)}/"


def test_the_teachers_page_lists_code_link_and_count(sato, lesson):
    Membership.objects.create(classroom=lesson, user=User.objects.create_user("ken"))
    page = logged_in(sato).get("/classes/").content.decode()
    assert "HTTP Monday" in page and codes.display(lesson.join_code) in page
    assert f"http://testserver{_link(lesson)}" in page
    assert '<td class="student-count">1</td>' in page
    assert 'id="new-class-form"' in page and 'id="join-form"' in page


def test_the_new_class_form(sato):
    browser = logged_in(sato)
    done = browser.post("/classes/", {"name": "Tuesday"})
    assert done.status_code == 302 and done["Location"] == "/classes/"
    made = Classroom.objects.get(name="Tuesday")
    assert codes.display(made.join_code) in browser.get("/classes/").content.decode()
    empty = browser.post("/classes/", {"name": "  "})
    assert empty.status_code == 400 and "needs a name" in empty.content.decode()
    student = logged_in(User.objects.create_user("ken"))
    refused = student.post("/classes/", {"name": "Mine"})
    assert refused.status_code == 403 and "only a teacher" in refused.content.decode()
    assert "new-class-form" not in student.get("/classes/").content.decode()
    assert Classroom.objects.count() == 1


def test_the_join_link_shows_the_class_then_joins_and_tells_on_the_home_page(lesson):
    ken = logged_in(User.objects.create_user("ken"))
    shown = ken.get(_link(lesson)).content.decode()
    assert "HTTP Monday" in shown and "Hanako Sato" in shown and 'id="join-button"' in shown
    joined = ken.post(_link(lesson))
    assert joined.status_code == 302 and joined["Location"] == "/"
    home = ken.get("/").content.decode()
    assert "You joined the class HTTP Monday (teacher: Hanako Sato)" in home
    assert Membership.objects.filter(classroom=lesson, user__username="ken").count() == 1
    again = ken.post(_link(lesson))
    assert again["Location"] == "/"
    assert "already in the class" in ken.get("/").content.decode()
    assert "You are already in this class" in ken.get(_link(lesson)).content.decode()
    # The code in the link is read leniently too.
    lower = f"/classes/join/{lesson.join_code.lower()}/"
    assert "HTTP Monday" in ken.get(lower).content.decode()


def test_an_anonymous_visitor_logs_in_and_comes_back(lesson):
    User.objects.create_user("ken", password="pw-ken")
    browser = Client()
    first = browser.get(_link(lesson))
    assert first.status_code == 302
    assert first["Location"] == f"/accounts/login/?next={_link(lesson)}"
    login = browser.get(first["Location"])
    assert f'value="{_link(lesson)}"' in login.content.decode()
    back = browser.post("/accounts/login/", {"username": "ken", "password": "pw-ken",
                                             "next": _link(lesson)})
    assert back.status_code == 302 and back["Location"] == _link(lesson)
    assert browser.post(_link(lesson))["Location"] == "/"
    assert Membership.objects.filter(user__username="ken").exists()


def test_the_same_under_require_login(lesson, settings):
    settings.PLAYGROUND_REQUIRE_LOGIN = True
    User.objects.create_user("ken", password="pw-ken")
    browser = Client()
    first = browser.get(_link(lesson))
    assert first["Location"] == f"/accounts/login/?next={_link(lesson)}"
    assert browser.post("/api/classes/join/", {"code": lesson.join_code},
                        content_type="application/json").status_code == 401
    back = browser.post("/accounts/login/", {"username": "ken", "password": "pw-ken",
                                             "next": _link(lesson)})
    assert back["Location"] == _link(lesson)
    assert browser.post(_link(lesson))["Location"] == "/"
    assert Membership.objects.filter(user__username="ken").exists()


@pytest.mark.parametrize("code", ["ACEF-GHJK", "not-a-code", "x" * 200])
def test_a_bad_join_link_is_a_clear_404_page(lesson, code):
    ken = logged_in(User.objects.create_user("ken"))
    for response in (ken.get(f"/classes/join/{code}/"), ken.post(f"/classes/join/{code}/")):
        assert response.status_code == 404
        text = response.content.decode()
        assert "No such class" in text and "join code" in text
    assert not Membership.objects.exists()


def test_the_join_form(lesson):
    ken = logged_in(User.objects.create_user("ken"))
    typed = codes.display(lesson.join_code).lower().replace("-", " ")
    done = ken.post("/classes/join/", {"code": typed})
    assert done.status_code == 302 and done["Location"] == "/"
    bad = ken.post("/classes/join/", {"code": "ACEF-GHJK"})
    assert bad.status_code == 404 and "no class has the join code" in bad.content.decode()
    page = ken.get("/classes/").content.decode()
    assert "HTTP Monday" in page and "teacher: Hanako Sato" in page


def test_leaving_from_the_page(lesson):
    ken = User.objects.create_user("ken")
    Membership.objects.create(classroom=lesson, user=ken)
    browser = logged_in(ken)
    done = browser.post(f"/classes/{lesson.pk}/leave/")
    assert done["Location"] == "/classes/" and not Membership.objects.exists()
    assert "You left the class HTTP Monday" in browser.get("/classes/").content.decode()


def test_the_header_link_is_for_teachers_and_members(sato, lesson):
    link = 'class="topnav-link classes-link" href="/classes/"'
    ken = User.objects.create_user("ken")
    assert link in logged_in(sato).get("/").content.decode()
    assert link not in logged_in(ken).get("/").content.decode()
    assert link not in Client().get("/").content.decode()
    Membership.objects.create(classroom=lesson, user=ken)
    assert link in logged_in(ken).get("/").content.decode()


def test_the_pages_in_japanese(sato, lesson):
    page = logged_in(sato).get("/classes/", HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert "担当しているクラス" in page and "参加コード" in page and "新しいクラス" in page
    ken = logged_in(User.objects.create_user("ken"))
    join = ken.get(_link(lesson), HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert "クラスに参加" in join
    refused = ken.post("/api/classes/join/", {"code": "ACEF-GHJK"},
                       content_type="application/json", HTTP_ACCEPT_LANGUAGE="ja")
    assert "参加コード" in refused.json()["error"]


def test_the_admin_pages(sato, lesson, free_port):
    admin = User.objects.create_superuser("root", password="pw")
    ken = User.objects.create_user("ken")
    Membership.objects.create(classroom=lesson, user=ken)
    box = Sandbox.objects.create(name="k", port=free_port, user=ken)
    TeacherNotice.objects.create(sandbox=box, teacher=sato, teacher_name="Sato",
                                 action="stopped")
    browser = logged_in(admin)
    for url in ("/admin/playground/classroom/", f"/admin/playground/classroom/{lesson.pk}/change/",
                "/admin/playground/membership/", "/admin/playground/teachernotice/"):
        response = browser.get(url)
        assert response.status_code == 200, url
    assert "HTTP Monday" in browser.get("/admin/playground/classroom/").content.decode()
    assert browser.get("/admin/playground/teachernotice/add/").status_code == 403
