"""docs/deploy.md and the settings agree on ports (issue 12, item 13).

The deployment example's daphne ports (8101-8103) used to sit inside the default sandbox
range (8000-8999), so a sandbox could take one, and the firewall advice said both "open
the range" and "keep the daphne ports closed". Every port the document gives a daphne
process must be outside the default range, and the document's defaults must be the
settings' own.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from testkit.playgrounds import REPO, playground_env

DEPLOY = REPO / "docs" / "deploy.md"


def default_port_range(tmp_path: Path) -> tuple[int, int]:
    """PLAYGROUND_PORT_RANGE as a process with no PLAYGROUND_* variable reads it."""
    done = subprocess.run(
        [sys.executable, "-c", "import django; from django.conf import settings; "
         "django.setup(); print(*settings.PLAYGROUND_PORT_RANGE)"],
        cwd=REPO, env=playground_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    first, last = map(int, done.stdout.split())
    return first, last


def daphne_ports(text: str) -> set[int]:
    """Every port the document runs daphne on: systemd instances, nginx's upstream."""
    found = {int(p) for p in re.findall(r"playground@(\d+)", text)}
    upstream = re.search(r"upstream playground \{(.*?)\}", text, re.S)
    assert upstream, "deploy.md has no nginx upstream"
    found |= {int(p) for p in re.findall(r"server 127\.0\.0\.1:(\d+);", upstream.group(1))}
    return found


def test_the_deployment_example_keeps_daphne_out_of_the_sandbox_range(tmp_path):
    first, last = default_port_range(tmp_path)
    text = DEPLOY.read_text()

    # The document's table names the settings' default range.
    assert f"| `PLAYGROUND_PORT_RANGE` | `{first}-{last}` |" in text

    daphne = daphne_ports(text)
    assert len(daphne) >= 2, daphne
    assert not {p for p in daphne if first <= p <= last}, (
        f"daphne ports {sorted(daphne)} overlap the sandbox range {first}-{last}")

    # So does the advice on ports.
    ports_advice = re.search(r"\* \*\*Ports\.\*\*(.*?)\n\* ", text, re.S)
    assert ports_advice, "deploy.md has no Ports paragraph"
    assert f"{first}-{last}" in ports_advice.group(1)

    # The firewall advice names the same daphne ports, as a range outside the sandboxes'.
    firewall = re.search(r"\* \*\*Firewall\.\*\*(.*?)\n\* ", text, re.S)
    assert firewall, "deploy.md has no Firewall paragraph"
    named = re.search(r"daphne ports \((\d+)-(\d+)", firewall.group(1))
    assert named, firewall.group(1)
    assert set(range(int(named[1]), int(named[2]) + 1)) == daphne
    # It opens the sandbox range and nothing else but nginx's 80 and 443.
    assert "PLAYGROUND_PORT_RANGE" in firewall.group(1)
