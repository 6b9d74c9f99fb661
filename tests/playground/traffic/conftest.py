"""Fixtures for the traffic package's tests."""

import pytest

from playground.traffic.ingest import Ingestor


@pytest.fixture
def make_ingestor():
    """make_ingestor(publish, capacity=50_000, keep_count=2000, keep_bytes=50 MiB,
    **options): an Ingestor of the test's own, with its own writer thread, which is
    stopped (its queue written out first) when the test ends. The process's Ingestor
    (``ingest.ingestor()``) is not this: it lives as long as the process."""
    made: list[Ingestor] = []

    def make(publish, capacity=50_000, keep_count=2000, keep_bytes=50 * 2**20, **options):
        ingestor = Ingestor(capacity, keep_count, keep_bytes, publish=publish, **options)
        made.append(ingestor)
        return ingestor

    yield make
    running = [ingestor for ingestor in made if not ingestor.stop(timeout=10)]
    assert not running, f"{len(running)} of {len(made)} ingest writer threads did not stop"
