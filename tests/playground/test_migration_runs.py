"""Migration 0006 (runs) on a database that has history from before it, on SQLite and
on PostgreSQL (where a data step between schema steps needs its own transaction): every
old exchange gets a run, the run's counts add up, and new runs number after it."""

import json
import subprocess
import sys

import pytest
from testkit.playgrounds import REPO, playground_env

pytestmark = pytest.mark.django_db(transaction=True)

# Run in `manage.py shell` at migration 0005: rows made with the models of that state.
OLD_ROWS = """
from django.db.migrations.loader import MigrationLoader
from django.db import connection
apps = MigrationLoader(connection).project_state(("playground", "0005_messages_as_data")).apps
Sandbox = apps.get_model("playground", "Sandbox")
Exchange = apps.get_model("playground", "Exchange")
old = Sandbox.objects.create(name="old", port=18200, owner_token="t", status="stopped",
                             requests=7, last_seq=12, mode="full")
Sandbox.objects.create(name="empty", port=18201, owner_token="t")
for seq in (9, 10, 11, 12):  # what retention kept of 12
    Exchange.objects.create(sandbox=old, seq=seq, conn=1, conn_index=0, outcome="complete",
                            request_length=1, response_length=1, started_us=1,
                            request_raw=b"x", response_raw=b"y", stored_bytes=2)
"""

CHECK = """
import json
from playground.models import Run, Exchange
from playground.traffic import runs
run = Run.objects.get()
print(json.dumps({"runs": Run.objects.count(), "number": run.number,
                  "ended": run.ended_at is not None, "counts": runs.counts(run),
                  "exchange_runs": sorted(set(Exchange.objects.values_list(
                      "run__number", flat=True))),
                  "next_seq": run.seq_base + run.last_number + 1}))
"""


def manage(env, *args):
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_old_exchanges_get_a_run_whose_counts_add_up(database, tmp_path, request):
    extra = {}
    if database == "postgres":
        extra["DATABASE_URL"] = request.getfixturevalue("postgres_url")
    env = playground_env(tmp_path, **extra)
    manage(env, "migrate", "--noinput", "playground", "0005")
    manage(env, "shell", "-c", OLD_ROWS)
    manage(env, "migrate", "--noinput")
    found = json.loads(manage(env, "shell", "-c", CHECK).strip().splitlines()[-1])
    assert (found["runs"], found["number"], found["ended"]) == (1, 1, True)
    assert found["exchange_runs"] == [1]
    # The server counted 7 since its last start; 4 kept: the old retention and
    # sampling removed 3.
    counts = found["counts"]
    assert (counts["served"], counts["stored"], counts["removed"], counts["not_recorded"]) \
        == (7, 4, 3, 0)
    assert found["next_seq"] == 13  # the next run's first seq follows the old ones
