"""Stages 7-12 (helper stages2 replaces this placeholder).

Import Check and Context from .context, Failure/Sent/CheckFailed from .results, Conn and
Response from .client: never from .engine, which imports the stage list (a cycle)."""

from __future__ import annotations

from .context import Check

STAGE_7: tuple[Check, ...] = ()
STAGE_8: tuple[Check, ...] = ()
STAGE_9: tuple[Check, ...] = ()
STAGE_10: tuple[Check, ...] = ()
STAGE_11: tuple[Check, ...] = ()
STAGE_12: tuple[Check, ...] = ()
