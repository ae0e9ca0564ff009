"""The desired state: everything about the rows a sync wants for one load balancer lives
here (a fresh create replayed through the requests, then harmonised with NB).

The load balancer is replayed through the
provider requests of :mod:`ovnlb_core.requests` on an empty state, in the
order a fresh create would take: ``lb_create``, ``fip_associate`` for the
VIP floating IPs, ``listener_create`` per listener, then per pool
``pool_create``, ``member_batch_update`` (all members, disabled ones
included) and ``hm_create``. The result is then *harmonised* with the rows
NB already holds, so that a sync changes only what is wrong:

* rows are matched by protocol and keep their UUIDs; health checks are
  matched by (health monitor, ``octavia:vip``) and keep theirs;
* members keep their position in a pool value, and the JSON objects
  (``ls_refs``, ``neutron:member_status``) and lists (``lr_ref``,
  ``octavia:healthmonitors``, ``neutron:additional_vip_fips``) keep their
  key order; new entries are appended, as the provider does;
* a member's health (``ONLINE``, ``ERROR``, ``NO_MONITOR`` recorded by
  health events or left by ``member_update``) is kept while its pool's health
  monitor already existed in NB and the member is enabled; a disabled member
  is always ``OFFLINE``;
* ``selection_fields`` and ``affinity_timeout`` (one value per row, the last
  pool written wins, B10) are kept when a history of requests could have
  left them (see :func:`_selection_fields`, :func:`_affinity`);
* external_ids keys and ``options`` keys ovnlb does not own are kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from ovnlb_core import events as ev
from ovnlb_core import requests as rq
from ovnlb_core.formats import HC_HM, HC_POOL, HC_VIP, bracket, parse_hc_pool, row_uuid
from ovnlb_core.model import SELECTION_FIELDS, LoadBalancerState, ProtocolRow
from ovnlb_core.octavia import LoadBalancer
from ovnlb_core.plan import (
    HealthCheckRow,
    NatUpdate,
)
from ovnlb_core.sync.ingest import DesiredLb
from ovnlb_core.topology import Topology

__all__ = [
    "AFFINITY",
    "HEALTH_STATUSES",
    "desired_state",
    "harmonize",
    "hc_pool",
]


AFFINITY = "affinity_timeout"


#: Member statuses that health events record and a sync keeps.
HEALTH_STATUSES = ("ONLINE", "ERROR", "NO_MONITOR")


def desired_state(
    lb: DesiredLb, ctx: rq.Context
) -> tuple[LoadBalancerState, tuple[NatUpdate, ...]]:
    """The state a fresh create of the load balancer gives (raises on an invalid object)."""
    obj = LoadBalancer.from_dict(lb.data)
    state = rq.lb_create(ctx, None, obj).state
    related = [obj.vip_address or ""] + [a.ip_address for a in obj.additional_vips]
    if lb.vip_fip:
        state = rq.fip_associate(ctx, state, lb.vip_fip, "vip", related).state
    for fip in lb.additional_vip_fips:
        state = rq.fip_associate(ctx, state, fip, "additional_vip", related).state
    for li in obj.listeners:
        state = rq.listener_create(ctx, state, attrs.evolve(li, loadbalancer_id=obj.id)).state
    nats: list[NatUpdate] = []
    for pool in obj.pools:
        bare = attrs.evolve(
            pool, loadbalancer_id=obj.id, listener_id=None, members=(), healthmonitor=None
        )
        state = rq.pool_create(ctx, state, bare).state
        if pool.members:
            members = [attrs.evolve(m, pool_id=pool.id) for m in pool.members]
            out = rq.member_batch_update(ctx, state, pool.id, members)
            state = out.state
            nats += out.nat_updates
        if pool.healthmonitor is not None:
            hm = attrs.evolve(pool.healthmonitor, pool_id=pool.id)
            state = rq.hm_create(ctx, state, hm).state
    assert state is not None
    return state, tuple(nats)


def _keep_order(actual: Sequence[str] | None, desired: Sequence[str]) -> tuple[str, ...]:
    """``desired``'s items, those also in ``actual`` first and in its order."""
    if not actual:
        return tuple(desired)
    want = set(desired)
    first = [x for x in dict.fromkeys(actual) if x in want]
    have = set(first)
    return (*first, *(x for x in desired if x not in have))


