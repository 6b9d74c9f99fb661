"""Join codes: how a student finds a class (docs/classes.md, "Roles and classes").

A code is read aloud in a classroom or copied from a projector, so its alphabet leaves
out the characters people mistake for one another (0/O/D/Q, 1/I/L, 2/Z, 5/S, 8/B, U/V):
21 characters, 8 of them (21^8, about 3.8e10 codes), from ``secrets``. It is stored as
the 8 characters and shown as ``XXXX-XXXX``; what a person types is read leniently:
any case, with or without spaces and dashes, full-width characters from a Japanese
input method included. Django-free: text in, text out.
"""

from __future__ import annotations

import re
import secrets
import unicodedata

ALPHABET = "ACEFGHJKMNPRTWXY34679"
LENGTH = 8
GROUP = 4  # shown in groups of four: easier to read out and to type from a screen
# What a person may put between the characters: spaces (any), dashes (any kind).
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—―－ー]+")
# Longer input is refused before any work: nothing of that size is a code.
MAX_INPUT = 64


def generate(length: int = LENGTH) -> str:
    """A new random code, as stored (8 characters of ALPHABET, no dash); longer for
    a generated password (classes/roster.py)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def normalize(text: object) -> str | None:
    """What a person typed -> the stored form, or None when it cannot be a code
    ("abcd-efgh", " ABCD EFGH ", "ABCDEFGH" are all "ABCDEFGH")."""
    if not isinstance(text, str) or len(text) > MAX_INPUT:
        return None
    # NFKC folds full-width letters and digits ("ＡＢ１") into ASCII ones.
    code = _SEPARATORS.sub("", unicodedata.normalize("NFKC", text)).upper()
    if len(code) != LENGTH or any(char not in ALPHABET for char in code):
        return None
    return code


def display(code: str) -> str:
    """The stored form -> how it is shown: "ABCD-EFGH"."""
    return "-".join(code[i:i + GROUP] for i in range(0, len(code), GROUP))
