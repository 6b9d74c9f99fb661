"""The starter site: our own small index.html + index.css + logo.png, like the tutorial's
(a red heading and a logo), so a learner can see a page with three requests at once."""

from pathlib import Path

STARTER_DIR = Path(__file__).resolve().parent
FILES = ("index.html", "index.css", "logo.png")


def items() -> list[tuple[str, list[bytes]]]:
    """``(name, chunks)`` pairs for SiteFiles.write_many."""
    return [(name, [(STARTER_DIR / name).read_bytes()]) for name in FILES]
