"""The classes' form URLs opened with GET (typed in the address bar, a join link
shared without its code, a link followed): the class list, where those forms are,
never a blank page, and nothing joined or left.

The old code answered Django's bare 405 (an empty page) for both.
"""

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

from playground.class_models import Membership
from playground.classes import memberships

pytestmark = pytest.mark.django_db


def test_the_form_urls_opened_show_the_class_list():
    User.objects.create_user("sato")
    call_command("make_teacher", "sato", stdout=io.StringIO())
    lesson = memberships.create_class(User.objects.get(username="sato"), "HTTP Monday")
    ken = User.objects.create_user("ken")
    Membership.objects.create(classroom=lesson, user=ken)
    browser = Client()
    browser.force_login(ken)
    for url in ("/classes/join/", f"/classes/{lesson.pk}/leave/"):
        answer = browser.get(url)
        assert answer.status_code == 302 and answer["Location"] == "/classes/", url
        assert "HTTP Monday" in browser.get(answer["Location"]).content.decode()
    assert Membership.objects.filter(user=ken).exists()  # a GET left nothing
