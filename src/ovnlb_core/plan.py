"""Rows of one load balancer, and the minimal change between two such sets.

:class:`LbRowSet` is everything of one Octavia load balancer in NB: its
``Load_Balancer`` rows (one per protocol), their health checks, which
switches and routers hold them, and the two NAT columns ovnlb may clear.
:func:`diff` turns an actual and a desired set into a :class:`Plan`: row
inserts and deletes, per-key map mutations, and attach/detach operations.
A backend applies a plan as one OVSDB transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

import attrs

from ovnlb_core.frozen import FrozenMap, frozen_map

__all__ = [
    "Attachment",
    "HcUpdate",
    "HealthCheckRow",
    "LbRowSet",
    "LbUpdate",
    "LoadBalancerRow",
    "MapDelta",
    "NatColumns",
    "NatUpdate",
    "Plan",
    "apply",
    "diff",
    "diff_map",
]


def _frozen_map(value: Mapping[str, str]) -> Mapping[str, str]:
    return frozen_map(value)


def _sorted(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(value))


@attrs.frozen
class LoadBalancerRow:
    """One NB ``Load_Balancer`` row (references to health checks by UUID)."""

    uuid: str
    name: str
    protocol: str | None = None
    vips: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_map)
    external_ids: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_map)
    selection_fields: tuple[str, ...] = attrs.field(default=(), converter=_sorted)
    options: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_map)
    ip_port_mappings: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_map)
    health_check: tuple[str, ...] = attrs.field(default=(), converter=_sorted)


@attrs.frozen
class HealthCheckRow:
    """One NB ``Load_Balancer_Health_Check`` row."""

    uuid: str
    vip: str = ""
    options: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_map)
    external_ids: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_map)


@attrs.frozen
class NatColumns:
    """The two columns of a ``NAT`` row that ovnlb may clear (member FIP centralisation)."""

    uuid: str
    logical_port: str | None
    external_mac: str | None


def _lbs(value: Mapping[str, LoadBalancerRow]) -> FrozenMap[str, LoadBalancerRow]:
    return frozen_map(value)


def _hcs(value: Mapping[str, HealthCheckRow]) -> FrozenMap[str, HealthCheckRow]:
    return frozen_map(value)


def _names(value: Mapping[str, frozenset[str]]) -> FrozenMap[str, frozenset[str]]:
    return frozen_map(value)


def _nats(value: Mapping[str, NatColumns]) -> FrozenMap[str, NatColumns]:
    return frozen_map(value)


@attrs.frozen
class LbRowSet:
    """Everything of one Octavia load balancer in NB."""

    lbs: Mapping[str, LoadBalancerRow] = attrs.field(factory=dict, converter=_lbs)
    health_checks: Mapping[str, HealthCheckRow] = attrs.field(factory=dict, converter=_hcs)
    #: LB row UUID -> names of the ``Logical_Switch`` rows whose ``load_balancer`` holds it.
    switches: Mapping[str, frozenset[str]] = attrs.field(factory=dict, converter=_names)
    #: LB row UUID -> names of the ``Logical_Router`` rows whose ``load_balancer`` holds it.
    routers: Mapping[str, frozenset[str]] = attrs.field(factory=dict, converter=_names)
    nats: Mapping[str, NatColumns] = attrs.field(factory=dict, converter=_nats)


@attrs.frozen
class MapDelta:
    """Per-key change of a map column: keys to set, keys to delete."""

    set: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_map)
    delete: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.set) or bool(self.delete)


@attrs.frozen
class LbUpdate:
    """Mutations of one existing ``Load_Balancer`` row."""

    uuid: str
    set_protocol: bool = False
    protocol: str | None = None
    vips: MapDelta = MapDelta()
    external_ids: MapDelta = MapDelta()
    options: MapDelta = MapDelta()
    ip_port_mappings: MapDelta = MapDelta()
    selection_fields: tuple[str, ...] | None = None
    health_check_add: tuple[str, ...] = ()
    health_check_remove: tuple[str, ...] = ()


@attrs.frozen
class HcUpdate:
    """Mutations of one existing ``Load_Balancer_Health_Check`` row."""

    uuid: str
    vip: str | None = None
    options: MapDelta = MapDelta()
    external_ids: MapDelta = MapDelta()


@attrs.frozen
class Attachment:
    """A load balancer row in (or to take out of) a switch's or router's ``load_balancer``."""

    table: Literal["Logical_Switch", "Logical_Router"]
    name: str
    lb_uuid: str


@attrs.frozen
class NatUpdate:
    """Clear ``logical_port`` and/or ``external_mac`` of one ``NAT`` row."""

    uuid: str
    clear_logical_port: bool = False
    clear_external_mac: bool = False


@attrs.frozen
class Plan:
    """The minimal change from one :class:`LbRowSet` to another; one transaction."""

    lb_inserts: tuple[LoadBalancerRow, ...] = ()
    lb_updates: tuple[LbUpdate, ...] = ()
    lb_deletes: tuple[str, ...] = ()
    hc_inserts: tuple[HealthCheckRow, ...] = ()
    hc_updates: tuple[HcUpdate, ...] = ()
    hc_deletes: tuple[str, ...] = ()
    attach: tuple[Attachment, ...] = ()
    detach: tuple[Attachment, ...] = ()
    nat_updates: tuple[NatUpdate, ...] = ()

    def is_empty(self) -> bool:
        """True when applying the plan changes nothing."""
        return not any(attrs.astuple(self, recurse=False))

    def __add__(self, other: Plan) -> Plan:
        return Plan(
            *(
                a + b
                for a, b in zip(
                    attrs.astuple(self, recurse=False),
                    attrs.astuple(other, recurse=False),
                    strict=True,
                )
            )
        )


def diff_map(actual: Mapping[str, str], desired: Mapping[str, str]) -> MapDelta:
    """Keys to set and keys to delete to turn ``actual`` into ``desired``."""
    if actual == desired:
        return MapDelta()
    to_set = {k: v for k, v in desired.items() if actual.get(k) != v}
    to_del = tuple(sorted(k for k in actual if k not in desired))
    return MapDelta(to_set, to_del)


def _diff_lb(a: LoadBalancerRow, d: LoadBalancerRow) -> LbUpdate | None:
    if a == d:
        return None
    hc_a, hc_d = set(a.health_check), set(d.health_check)
    upd = LbUpdate(
        uuid=a.uuid,
        set_protocol=a.protocol != d.protocol,
        protocol=d.protocol,
        vips=diff_map(a.vips, d.vips),
        external_ids=diff_map(a.external_ids, d.external_ids),
        options=diff_map(a.options, d.options),
        ip_port_mappings=diff_map(a.ip_port_mappings, d.ip_port_mappings),
        selection_fields=None if a.selection_fields == d.selection_fields else d.selection_fields,
        health_check_add=tuple(sorted(hc_d - hc_a)),
        health_check_remove=tuple(sorted(hc_a - hc_d)),
    )
    return upd if upd != LbUpdate(uuid=a.uuid, protocol=d.protocol) else None


def _diff_hc(a: HealthCheckRow, d: HealthCheckRow) -> HcUpdate | None:
    if a == d:
        return None
    return HcUpdate(
        uuid=a.uuid,
        vip=None if a.vip == d.vip else d.vip,
        options=diff_map(a.options, d.options),
        external_ids=diff_map(a.external_ids, d.external_ids),
    )


def _attachments(
    table: Literal["Logical_Switch", "Logical_Router"], holders: Mapping[str, frozenset[str]]
) -> set[Attachment]:
    return {Attachment(table, name, lb) for lb, names in holders.items() for name in names}


def diff(actual: LbRowSet, desired: LbRowSet) -> Plan:
    """The minimal :class:`Plan` that turns ``actual`` into ``desired``.

    Rows are matched by UUID. Health checks that only a deleted row referenced
    are deleted explicitly (OVSDB would garbage-collect them anyway), and
    attachments of deleted rows are not listed (weak references vanish).
    """
    lb_inserts = tuple(r for u, r in sorted(desired.lbs.items()) if u not in actual.lbs)
    lb_deletes = tuple(sorted(u for u in actual.lbs if u not in desired.lbs))
    lb_updates = tuple(
        upd
        for u, r in sorted(desired.lbs.items())
        if u in actual.lbs and (upd := _diff_lb(actual.lbs[u], r)) is not None
    )
    hc_inserts = tuple(
        r for u, r in sorted(desired.health_checks.items()) if u not in actual.health_checks
    )
    hc_deletes = tuple(sorted(u for u in actual.health_checks if u not in desired.health_checks))
    hc_updates = tuple(
        hupd
        for u, r in sorted(desired.health_checks.items())
        if u in actual.health_checks and (hupd := _diff_hc(actual.health_checks[u], r)) is not None
    )
    deleted = set(lb_deletes)
    have = _attachments("Logical_Switch", actual.switches) | _attachments(
        "Logical_Router", actual.routers
    )
    want = _attachments("Logical_Switch", desired.switches) | _attachments(
        "Logical_Router", desired.routers
    )
    key = attrs.astuple
    attach = tuple(sorted(want - have, key=key))
    detach = tuple(sorted((a for a in have - want if a.lb_uuid not in deleted), key=key))
    nat_updates = []
    for u, d in sorted(desired.nats.items()):
        a = actual.nats.get(u)
        if a is None:
            continue
        clear_lp = a.logical_port is not None and d.logical_port is None
        clear_mac = a.external_mac is not None and d.external_mac is None
        if clear_lp or clear_mac:
            nat_updates.append(NatUpdate(u, clear_lp, clear_mac))
    return Plan(
        lb_inserts=lb_inserts,
        lb_updates=lb_updates,
        lb_deletes=lb_deletes,
        hc_inserts=hc_inserts,
        hc_updates=hc_updates,
        hc_deletes=hc_deletes,
        attach=attach,
        detach=detach,
        nat_updates=tuple(nat_updates),
    )


def _apply_map(m: Mapping[str, str], delta: MapDelta) -> dict[str, str]:
    out = dict(m)
    for k in delta.delete:
        out.pop(k, None)
    out.update(delta.set)
    return out


def apply(rows: LbRowSet, plan: Plan) -> LbRowSet:
    """Apply ``plan`` to ``rows`` the way OVSDB would (pure; used to prove plans)."""
    lbs = {u: r for u, r in rows.lbs.items() if u not in set(plan.lb_deletes)}
    for r in plan.lb_inserts:
        lbs[r.uuid] = r
    for upd in plan.lb_updates:
        r = lbs[upd.uuid]
        hcs = (set(r.health_check) - set(upd.health_check_remove)) | set(upd.health_check_add)
        lbs[upd.uuid] = attrs.evolve(
            r,
            protocol=upd.protocol if upd.set_protocol else r.protocol,
            vips=_apply_map(r.vips, upd.vips),
            external_ids=_apply_map(r.external_ids, upd.external_ids),
            options=_apply_map(r.options, upd.options),
            ip_port_mappings=_apply_map(r.ip_port_mappings, upd.ip_port_mappings),
            selection_fields=r.selection_fields
            if upd.selection_fields is None
            else upd.selection_fields,
            health_check=tuple(hcs),
        )
    hcs_map = {u: h for u, h in rows.health_checks.items() if u not in set(plan.hc_deletes)}
    for h in plan.hc_inserts:
        hcs_map[h.uuid] = h
    for hu in plan.hc_updates:
        h = hcs_map[hu.uuid]
        hcs_map[hu.uuid] = attrs.evolve(
            h,
            vip=h.vip if hu.vip is None else hu.vip,
            options=_apply_map(h.options, hu.options),
            external_ids=_apply_map(h.external_ids, hu.external_ids),
        )
    # Strong references: a health check nobody references is garbage collected.
    referenced = {u for r in lbs.values() for u in r.health_check}
    hcs_map = {u: h for u, h in hcs_map.items() if u in referenced}

    def holders(table: str, current: Mapping[str, frozenset[str]]) -> dict[str, frozenset[str]]:
        out = {u: set(names) for u, names in current.items() if u in lbs}
        for a in plan.detach:
            if a.table == table and a.lb_uuid in out:
                out[a.lb_uuid].discard(a.name)
        for a in plan.attach:
            if a.table == table and a.lb_uuid in lbs:
                out.setdefault(a.lb_uuid, set()).add(a.name)
        return {u: frozenset(n) for u, n in out.items() if n}

    nats = dict(rows.nats)
    for nu in plan.nat_updates:
        n = nats.get(nu.uuid)
        if n is not None:
            nats[nu.uuid] = NatColumns(
                n.uuid,
                None if nu.clear_logical_port else n.logical_port,
                None if nu.clear_external_mac else n.external_mac,
            )
    return LbRowSet(
        lbs=lbs,
        health_checks=hcs_map,
        switches=holders("Logical_Switch", rows.switches),
        routers=holders("Logical_Router", rows.routers),
        nats=nats,
    )
