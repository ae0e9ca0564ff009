"""Model -> the exact NB rows (the heart of ovnlb).

:func:`translate` turns a :class:`~ovnlb_core.model.LoadBalancerState` into
the :class:`~ovnlb_core.plan.LbRowSet` the reference driver would have
written: every external_ids key in its byte-exact format (spec 1.2, 1.3), the
``vips`` map (spec 1.4) and the switch/router attachments.
"""

from __future__ import annotations

import json
import uuid as uuidlib
from collections.abc import Iterable, Mapping

from ovnlb_core.model import LoadBalancerState, MemberEntry, ProtocolRow
from ovnlb_core.plan import LbRowSet, LoadBalancerRow

#: Namespace of the deterministic UUIDs ovnlb gives the rows it inserts.
ROW_NAMESPACE = uuidlib.UUID("2f7d4c1a-8e3b-4a5f-b6c9-0d1e2f3a4b5c")

KEY_ENABLED = "enabled"
KEY_VIP = "neutron:vip"
KEY_VIP_PORT = "neutron:vip_port_id"
KEY_ADD_VIPS = "neutron:additional_vips"
KEY_ADD_VIP_PORTS = "neutron:additional_vip_port_ids"
KEY_VIP_FIP = "neutron:vip_fip"
KEY_ADD_VIP_FIPS = "neutron:additional_vip_fips"
KEY_LR_REF = "lr_ref"
KEY_LS_REFS = "ls_refs"
KEY_MEMBER_STATUS = "neutron:member_status"
KEY_HMS = "octavia:healthmonitors"

HC_HM = "octavia:healthmonitor"
HC_POOL = "octavia:pool_id"
HC_VIP = "octavia:vip"


def row_uuid(*parts: str) -> str:
    """A deterministic UUID for a row ovnlb inserts (safe to re-insert after TRY_AGAIN)."""
    return str(uuidlib.uuid5(ROW_NAMESPACE, "/".join(parts)))


def dumps(value: object) -> str:
    """JSON exactly as the reference writes it (``json.dumps`` default separators)."""
    return json.dumps(value)


def is_ipv6(address: str) -> bool:
    """Address family test for already validated addresses."""
    return ":" in address


def bracket(address: str) -> str:
    """``[addr]`` for IPv6, ``addr`` for IPv4."""
    return f"[{address}]" if is_ipv6(address) else address


def vip_list(row: ProtocolRow) -> list[str]:
    """The row's VIP addresses: ``neutron:vip`` then the additional VIPs."""
    vips = [row.vip] if row.vip is not None else []
    return vips + list(row.additional_vips or ())


def external_ids(row: ProtocolRow) -> dict[str, str]:
    """The row's complete ``external_ids`` map."""
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
            ids[key] = value if isinstance(value, str) else ",".join(value)
    if row.ls_refs is not None:
        ids[KEY_LS_REFS] = dumps(dict(row.ls_refs))
    for li in row.listeners:
        ids[li.key] = li.value
    for p in row.pools:
        ids[p.key] = ",".join(m.text() for m in p.members)
    if row.member_status is not None:
        ids[KEY_MEMBER_STATUS] = dumps(dict(row.member_status))
    if row.healthmonitors is not None:
        ids[KEY_HMS] = dumps(list(row.healthmonitors))
    return ids


def compute_vips(row: ProtocolRow) -> dict[str, str]:
    """The ``vips`` map of a row (spec 1.4), from its listeners, pools and statuses."""
    if row.enabled == "False":
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
        if statuses is None:
            statuses = row.statuses()
        v4, v6 = _backends(pool.members, statuses)
        port = li.port
        for vip in vips:
            if is_ipv6(vip):
                if v6:
                    result[f"[{vip}]:{port}"] = v6
            elif v4:
                result[f"{vip}:{port}"] = v4
        if v4:
            for fip in fips4:
                result[f"{fip}:{port}"] = v4
    return result


def _backends(members: Iterable[MemberEntry], statuses: Mapping[str, str]) -> tuple[str, str]:
    v4: list[str] = []
    v6: list[str] = []
    for m in members:
        if statuses.get(m.id) == "OFFLINE":
            continue
        if m.is_ipv6:
            v6.append(f"[{m.address}]:{m.port}")
        else:
            v4.append(f"{m.address}:{m.port}")
    return ",".join(v4), ",".join(v6)


def translate_row(name: str, row: ProtocolRow) -> LoadBalancerRow:
    """One ``Load_Balancer`` row."""
    return LoadBalancerRow(
        uuid=row.uuid,
        name=name,
        protocol=row.protocol,
        vips=compute_vips(row),
        external_ids=external_ids(row),
        selection_fields=row.selection_fields,
        options=row.options,
        ip_port_mappings=row.ip_port_mappings,
        health_check=tuple(h.uuid for h in row.health_checks),
    )


def translate(state: LoadBalancerState) -> LbRowSet:
    """All NB rows of one Octavia load balancer."""
    lbs = {}
    hcs = {}
    switches = {}
    routers = {}
    for row in state.rows:
        lbs[row.uuid] = translate_row(state.name, row)
        for h in row.health_checks:
            hcs[h.uuid] = h
        if row.switches:
            switches[row.uuid] = row.switches
        if row.routers:
            routers[row.uuid] = row.routers
    return LbRowSet(lbs=lbs, health_checks=hcs, switches=switches, routers=routers)
