"""Budgets that dropping cookies cannot reset: per client address, and a fair share of
the running limit per owner (docs/security.md "Budgets").

An anonymous owner is a browser session, and a new session costs nothing: twelve
throw-away cookie jars once filled all 60 running slots, 184 took all 1,000 ports. So
besides the per-owner quota (``PLAYGROUND_MAX_SANDBOXES_PER_OWNER``):

* **per address** (anonymous sandboxes only; a logged-in user's budget is the
  account's): sandboxes created from one client address
  (``PLAYGROUND_MAX_SANDBOXES_PER_ADDRESS``) and running at once
  (``PLAYGROUND_MAX_RUNNING_PER_ADDRESS``). A sandbox counts for the address that
  created it (``Sandbox.client_address``).
* **per owner**: no owner runs more than ``PLAYGROUND_MAX_RUNNING_PER_OWNER`` at once, a
  share of the host's ``PLAYGROUND_MAX_RUNNING_SANDBOXES``, so one owner can never make
  everyone else get 503.

Counting happens inside the caller's serialised transaction (claims.take,
lifecycle.create), so two processes cannot both see room for one more.

The client address is REMOTE_ADDR, or, behind reverse proxies, read from
``PLAYGROUND_CLIENT_ADDRESS_HEADER`` (e.g. X-Forwarded-For): each proxy appends the
address it received the request from, so the list is trustworthy only from the right.
Walking from the peer (REMOTE_ADDR) leftwards, a hop that is a trusted proxy (within
``PLAYGROUND_TRUSTED_PROXY_COUNT`` hops, or in ``PLAYGROUND_TRUSTED_PROXIES``) passes on
the entry before it; the first untrusted hop is the client. The left-most entries are
whatever the client chose to send and are never read past that point. django-ipware was
considered: its proxy count selects a position rather than walking trusted hops, it
does not check that the peer itself is a trusted proxy, and without a proxy setting it
prefers the first public address of the list, which the client controls.

IPv6 clients are counted by their /64: one household or host gets a whole /64 and can
pick any address in it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils.translation import gettext_noop

from ..models import Sandbox
from ..refusals import Refusal

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

OWNER_SHARE = gettext_noop(
    "you already run %(count)s sandboxes, your share of this playground; stop one of "
    "yours to start this one")
ADDRESS_RUNNING = gettext_noop(
    "%(count)s sandboxes already run from your network address, as many as one address "
    "may run at once; stop one of them, or wait until one stops (idle sandboxes stop by "
    "themselves)")
ADDRESS_SANDBOXES = gettext_noop(
    "%(count)s sandboxes were already created from your network address without logging "
    "in, as many as one address may have; delete one you no longer need, or wait until "
    "unused ones are deleted")

# The JSON key "limit" of a refusal names the budget (docs/api.md).
RUNNING_PER_OWNER = "running_per_owner"
RUNNING_PER_ADDRESS = "running_per_address"
SANDBOXES_PER_ADDRESS = "sandboxes_per_address"
# Counted in a block this large: the whole block is one client's (see module docstring).
IPV6_BLOCK = 64


def client_address(meta: Mapping[str, Any]) -> str:
    """The address a request's budget is counted against (``request.META``)."""
    remote = str(meta.get("REMOTE_ADDR") or "")
    header = settings.PLAYGROUND_CLIENT_ADDRESS_HEADER
    if not header:
        return _budget_key(remote)
    listed = str(meta.get("HTTP_" + header.upper().replace("-", "_")) or "")
    # Django joins repeated header lines with ",": one list either way.
    hops = [entry.strip() for entry in listed.split(",") if entry.strip()] + [remote]
    right = remote  # the hop that reported the current one (the peer first)
    for depth, hop in enumerate(reversed(hops)):
        address = _parse(hop)
        if address is None:
            # Not an address where a trusted proxy should have written one (or a Unix
            # socket peer): count it against the hop that handed it on.
            return _budget_key(right)
        if depth == len(hops) - 1 or not _trusted(address, depth):
            return _budget_key(hop)
        right = hop
    return _budget_key(remote)  # not reached: the loop returns at the last hop


def _trusted(address: IPAddress, depth: int) -> bool:
    """Is the hop ``depth`` places from the right (0 = the peer) a trusted proxy?"""
    if depth < settings.PLAYGROUND_TRUSTED_PROXY_COUNT:
        return True
    return any(address.version == net.version and address in net
               for net in _networks(tuple(settings.PLAYGROUND_TRUSTED_PROXIES)))


@lru_cache(maxsize=4)
def _networks(entries: tuple[str, ...]) -> tuple[ipaddress.IPv4Network |
                                                 ipaddress.IPv6Network, ...]:
    """PLAYGROUND_TRUSTED_PROXIES as networks (an address is a network of one)."""
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _parse(text: str) -> IPAddress | None:
    """An address as proxies write it: bare, ``[v6]``, ``[v6]:port`` or ``v4:port``."""
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _budget_key(text: str) -> str:
    """The text stored in ``Sandbox.client_address``: an IPv4 address, or an IPv6 /64."""
    address = _parse(text)
    if address is None:
        return text[:64]
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{address}/{IPV6_BLOCK}", strict=False))
    return str(address)


def check_create(address: str) -> None:
    """Inside the creation's serialised transaction: may one more anonymous sandbox be
    created from ``address``? A 429 Refusal if not."""
    limit = settings.PLAYGROUND_MAX_SANDBOXES_PER_ADDRESS
    count = Sandbox.objects.filter(user=None, client_address=address).count()
    if address and count >= limit:
        raise Refusal(ADDRESS_SANDBOXES, count=count).answer(429,
                                                             limit=SANDBOXES_PER_ADDRESS)


def check_running(row: Sandbox, others: QuerySet[Sandbox]) -> None:
    """Inside claims.take's serialised transaction: may ``row`` start, given the
    ``others`` that run (every live row of a live process but this one)? The owner's
    share, then (anonymous) its address's; the host's limit is the caller's."""
    if row.user_id is not None:
        mine = others.filter(user_id=row.user_id)
    else:
        mine = others.filter(user=None, owner_token=row.owner_token)
    count = mine.count()
    if count >= settings.PLAYGROUND_MAX_RUNNING_PER_OWNER:
        raise Refusal(OWNER_SHARE, count=count).answer(429, limit=RUNNING_PER_OWNER)
    if row.user_id is None and row.client_address:
        count = others.filter(user=None, client_address=row.client_address).count()
        if count >= settings.PLAYGROUND_MAX_RUNNING_PER_ADDRESS:
            raise Refusal(ADDRESS_RUNNING, count=count).answer(429,
                                                               limit=RUNNING_PER_ADDRESS)
