"""Migrations 0007-0009 (runs) on a database that has history from before them, on
SQLite and on PostgreSQL (where a data step between schema steps needs its own
transaction): every old exchange gets a run, the run's counts add up, new runs number
after it, and an interrupted data step leaves a database the next try migrates."""

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


# Rows of a flood under the old ingest: 10 served; seqs 5-10 taken, 7 and 8 sampled
# away (no row); one event dropped by henaserver's queue and one by the playground's.
FLOODED_ROWS = OLD_ROWS.replace("requests=7, last_seq=12", "requests=10, last_seq=10, "
                                "events_dropped=1, ingest_dropped=1"
                                ).replace("(9, 10, 11, 12)", "(5, 6, 9, 10)")

# The data step, made to fail after its work (as a full disk or a Ctrl+C would): every
# RunPython named `forwards` of the runs migrations raises once it has done its part.
INTERRUPTED = """
import importlib, pkgutil
from django.core.management import call_command
from django.db import migrations
import playground.migrations as package
for info in pkgutil.iter_modules(package.__path__):
    if info.name < "0007":
        continue
    module = importlib.import_module("playground.migrations." + info.name)
    for op in module.Migration.operations:
        if isinstance(op, migrations.RunPython) and op.code.__name__ == "forwards":
            def broken(apps, schema_editor, original=op.code):
                original(apps, schema_editor)
                raise RuntimeError("interrupted")
            op.code = broken
try:
    call_command("migrate", "--noinput", verbosity=0)
except RuntimeError as exc:
    print("failed:", exc)
"""


def manage(env, *args):
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def old_database(database, tmp_path, request, rows=OLD_ROWS):
    """The env of a playground whose database is at 0005 and holds ``rows``."""
    extra = {}
    if database == "postgres":
        extra["DATABASE_URL"] = request.getfixturevalue("postgres_url")
    env = playground_env(tmp_path, **extra)
    manage(env, "migrate", "--noinput", "playground", "0005")
    manage(env, "shell", "-c", rows)
    return env


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_old_exchanges_get_a_run_whose_counts_add_up(database, tmp_path, request):
    env = old_database(database, tmp_path, request)
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


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_old_holes_and_drops_are_not_recorded_not_removed(database, tmp_path, request):
    """The old sampling's holes and the old queues' drops were never stored: they are
    "not recorded" under their own reason, not "removed to stay within the limit"."""
    env = old_database(database, tmp_path, request, FLOODED_ROWS)
    manage(env, "migrate", "--noinput")
    found = json.loads(manage(env, "shell", "-c", CHECK).strip().splitlines()[-1])
    counts = found["counts"]
    # 10 served: 4 stored; 2 holes + 2 dropped not recorded; the 2 served before the
    # first stored row were removed by the old retention.
    assert (counts["served"], counts["stored"], counts["removed"], counts["not_recorded"]) \
        == (10, 4, 2, 4)
    assert counts["not_recorded_reasons"] == {"earlier_version": 4}
    assert found["next_seq"] == 11
    labels = json.loads(manage(env, "shell", "-c", LABELS).strip().splitlines()[-1])
    assert labels["earlier_version"]


LABELS = """
import json
from playground.traffic import runs
print(json.dumps(runs.REASONS))
"""


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_an_interrupted_data_step_migrates_on_the_next_try(database, tmp_path, request):
    """A failure inside the data step (SQLite is migrated at runserver start, where a
    Ctrl+C can land there) leaves a database the next start migrates; before the split
    the next try failed with "table already exists"."""
    env = old_database(database, tmp_path, request)
    assert "failed: interrupted" in manage(env, "shell", "-c", INTERRUPTED)
    manage(env, "migrate", "--noinput")
    found = json.loads(manage(env, "shell", "-c", CHECK).strip().splitlines()[-1])
    assert (found["runs"], found["exchange_runs"]) == (1, [1])
    counts = found["counts"]
    assert (counts["served"], counts["stored"], counts["removed"]) == (7, 4, 3)
    manage(env, "makemigrations", "--check", "--dry-run", "playground")


# A database migrated by the first 0007_runs (one migration, before the split): its runs
# exist and Exchange.run is NOT NULL, while 0008 and 0009 are not recorded as applied.
BEFORE_THE_SPLIT = """
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("DELETE FROM django_migrations WHERE app = 'playground' AND name IN "
                   "('0008_runs_data', '0009_runs_required')")
"""


def test_a_database_of_the_unsplit_0007_migrates_on(tmp_path, request):
    """0008 adds runs only to exchanges that have none: on a database where the
    unsplit 0007 already made them it does nothing (no second run 1)."""
    env = old_database("sqlite", tmp_path, request)
    # As far as that database got then: later migrations came after the split.
    manage(env, "migrate", "--noinput", "playground", "0009_runs_required")
    manage(env, "shell", "-c", BEFORE_THE_SPLIT)
    manage(env, "migrate", "--noinput")
    found = json.loads(manage(env, "shell", "-c", CHECK).strip().splitlines()[-1])
    assert (found["runs"], found["exchange_runs"]) == (1, [1])
    assert (found["counts"]["served"], found["counts"]["stored"]) == (7, 4)
