"""httplint's texts that its own Japanese catalog lacks (httplint 2026.10.4) and that a
learner's traffic produces: each msgid is httplint's English exactly, translated in
locale/ja/LC_MESSAGES/django.po. advice_api.note_json asks httplint's catalog first,
then ours. tests/playground/traffic/test_advice_corpus.py fails when a note a learner
meets has no Japanese in either, and when an entry here no longer matches httplint's
English (after an upgrade)."""

from __future__ import annotations

from django.utils.translation import gettext_noop

TEXTS = (
    # BAD_SYNTAX_DETAILED (httplint/field/__init__.py): its summary is translated, its
    # explanation is not.
    gettext_noop(
        "The value for this field has syntax specified using \n"
        "[Augmented BNF](https://www.rfc-editor.org/rfc/rfc5234.html),\n"
        "but doesn't conform to it. See [the field's ABNF](%(ref_uri)s) for more "
        "information.\n\nThis error may or may not prevent recipients from parsing the "
        "field; fixing it will\nimprove interoperability.\n\n`%(problem)s`\n%(context)s"),
)
