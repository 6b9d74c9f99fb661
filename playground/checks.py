"""System checks (``manage.py check``): deployment mistakes Django cannot see itself."""

from __future__ import annotations

import dataclasses
from typing import Any

from django.conf import settings
from django.core.checks import Error, Warning, register


@register()
def shared_proxy_budget(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    """Production behind a reverse proxy (PLAYGROUND_BEHIND_PROXY, on by default), open
    to anonymous visitors, and no client address header: every request comes from the
    proxy's address, so all visitors share one address's budgets (budgets.py) and a
    few of them use up everyone's."""
    if not getattr(settings, "PLAYGROUND_PRODUCTION", False) \
            or not getattr(settings, "SECURE_PROXY_SSL_HEADER", None) \
            or settings.PLAYGROUND_CLIENT_ADDRESS_HEADER or settings.PLAYGROUND_REQUIRE_LOGIN:
        return []
    return [Warning(
        "Behind a reverse proxy without PLAYGROUND_CLIENT_ADDRESS_HEADER, every visitor "
        "shares the proxy's address, and so one per-address budget: a few anonymous "
        "visitors use up everyone's sandboxes.",
        hint="Set PLAYGROUND_CLIENT_ADDRESS_HEADER (e.g. X-Forwarded-For) and "
             "PLAYGROUND_TRUSTED_PROXIES to the proxy's exact address, or "
             "PLAYGROUND_REQUIRE_LOGIN=true, or PLAYGROUND_BEHIND_PROXY=false if there is "
             "no proxy (docs/deploy.md).",
        id="playground.W001")]


@register()
def program_isolation(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    """Without bubblewrap (or without root) a learner's program would run with the
    playground's own rights: offered then only to a single local user (point 5 of issue
    13; sandboxes/program_kind.py), and said here so the one who runs it knows."""
    from .sandboxes import program_kind

    reason = program_kind.isolation()
    if reason is None:
        return []
    if not program_kind.offered_unisolated():
        return [Warning(
            f"Program sandboxes are refused on this playground: {reason}, and without "
            "isolation they are offered only to a single local user.",
            hint="Install bubblewrap (apt-get install bubblewrap) and run the playground "
                 "as root (docs/program-sandboxes.md), or set PLAYGROUND_BWRAP.",
            id="playground.W002")]
    return [Warning(
        f"Program sandboxes run WITHOUT isolation here ({reason}): a learner's program "
        "can reach the network and write wherever the playground can. Fine for one "
        "local user; never open this playground to others like this.",
        hint="Install bubblewrap (apt-get install bubblewrap) and run the playground as "
             "root (docs/program-sandboxes.md).",
        id="playground.W003")]


@register()
def program_settings(app_configs: Any = None, **kwargs: Any) -> list[Error | Warning]:
    """PLAYGROUND_PROGRAM_LIMITS names fields of programs.ProgramLimits (a typo would
    otherwise fail every program's start)."""
    from .sandboxes import programs

    problems: list[Error | Warning] = []
    known = {f.name for f in dataclasses.fields(programs.ProgramLimits)}
    unknown = sorted(set(settings.PLAYGROUND_PROGRAM_LIMITS) - known)
    if unknown:
        problems.append(Error(
            f"PLAYGROUND_PROGRAM_LIMITS names no such limit: {', '.join(unknown)}",
            hint=f"Known: {', '.join(sorted(known))}.", id="playground.E001"))
    return problems

