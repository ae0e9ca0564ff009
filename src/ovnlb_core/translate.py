"""Everything about translating the model into NB rows lives here: model -> exact rows.

:func:`translate` turns a :class:`~ovnlb_core.model.LoadBalancerState` into
the :class:`~ovnlb_core.plan.LbRowSet` the reference driver would have
written. The texts come from :mod:`ovnlb_core.formats`, the long ones
through an optional :class:`~ovnlb_core.textcache.RowCache`.

==========================================  ======================================
``Load_Balancer`` column                    computed by
==========================================  ======================================
``name``                                    the Octavia LB id (:func:`translate_row`)
``protocol``, ``selection_fields``,         copied from the :class:`ProtocolRow`
``options``, ``ip_port_mappings``
``vips``                                    :func:`compute_vips` (spec 1.4)
``external_ids``                            :func:`external_ids` (spec 1.2, 1.3)
``health_check``                            the row's health checks' UUIDs
``Logical_Switch/Router.load_balancer``     ``switches`` / ``routers`` of the row
==========================================  ======================================
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ovnlb_core.formats import HC_HM as HC_HM
from ovnlb_core.formats import HC_POOL as HC_POOL
from ovnlb_core.formats import HC_VIP as HC_VIP
from ovnlb_core.formats import (
    KEY_ADD_VIP_FIPS,
    KEY_ADD_VIP_PORTS,
    KEY_ADD_VIPS,
    KEY_ENABLED,
    KEY_HMS,
    KEY_LR_REF,
    KEY_LS_REFS,
    KEY_MEMBER_STATUS,
    KEY_VIP,
    KEY_VIP_FIP,
    KEY_VIP_PORT,
    endpoint,
    healthmonitors_text,
    is_disabled,
    join_list,
    ls_refs_text,
    member_status_text,
    pool_value,
)
from ovnlb_core.formats import ROW_NAMESPACE as ROW_NAMESPACE
from ovnlb_core.formats import bracket as bracket
from ovnlb_core.formats import dumps as dumps
from ovnlb_core.formats import is_ipv6 as is_ipv6
from ovnlb_core.formats import row_uuid as row_uuid
from ovnlb_core.model import LoadBalancerState, MemberEntry, ProtocolRow
from ovnlb_core.plan import LbRowSet, LoadBalancerRow
from ovnlb_core.textcache import RowCache

# ``X as X`` imports above: names other modules import from here, living in formats.py
# (and RowCache in textcache.py).
__all__ = [
    "RowCache",
    "compute_vips",
    "external_ids",
    "translate",
    "translate_row",
    "vip_list",
]


def vip_list(row: ProtocolRow) -> list[str]:
    """The row's VIP addresses: ``neutron:vip`` then the additional VIPs."""
    vips = [row.vip] if row.vip is not None else []
    return vips + list(row.additional_vips or ())


def external_ids(row: ProtocolRow, *, cache: RowCache | None = None) -> dict[str, str]:
    """The row's complete ``external_ids`` map (``cache``: see :class:`RowCache`)."""
    ids: dict[str, str] = dict(row.extra_ids)
    if row.enabled is not None:
        ids[KEY_ENABLED] = row.enabled
    optional: Iterable[tuple[str, str | tuple[str, ...] | None]] = (
        (KEY_VIP, row.vip),
        (KEY_VIP_PORT, row.vip_port_id),
        (KEY_ADD_VIPS, row.additional_vips),
        (KEY_ADD_VIP_PORTS, row.additional_vip_port_ids),
        (KEY_VIP_FIP, row.vip_fip),
        (KEY_ADD_VIP_FIPS, row.additional_vip_fips),
        (KEY_LR_REF, row.lr_ref),
    )
    for key, value in optional:
        if value is not None:
            ids[key] = value if isinstance(value, str) else join_list(value)
    if row.ls_refs is not None:
        ids[KEY_LS_REFS] = ls_refs_text(row.ls_refs)
    for li in row.listeners:
        ids[li.key] = li.value
    for p in row.pools:
        if cache is not None:
            ids[p.key] = cache.pool_text(p.id, p.members)
        else:
            ids[p.key] = pool_value(m.text() for m in p.members)
    if row.member_status is not None:
        if cache is not None:
            ids[KEY_MEMBER_STATUS] = cache.status_text(row.uuid, row.member_status)
        else:
            ids[KEY_MEMBER_STATUS] = member_status_text(row.member_status)
    if row.healthmonitors is not None:
        ids[KEY_HMS] = healthmonitors_text(row.healthmonitors)
    return ids


def compute_vips(row: ProtocolRow, *, cache: RowCache | None = None) -> dict[str, str]:
    """The ``vips`` map of a row (spec 1.4), from its listeners, pools and statuses."""
    if is_disabled(row.enabled):
        return {}
    result: dict[str, str] = {}
    vips = vip_list(row)
    fips4 = [f for f in ([row.vip_fip] if row.vip_fip else []) if not is_ipv6(f)]
    fips4 += [f for f in (row.additional_vip_fips or ()) if f and not is_ipv6(f)]
    statuses: Mapping[str, str] | None = None
    pools = {p.id: p for p in row.pools if p.enabled}
    for li in row.listeners:
        if not li.enabled or li.pool_id is None or li.pool_ref_disabled:
            continue
        pool = pools.get(li.pool_id)
        if pool is None or not pool.members:
            continue
        if cache is not None:
            v4, v6 = cache.backends(row, pool)
        else:
            if statuses is None:
                statuses = row.statuses()
            v4, v6 = _backends(pool.members, statuses)
        port = li.port
        for vip in vips:
            if is_ipv6(vip):
                if v6:
                    result[endpoint(vip, port)] = v6
            elif v4:
                result[endpoint(vip, port)] = v4
        if v4:
            for fip in fips4:
                result[endpoint(fip, port)] = v4
    return result


def _backends(members: Iterable[MemberEntry], statuses: Mapping[str, str]) -> tuple[str, str]:
    v4: list[str] = []
    v6: list[str] = []
    for m in members:
        if statuses.get(m.id) == "OFFLINE":
            continue
        (v6 if m.is_ipv6 else v4).append(m.backend())
    return ",".join(v4), ",".join(v6)


def translate_row(name: str, row: ProtocolRow, *, cache: RowCache | None = None) -> LoadBalancerRow:
    """One ``Load_Balancer`` row."""
    return LoadBalancerRow(
        uuid=row.uuid,
        name=name,
        protocol=row.protocol,
        vips=compute_vips(row, cache=cache),
        external_ids=external_ids(row, cache=cache),
        selection_fields=row.selection_fields,
        options=row.options,
        ip_port_mappings=row.ip_port_mappings,
        health_check=tuple(h.uuid for h in row.health_checks),
    )


def translate(state: LoadBalancerState, *, cache: RowCache | None = None) -> LbRowSet:
    """All NB rows of one Octavia load balancer.

    ``cache`` (a :class:`RowCache` the caller keeps between requests) makes the
    cost of the long strings proportional to what changed; the rows are
    identical with or without it.
    """
    lbs = {}
    hcs = {}
    switches = {}
    routers = {}
    for row in state.rows:
        lbs[row.uuid] = translate_row(state.name, row, cache=cache)
        for h in row.health_checks:
            hcs[h.uuid] = h
        if row.switches:
            switches[row.uuid] = row.switches
        if row.routers:
            routers[row.uuid] = row.routers
    return LbRowSet(lbs=lbs, health_checks=hcs, switches=switches, routers=routers)


# -- incremental translation ------------------------------------------------------------------
