"""Reading an event file (JSON lines) that a running server is still writing."""

from __future__ import annotations

import json
from pathlib import Path


def read_events(path: Path) -> list[dict]:
    """The events written to ``path`` so far: whole lines only, since the writer may be
    in the middle of the last one as we read (a half line once failed a CI run)."""
    text = path.read_text() if path.exists() else ""
    complete = text[:text.rfind("\n") + 1]
    return [json.loads(line) for line in complete.splitlines() if line.strip()]
