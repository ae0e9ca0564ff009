"""Dispatch: everything about which handlers an NB or SB change goes to, a watcher's
start-up catch-up and the de-duplication of actions lives here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ovnlb_core.events.health import (
    member_health_actions,
    service_monitor_event,
    service_monitor_events,
)
from ovnlb_core.events.memberfips import member_fip_actions
from ovnlb_core.events.model import LbAction, RowChange, compose, rows_fn
from ovnlb_core.events.routers import router_interface_actions, settle_routers
from ovnlb_core.events.vipfips import reconcile_vip_fips, vip_fip_actions
from ovnlb_core.nb import NbReader, Row

__all__ = [
    "NB_TABLES",
    "catch_up_actions",
    "dedupe",
    "nb_actions",
    "sb_actions",
]


NB_TABLES = ("Logical_Router_Port", "Logical_Switch_Port", "NAT")


def nb_actions(reader: NbReader, change: RowChange) -> list[LbAction]:
    """Every action an NB row change calls for (router interfaces, VIP FIPs, member FIPs)."""
    if change.table == "Logical_Router_Port":
        return router_interface_actions(reader, change)
    if change.table == "Logical_Switch_Port":
        return router_interface_actions(reader, change) + vip_fip_actions(reader, change)
    if change.table == "NAT":
        acts = vip_fip_actions(reader, change)
        vip_lbs = {a.lb_id for a in acts}
        return acts + [a for a in member_fip_actions(reader, change) if a.lb_id not in vip_lbs]
    return []


def sb_actions(reader: NbReader, change: RowChange, report: bool = True) -> list[LbAction]:
    """Every action a SB ``Service_Monitor`` change calls for, in event order."""
    if change.table != "Service_Monitor":
        return []
    out: list[LbAction] = []
    for event in service_monitor_events(change):
        out += member_health_actions(reader, event, report)
    return out


def catch_up_actions(
    reader: NbReader, lb_names: Iterable[str], service_monitors: Iterable[Row] = ()
) -> list[LbAction]:
    """What a watcher applies on start: every load balancer's routers, VIP FIPs and member FIPs
    reconciled, then every Service_Monitor row's status (reported only when it changes a row).

    Service_Monitor rows deleted while nobody watched are not detected (the
    member keeps its last status until a new Service_Monitor event).
    """
    out = [
        LbAction(name, "catch_up", compose(rows_fn(settle_routers), reconcile_vip_fips))
        for name in lb_names
    ]
    for sm in service_monitors:
        out += member_health_actions(reader, service_monitor_event(sm), report=False)
    return out


def dedupe(actions: Sequence[LbAction]) -> list[LbAction]:
    """Drop repeated level-based actions (same LB, kind and scope), keeping the first.

    Service_Monitor actions are kept in order: each carries its own event.
    """
    seen: set[tuple[str, str, str]] = set()
    out: list[LbAction] = []
    for a in actions:
        if a.kind != "member_health":
            key = (a.lb_id, a.kind, a.scope)
            if key in seen:
                continue
            seen.add(key)
        out.append(a)
    return out
