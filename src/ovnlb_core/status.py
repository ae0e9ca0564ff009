"""Octavia status reports: the operating-status roll-up of a row (spec 4.5).

Deviation from the reference (docs/compat.md, B36): a pool is not reported
OFFLINE merely because its row holds no member statuses at all.
"""

from __future__ import annotations

from typing import Any

from ovnlb_core.model import ProtocolRow
from ovnlb_core.octavia import OctaviaView

Payload = dict[str, list[dict[str, Any]]]

ACTIVE = "ACTIVE"
DELETED = "DELETED"
ERROR = "ERROR"


def entry(
    oid: str, provisioning: str | None = ACTIVE, operating: str | None = None
) -> dict[str, Any]:
    """One status entry (keys only for what is given)."""
    out: dict[str, Any] = {"id": oid}
    if provisioning is not None:
        out["provisioning_status"] = provisioning
    if operating is not None:
        out["operating_status"] = operating
    return out


def _worst(values: list[str]) -> str:
    if "ERROR" in values:
        return "ERROR"
    if "DEGRADED" in values:
        return "DEGRADED"
    return "ONLINE"


def rollup(lb_name: str, row: ProtocolRow, view: OctaviaView) -> Payload:
    """The roll-up of one row: every member status, every pool, listener, and the LB."""
    statuses = row.statuses()
    members = [entry(mid, ACTIVE, st) for mid, st in statuses.items()]
    pools = []
    pool_status: dict[str, str] = {}
    for p in row.pools:
        admin = view.admin("pools", p.id)
        if admin is None:
            admin = p.enabled
        mst = [statuses.get(m.id, "ONLINE") for m in p.members]
        if not admin:
            st = "OFFLINE"
        elif mst and all(s == "ERROR" for s in mst):
            st = "ERROR"
        elif "ERROR" in mst:
            st = "DEGRADED"
        else:
            st = "ONLINE"
        pool_status[p.id] = st
        pools.append(entry(p.id, ACTIVE, st))
    listeners = []
    listener_status = []
    for li in row.listeners:
        admin = view.admin("listeners", li.id)
        if admin is None:
            admin = li.enabled
        if not admin:
            st = "OFFLINE"
        else:
            refs = [pool_status.get(li.pool_id, "ONLINE")] if li.pool_id else []
            st = _worst(refs)
        listener_status.append(st)
        listeners.append(entry(li.id, ACTIVE, st))
    lb_admin = view.admin("loadbalancers", lb_name)
    if lb_admin is None:
        lb_admin = row.enabled != "False"
    lb_st = "OFFLINE" if not lb_admin else _worst(listener_status)
    return {
        "loadbalancers": [entry(lb_name, ACTIVE, lb_st)],
        "listeners": listeners,
        "pools": pools,
        "members": members,
    }
