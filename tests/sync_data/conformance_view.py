"""Octavia's view of a conformance file at a step, in Octavia API v2 JSON shapes.

The conformance files give Octavia's view as provider dicts (``octavia_changes``,
conformance-format.md 4.1). These helpers replay those deltas, drop what the
step's status reports declared DELETED, and render the result as the lists
the Octavia and Neutron APIs answer (the format of docs/sync.md), so that a
test can feed it to a real source. The NB side is the file's Neutron rows:
``nb_initial`` plus every ``nb_changes`` / ``nb_changes_after`` up to the step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ovnlb_core.octavia import OctaviaView
from ovnlb_core.rawops import RawOp, initial_ops

KINDS = ("loadbalancers", "listeners", "pools", "members", "healthmonitors")


def compared_steps(doc: Mapping[str, Any]) -> list[int]:
    """Indexes of the steps the conformance check compares (conformance-format.md 7)."""
    div = doc.get("diverged_after")
    return [
        s["index"]
        for s in doc["steps"]
        if not s.get("known_bugs") and (div is None or s["index"] <= div)
    ]


def step(doc: Mapping[str, Any], index: int) -> Mapping[str, Any]:
    """The step with that index."""
    return next(s for s in doc["steps"] if s["index"] == index)


def _drop_deleted(view: OctaviaView, payloads: Sequence[Mapping[str, Any]]) -> None:
    for payload in payloads:
        for kind in KINDS:
            for e in payload.get(kind, ()):
                if e.get("provisioning_status") != "DELETED":
                    continue
                getattr(view, kind).pop(e["id"], None)
                if kind == "loadbalancers":
                    for k in ("listeners", "pools"):
                        table = getattr(view, k)
                        for oid, obj in list(table.items()):
                            if obj.get("loadbalancer_id") == e["id"]:
                                table.pop(oid)
    for mid, m in list(view.members.items()):
        if m.get("pool_id") not in view.pools:
            view.members.pop(mid)
    for hid, h in list(view.healthmonitors.items()):
        if h.get("pool_id") not in view.pools:
            view.healthmonitors.pop(hid)


def view_at(doc: Mapping[str, Any], index: int) -> dict[str, Any]:
    """Octavia's view after step ``index`` as an API document (docs/sync.md)."""
    view = OctaviaView()
    fips: dict[str, str] = {}
    for s in doc["steps"]:
        if s["index"] > index:
            break
        view.apply_changes(s.get("octavia_changes") or {})
        req = s["request"]
        if req["op"] == "fip_associate":
            fips[req["floating_ip_address"]] = req["port_id"]
        elif req["op"] == "fip_disassociate":
            fips.pop(req["floating_ip_address"], None)
        _drop_deleted(view, s["expect"]["statuses"])
    return api_document(doc, view, fips)


def _lb_api(lb: Mapping[str, Any], view: OctaviaView) -> dict[str, Any]:
    lb_id = lb["loadbalancer_id"]
    return {
        "id": lb_id,
        "name": lb.get("name") or "",
        "provider": "ovn",
        "admin_state_up": lb.get("admin_state_up", True),
        "vip_address": lb.get("vip_address"),
        "vip_port_id": lb.get("vip_port_id"),
        "vip_network_id": lb.get("vip_network_id"),
        "vip_subnet_id": lb.get("vip_subnet_id"),
        "additional_vips": [
            {"subnet_id": a.get("subnet_id"), "ip_address": a["ip_address"]}
            for a in lb.get("additional_vips") or ()
        ],
        "provisioning_status": "ACTIVE",
        "operating_status": "ONLINE",
        "listeners": [
            {"id": i} for i, li in view.listeners.items() if li.get("loadbalancer_id") == lb_id
        ],
        "pools": [{"id": i} for i, p in view.pools.items() if p.get("loadbalancer_id") == lb_id],
    }


