"""The accessibility audit of a page: axe-core (npm, pinned in package-lock.json,
installed by ``make install``) injected into a Playwright page, run, and its serious and
critical violations returned in a form an assertion message can show."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .services import unavailable

AXE_JS = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"

# axe's impacts are minor, moderate, serious and critical; the issue asks for no serious
# or critical one. The others are kept out of the failure so it stays readable.
BLOCKING = ("serious", "critical")

_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => ({target: n.target.join(" "), why: n.failureSummary})),
  }));
}"""


def audit(page: Any) -> list[dict[str, Any]]:
    """The page's serious and critical axe violations (an empty list: none)."""
    if not AXE_JS.exists():
        unavailable("axe-core", f"{AXE_JS} is missing: run `make install` (npm ci)")
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE_JS))
    return [v for v in page.evaluate(_RUN) if v["impact"] in BLOCKING]


def explain(violations: list[dict[str, Any]]) -> str:
    """One line per failing element, for an assertion message."""
    lines = []
    for v in violations:
        for node in v["nodes"]:
            lines.append(f"[{v['impact']}] {v['id']} ({v['help']}): {node['target']}: "
                         + node["why"].replace("\n", " "))
    return "\n".join(lines)
