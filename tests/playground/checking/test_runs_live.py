"""A check run seen live on the traffic websocket (issue 14 points 5 and 6): one
``checks`` message per finished check, then one with the end state, each worded in
the viewer's language; a viewer that arrives later gets the latest run at once.

Real henaserver sandboxes, the real ASGI application through channels' communicator,
the run on its thread of this process. transaction=True: other threads write too.
"""

import pytest
from asgiref.sync import sync_to_async
from testkit.checkruns import finished, next_checks, running_sandbox, start_run, viewer

from playground.checking.stages import STAGES

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio,
              pytest.mark.usefixtures("fresh_layer")]


async def test_one_message_per_finished_check_then_the_end(client, free_port,
                                                          compiled_translations):
    sandbox = await sync_to_async(running_sandbox)(client, free_port)
    english, japanese = viewer(client, sandbox["id"]), viewer(client, sandbox["id"], "ja")
    for comm in (english, japanese):
        assert (await comm.connect())[0]
    run = await sync_to_async(start_run)(client, sandbox, 3)
    total = sum(len(stage.checks) for stage in STAGES[:3])
    seen = []
    while not seen or seen[-1]["state"] == "running":
        seen.append(await next_checks(english))
    # One per check, each with one more outcome than the last, then the end.
    assert [len(m["stages"][0]["checks"] + m["stages"][1]["checks"]
                + m["stages"][2]["checks"]) for m in seen] == [*range(1, total + 1), total]
    assert [m["state"] for m in seen] == ["running"] * total + ["passed"]
    assert {m["id"] for m in seen} == {run["id"]}
    assert seen[-1]["reached"] == 3 and seen[-1]["ended_at"]
    assert seen[0]["stages"][0]["title"] == "Reads the whole request"
    last = seen[-1]
    # The same messages reach the Japanese viewer, in Japanese.
    shown = None
    while shown is None or shown["state"] == "running":
        shown = await next_checks(japanese)
    assert shown["stages"][0]["title"] != last["stages"][0]["title"]
    assert shown["stages"][0]["checks"][0]["title"] != \
        last["stages"][0]["checks"][0]["title"]
    for comm in (english, japanese):
        await comm.disconnect()
    # A viewer arriving now is told the latest run in its opening messages.
    late = viewer(client, sandbox["id"])
    assert (await late.connect())[0]
    opening = await next_checks(late, 10)
    assert opening == await sync_to_async(finished)(client, run)
    await late.disconnect()


async def test_a_run_found_interrupted_is_told_to_its_viewers(client, free_port):
    """A run whose process ended is marked interrupted when next looked at (here: its
    Stop button, which waits for the news on the websocket, as the page does): its
    viewers are told, or the page would show it stopping forever."""
    from playground.models import CheckRun, Sandbox

    sandbox = await sync_to_async(running_sandbox)(client, free_port)
    comm = viewer(client, sandbox["id"])  # watching before the run (and its process) ends
    assert (await comm.connect())[0]
    # The opening messages are read from the database at once: the first one says it
    # was (before the run's row exists).
    assert (await comm.receive_json_from(10))["type"] == "stats"
    row = await sync_to_async(CheckRun.objects.create)(
        sandbox=await Sandbox.objects.aget(pk=sandbox["id"]), number=1, through=12,
        run_by="gone:1:1:dead")
    stop = f"{sandbox['links']['checks']}1/stop/"
    answer = await sync_to_async(client.post)(stop, {}, content_type="application/json")
    assert answer.status_code == 202 and answer.json()["state"] == "interrupted"
    told = await next_checks(comm, 10)
    assert (told["id"], told["state"]) == (row.pk, "interrupted")
    assert told["message"] == "interrupted: the playground process running the checks ended"
    await comm.disconnect()


async def test_a_viewer_arriving_is_not_told_a_dead_run_is_running(client, free_port):
    from playground.models import CheckRun, Sandbox

    sandbox = await sync_to_async(running_sandbox)(client, free_port)
    row = await sync_to_async(CheckRun.objects.create)(
        sandbox=await Sandbox.objects.aget(pk=sandbox["id"]), number=1, through=12,
        run_by="gone:1:1:dead")
    comm = viewer(client, sandbox["id"])
    assert (await comm.connect())[0]
    opening = await next_checks(comm, 10)
    assert (opening["id"], opening["state"]) == (row.pk, "interrupted")
    await comm.disconnect()
