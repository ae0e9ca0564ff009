"""Octavia's view against the NB rows: what a sync creates, updates and deletes.

Pure: Octavia's objects (:class:`DesiredLb`, built from Octavia API v2 JSON
by :func:`view_from_api`) and the NB rows (an :class:`~ovnlb_core.plan.LbRowSet`
per load balancer, or an :class:`~ovnlb_core.nb.NbReader`) in, one
:class:`SyncAction` per load balancer out. Backends apply each action's plan
as one transaction.

How the desired rows are built. The load balancer is replayed through the
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

Ownership (what a sync may delete). A ``Load_Balancer`` row belongs to the
Octavia provider when its ``name`` is a UUID (the Octavia id, spec 1.1), its
``external_ids`` hold ``neutron:vip``, ``neutron:vip_port_id`` and
``enabled`` (written at the creation of every provider row and never
removed, spec 1.2) and no ``neutron:device_owner`` (never written by the
provider; ``port_forwarding_plugin`` marks Neutron's port-forwarding rows).
Rows of a name Octavia does not know are deleted only when owned. Rows with
``neutron:device_owner=port_forwarding_plugin`` are never read as part of
any load balancer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any

import attrs

from ovnlb_core import events as ev
from ovnlb_core import requests as rq
from ovnlb_core.errors import OvnlbError, RowParseError, SourceFormatError
from ovnlb_core.formats import HC_HM, HC_OPTIONS, HC_POOL, HC_VIP, bracket, row_uuid
from ovnlb_core.model import SELECTION_FIELDS, LoadBalancerState, ProtocolRow
from ovnlb_core.nb import NbReader
from ovnlb_core.octavia import LoadBalancer, OctaviaView, Pool
from ovnlb_core.pipeline import plan_request
from ovnlb_core.plan import (
    HealthCheckRow,
    LbRowSet,
    LoadBalancerRow,
    MapDelta,
    NatUpdate,
    Plan,
    diff,
)
from ovnlb_core.rows import lb_rowset
from ovnlb_core.topology import Subnet, Topology, subnets_from_neutron
from ovnlb_core.viewcheck import check_view
from ovnlb_core.viewdoc import items, members_by_pool, related_ids

__all__ = [
    "ActionKind",
    "DesiredLb",
    "SourceFormatError",
    "SyncAction",
    "action_json",
    "delete_action",
    "desired_state",
    "harmonize",
    "hc_json",
    "is_owned",
    "is_port_forwarding",
    "orphan_names",
    "plan_all",
    "row_json",
    "rowset",
    "sync_action",
    "view_from_api",
]

#: The ``format`` tag of a view document (docs/sync.md); optional in the document.
VIEW_FORMAT = "ovnlb-octavia-view/1"
KEY_DEVICE_OWNER = "neutron:device_owner"
PORT_FORWARDING = "port_forwarding_plugin"
#: external_ids keys every provider row gets at creation and never loses (spec 1.2).
DRIVER_KEYS = ("neutron:vip", "neutron:vip_port_id", "enabled")
AFFINITY = "affinity_timeout"
#: Member statuses that health events record and a sync keeps.
HEALTH_STATUSES = ("ONLINE", "ERROR", "NO_MONITOR")

_UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)


# -- ownership ------------------------------------------------------------------------------


def is_port_forwarding(external_ids: Mapping[str, str]) -> bool:
    """True for a row of Neutron's port-forwarding plugin (never touched by a sync)."""
    return external_ids.get(KEY_DEVICE_OWNER) == PORT_FORWARDING


def is_owned(name: str, external_ids: Mapping[str, str]) -> bool:
    """True when the row is the Octavia provider's (see the module docstring)."""
    return (
        bool(_UUID_RE.fullmatch(name))
        and all(k in external_ids for k in DRIVER_KEYS)
        and KEY_DEVICE_OWNER not in external_ids
    )


def _only(rows: LbRowSet, keep: Iterable[str]) -> LbRowSet:
    keep = set(keep)
    if keep == set(rows.lbs):
        return rows
    lbs = {u: r for u, r in rows.lbs.items() if u in keep}
    hcs_used = {h for r in lbs.values() for h in r.health_check}
    return LbRowSet(
        lbs=lbs,
        health_checks={u: h for u, h in rows.health_checks.items() if u in hcs_used},
        switches={u: s for u, s in rows.switches.items() if u in keep},
        routers={u: s for u, s in rows.routers.items() if u in keep},
    )


