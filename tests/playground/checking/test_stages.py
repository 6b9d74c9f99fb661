"""The stage list (stages.py): the issue's twelve, in its order, each with a title, a
summary, RFC links and checks whose slugs are unique; every hint a check can give is in
hints.py with its RFC link."""

from __future__ import annotations

import re
from pathlib import Path

from playground.checking import checks_early, checks_late, heads, hints
from playground.checking.stages import STAGES, stage

PACKAGE = Path(checks_early.__file__).parent


def test_twelve_stages_in_the_issues_order():
    assert [s.number for s in STAGES] == list(range(1, 13))
    assert [s.slug for s in STAGES] == [
        "reads-request", "valid-head", "content-length", "repeats", "files", "content-type",
        "head", "keep-alive", "concurrency", "bad-request", "no-escape", "conditional"]
    assert stage(4).slug == "repeats"


def test_each_stage_is_described_and_checked():
    for s in STAGES:
        assert s.title and s.summary.endswith(".") and s.checks, s.number
        assert s.rfc and all(
            re.fullmatch(r"RFC 911[02] §[\d.]+", label)
            and re.fullmatch(r"https://www\.rfc-editor\.org/rfc/rfc911[02]#section-[\d.]+",
                             url) and label.split("§")[1] == url.split("-")[-1]
            for label, url in s.rfc), s.rfc
        slugs = [c.slug for c in s.checks]
        assert len(set(slugs)) == len(slugs) and all(re.fullmatch(r"[a-z0-9-]+", x)
                                                     for x in slugs)
        assert all(c.title and 0 < c.timeout <= 15 for c in s.checks)


def test_a_stage_never_takes_more_than_15_seconds():
    from playground.checking import engine

    assert engine.STAGE_TIMEOUT == 15.0  # the issue's bound; test_engine checks its use
    assert engine.run.__kwdefaults__["stage_timeout"] == engine.STAGE_TIMEOUT


def test_stages_1_to_6_are_the_early_checks():
    assert [s.checks for s in STAGES[:6]] == [
        checks_early.STAGE_1, checks_early.STAGE_2, checks_early.STAGE_3,
        checks_early.STAGE_4, checks_early.STAGE_5, checks_early.STAGE_6]
    assert [s.checks for s in STAGES[6:]] == [
        checks_late.STAGE_7, checks_late.STAGE_8, checks_late.STAGE_9,
        checks_late.STAGE_10, checks_late.STAGE_11, checks_late.STAGE_12]


def test_every_hint_named_in_the_code_exists():
    named = set()
    for path in PACKAGE.glob("*.py"):
        named |= set(re.findall(r'hint="([a-z-]+)"', path.read_text("utf-8")))
    assert named and named <= set(hints.HINTS), named - set(hints.HINTS)
    assert set(hints.HINTS) == {"bare-lf", "no-empty-line", "length-in-characters",
                                "one-recv", "no-loop", "never-closes"}
    for hint in hints.HINTS.values():
        assert hint.glossary == hint.key and hint.text.endswith(".")
        assert hint.rfc[1].startswith("https://www.rfc-editor.org/rfc/rfc911")
    assert hints.hint("bare-lf") is hints.HINTS["bare-lf"] and hints.hint("") is None
    assert heads.BARE_LF  # the head's own words name the bare LF too
