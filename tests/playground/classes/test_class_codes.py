"""Join codes (classes/codes.py): random, no look-alikes, shown XXXX-XXXX, read
leniently (case, spaces, dashes, full-width)."""

import pytest

from playground.classes import codes

LOOK_ALIKES = set("0ODQ1IL2Z5S8BUV")


def test_codes_are_8_characters_without_look_alikes():
    made = {codes.generate() for _ in range(500)}
    assert len(made) == 500  # random: no repeats in a small sample
    for code in made:
        assert len(code) == 8 and set(code) <= set(codes.ALPHABET)
    assert not LOOK_ALIKES & set(codes.ALPHABET)
    assert set("".join(made)) == set(codes.ALPHABET)  # every character is used


def test_shown_in_two_groups_of_four():
    assert codes.display("ACEFGHJK") == "ACEF-GHJK"


@pytest.mark.parametrize("typed", ["ACEF-GHJK", "acef-ghjk", " acef ghjk ", "ACEFGHJK",
                                   "acef – ghjk", "ＡＣＥＦ－ＧＨＪＫ", "ac ef\tgh-jk"])
def test_typed_codes_are_read_leniently(typed):
    assert codes.normalize(typed) == "ACEFGHJK"


@pytest.mark.parametrize("typed", ["", "ACEF-GHJ", "ACEF-GHJKM", "ACEF-GHJ0", "ACEF-GHJO",
                                   "ACEF/GHJK", "A" * 65, None, 12345678, "ACEF-GHJ\x00"])
def test_anything_else_is_not_a_code(typed):
    assert codes.normalize(typed) is None