def rowset(reader: NbReader, name: str, *, owned_only: bool = False) -> LbRowSet:
    """The rows of load balancer ``name``, without port-forwarding rows (or only owned rows)."""
    rows = lb_rowset(reader, name)
    keep = [
        u
        for u, r in rows.lbs.items()
        if not is_port_forwarding(r.external_ids)
        and (not owned_only or is_owned(r.name, r.external_ids))
    ]
    return _only(rows, keep)


def orphan_names(reader: NbReader, known: Iterable[str]) -> list[str]:
    """Names of owned load balancers Octavia does not know, sorted."""
    known = set(known)
    out: set[str] = set()
    for row in reader.rows("Load_Balancer").values():
        name = str(row.get("name", ""))
        if name not in known and is_owned(name, row.get("external_ids", {})):
            out.add(name)
    return sorted(out)


# -- Octavia's view -----------------------------------------------------------------------


@attrs.frozen
class DesiredLb:
    """One load balancer as Octavia holds it, in provider (octavia-lib) field names.

    ``data`` is the provider dict of the load balancer (``loadbalancer_id``,
    ``vip_address``, ``vip_port_id``, ``vip_network_id``, ``vip_subnet_id``,
    ``admin_state_up``, ``additional_vips``) with ``listeners`` and ``pools``
    (each pool with its ``members`` and ``healthmonitor``) nested, as
    octavia-lib's ``to_dict(recurse=True)`` renders them.
    """

    data: Mapping[str, Any]
    vip_fip: str | None = None
    additional_vip_fips: tuple[str, ...] = ()
    #: Inconsistencies of the view for this load balancer (ovnlb_core.viewcheck):
    #: a sync reports them as its error and writes nothing for it.
    problems: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        """The Octavia load balancer id."""
        return str(self.data.get("loadbalancer_id", ""))

    def view(self) -> OctaviaView:
        """The :class:`OctaviaView` requests consult (admin states, VIP subnet, ...)."""
        v = OctaviaView()
        lb = {k: x for k, x in self.data.items() if k not in ("listeners", "pools")}
        v.loadbalancers[self.id] = lb
        for li in self.data.get("listeners") or ():
            v.listeners[li["listener_id"]] = li
        for p in self.data.get("pools") or ():
            v.pools[p["pool_id"]] = {k: x for k, x in p.items() if k != "members"}
            for m in p.get("members") or ():
                v.members[m["member_id"]] = m
            hm = p.get("healthmonitor")
            if hm:
                v.healthmonitors[hm["healthmonitor_id"]] = hm
        return v


def _bool(obj: Mapping[str, Any], key: str) -> Any:
    value = obj.get(key, True)
    return True if value is None else value


def _listener(li: Mapping[str, Any], lb_id: str) -> dict[str, Any]:
    return {
        "listener_id": li["id"],
        "loadbalancer_id": lb_id,
        "protocol": li.get("protocol"),
        "protocol_port": li.get("protocol_port"),
        "default_pool_id": li.get("default_pool_id") or None,
        "admin_state_up": _bool(li, "admin_state_up"),
        "allowed_cidrs": li.get("allowed_cidrs") or [],
    }


def _member(m: Mapping[str, Any], pool_id: str) -> dict[str, Any]:
    return {
        "member_id": m["id"],
        "pool_id": pool_id,
        "address": m.get("address"),
        "protocol_port": m.get("protocol_port"),
        "subnet_id": m.get("subnet_id") or None,
        "admin_state_up": _bool(m, "admin_state_up"),
        "weight": m.get("weight"),
        "backup": bool(m.get("backup") or False),
        "monitor_address": m.get("monitor_address"),
        "monitor_port": m.get("monitor_port"),
    }


def _hm(hm: Mapping[str, Any], pool_id: str) -> dict[str, Any]:
    return {
        "healthmonitor_id": hm["id"],
        "pool_id": pool_id,
        "type": hm.get("type"),
        "delay": hm.get("delay"),
        "timeout": hm.get("timeout"),
        "max_retries": hm.get("max_retries"),
        "max_retries_down": hm.get("max_retries_down"),
        "admin_state_up": _bool(hm, "admin_state_up"),
    }


