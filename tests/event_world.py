"""The event tests' NB worlds: the public conformance files' topology and requests,
plus extra networks, a second router and router interfaces written as Neutron's raw
row operations; and the helpers that apply NB changes and their events (memory backend).
Shared by tests/core/test_events.py and tests/server/test_watch.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ovnlb_backends.base import Backend
from ovnlb_backends.memory import MemoryBackend
from ovnlb_backends.service.driver import OvnLbDriver, handle
from ovnlb_backends.service.replay import load
from ovnlb_core import events as ev
from ovnlb_core.nb import NbReader
from ovnlb_core.octavia import OctaviaView
from ovnlb_core.plan import Plan
from ovnlb_core.rawops import initial_ops
from ovnlb_core.topology import Subnet, subnets_from_neutron
from paths import CONFORMANCE_DIR

CONF = CONFORMANCE_DIR
DOC01 = load(str(CONF / "01_full_sequence.json"))
DOC12 = load(str(CONF / "12_hm_events.json"))

LB1 = "e5aff8c0-9670-5640-9b24-c161517ad2b7"
R1 = "neutron-956a7973-dc36-5da2-93d8-e01da294069d"
R1_ID = "956a7973-dc36-5da2-93d8-e01da294069d"
PRIVATE = "neutron-81a2323d-585e-5d09-b469-affb041ee6a7"
VIP_PORT = "7a4c9033-8f81-5921-8aff-8df562b53895"
VM1_PORT = "85ed7074-c8d8-5056-904f-26ada52ea414"  # 10.0.0.11, member 1
VM3_PORT = "a16aafb8-e9e5-5699-ab87-9a2d1e712870"  # 10.0.0.13, no member
FIP_NAT = "nat-6ef31e8f-a8e7-5b28-a0d1-422438e8bd52"

# Extra networks the tests add (ids are fixed UUID-shaped strings).
EXTRA: dict[str, tuple[str, str]] = {
    # key: (network id, subnet CIDR prefix "10.N")
    "e1": ("11111111-1111-4111-8111-111111111111", "10.21"),
    "e2": ("22222222-2222-4222-8222-222222222222", "10.22"),
}
R2 = "neutron-33333333-3333-4333-8333-333333333333"
LB2 = "44444444-4444-4444-8444-444444444444"  # VIP on e1
LB3 = "55555555-5555-4555-8555-555555555555"  # VIP on e2, member on private


def ls_of(key: str) -> str:
    return f"neutron-{EXTRA[key][0]}"


def subnet_id(key: str) -> str:
    return EXTRA[key][0].replace("1111", "aaaa", 1).replace("2222", "bbbb", 1)


# -- worlds ------------------------------------------------------------------------------------


def tables(reader: NbReader) -> dict[str, dict[str, dict[str, Any]]]:
    return {t: {u: dict(r) for u, r in reader.rows(t).items()} for t in ev.NB_TABLES}


def row_changes(
    before: Mapping[str, Mapping[str, Mapping[str, Any]]],
    after: Mapping[str, Mapping[str, Mapping[str, Any]]],
) -> list[ev.RowChange]:
    out = []
    for t in ev.NB_TABLES:
        for u in sorted(set(before[t]) | set(after[t])):
            old, new = before[t].get(u), after[t].get(u)
            if old != new:
                out.append(ev.RowChange(t, u, old, new))
    return out


def names(reader: NbReader, table: str, uuids: Sequence[str]) -> list[str]:
    rows = reader.rows(table)
    return sorted(str(rows[u]["name"]) for u in uuids if u in rows)


def ports_of(reader: NbReader, table: str, name: str) -> list[str]:
    child = "Logical_Switch_Port" if table == "Logical_Switch" else "Logical_Router_Port"
    found = reader.by_name(table, name)
    return names(reader, child, found[0][1].get("ports", ())) if found else []


def network_ops(key: str) -> list[dict[str, Any]]:
    """A tenant network with one VM port (``10.N.0.5``)."""
    net, prefix = EXTRA[key]
    ls = ls_of(key)
    vm = net[:-4] + "0005"
    return [
        {
            "op": "insert",
            "table": "Logical_Switch_Port",
            "row": {
                "_name": vm,
                "name": vm,
                "addresses": [f"fa:16:3e:00:{prefix[-2:]}:05 {prefix}.0.5"],
                "external_ids": {
                    "neutron:cidrs": f"{prefix}.0.5/24",
                    "neutron:device_owner": "compute:nova",
                    "neutron:network_name": ls,
                },
            },
        },
        {
            "op": "insert",
            "table": "Logical_Switch",
            "row": {"_name": ls, "name": ls, "ports": [vm], "external_ids": {}},
        },
    ]


def router_ops() -> list[dict[str, Any]]:
    return [{"op": "insert", "table": "Logical_Router", "row": {"_name": R2, "name": R2}}]


def iface_port(lr: str, key: str) -> str:
    return f"{lr[8:16]}-{EXTRA[key][0][:4]}-4000-8000-{EXTRA[key][0][-12:]}"


def add_interface_ops(reader: NbReader, lr: str, key: str) -> list[dict[str, Any]]:
    """Neutron's writes for ``router add interface``: LRP + router-type LSP."""
    prefix = EXTRA[key][1]
    ls = ls_of(key)
    port = iface_port(lr, key)
    lrp = f"lrp-{port}"
    gw = f"{prefix}.0.1/24" if lr == R1 else f"{prefix}.0.254/24"
    return [
        {
            "op": "insert",
            "table": "Logical_Router_Port",
            "row": {
                "_name": lrp,
                "name": lrp,
                "mac": "fa:16:3e:00:00:01",
                "networks": [gw],
                "external_ids": {
                    "neutron:is_ext_gw": "False",
                    "neutron:network_name": ls,
                    "neutron:router_name": lr,
                },
            },
        },
        {
            "op": "update",
            "table": "Logical_Router",
            "name": lr,
            "columns": {"ports": [*ports_of(reader, "Logical_Router", lr), lrp]},
        },
        {
            "op": "insert",
            "table": "Logical_Switch_Port",
            "row": {
                "_name": port,
                "name": port,
                "type": "router",
                "addresses": ["router"],
                "options": {"router-port": lrp},
                "external_ids": {
                    "neutron:cidrs": gw,
                    "neutron:device_owner": "network:router_interface",
                    "neutron:device_id": lr[8:],
                    "neutron:network_name": ls,
                },
            },
        },
        {
            "op": "update",
            "table": "Logical_Switch",
            "name": ls,
            "columns": {"ports": [*ports_of(reader, "Logical_Switch", ls), port]},
        },
    ]


