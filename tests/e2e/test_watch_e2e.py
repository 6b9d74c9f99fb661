"""A read-only look (issue 15, point 3), in two real browsers on a real playground: a
teacher opens a student's live traffic, sees a new exchange arrive, finds no control
that would change the sandbox but Stop, presses Stop; the student's card says so.

The old code: the teacher's pages answered 404.
"""

from __future__ import annotations

import itertools
import os
import re
import urllib.request

from playwright.sync_api import expect
from testkit.class_browsers import login, make_class

# The shared playground outlives this test: its accounts and class get names of their
# own, in any test order.
_names = (f"{os.getpid()}-{n}" for n in itertools.count())


def people(site) -> tuple[str, str]:
    """A teacher and their student, in the playground's own database."""
    tag = next(_names)
    teacher, student = f"sato-{tag}", f"hana-{tag}"
    make_class(site.env, (student,), teacher=teacher, code=f"W{tag}"[:16],
               first_names={teacher: "Sato", student: "Hana"})
    return teacher, student


def test_a_teacher_watches_a_students_traffic_and_stops_it(browser, shared_playground,
                                                          start_in_page):
    site = shared_playground
    teacher, student = people(site)
    s_context, s_page, s_errors = login(browser, site, student)
    t_context, t_page, t_errors = login(browser, site, teacher)
    try:
        sandbox = start_in_page(s_page, "lesson", s_page.input_value("#create-port"))
        s_page.reload()
        card = s_page.locator(f'.card[data-id="{sandbox["id"]}"]')
        expect(card).to_have_attribute("data-status", "running")

        t_page.goto(site.base + sandbox["links"]["traffic"])
        banner = t_page.locator("#read-only-banner")
        expect(banner).to_contain_text("You are looking at Hana's sandbox, read-only")
        expect(t_page.locator("#conn-state")).to_have_attribute("data-state", "live")
        # A request to the student's server appears in the teacher's view, live.
        url = f"http://127.0.0.1:{sandbox['port']}/index.html?seen-by-the-teacher"
        urllib.request.urlopen(url, timeout=10).read()
        expect(t_page.locator("#traffic-table tbody tr",
                              has_text="seen-by-the-teacher")).to_have_count(1)
        expect(t_page.locator("#composer")).to_be_hidden()  # no write controls

        # The sandbox's page: files and card readable; only Stop left of its buttons.
        t_page.goto(site.base + sandbox["links"]["page"])
        expect(t_page.locator("#file-tree tbody tr", has_text="index.html")).to_have_count(1)
        for hidden in ("#files-panel .toolbar", "#checks-run", "#modes-panel",
                       '.card button[data-action="start"]',
                       '.card button[data-action="delete"]'):
            expect(t_page.locator(hidden)).to_be_hidden()
        expect(t_page.locator('.card button[data-action="stop"]')).to_be_visible()

        t_page.click("#read-only-stop")
        expect(t_page.locator(".card")).to_have_attribute("data-status", "stopped",
                                                          timeout=30_000)
        # The student's card, kept fresh by polling, says who stopped it and when.
        expect(card).to_have_attribute("data-status", "stopped", timeout=30_000)
        expect(card.locator(".teacher-notice")).to_have_text(
            re.compile(r"Stopped by your teacher Sato at \d\d:\d\d"),
            timeout=30_000)
        # The student's own page has no banner: they own it.
        s_page.goto(site.base + sandbox["links"]["page"])
        expect(s_page.locator("#read-only-banner")).to_have_count(0)
        expect(s_page.locator("#files-panel .toolbar")).to_be_visible()
        assert not s_errors and not t_errors, (s_errors, t_errors)
    finally:
        s_context.close()
        t_context.close()