def _pool(
    p: Mapping[str, Any],
    lb_id: str,
    members: Sequence[Mapping[str, Any]],
    hm: Mapping[str, Any] | None,
) -> dict[str, Any]:
    sp = p.get("session_persistence")
    if isinstance(sp, Mapping):
        # The API prints unset fields as null; the provider API leaves them out.
        sp = {k: v for k, v in sp.items() if v is not None}
    return {
        "pool_id": p["id"],
        "loadbalancer_id": lb_id,
        "listener_id": None,
        "protocol": p.get("protocol"),
        "lb_algorithm": p.get("lb_algorithm"),
        "session_persistence": sp or None,
        "admin_state_up": _bool(p, "admin_state_up"),
        "members": [_member(m, p["id"]) for m in members],
        "healthmonitor": _hm(hm, p["id"]) if hm else None,
    }


def _port_of(ports: Sequence[Mapping[str, Any]], ip: str, subnet_id: str | None) -> str | None:
    for port in ports:
        for fixed in port.get("fixed_ips") or ():
            if fixed.get("ip_address") == ip and (
                subnet_id is None or fixed.get("subnet_id") == subnet_id
            ):
                return str(port["id"])
    return None


def view_from_api(doc: Mapping[str, Any]) -> tuple[list[DesiredLb], dict[str, Subnet]]:
    """Octavia API v2 and Neutron API v2 JSON -> the desired load balancers and the subnets.

    ``doc`` holds the lists the API answers (docs/sync.md): ``loadbalancers``,
    ``listeners``, ``pools``, ``members`` (by pool id, or a list whose items
    name their ``pool_id``), ``healthmonitors``, and ``neutron`` with
    ``subnets``, ``floatingips`` and ``ports``. Load balancers of another
    provider than ``ovn`` are left out.
    """
    if not isinstance(doc, Mapping):
        raise SourceFormatError("Octavia's view must be a JSON object")
    if doc.get("format", VIEW_FORMAT) != VIEW_FORMAT:
        raise SourceFormatError(f"format {doc.get('format')!r} is not {VIEW_FORMAT!r}")
    neutron = doc.get("neutron") or {}
    if not isinstance(neutron, Mapping):
        raise SourceFormatError("'neutron' must be an object")
    checked = check_view(doc)
    if checked.fatal:
        raise SourceFormatError("; ".join(checked.fatal))
    try:
        subnets = subnets_from_neutron(items(neutron.get("subnets"), "subnets", "subnet"))
    except KeyError as exc:
        raise SourceFormatError(f"a subnet lacks {exc}") from None
    fips = items(
        neutron.get("floatingips", neutron.get("floating_ips")), "floatingips", "floatingip"
    )
    ports = items(neutron.get("ports"), "ports", "port")
    listeners = items(doc.get("listeners"), "listeners", "listener")
    pools = items(doc.get("pools"), "pools", "pool")
    hms = items(doc.get("healthmonitors"), "healthmonitors", "healthmonitor")
    members = members_by_pool(doc)
    out: list[DesiredLb] = []
    seen: set[str] = set()
    for lb in items(doc.get("loadbalancers"), "loadbalancers", "loadbalancer"):
        if lb.get("provider") not in (None, "ovn") or str(lb["id"]) in seen:
            continue
        lb_id = str(lb["id"])
        seen.add(lb_id)
        lb_listeners = set(related_ids(lb.get("listeners")))
        lb_pools = set(related_ids(lb.get("pools")))
        my_listeners = [
            li
            for li in listeners
            if li["id"] in lb_listeners or lb_id in related_ids(li.get("loadbalancers"))
        ]
        my_pools = []
        for p in pools:
            if p["id"] not in lb_pools and lb_id not in related_ids(p.get("loadbalancers")):
                continue
            hm = next(
                (
                    h
                    for h in hms
                    if p["id"] in related_ids(h.get("pools"))
                    or h["id"] == p.get("healthmonitor_id")
                ),
                None,
            )
            my_pools.append(_pool(p, lb_id, members.get(p["id"], []), hm))
        add = []
        for a in lb.get("additional_vips") or ():
            if not isinstance(a, Mapping):
                raise SourceFormatError(f"loadbalancer {lb_id}: additional_vips must be objects")
            subnet = subnets.get(str(a.get("subnet_id")))
            port_id = a.get("port_id") or _port_of(ports, str(a.get("ip_address")), None)
            add.append(
                {
                    "ip_address": a.get("ip_address"),
                    "subnet_id": a.get("subnet_id"),
                    "network_id": a.get("network_id") or (subnet.network_id if subnet else None),
                    "port_id": port_id,
                }
            )
        data = {
            "loadbalancer_id": lb_id,
            "name": lb.get("name"),
            "admin_state_up": _bool(lb, "admin_state_up"),
            "vip_address": lb.get("vip_address"),
            "vip_port_id": lb.get("vip_port_id"),
            "vip_network_id": lb.get("vip_network_id"),
            "vip_subnet_id": lb.get("vip_subnet_id"),
            "additional_vips": add,
            "listeners": [_listener(li, lb_id) for li in my_listeners],
            "pools": my_pools,
        }
        vip_fip = None
        add_fips: list[str] = []
        add_ports = [a["port_id"] for a in add if a["port_id"]]
        for f in fips:
            port = f.get("port_id")
            address = f.get("floating_ip_address")
            if not port or not isinstance(address, str):
                continue
            if port == lb.get("vip_port_id") and vip_fip is None:
                vip_fip = address
            elif port in add_ports:
                add_fips.append(address)
        out.append(DesiredLb(data, vip_fip, tuple(add_fips), checked.errors.get(lb_id, ())))
    return out, subnets


