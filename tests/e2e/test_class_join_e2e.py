"""Roles and classes in a real Chromium against a real playground (docs/classes.md):
the teacher's lesson is prepared with the management commands (real subprocesses on
the playground's own database), then a student follows the join link: logs in first,
comes back to the link, presses Join and is told so on the home page; the header's
"Classes" link leads to the class. The teacher, in a second browser, sees the student
counted and the join code and link."""

import uuid

import pytest

pytestmark = pytest.mark.browser


def _log_in(page, username: str, password: str) -> None:
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click(".login-page button[type=submit]")


def test_a_student_joins_by_link(browser, shared_playground, tmp_path, screenshot_dir):
    suffix = uuid.uuid4().hex[:8]  # the playground is shared: names of this test's own
    teacher, student = f"sato{suffix}", f"ken{suffix}"
    # The teacher's account comes from the admin or a shell (no public sign-up); the
    # commands then make it a teacher and give it a class.
    site = shared_playground
    site.manage("shell", "-c", "from django.contrib.auth.models import User; "
                f"User.objects.create_user({teacher!r}, password='teacher-pw-1', "
                "first_name='Hanako', last_name='Sato')")
    site.manage("make_teacher", teacher)
    out = site.manage("create_class", "--teacher", teacher, "--site", site.base,
                      f"HTTP {suffix}")
    link = next(line.split(": ", 1)[1] for line in out.splitlines()
                if line.startswith("join link: "))
    code = next(line.split(": ", 1)[1] for line in out.splitlines()
                if line.startswith("join code: "))
    students = tmp_path / "students.csv"
    students.write_text(f"username,password\n{student},student-pw-1\n")
    # add_students puts the file's students in the class: this student is made in
    # another class of the same teacher, so joining this one by link is still to do.
    other = site.manage("create_class", "--teacher", teacher, "Other")
    other_code = next(line.split(": ", 1)[1] for line in other.splitlines()
                      if line.startswith("join code: "))
    site.manage("add_students", other_code, str(students))

    pupil = browser.new_context(viewport={"width": 1100, "height": 800})
    desk = browser.new_context(viewport={"width": 1100, "height": 800})
    try:
        page = pupil.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(link)
        assert "/accounts/login/" in page.url  # anonymous: log in first
        _log_in(page, student, "student-pw-1")
        page.wait_for_url(link)  # ... and back to the link
        assert page.text_content(".class-name") == f"HTTP {suffix}"
        assert page.text_content(".teacher-name") == "Hanako Sato"
        page.screenshot(path=str(screenshot_dir / "class-join.png"))
        page.click("#join-button")
        page.wait_for_url(shared_playground.base + "/")
        notice = page.locator("#messages .notice.ok").first
        assert f"You joined the class HTTP {suffix} (teacher: Hanako Sato)" in \
            notice.text_content()
        page.click("a.classes-link")
        page.wait_for_url(shared_playground.base + "/classes/")
        names = page.locator("#classes-joined .joined-class .class-name").all_text_contents()
        assert sorted(names) == sorted([f"HTTP {suffix}", "Other"])
        assert not errors

        board = desk.new_page()
        board.goto(shared_playground.base + "/classes/")
        _log_in(board, teacher, "teacher-pw-1")
        board.wait_for_url(shared_playground.base + "/classes/")
        row = board.locator(".class-row", has_text=f"HTTP {suffix}")
        assert row.locator(".join-code").text_content() == code
        assert row.locator(".join-link").input_value() == link
        assert row.locator(".student-count").text_content() == "1"
        board.screenshot(path=str(screenshot_dir / "class-list-teacher.png"))
    finally:
        pupil.close()
        desk.close()