def _ordered_pairs(
    actual: Sequence[tuple[str, Any]] | None, desired: Sequence[tuple[str, Any]] | None
) -> Any:
    if desired is None:
        return None
    values = dict(desired)
    keys = _keep_order([k for k, _ in actual or ()], list(values))
    return tuple((k, values[k]) for k in keys)


def _opt_order(actual: tuple[str, ...] | None, desired: tuple[str, ...] | None) -> Any:
    return None if desired is None else _keep_order(actual, desired)


def _match_rows(
    desired: Sequence[ProtocolRow], actual: Sequence[ProtocolRow]
) -> dict[str, ProtocolRow]:
    """Desired row UUID -> the actual row it becomes (same protocol first, then leftovers)."""
    match: dict[str, ProtocolRow] = {}
    left = list(actual)
    for d in desired:
        a = next((r for r in left if r.protocol == d.protocol), None)
        if a is not None:
            match[d.uuid] = a
            left.remove(a)
    left.sort(key=lambda r: (r.protocol is not None, r.protocol or "", r.uuid))
    for d in desired:
        if d.uuid not in match and left:
            match[d.uuid] = left.pop(0)
    return match


def _fresh(uuid: str, taken: set[str], *parts: str) -> str:
    n = 0
    while uuid in taken:
        n += 1
        uuid = row_uuid(*parts, "sync", str(n))
    taken.add(uuid)
    return uuid


def _selection_fields(desired: ProtocolRow, actual: ProtocolRow | None) -> tuple[str, ...]:
    """The row's ``selection_fields`` (spec 1.5, B10: one value per protocol row, the last
    pool created or updated wins), as the request path leaves them.

    A fresh create gives the fields of the row's last pool in Octavia's order, but the
    request path gives those of whichever pool was written last, and keeps the fields of
    a pool after it is deleted, even when other pools remain (a SOURCE_IP pool created
    and deleted after a SOURCE_IP_PORT one leaves the SOURCE_IP fields). So any value
    the requests write stays, as the reference's own sync keeps a non-empty column
    (spec 1.5 ``lb_sync``); anything else is repaired.
    """
    if actual is None or actual.selection_fields == desired.selection_fields:
        return desired.selection_fields
    if actual.selection_fields in set(SELECTION_FIELDS.values()):
        return actual.selection_fields
    return desired.selection_fields


def _affinity(
    desired: ProtocolRow, actual: ProtocolRow | None, timeouts: Mapping[str, str | None]
) -> str | None:
    """The row's ``affinity_timeout`` as the request path leaves it (B7/B10: one value per
    row, the last pool written wins; removing one pool's persistence removes it for the
    row). When a pool of the row has session persistence in Octavia's view, the actual
    value stays if it is absent or one of those pools' timeouts; otherwise it goes."""
    want = desired.options.get(AFFINITY)
    have = actual.options.get(AFFINITY) if actual is not None else None
    allowed = {timeouts[p.id] for p in desired.pools if timeouts.get(p.id)}
    if actual is not None and allowed and (have is None or have in allowed):
        return have
    return want


