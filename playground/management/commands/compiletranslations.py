"""Compile locale/*/LC_MESSAGES/*.po into .mo without GNU gettext.

Django's own ``compilemessages`` shells out to ``msgfmt``, which a fresh machine may not
have; ``make install`` must work with Python alone, so this is a small reader of the
.po syntax we use and a writer of the GNU .mo format (docs/i18n.md).
"""

from __future__ import annotations

import ast
import struct
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

MO_MAGIC = 0x950412DE


def _unquote(text: str, where: str) -> str:
    """A .po string literal uses C escapes, which Python's literal syntax covers."""
    text = text.strip()
    if not (text.startswith('"') and text.endswith('"')):
        raise CommandError(f"{where}: expected a quoted string, got {text[:40]!r}")
    return ast.literal_eval(text)


def parse_po(path: Path) -> dict[str, str]:
    """msgid (with ``ctxt\\x04`` and ``singular\\x00plural`` joined as in .mo) -> msgstr
    (plural forms joined with NUL). Fuzzy and untranslated entries are skipped; the
    header (msgid "") is always kept, as msgfmt does, for its charset and plural forms."""
    catalog: dict[str, str] = {}
    entry: dict[str, object] = {}
    field = ""
    fuzzy = False

    def flush() -> None:
        nonlocal entry, fuzzy
        if "msgid" in entry and (not fuzzy or entry["msgid"] == ""):
            key = str(entry["msgid"])
            if "msgid_plural" in entry:
                key += "\x00" + str(entry["msgid_plural"])
            if "msgctxt" in entry:
                key = str(entry["msgctxt"]) + "\x04" + key
            forms = entry.get("msgstr", {})
            assert isinstance(forms, dict)
            value = "\x00".join(forms[n] for n in sorted(forms))
            if value.strip("\x00") or key == "":
                catalog[key] = value
        entry, fuzzy = {}, False

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        where = f"{path}:{number}"
        if not line:
            continue
        if line.startswith("#"):
            # Comments come before their entry: the previous one is complete.
            if "msgstr" in entry:
                flush()
            if line.startswith("#,") and "fuzzy" in line:
                fuzzy = True
            continue
        if line.startswith('"'):
            if field.startswith("msgstr["):
                forms = entry["msgstr"]
                assert isinstance(forms, dict)
                index = int(field[7:-1])
                forms[index] += _unquote(line, where)
            elif field:
                entry[field] = str(entry[field]) + _unquote(line, where)
            continue
        keyword, _, rest = line.partition(" ")
        if keyword in ("msgctxt", "msgid") and "msgstr" in entry:
            flush()  # an entry with no comment line before it
        if keyword == "msgstr":
            entry["msgstr"] = {0: _unquote(rest, where)}
            field = "msgstr[0]"
        elif keyword.startswith("msgstr["):
            entry.setdefault("msgstr", {})
            forms = entry["msgstr"]
            assert isinstance(forms, dict)
            forms[int(keyword[7:-1])] = _unquote(rest, where)
            field = keyword
        elif keyword in ("msgctxt", "msgid", "msgid_plural"):
            entry[keyword] = _unquote(rest, where)
            field = keyword
        else:
            raise CommandError(f"{where}: cannot read {line[:40]!r}")
    flush()
    return catalog


def write_mo(catalog: dict[str, str], path: Path) -> None:
    """The GNU .mo layout: header, two tables of (length, offset), then the strings, keys
    sorted so gettext can binary-search them."""
    keys = sorted(catalog)
    ids = [k.encode("utf-8") for k in keys]
    strs = [catalog[k].encode("utf-8") for k in keys]
    header_size = 7 * 4
    ids_table = header_size
    strs_table = ids_table + len(keys) * 8
    data_start = strs_table + len(keys) * 8
    offsets: list[tuple[int, int]] = []
    blob = b""
    for item in ids + strs:
        offsets.append((len(item), data_start + len(blob)))
        blob += item + b"\x00"
    output = struct.pack("<7I", MO_MAGIC, 0, len(keys), ids_table, strs_table, 0, 0)
    for length, offset in offsets:
        output += struct.pack("<2I", length, offset)
    path.write_bytes(output + blob)


class Command(BaseCommand):
    help = "Compile every .po under LOCALE_PATHS into .mo (pure Python, no msgfmt)."

    def handle(self, *args, **options) -> None:
        count = 0
        for base in settings.LOCALE_PATHS:
            for po in sorted(Path(base).glob("*/LC_MESSAGES/*.po")):
                catalog = parse_po(po)
                write_mo(catalog, po.with_suffix(".mo"))
                count += 1
                self.stdout.write(f"{po.with_suffix('.mo')}: {len(catalog) - 1} messages")
        if not count:
            raise CommandError("no .po files found under LOCALE_PATHS")