def remove_interface_ops(reader: NbReader, lr: str, key: str) -> list[dict[str, Any]]:
    port = iface_port(lr, key)
    lrp = f"lrp-{port}"
    ls = ls_of(key)
    return [
        {
            "op": "update",
            "table": "Logical_Router",
            "name": lr,
            "columns": {"ports": [p for p in ports_of(reader, "Logical_Router", lr) if p != lrp]},
        },
        {"op": "delete", "table": "Logical_Router_Port", "name": lrp},
        {
            "op": "update",
            "table": "Logical_Switch",
            "name": ls,
            "columns": {"ports": [p for p in ports_of(reader, "Logical_Switch", ls) if p != port]},
        },
        {"op": "delete", "table": "Logical_Switch_Port", "name": port},
    ]


def extra_subnets() -> list[dict[str, Any]]:
    return [
        {"id": subnet_id(k), "network_id": net, "cidr": f"{prefix}.0.0/24"}
        for k, (net, prefix) in EXTRA.items()
    ]


def replay_steps(doc: Mapping[str, Any], upto: int) -> tuple[MemoryBackend, OvnLbDriver]:
    """A memory backend with the file's topology and its steps ``0..upto-1`` applied."""
    backend = MemoryBackend()
    return backend, replay_onto(backend, doc, upto)


def replay_onto(backend: Backend, doc: Mapping[str, Any], upto: int) -> OvnLbDriver:
    """The file's topology and steps ``0..upto-1`` written through ``backend``; its driver."""
    backend.apply_raw(initial_ops(doc["nb_initial"]))
    subnets = subnets_from_neutron([*doc["neutron"]["subnets"], *extra_subnets()])
    driver = OvnLbDriver(backend, subnets, OctaviaView())
    for step in doc["steps"][:upto]:
        if step.get("nb_changes"):
            backend.apply_raw(step["nb_changes"])
        driver.view.apply_changes(step.get("octavia_changes") or {})
        handle(driver, step["request"])
        if step.get("nb_changes_after"):
            backend.apply_raw(step["nb_changes_after"])
    return driver


def make_lb(driver: OvnLbDriver, lb_id: str, key: str) -> None:
    net, prefix = EXTRA[key]
    driver.lb_create(
        {
            "loadbalancer_id": lb_id,
            "vip_address": f"{prefix}.0.100",
            "vip_network_id": net,
            "vip_subnet_id": subnet_id(key),
            "admin_state_up": True,
        }
    )