# -- desired state ---------------------------------------------------------------------------


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
        pool_hm = {_hc_pool(h): h.external_ids.get(HC_HM) for h in d.health_checks if _hc_pool(h)}
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


def _hc_pool(h: HealthCheckRow) -> str:
    pool = h.external_ids.get(HC_POOL, "")
    return pool[:-2] if pool.endswith(":D") else pool


def _pool_in_order(pool: Any, actual_row: ProtocolRow) -> Any:
    old = actual_row.pool(pool.id)
    if old is None or not old.members:
        return pool
    pos = {m.id: i for i, m in enumerate(old.members)}
    known = sorted((m for m in pool.members if m.id in pos), key=lambda m: pos[m.id])
    return attrs.evolve(pool, members=(*known, *(m for m in pool.members if m.id not in pos)))


# -- actions -------------------------------------------------------------------------------


class ActionKind(StrEnum):
    """What a sync does to one load balancer."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    IN_SYNC = "in-sync"
    ERROR = "error"


@attrs.frozen
class SyncAction:
    """The change one load balancer needs (one transaction)."""

    lb_id: str
    kind: ActionKind
    plan: Plan = attrs.field(factory=Plan)
    actual: LbRowSet = attrs.field(factory=LbRowSet)
    desired: LbRowSet = attrs.field(factory=LbRowSet)
    #: Malformed values found in the rows (the plan rewrites or removes them).
    issues: tuple[str, ...] = ()
    error: str | None = None

    @property
    def drift(self) -> bool:
        """True when NB differs from Octavia's view for this load balancer."""
        return self.kind in (ActionKind.CREATE, ActionKind.UPDATE, ActionKind.DELETE)


def sync_action(lb: DesiredLb, actual: LbRowSet, topology: Topology) -> SyncAction:
    """The action that makes ``actual`` (this LB's rows) match Octavia's ``lb``.

    The request pipeline of every request (:func:`ovnlb_core.pipeline.plan_request`)
    with, as the request, "Octavia's view of this load balancer, harmonised with
    the rows" (:func:`desired_state`, :func:`harmonize`).
    """
    if lb.problems:
        return SyncAction(lb.id, ActionKind.ERROR, actual=actual, error="; ".join(lb.problems))
    issues: list[RowParseError] = []

    def request(ctx: rq.Context, current: LoadBalancerState | None) -> rq.Outcome:
        fresh, nats = desired_state(lb, ctx)
        pools = [Pool.from_dict(p) for p in lb.data.get("pools") or ()]
        timeouts = {
            p.id: str(p.session_persistence.timeout)
            if p.session_persistence is not None and p.session_persistence.timeout
            else None
            for p in pools
        }
        return rq.Outcome(harmonize(fresh, current, timeouts, ctx.topology), (), tuple(nats))

    try:
        p = plan_request(rq.Context(topology, lb.view()), lb.id, actual, request, issues=issues)
    except OvnlbError as exc:
        texts = tuple(str(i) for i in issues)
        return SyncAction(lb.id, ActionKind.ERROR, actual=actual, issues=texts, error=str(exc))
    texts = tuple(str(i) for i in issues)
    if p.plan.is_empty():
        kind = ActionKind.IN_SYNC
    else:
        kind = ActionKind.UPDATE if actual.lbs else ActionKind.CREATE
    return SyncAction(lb.id, kind, p.plan, p.actual, p.desired, texts)


