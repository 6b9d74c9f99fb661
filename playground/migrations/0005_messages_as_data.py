"""Messages kept as data: rows saved before 0004 hold finished English in ``message``
(a template already filled in). Read those back once, here, into a msgid and its
parameters (``message_params``), so every row is worded in its viewer's language; the
running code never parses English. Texts that match no template are left as they are
(shown as written)."""

import re

from django.db import migrations

EXIT = (r"(?:killed by signal (?P<signal>\w+) \(exit code (?P<code>-?\d+)\)"
        r"|exit code (?P<plain>-?\d+))")
OLD = [
    ("the server stopped unexpectedly (%(exit)s)",
     re.compile(rf"the server stopped unexpectedly \({EXIT}\)", re.DOTALL)),
    ("the server stopped before it was ready (%(exit)s): %(last)s",
     re.compile(rf"the server stopped before it was ready \({EXIT}\): (?P<last>.*)", re.DOTALL)),
    ("port %(port)s is already used by another program",
     re.compile(r"port (?P<port>\d+) is already used by another program")),
    ("the server did not report that it was listening within %(seconds)s s",
     re.compile(r"the server did not report that it was listening within (?P<seconds>\S+) s")),
]


def _exit(match):
    if match.group("signal"):
        return {"key": "killed by signal %(signal)s (exit code %(code)s)",
                "params": {"signal": match.group("signal"), "code": int(match.group("code"))}}
    return {"key": "exit code %(code)s", "params": {"code": int(match.group("plain"))}}


def as_data(text):
    """(key, params) for an old English message, or None when it matches no template."""
    for key, pattern in OLD:
        match = pattern.fullmatch(text)
        if match is None:
            continue
        found = match.groupdict()
        params = {}
        if "signal" in found:
            params["exit"] = _exit(match)
        if found.get("last") is not None:
            params["last"] = ({"key": "no error message", "params": {}}
                              if found["last"] == "no error message" else found["last"])
        for name in ("port", "seconds"):
            if found.get(name) is not None:
                params[name] = int(found[name]) if name == "port" else found[name]
        return key, params
    return None


def forwards(apps, schema_editor):
    Sandbox = apps.get_model("playground", "Sandbox")
    for row in Sandbox.objects.exclude(message="").filter(message_params={}):
        data = as_data(row.message)
        if data is not None:
            row.message, row.message_params = data
            row.save(update_fields=["message", "message_params"])


class Migration(migrations.Migration):
    dependencies = [("playground", "0004_message_params")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