def add_member(driver: OvnLbDriver, lb_id: str, address: str, subnet: str, n: int) -> None:
    pool = f"{lb_id[:8]}-0000-4000-8000-{n:012d}"
    if not any(
        f"pool_{pool}" in r.get("external_ids", {})
        for r in driver.backend.reader().rows("Load_Balancer").values()
    ):
        driver.pool_create(
            {
                "pool_id": pool,
                "loadbalancer_id": lb_id,
                "listener_id": None,
                "protocol": "TCP",
                "lb_algorithm": "SOURCE_IP_PORT",
                "admin_state_up": True,
            }
        )
    driver.member_create(
        {
            "member_id": f"{lb_id[:8]}-1111-4000-8000-{n:012d}",
            "pool_id": pool,
            "address": address,
            "protocol_port": 80,
            "subnet_id": subnet,
            "admin_state_up": True,
        }
    )


def world() -> tuple[MemoryBackend, OvnLbDriver]:
    """01's lb1 (VIP private, two members) + networks e1, e2, router r2 (no interfaces),
    lb2 (VIP on e1) and lb3 (VIP on e2, a member on private)."""
    backend, driver = replay_steps(DOC01, 5)
    backend.apply_raw(network_ops("e1") + network_ops("e2") + router_ops())
    make_lb(driver, LB2, "e1")
    make_lb(driver, LB3, "e2")
    add_member(driver, LB3, "10.0.0.13", "4d185484-6775-5505-a034-bc45d98bf81b", 1)
    return backend, driver


def apply_nb(
    backend: MemoryBackend,
    ops: Sequence[Mapping[str, Any]],
    subnets: Mapping[str, Subnet] | None = None,
) -> list[tuple[str, Plan]]:
    """Neutron's writes, then the events they cause (each action one transaction)."""
    before = tables(backend.reader())
    backend.apply_raw(ops)
    changes = row_changes(before, tables(backend.reader()))
    return apply_changes(backend, changes, subnets)


def apply_changes(
    backend: MemoryBackend,
    changes: Sequence[ev.RowChange],
    subnets: Mapping[str, Subnet] | None = None,
) -> list[tuple[str, Plan]]:
    reader = backend.reader()
    actions = ev.dedupe([a for c in changes for a in ev.nb_actions(reader, c)])
    return apply_actions(backend, actions, subnets)


def apply_actions(
    backend: MemoryBackend,
    actions: Sequence[ev.LbAction],
    subnets: Mapping[str, Subnet] | None = None,
    view: OctaviaView | None = None,
) -> list[tuple[str, Plan]]:
    out = []
    for a in actions:
        ap = ev.plan_action(backend.reader(), a, subnets, view)
        backend.commit(ap.plan, basis=ap.actual)
        out.append((a.lb_id, ap.plan))
    return out


def lb_rows(reader: NbReader, lb_id: str) -> list[dict[str, Any]]:
    return [dict(r) for _u, r in reader.by_name("Load_Balancer", lb_id)]


def holders(reader: NbReader, table: str, lb_id: str) -> set[str]:
    uuids = {u for u, _r in reader.by_name("Load_Balancer", lb_id)}
    return {
        str(r["name"])
        for r in reader.rows(table).values()
        if uuids & set(r.get("load_balancer", ()))
    }


def ext(reader: NbReader, lb_id: str) -> dict[str, str]:
    rows = lb_rows(reader, lb_id)
    assert len(rows) == 1
    return dict(rows[0]["external_ids"])


def member_nat_ops(port: str, fip_id: str, ip: str, logical_ip: str) -> list[dict[str, Any]]:
    name = f"nat-{fip_id}"
    return [
        {
            "op": "insert",
            "table": "NAT",
            "row": {
                "_name": name,
                "type": "dnat_and_snat",
                "external_ip": ip,
                "logical_ip": logical_ip,
                "logical_port": port,
                "external_mac": "fa:16:3e:77:77:77",
                "external_ids": {
                    "neutron:fip_id": fip_id,
                    "neutron:fip_port_id": port,
                    "neutron:fip_external_mac": "fa:16:3e:77:77:77",
                    "neutron:router_name": R1,
                },
            },
        }
    ]


def nat_of(reader: NbReader, fip_id: str) -> dict[str, Any]:
    return next(
        dict(r)
        for r in reader.rows("NAT").values()
        if r["external_ids"].get("neutron:fip_id") == fip_id
    )


def with_router_nat(reader: NbReader, ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
    lr = reader.by_name("Logical_Router", R1)[0][1]
    nats = reader.rows("NAT")
    current = [f"nat-{nats[u]['external_ids']['neutron:fip_id']}" for u in lr.get("nat", ())]
    new = [op["row"]["_name"] for op in ops if op["op"] == "insert"]
    return [
        *ops,
        {"op": "update", "table": "Logical_Router", "name": R1, "columns": {"nat": current + new}},
    ]
