"""The ingest queue (traffic/queues.py): bounded by bytes on both sides, with real
threads."""

import threading

from playground.traffic.queues import ByteQueue


def test_a_batch_stops_at_its_bytes_and_the_rest_waits_for_the_next():
    queue = ByteQueue(capacity=10_000_000)
    for n in range(10):
        queue.put(n, 1_000_000)
    # The item that reaches the bound is the batch's last; one item larger than the
    # bound still goes, alone.
    assert queue.get_batch(100, 0.001, 0.01, max_bytes=2_500_000) == [0, 1, 2]
    assert queue.queued_bytes == 7_000_000
    queue.put("big", 9_000_000 - 7_000_000 + 1)  # fits: the queue is under its capacity
    assert queue.get_batch(100, 0.001, 0.01, max_bytes=1) == [3]
    rest = queue.get_batch(100, 0.001, 0.01)
    assert rest == [4, 5, 6, 7, 8, 9, "big"] and queue.queued_bytes == 0


def test_a_producer_waits_for_room_and_a_batch_makes_it():
    queue = ByteQueue(capacity=3_000)
    for n in range(3):
        queue.put(n, 1_000)
    put = threading.Event()

    def produce():
        queue.put("late", 1_000)
        put.set()

    threading.Thread(target=produce, daemon=True).start()
    assert not put.wait(0.2)  # full: it waits instead of growing the queue
    assert queue.get_batch(10, 0.001, 0.01, max_bytes=1_000) == [0]
    assert put.wait(5)
    assert queue.get_batch(10, 0.001, 0.05) == [1, 2, "late"]