def delete_action(name: str, actual: LbRowSet) -> SyncAction:
    """The action that removes an orphan's (owned) rows."""
    plan = diff(actual, LbRowSet())
    kind = ActionKind.DELETE if not plan.is_empty() else ActionKind.IN_SYNC
    return SyncAction(name, kind, plan, actual, LbRowSet())


def plan_all(
    lbs: Sequence[DesiredLb],
    reader: NbReader,
    subnets: Mapping[str, Subnet],
    *,
    delete_orphans: bool = True,
) -> list[SyncAction]:
    """Every action, from one read view: Octavia's load balancers in order, then orphans."""
    topology = Topology(reader, subnets)
    out = [sync_action(lb, rowset(reader, lb.id), topology) for lb in lbs]
    if delete_orphans:
        for name in orphan_names(reader, (lb.id for lb in lbs)):
            out.append(delete_action(name, rowset(reader, name, owned_only=True)))
    return out


# -- description ------------------------------------------------------------------------------


def _label(row: LoadBalancerRow) -> str:
    return f"{row.name}/{row.protocol or 'none'}"


def _map_changes(old: Mapping[str, str], delta: MapDelta) -> list[dict[str, Any]]:
    out = [{"key": k, "old": old.get(k), "new": v} for k, v in sorted(delta.set.items())]
    out += [{"key": k, "old": old.get(k), "new": None} for k in delta.delete]
    return sorted(out, key=lambda c: c["key"])


def row_json(row: LoadBalancerRow) -> dict[str, Any]:
    """A ``Load_Balancer`` row as JSON (every column, plus a label naming the protocol)."""
    return {
        "uuid": row.uuid,
        "label": _label(row),
        "protocol": row.protocol,
        "vips": dict(row.vips),
        "external_ids": dict(row.external_ids),
        "selection_fields": list(row.selection_fields),
        "options": dict(row.options),
        "ip_port_mappings": dict(row.ip_port_mappings),
        "health_check": list(row.health_check),
    }


def hc_json(row: HealthCheckRow) -> dict[str, Any]:
    """A ``Load_Balancer_Health_Check`` row as JSON."""
    return {
        "uuid": row.uuid,
        "vip": row.vip,
        "options": dict(row.options),
        "external_ids": dict(row.external_ids),
    }


def action_json(action: SyncAction) -> dict[str, Any]:
    """A JSON-ready description of an action: rows created/deleted, per-key changes."""
    plan, actual = action.plan, action.actual
    labels = {u: _label(r) for u, r in (*actual.lbs.items(), *action.desired.lbs.items())}
    updated = []
    for upd in plan.lb_updates:
        old = actual.lbs[upd.uuid]
        item: dict[str, Any] = {"uuid": upd.uuid, "label": labels.get(upd.uuid)}
        if upd.set_protocol:
            item["protocol"] = {"old": old.protocol, "new": upd.protocol}
        for col in ("vips", "external_ids", "options", "ip_port_mappings"):
            delta: MapDelta = getattr(upd, col)
            if delta:
                item[col] = _map_changes(getattr(old, col), delta)
        if upd.selection_fields is not None:
            item["selection_fields"] = {
                "old": list(old.selection_fields),
                "new": list(upd.selection_fields),
            }
        if upd.health_check_add or upd.health_check_remove:
            item["health_check"] = {
                "add": list(upd.health_check_add),
                "remove": list(upd.health_check_remove),
            }
        updated.append(item)
    hc_updated = []
    for hu in plan.hc_updates:
        old_hc = actual.health_checks[hu.uuid]
        hitem: dict[str, Any] = {"uuid": hu.uuid}
        if hu.vip is not None:
            hitem["vip"] = {"old": old_hc.vip, "new": hu.vip}
        for col in ("options", "external_ids"):
            delta = getattr(hu, col)
            if delta:
                hitem[col] = _map_changes(getattr(old_hc, col), delta)
        hc_updated.append(hitem)

    def att(items: Iterable[Any]) -> list[dict[str, Any]]:
        return [
            {"table": a.table, "name": a.name, "row": labels.get(a.lb_uuid, a.lb_uuid)}
            for a in items
        ]

    return {
        "id": action.lb_id,
        "action": str(action.kind),
        "error": action.error,
        "issues": list(action.issues),
        "rows": {
            "created": [row_json(r) for r in plan.lb_inserts],
            "deleted": [{"uuid": u, "label": labels.get(u)} for u in plan.lb_deletes],
            "updated": updated,
        },
        "health_checks": {
            "created": [hc_json(h) for h in plan.hc_inserts],
            "deleted": list(plan.hc_deletes),
            "updated": hc_updated,
        },
        "attachments": {"attach": att(plan.attach), "detach": att(plan.detach)},
        "nat_updates": [
            {
                "uuid": n.uuid,
                "clear_logical_port": n.clear_logical_port,
                "clear_external_mac": n.clear_external_mac,
            }
            for n in plan.nat_updates
        ],
    }


