"""Class members logged in (the class tests): users of a class made with the ORM
(password "pw"), in a real browser (``login``) or in a urllib cookie jar against a
real daphne process (``session``)."""

from __future__ import annotations

import urllib.parse
from typing import Any

from .playgrounds import Browser, Daphne


def login(browser: Any, site: Any, username: str,
          locale: str = "en-US") -> tuple[Any, Any, list[str]]:
    """(context, page, errors): a new browser context logged in as ``username``;
    ``errors`` collects the page's uncaught exceptions."""
    context = browser.new_context(viewport={"width": 1300, "height": 900}, locale=locale)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(site.base + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "pw")
    page.click(".login-page button[type=submit]")
    page.wait_for_selector("form.account")  # logged in: the header's "Log out"
    return context, page, errors


def session(site: Daphne, username: str) -> Browser:
    """A testkit Browser logged in as ``username`` through the login form of ``site``
    (its session works on every process of the same database)."""
    browser = Browser()
    browser.opener.open(site.base + "/accounts/login/", timeout=30).read()
    form = urllib.parse.urlencode({"username": username, "password": "pw", "next": "/",
                                   "csrfmiddlewaretoken": browser.cookie("csrftoken")})
    browser.opener.open(site.base + "/accounts/login/", form.encode(), timeout=30).read()
    assert browser.cookie("sessionid")
    return browser
