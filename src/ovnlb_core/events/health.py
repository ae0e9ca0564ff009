"""SB Service_Monitor (spec 4.4, 4.5, deviations B16-B18): everything about turning a
Service_Monitor row into member-health events and actions lives here (the one decoder of
the row, :func:`service_monitor_event`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ovnlb_core import requests as rq
from ovnlb_core.events.model import LbAction, RowChange
from ovnlb_core.formats import mapping_key, mapping_value
from ovnlb_core.model import LoadBalancerState
from ovnlb_core.nb import NbReader, Row
from ovnlb_core.pipeline import RequestFn
from ovnlb_core.rows import find_lbs_by_mapping

__all__ = [
    "member_health_actions",
    "service_monitor_event",
    "service_monitor_events",
]


def _sm_value(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return value[0] if value else None
    return value


def service_monitor_event(row: Row, deleted: bool = False) -> dict[str, Any]:
    """A SB ``Service_Monitor`` row as a ``member_health`` event (conformance-format 5.2)."""
    return {
        "type": "delete" if deleted else "update",
        "row": {
            "ip": str(row.get("ip", "")),
            "port": int(row.get("port", 0) or 0),
            "protocol": _sm_value(row.get("protocol")) or "tcp",
            "logical_port": str(row.get("logical_port", "")),
            "src_ip": str(row.get("src_ip", "")),
            "status": _sm_value(row.get("status")),
        },
    }


def service_monitor_events(change: RowChange) -> list[dict[str, Any]]:
    """The ``member_health`` events of a Service_Monitor change.

    Created and updated rows are ``update`` events (a row ovn-northd creates
    already carries a status, or none: up); deleted rows ``delete`` events. A
    change of the identity columns is a delete of the old backend and an
    update of the new one. A change that touches none of the columns the
    status depends on gives nothing.
    """
    ident = ("ip", "port", "protocol", "logical_port", "src_ip")
    if change.new is None:
        return [service_monitor_event(change.old, deleted=True)] if change.old else []
    if change.old is None:
        return [service_monitor_event(change.new)]
    if any(change.old.get(c) != change.new.get(c) for c in ident):
        return [service_monitor_event(change.old, deleted=True), service_monitor_event(change.new)]
    if _sm_value(change.old.get("status")) == _sm_value(change.new.get("status")):
        return []
    return [service_monitor_event(change.new)]


def _health_fn(event: Mapping[str, Any]) -> RequestFn:
    row = event["row"]
    deleted = event.get("type") == "delete"

    def fn(ctx: rq.Context, state: LoadBalancerState | None) -> rq.Outcome:
        if state is None:
            return rq.Outcome(state)
        new, reports = rq.member_health(
            ctx,
            state,
            row["ip"],
            int(row["port"]),
            row["protocol"],
            row["logical_port"],
            row["src_ip"],
            row.get("status"),
            deleted,
        )
        return rq.Outcome(new, (rq.merge_payloads(reports),) if reports else ())

    return fn


def member_health_actions(
    reader: NbReader, event: Mapping[str, Any], report: bool = True
) -> list[LbAction]:
    """One action per load balancer whose ``ip_port_mappings`` name the monitored backend."""
    row = event["row"]
    key = mapping_key(row["ip"])
    value = mapping_value(row["logical_port"], row["src_ip"])
    return [
        LbAction(name, "member_health", _health_fn(event), report)
        for name in find_lbs_by_mapping(reader, key, value, row["protocol"])
    ]