def _unmonitored_pools(
    d: ProtocolRow,
    a: ProtocolRow | None,
    pool_hm: Mapping[str, str | None],
    statuses: dict[str, str],
    health: Mapping[str, str],
) -> dict[str, str]:
    """Members of pools without a health monitor on a row that has health checks (another
    pool's): the request path maps them and stores ONLINE/ERROR when they are added after
    that monitor, NO_MONITOR and unmapped when added before it (spec 5.3: ``member_create``
    looks at the row's ``health_check``). A fresh create gives one of the two, so the row's
    own status and mapping stay for them (``statuses`` is updated); the mappings are
    returned. Addresses that a monitored pool's member also uses keep the desired mapping.
    """
    mappings = dict(d.ip_port_mappings)
    if a is None:
        return mappings
    if not d.health_checks:
        # No check reads them: the request path leaves a member's mapping behind when a
        # monitor goes while a member of another pool at the same IP is not NO_MONITOR
        # (hm_delete's rule, spec 4.3); harmless, so not drift. Stray keys still go.
        members = {bracket(m.address) for p in d.pools for m in p.members}
        return {k: v for k, v in a.ip_port_mappings.items() if k in members} | mappings
    # A monitored member needs its address mapped only when the desired rows map it (a
    # disabled one is unmapped): otherwise the unmonitored members' rule decides.
    needed = {bracket(m.address) for p in d.pools if p.id in pool_hm for m in p.members} & set(
        mappings
    )
    loose: set[str] = set()
    for p in d.pools:
        if p.id in pool_hm:
            continue
        for m in p.members:
            if statuses.get(m.id) in HEALTH_STATUSES and health.get(m.id) in HEALTH_STATUSES:
                statuses[m.id] = health[m.id]
            loose.add(bracket(m.address))
    for addr in loose - needed:
        if addr in a.ip_port_mappings:
            mappings[addr] = a.ip_port_mappings[addr]
        else:
            mappings.pop(addr, None)
    return mappings


def harmonize(
    desired: LoadBalancerState,
    actual: LoadBalancerState | None,
    timeouts: Mapping[str, str | None] | None = None,
    topology: Topology | None = None,
) -> LoadBalancerState:
    """``desired`` adjusted to the rows NB holds (see the module docstring).

    ``topology``: with it, router associations a history of requests and router-interface
    events could have left are kept (see :func:`_associations`).

    ``timeouts``: each pool's session-persistence timeout (None: no persistence) in
    Octavia's view (see :func:`_affinity`); without them the row's own value is kept only
    where no pool could have given it.
    """
    timeouts = timeouts or {}
    actual_rows = actual.rows if actual is not None else ()
    match = _match_rows(desired.rows, actual_rows)
    actual_hcs = [h for r in actual_rows for h in r.health_checks]
    taken = {r.uuid for r in actual_rows} | {h.uuid for h in actual_hcs}
    by_key: dict[tuple[str | None, str | None], list[str]] = {}
    for h in actual_hcs:
        by_key.setdefault((h.external_ids.get(HC_HM), h.external_ids.get(HC_VIP)), []).append(
            h.uuid
        )
    hms_before = {h.external_ids.get(HC_HM) for h in actual_hcs}
    for r in actual_rows:
        hms_before.update(r.healthmonitors or ())
    hms_before.discard(None)
    health: dict[str, str] = {}
    for r in actual_rows:
        health.update(r.statuses())
    used_rows = {a.uuid for a in match.values()}
    rows = []
    for d in desired.rows:
        a = match.get(d.uuid)
        uuid = a.uuid if a is not None else _fresh(d.uuid, taken | used_rows, desired.name)
        used_rows.add(uuid)
        hcs = []
        for h in d.health_checks:
            found = by_key.get((h.external_ids.get(HC_HM), h.external_ids.get(HC_VIP)))
            if found:
                hcs.append(attrs.evolve(h, uuid=found.pop(0)))
            else:
                hcs.append(attrs.evolve(h, uuid=_fresh(h.uuid, taken, uuid, "hc")))
        statuses = dict(d.member_status or ())
        pool_hm = {hc_pool(h): h.external_ids.get(HC_HM) for h in d.health_checks if hc_pool(h)}
        for p in d.pools:
            if pool_hm.get(p.id) not in hms_before:
                continue
            for m in p.members:
                # ERROR too: a member that cannot be mapped is ERROR in a fresh create, but
                # member_update enabling it stores ONLINE (spec 5.3): what the request path
                # left is not drift.
                if (
                    statuses.get(m.id) in ("ONLINE", "ERROR")
                    and health.get(m.id) in HEALTH_STATUSES
                ):
                    statuses[m.id] = health[m.id]
        mappings = _unmonitored_pools(d, a, pool_hm, statuses, health)
        member_status = tuple(statuses.items()) if d.member_status is not None else None
        pools = d.pools
        options = dict(d.options)
        extra = dict(d.extra_ids)
        if a is not None:
            pools = tuple(_pool_in_order(p, a) for p in d.pools)
            member_status = _ordered_pairs(a.member_status, member_status)
            options = {**{k: v for k, v in a.options.items() if k != AFFINITY}, **options}
            affinity = _affinity(d, a, timeouts)
            options.pop(AFFINITY, None)
            if affinity is not None:
                options[AFFINITY] = affinity
            extra = {**a.extra_ids, **extra}
        rows.append(
            attrs.evolve(
                d,
                uuid=uuid,
                pools=pools,
                member_status=member_status,
                ls_refs=_ordered_pairs(a.ls_refs if a else None, d.ls_refs),
                **_associations(d, a, topology),
                healthmonitors=_opt_order(a.healthmonitors if a else None, d.healthmonitors),
                additional_vip_fips=_opt_order(
                    a.additional_vip_fips if a else None, d.additional_vip_fips
                ),
                health_checks=tuple(hcs),
                options=options,
                extra_ids=extra,
                selection_fields=_selection_fields(d, a),
                ip_port_mappings=mappings,
            )
        )
    return LoadBalancerState(desired.name, tuple(rows))


