"""Rendering: everything about describing rows, actions and load balancers as JSON lives
here (``ovnlb sync``'s report, ``ovnlb show``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ovnlb_core.formats import HC_HM, HC_OPTIONS, HC_VIP, is_disabled
from ovnlb_core.model import LoadBalancerState, ProtocolRow
from ovnlb_core.plan import (
    HealthCheckRow,
    LoadBalancerRow,
    MapDelta,
)
from ovnlb_core.sync.actions import SyncAction
from ovnlb_core.sync.desired import AFFINITY, hc_pool

__all__ = [
    "action_json",
    "hc_json",
    "row_json",
    "show_json",
]


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
            checks = [h for h in row.health_checks if hc_pool(h) == p.id]
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
        "admin_state_up": not is_disabled(base.enabled),
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
