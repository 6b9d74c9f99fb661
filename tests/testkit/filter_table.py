"""The shared filter table (tests/data/filters.json) for both of its runners: the
server's filters.py in-process, and the page's filters.js in Chromium (``in_page``).

On the page, h: and body: tokens are answered by the server (the page never sees
bytes), so the page's runner is handed what the server's filters.py answers for each
such token and item: it checks that the page parses, negates and combines them alike.
"""

from __future__ import annotations

import json
from pathlib import Path

TABLE = json.loads((Path(__file__).resolve().parents[1] / "data" / "filters.json")
                   .read_text("utf-8"))

_IN_PAGE = """async ([items, cases, said]) => {
  const screen = document.querySelector("script[type=module][src]").src;
  const { parseFilter, matches } = await import(new URL("filters.js", screen).href);
  const answer = (text, seq) => said[text] && said[text][seq];
  return cases.map((c) => {
    const f = parseFilter(c.text);
    return {error: Boolean(f && f.error), passes: Object.fromEntries(Object.entries(items).map(
      ([name, item]) => [name, matches(item, f, answer)]))};
  });
}"""


def raw_of(item: dict) -> tuple[bytes, bytes]:
    return item["request"].encode("latin-1"), item["response"].encode("latin-1")


def server_answers() -> dict[str, dict[int, bool]]:
    """For every h:/body: token of the table: which items' seqs pass it, as the server's
    search (traffic/search.py) would tell the page."""
    from playground.traffic import filters

    said: dict[str, dict[int, bool]] = {}
    for case in TABLE["cases"]:
        for token in case["text"].split():
            try:
                t = filters.term(token[1:] if token.startswith("-") and len(token) > 1 else token)
            except filters.FilterError:  # a bad re: of an "error" case
                continue
            if t.key in filters.BYTE_KEYS:
                said[t.text] = {item["seq"]: filters.bytes_match(t, *raw_of(item))
                                for item in TABLE["items"].values()}
    return said


def in_page(page) -> list[dict]:
    """Run every case through the page's filters.js: [{"error", "passes"}] per case."""
    return page.evaluate(_IN_PAGE, [TABLE["items"], TABLE["cases"], server_answers()])


def check_in_page(page) -> None:
    for case, got in zip(TABLE["cases"], in_page(page), strict=True):
        assert got == {"error": bool(case.get("error")), "passes": case["passes"]}, case["text"]
