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

A peer without an address (daphne on a Unix socket, ``daphne -u``: only a proxy on
the same host reaches it) counts as a trusted proxy hop when a header is configured;
an address that cannot be told (no header, or garbage in it) is counted under one
shared key, ``unknown``, never under none: a budget is never silently off.

IPv6 clients are counted by their /64: one household or host gets a whole /64 and can
pick any address in it. One ISP customer usually gets far more (a /56 or a /48: 256 or
65,536 /64s), so besides each /64's budget, every /48 has a wider one
(``PLAYGROUND_MAX_SANDBOXES_PER_NETWORK``, ``PLAYGROUND_MAX_RUNNING_PER_NETWORK``;
``Sandbox.client_network``). An IPv4 address is its own network: its budget is the
address's.
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
NETWORK_RUNNING = gettext_noop(
    "%(count)s sandboxes already run from your network (%(network)s), as many as one "
    "network may run at once; stop one of them, or wait until one stops (idle "
    "sandboxes stop by themselves)")
NETWORK_SANDBOXES = gettext_noop(
    "%(count)s sandboxes were already created from your network (%(network)s) without "
    "logging in, as many as one network may have; delete one you no longer need, or "
    "wait until unused ones are deleted")

# The JSON key "limit" of a refusal names the budget (docs/api.md).
RUNNING_PER_OWNER = "running_per_owner"
RUNNING_PER_ADDRESS = "running_per_address"
SANDBOXES_PER_ADDRESS = "sandboxes_per_address"
RUNNING_PER_NETWORK = "running_per_network"
SANDBOXES_PER_NETWORK = "sandboxes_per_network"
# Counted in a block this large: the whole block is one client's (see module docstring).
IPV6_BLOCK = 64
# And in this wider one, at a higher limit: what one ISP customer may be given.
IPV6_NETWORK = 48
# The budget key of a client whose address cannot be told: all such share one budget.
UNKNOWN = "unknown"


def client_address(meta: Mapping[str, Any]) -> str:
    """The address a request's budget is counted against (``request.META``): never
    empty (``UNKNOWN`` when it cannot be told)."""
    return _budget_key(_client(meta))


def is_local(meta: Mapping[str, Any]) -> bool:
    """Does the request come from this machine (the client, by ``client_address``'s
    rule, is a loopback address)? Read before the /64 of the budget key, which would
    turn ``::1`` into ``::/64``. A client that cannot be told is not local.

    The peer itself must be on this machine too (loopback, or a Unix socket: no
    address): a header is believed by the budgets' rule, which in count mode
    (PLAYGROUND_TRUSTED_PROXY_COUNT) trusts whoever the last hops are. There a client
    on the network that reaches daphne directly and writes ``X-Forwarded-For:
    127.0.0.1`` costs a budget little, but would run code unisolated as us."""
    peer = str(meta.get("REMOTE_ADDR") or "")
    peer_address = _parse(peer)
    if peer and (peer_address is None or not peer_address.is_loopback):
        return False
    address = _parse(_client(meta))
    return address is not None and address.is_loopback


def _client(meta: Mapping[str, Any]) -> str:
    """The client's hop as written (``""`` when it cannot be told): REMOTE_ADDR, or
    the first untrusted hop of the header, walking from the right."""
    remote = str(meta.get("REMOTE_ADDR") or "")
    header = settings.PLAYGROUND_CLIENT_ADDRESS_HEADER
    if not header:
        return remote
    listed = str(meta.get("HTTP_" + header.upper().replace("-", "_")) or "")
    # Django joins repeated header lines with ",": one list either way.
    hops = [entry.strip() for entry in listed.split(",") if entry.strip()] + [remote]
    right = remote  # the hop that reported the current one (the peer first)
    for depth, hop in enumerate(reversed(hops)):
        address = _parse(hop)
        if address is None and depth == 0:
            # A peer without an address: a Unix socket, which only a proxy on this host
            # reaches. A trusted hop: what it wrote is read.
            if depth == len(hops) - 1:
                return ""  # it wrote nothing
            right = hop
            continue
        if address is None:
            # Not an address where a trusted proxy should have written one: count it
            # against the hop that handed it on.
            return right
        if depth == len(hops) - 1 or not _trusted(address, depth):
            return hop
        right = hop
    return remote  # not reached: the loop returns at the last hop


def network_of(key: str) -> str:
    """The wider budget's key for a ``client_address`` key: an IPv6 /64's /48; an IPv4
    address (or ``UNKNOWN``) is its own."""
    try:
        network = ipaddress.ip_network(key)
    except ValueError:
        return key
    if isinstance(network, ipaddress.IPv6Network) and network.prefixlen > IPV6_NETWORK:
        return str(network.supernet(new_prefix=IPV6_NETWORK))
    return key


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
    """The text stored in ``Sandbox.client_address``: an IPv4 address, an IPv6 /64, or
    ``UNKNOWN``."""
    address = _parse(text)
    if address is None:
        return UNKNOWN
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{address}/{IPV6_BLOCK}", strict=False))
    return str(address)


def check_create(address: str, network: str) -> None:
    """Inside the creation's serialised transaction: may one more anonymous sandbox be
    created from ``address`` (a ``client_address`` key) in ``network`` (its
    ``network_of``)? A 429 Refusal if not."""
    anonymous = Sandbox.objects.filter(user=None)
    count = anonymous.filter(client_address=address).count()
    if count >= settings.PLAYGROUND_MAX_SANDBOXES_PER_ADDRESS:
        raise Refusal(ADDRESS_SANDBOXES, count=count).answer(429,
                                                             limit=SANDBOXES_PER_ADDRESS)
    if network != address:
        count = anonymous.filter(client_network=network).count()
        if count >= settings.PLAYGROUND_MAX_SANDBOXES_PER_NETWORK:
            raise Refusal(NETWORK_SANDBOXES, count=count, network=network).answer(
                429, limit=SANDBOXES_PER_NETWORK)


def check_running(row: Sandbox, others: QuerySet[Sandbox]) -> None:
    """Inside claims.take's serialised transaction: may ``row`` start, given the
    ``others`` that run (every live row of a live process but this one)? The owner's
    share, then (anonymous) its address's and its network's; the host's limit is the
    caller's."""
    if row.user_id is not None:
        mine = others.filter(user_id=row.user_id)
    else:
        mine = others.filter(user=None, owner_token=row.owner_token)
    count = mine.count()
    if count >= settings.PLAYGROUND_MAX_RUNNING_PER_OWNER:
        raise Refusal(OWNER_SHARE, count=count).answer(429, limit=RUNNING_PER_OWNER)
    if row.user_id is not None or not row.client_address:  # "": made before budgets
        return
    anonymous = others.filter(user=None)
    count = anonymous.filter(client_address=row.client_address).count()
    if count >= settings.PLAYGROUND_MAX_RUNNING_PER_ADDRESS:
        raise Refusal(ADDRESS_RUNNING, count=count).answer(429, limit=RUNNING_PER_ADDRESS)
    network = row.client_network or row.client_address
    if network != row.client_address:
        count = anonymous.filter(client_network=network).count()
        if count >= settings.PLAYGROUND_MAX_RUNNING_PER_NETWORK:
            raise Refusal(NETWORK_RUNNING, count=count, network=network).answer(
                429, limit=RUNNING_PER_NETWORK)
