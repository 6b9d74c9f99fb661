"""The bench's own virtualenv (bench/.venv-ref, git-ignored) for the reference server
of the speed target, bench/uvicorn_app.py under uvicorn with httptools: the project
never depends on them. It is made on first use with pip (servers.uvicorn_app)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
VENV = BENCH / ".venv-ref"
# The versions measured (docs/benchmarks.md); a range, so pip finds them offline or not.
PACKAGES = ("uvicorn>=0.30,<1", "httptools>=0.6,<1")


def python() -> Path:
    """bench/.venv-ref's interpreter, with uvicorn and httptools installed."""
    exe = VENV / "bin" / "python"
    check = [str(exe), "-c", "import uvicorn, httptools"]
    if exe.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return exe
    print(f"making {VENV} (pip install {' '.join(PACKAGES)}) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
    subprocess.run([str(exe), "-m", "pip", "install", "-q", *PACKAGES], check=True)
    return exe


def versions() -> str:
    """'uvicorn X, httptools Y' as installed in the reference virtualenv."""
    code = ("import uvicorn, httptools; "
            "print(f'uvicorn {uvicorn.__version__}, httptools {httptools.__version__}')")
    return subprocess.run([str(python()), "-c", code], capture_output=True, text=True,
                          check=False).stdout.strip()
