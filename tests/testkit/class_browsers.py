"""Class members in a real browser (the class e2e tests): a logged-in context of one
user of a class made with the ORM (password "pw")."""

from __future__ import annotations

from typing import Any


def login(browser: Any, site: Any, username: str, locale: str = "en-US"
          ) -> tuple[Any, Any, list[str]]:
    """(context, page, errors): a new browser context logged in as ``username``, its
    language ``locale``; ``errors`` collects the page's uncaught exceptions."""
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
