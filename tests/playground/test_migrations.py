"""Rows saved before messages became data are read back once, by migration 0005, and
are then shown like new ones: in the viewer's language, the exit code said once."""

import importlib

import pytest
from django.apps import apps
from django.utils import translation

from playground.models import Sandbox
from playground.refusals import Message
from playground.sandboxes import presenters

pytestmark = pytest.mark.django_db

migration = importlib.import_module("playground.migrations.0005_messages_as_data")


def _shown(row, language):
    with translation.override(language):
        return presenters.status_json(presenters.status_facts(row))


def test_old_english_rows_become_data():
    crashed = Sandbox.objects.create(
        name="old", port=40001, status="crashed", exit_code=-9,
        message="the server stopped unexpectedly (killed by signal SIGKILL (exit code -9))")
    odd = Sandbox.objects.create(name="odd", port=40002, message="a 100% odd note")
    migration.forwards(apps, None)
    crashed.refresh_from_db()
    odd.refresh_from_db()
    assert crashed.message == "the server stopped unexpectedly (%(exit)s)"
    shown = _shown(crashed, "ja")
    assert shown["message"] == \
        "サーバーが予期せず停止しました（シグナル SIGKILL で強制終了（終了コード -9））"
    assert shown["problem"].count("終了コード") == 1
    # Unknown text stays as written, and a "%" in it is no placeholder.
    assert (odd.message, odd.message_params) == ("a 100% odd note", {})
    assert _shown(odd, "en")["message"] == "a 100% odd note"


def test_every_old_template_is_read_back():
    assert migration.as_data("the server stopped before it was ready (exit code 1): "
                             "OSError: bad") == (
        "the server stopped before it was ready (%(exit)s): %(last)s",
        {"exit": {"key": "exit code %(code)s", "params": {"code": 1}},
         "last": "OSError: bad"})
    key, params = migration.as_data("port 8123 is already used by another program")
    assert str(Message.from_json({"key": key, "params": params})) == \
        "port 8123 is already used by another program"
    assert migration.as_data("stopped: the playground restarted") is None