# -- NB rows as Octavia would see them -------------------------------------------------------

#: NB health-check option -> Octavia health-monitor field: requests' table read backwards.
_HC_TO_HM = tuple((option, field) for field, option in HC_OPTIONS)


def _int_or_text(value: str) -> int | str:
    return int(value) if value.isdigit() else value


def show_json(state: LoadBalancerState, issues: Sequence[str] = ()) -> dict[str, Any]:
    """A load balancer parsed back from its rows, in Octavia's terms (``ovnlb show``)."""
    base = state.rows[0] if state.rows else ProtocolRow(uuid="")
    listeners = []
    pools = []
    hms: dict[str, dict[str, Any]] = {}
    for row in state.rows:
        statuses = row.statuses()
        for li in row.listeners:
            listeners.append(
                {
                    "id": li.id,
                    "protocol": (row.protocol or "").upper() or None,
                    "protocol_port": li.port,
                    "default_pool_id": li.pool_id,
                    "admin_state_up": li.enabled,
                }
            )
        for p in row.pools:
            checks = [h for h in row.health_checks if _hc_pool(h) == p.id]
            affinity = row.options.get(AFFINITY)
            pools.append(
                {
                    "id": p.id,
                    "protocol": (row.protocol or "").upper() or None,
                    "admin_state_up": p.enabled,
                    "lb_algorithm": "SOURCE_IP"
                    if row.selection_fields == ("ip_dst", "ip_src")
                    else "SOURCE_IP_PORT",
                    "session_persistence": {
                        "type": "SOURCE_IP",
                        "persistence_timeout": _int_or_text(affinity),
                    }
                    if affinity is not None
                    else None,
                    "healthmonitor_id": next(
                        (h.external_ids.get(HC_HM) for h in checks if h.external_ids.get(HC_HM)),
                        None,
                    ),
                    "members": [
                        {
                            "id": m.id,
                            "address": m.address,
                            "protocol_port": m.port,
                            "subnet_id": m.subnet_id or None,
                            "admin_state_up": statuses.get(m.id) != "OFFLINE",
                            "operating_status": statuses.get(m.id, "NO_MONITOR"),
                        }
                        for m in p.members
                    ],
                }
            )
            for h in checks:
                hm_id = h.external_ids.get(HC_HM, "")
                hm = hms.setdefault(
                    hm_id,
                    {
                        "id": hm_id,
                        "pool_id": p.id,
                        **{
                            name: _int_or_text(h.options[opt])
                            for opt, name in _HC_TO_HM
                            if opt in h.options
                        },
                        "checks": [],
                    },
                )
                hm["checks"].append({"vip": h.vip, "octavia:vip": h.external_ids.get(HC_VIP)})
    return {
        "id": state.name,
        "admin_state_up": base.enabled != "False",
        "vip_address": base.vip,
        "vip_port_id": base.vip_port_id,
        "additional_vips": [
            {"ip_address": ip, "port_id": port}
            for ip, port in zip(
                base.additional_vips or (),
                (
                    *(base.additional_vip_port_ids or ()),
                    *([None] * len(base.additional_vips or ())),
                ),
                strict=False,
            )
        ],
        "vip_fip": base.vip_fip,
        "additional_vip_fips": list(base.additional_vip_fips or ()),
        "listeners": sorted(listeners, key=lambda x: str(x["id"])),
        "pools": sorted(pools, key=lambda x: str(x["id"])),
        "healthmonitors": sorted(hms.values(), key=lambda x: str(x["id"])),
        "rows": [
            {
                "uuid": r.uuid,
                "protocol": r.protocol,
                "ls_refs": dict(r.ls_refs or ()),
                "lr_ref": list(r.lr_ref or ()),
                "switches": sorted(r.switches),
                "routers": sorted(r.routers),
            }
            for r in state.rows
        ],
        "issues": list(issues),
    }