def api_document(
    doc: Mapping[str, Any], view: OctaviaView, fips: Mapping[str, str]
) -> dict[str, Any]:
    """Render a provider-dict view as Octavia / Neutron API lists."""
    listeners = [
        {
            "id": li["listener_id"],
            "protocol": li["protocol"],
            "protocol_port": li["protocol_port"],
            # Real Octavia clears a deleted pool from its listener (4.1 caveat).
            "default_pool_id": li.get("default_pool_id")
            if li.get("default_pool_id") in view.pools
            else None,
            "admin_state_up": li.get("admin_state_up", True),
            "loadbalancers": [{"id": li["loadbalancer_id"]}],
            "allowed_cidrs": None,
        }
        for li in view.listeners.values()
    ]
    pools = []
    members: dict[str, list[dict[str, Any]]] = {}
    for p in view.pools.values():
        pid = p["pool_id"]
        hm = next((h for h in view.healthmonitors.values() if h.get("pool_id") == pid), None)
        mine = [m for m in view.members.values() if m.get("pool_id") == pid]
        pools.append(
            {
                "id": pid,
                "protocol": p["protocol"],
                "lb_algorithm": p.get("lb_algorithm"),
                "session_persistence": p.get("session_persistence"),
                "admin_state_up": p.get("admin_state_up", True),
                "loadbalancers": [{"id": p["loadbalancer_id"]}],
                "listeners": [{"id": p["listener_id"]}]
                if p.get("listener_id") in view.listeners
                else [],
                "healthmonitor_id": hm["healthmonitor_id"] if hm else None,
                "members": [{"id": m["member_id"]} for m in mine],
            }
        )
        members[pid] = [
            {
                "id": m["member_id"],
                "address": m["address"],
                "protocol_port": m["protocol_port"],
                "subnet_id": m.get("subnet_id"),
                "admin_state_up": m.get("admin_state_up", True),
                "weight": m.get("weight"),
                "backup": m.get("backup", False),
                "monitor_address": m.get("monitor_address"),
                "monitor_port": m.get("monitor_port"),
                "operating_status": "NO_MONITOR",
                "provisioning_status": "ACTIVE",
            }
            for m in mine
        ]
    hms = [
        {
            "id": h["healthmonitor_id"],
            "type": h.get("type"),
            "delay": h.get("delay"),
            "timeout": h.get("timeout"),
            "max_retries": h.get("max_retries"),
            "max_retries_down": h.get("max_retries_down"),
            "admin_state_up": h.get("admin_state_up", True),
            "pools": [{"id": h["pool_id"]}],
        }
        for h in view.healthmonitors.values()
    ]
    floatingips = [
        {
            "id": f["id"],
            "floating_ip_address": f["floating_ip_address"],
            "floating_network_id": f.get("floating_network_id"),
            "port_id": fips.get(f["floating_ip_address"]),
            "fixed_ip_address": None,
        }
        for f in doc["neutron"].get("floating_ips", [])
    ]
    return {
        "format": "ovnlb-octavia-view/1",
        "loadbalancers": [_lb_api(lb, view) for lb in view.loadbalancers.values()],
        "listeners": listeners,
        "pools": pools,
        "members": members,
        "healthmonitors": hms,
        "neutron": {
            "subnets": doc["neutron"]["subnets"],
            "floatingips": floatingips,
            "ports": [
                {"id": p["id"], "network_id": p["network_id"], "fixed_ips": p["fixed_ips"]}
                for p in doc["neutron"]["ports"]
            ],
        },
    }


def nb_batches(doc: Mapping[str, Any], index: int) -> list[Sequence[RawOp]]:
    """Neutron's NB writes up to step ``index``: one transaction each, in order."""
    batches: list[Sequence[RawOp]] = [initial_ops(doc["nb_initial"])]
    for s in doc["steps"]:
        if s["index"] > index:
            break
        for key in ("nb_changes", "nb_changes_after"):
            if s.get(key):
                batches.append(s[key])
    return batches
