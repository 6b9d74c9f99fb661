"""The static-file handler under atheris for a bounded number of inputs.

``fuzz_static.py`` replays every seed in ``fuzz/static/`` (readable request heads,
including each input that once crashed the handler), then mutates them. Any exception
other than a clean ``HTTPError`` answer, or a broken invariant of the answer, ends the
run with a non-zero status and the input written to ``tmp_path``. For a longer campaign
run the script by hand (its docstring says how).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from testkit.services import unavailable

HERE = Path(__file__).resolve().parent
RUNS = 20_000


def test_static_handler_survives_fuzzing(tmp_path: Path) -> None:
    try:
        import atheris  # noqa: F401
    except ImportError:
        unavailable("atheris", "not installed (pip install -e '.[test]')")
    scratch = tmp_path / "new-inputs"  # libFuzzer adds what it finds to the FIRST folder
    scratch.mkdir()
    result = subprocess.run(
        [sys.executable, str(HERE / "fuzz_static.py"), f"-runs={RUNS}", "-seed=1",
         "-max_len=12000", "-timeout=10", f"-dict={HERE / 'fuzz' / 'static.dict'}",
         f"-artifact_prefix={tmp_path}/", str(scratch), str(HERE / "fuzz" / "static")],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    assert f"Done {RUNS} runs" in result.stderr, result.stderr[-2000:]
    assert not list(tmp_path.glob("crash-*"))