def _associations(d: ProtocolRow, a: ProtocolRow | None, topo: Topology | None) -> dict[str, Any]:
    """``routers``, ``switches`` and ``lr_ref`` of a desired row, keeping what history left.

    Router associations depend on the history, not only on Octavia's objects: a member
    delete leaves the member's routers (spec 3.5) and a router-interface event associates
    every LB on the network, whatever its addresses, or adds the router's LBs to the new
    network whatever its family (spec 3.6, :mod:`ovnlb_core.events`). So a router the row is
    on and lists in ``lr_ref`` stays (with its switches of the VIP's family, spec 1.8), and a switch
    behind one of the row's routers (either family) stays. The fresh create's routers and
    switches are always wanted; anything else goes. :func:`ovnlb_core.events.settle_routers`
    (a watcher's catch-up) applies the same rule.
    """
    if a is None or topo is None:
        return {"lr_ref": _opt_order(a.lr_ref if a else None, d.lr_ref)}
    version = 6 if d.vip and ":" in d.vip else 4
    # The provider lists every router it associates in lr_ref (spec 1.8): a router holding
    # the row without an lr_ref entry is foreign damage, repaired.
    extra = sorted(lr for lr in a.routers if lr not in d.routers and lr in (a.lr_ref or ()))
    routers = set(d.routers) | set(extra)
    switches = set(d.switches)
    for lr in extra:
        switches.update(topo.switches_of_router(lr, version))
    switches |= set(a.switches) & ev.router_reach(topo, routers)
    # A row created for a second protocol copies the first row's lr_ref (spec 2.2) but joins
    # only the VIP subnet's routers, so an lr_ref entry naming an existing router the row is
    # not on is history too: kept when NB has it, not added when NB lacks it.
    now = [*(a.lr_ref or ())]
    stale = [lr for lr in now if lr not in routers and topo.router_exists(lr)]
    refs = [lr for lr in (d.lr_ref or ()) if lr in routers or lr in now]
    refs += [lr for lr in [*extra, *stale] if lr not in refs]
    return {
        "routers": frozenset(routers),
        "switches": frozenset(switches),
        "lr_ref": _keep_order(a.lr_ref, refs) or None,
    }


def hc_pool(h: HealthCheckRow) -> str:
    """The pool id a health check row belongs to (its ``octavia:pool`` without ``:D``)."""
    return parse_hc_pool(h.external_ids.get(HC_POOL, ""))


def _pool_in_order(pool: Any, actual_row: ProtocolRow) -> Any:
    old = actual_row.pool(pool.id)
    if old is None or not old.members:
        return pool
    pos = {m.id: i for i, m in enumerate(old.members)}
    known = sorted((m for m in pool.members if m.id in pos), key=lambda m: pos[m.id])
    return attrs.evolve(pool, members=(*known, *(m for m in pool.members if m.id not in pos)))
