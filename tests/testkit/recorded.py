"""A sandbox's recorded traffic through the JSON API, for the in-process tests that run a
real henaserver sandbox with Django's test client (whose session owns the sandbox)."""

from __future__ import annotations

from typing import Any

from .waiting import wait_until


def stored(client: Any, sandbox: dict, count: int = 1, timeout: float = 10.0) -> list[dict]:
    """The sandbox's listed exchanges (the current run's, oldest first) once there are at
    least ``count``. The ingestor is synced before each look: in these tests no server
    loop does it."""
    from playground.traffic.ingest import ingestor

    def listed() -> list[dict] | None:
        assert ingestor().sync()
        items = client.get(sandbox["links"]["exchanges"]).json()["exchanges"]
        return items if len(items) >= count else None

    return wait_until(listed, timeout, f"{count} stored exchanges of {sandbox['name']}")
