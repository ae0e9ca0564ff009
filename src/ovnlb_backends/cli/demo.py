"""The documented walkthrough (spec section 11) on any backend.

A load balancer with VIP 172.24.4.9 on a network behind a router, a TCP
listener on 64015, a SOURCE_IP_PORT pool, member 10.10.10.10:63015, a TCP
health monitor, then the member disabled. The identifiers are the spec's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TextIO

from ovnlb_backends.base import Backend
from ovnlb_backends.nbctl.format import render_row
from ovnlb_backends.service.driver import OvnLbDriver
from ovnlb_core.nb import NbReader
from ovnlb_core.rawops import RawOp
from ovnlb_core.topology import Subnet

LB = "94e7c431-912b-496c-a247-d52875d44ac7"
NET = "ee97665d-69d0-4995-a275-27855359956a"
VIP_SUBNET = "3eed0c05-6527-400e-bb80-df6e59d248f1"
VIP_PORT = "c98e52d0-5965-4b22-8a17-a374f4399193"
ROUTER = "3d2a873b-b5b4-4d14-ac24-47a835fd47b2"
MEMBER_NET = "5b2c8d7e-1f3a-4c9b-8e6d-2a7f0c1b9d34"
MEMBER_SUBNET = "8f1e2d3c-4b5a-4697-8a1b-2c3d4e5f6a7b"
MEMBER_PORT = "0c6f4a52-93d1-4e8b-b7a2-5d1e9f3c8a60"
LISTENER = "21e77cde-854f-4c3e-bd8c-9536ae0443bc"
POOL = "898be8a2-5185-4f3b-8658-a56457f595a9"
MEMBER = "adf55e70-3d50-4e62-99fd-dd77eababb1c"
HM = "6d2f1e0a-7b3c-4d5e-9f8a-1b2c3d4e5f60"
RI_VIP = "1a2b3c4d-0000-4000-8000-000000000001"
RI_MEMBER = "1a2b3c4d-0000-4000-8000-000000000002"
HM_PORT = "1a2b3c4d-0000-4000-8000-000000000003"
PROJECT = "5e4d3c2b-0000-4000-8000-00000000000a"

SUBNETS = {
    VIP_SUBNET: Subnet(VIP_SUBNET, NET, "172.24.4.0/24"),
    MEMBER_SUBNET: Subnet(MEMBER_SUBNET, MEMBER_NET, "10.10.10.0/24"),
}


def _lsp(
    port: str, net: str, addresses: list[str], cidrs: str, owner: str, name: str = "", **extra: Any
) -> dict[str, Any]:
    return {
        "_name": port,
        "name": port,
        "addresses": addresses,
        "type": extra.pop("type", ""),
        "options": extra.pop("options", {}),
        "external_ids": {
            "neutron:cidrs": cidrs,
            "neutron:device_owner": owner,
            "neutron:network_name": f"neutron-{net}",
            "neutron:port_name": name,
            "neutron:project_id": PROJECT,
        },
    }


def topology_ops() -> list[RawOp]:
    """NB rows Neutron's OVN driver would have written for the walkthrough's networks."""

    def ri(port: str, net: str, cidr: str) -> dict[str, Any]:
        return _lsp(
            port,
            net,
            ["router"],
            cidr,
            "network:router_interface",
            type="router",
            options={"router-port": f"lrp-{port}"},
        )

    def lrp(port: str, net: str, cidr: str) -> dict[str, Any]:
        return {
            "_name": f"lrp-{port}",
            "name": f"lrp-{port}",
            "mac": "fa:16:3e:00:00:01",
            "networks": [cidr],
            "external_ids": {
                "neutron:network_name": f"neutron-{net}",
                "neutron:router_name": f"neutron-{ROUTER}",
                "neutron:is_ext_gw": "False",
            },
        }

    rows: list[tuple[str, dict[str, Any]]] = [
        ("Logical_Switch_Port", ri(RI_VIP, NET, "172.24.4.1/24")),
        ("Logical_Switch_Port", ri(RI_MEMBER, MEMBER_NET, "10.10.10.1/24")),
        (
            "Logical_Switch_Port",
            _lsp(
                MEMBER_PORT,
                MEMBER_NET,
                ["fa:16:3e:00:00:10 10.10.10.10"],
                "10.10.10.10/24",
                "compute:nova",
                "vm1",
            ),
        ),
        (
            "Logical_Switch_Port",
            _lsp(
                HM_PORT,
                MEMBER_NET,
                ["fa:16:3e:00:00:03 10.10.10.3"],
                "10.10.10.3/24",
                "ovn-lb-hm:distributed",
                f"ovn-lb-hm-{MEMBER_SUBNET}",
                type="localport",
            ),
        ),
        (
            "Logical_Switch_Port",
            _lsp(
                VIP_PORT,
                NET,
                ["fa:16:3e:00:00:09 172.24.4.9"],
                "172.24.4.9/24",
                "ovn-lb:vip",
                f"ovn-lb-vip-{LB}",
            ),
        ),
        (
            "Logical_Switch",
            {"_name": f"neutron-{NET}", "name": f"neutron-{NET}", "ports": [RI_VIP, VIP_PORT]},
        ),
        (
            "Logical_Switch",
            {
                "_name": f"neutron-{MEMBER_NET}",
                "name": f"neutron-{MEMBER_NET}",
                "ports": [RI_MEMBER, MEMBER_PORT, HM_PORT],
            },
        ),
        ("Logical_Router_Port", lrp(RI_VIP, NET, "172.24.4.1/24")),
        ("Logical_Router_Port", lrp(RI_MEMBER, MEMBER_NET, "10.10.10.1/24")),
        (
            "Logical_Router",
            {
                "_name": f"neutron-{ROUTER}",
                "name": f"neutron-{ROUTER}",
                "ports": [f"lrp-{RI_VIP}", f"lrp-{RI_MEMBER}"],
            },
        ),
    ]
    return [{"op": "insert", "table": t, "row": r} for t, r in rows]


def steps() -> list[tuple[str, Callable[[OvnLbDriver], list[Any]]]]:
    """The walkthrough: a title and the request, per step."""
    member = {
        "member_id": MEMBER,
        "pool_id": POOL,
        "address": "10.10.10.10",
        "protocol_port": 63015,
        "subnet_id": MEMBER_SUBNET,
        "admin_state_up": True,
    }
    return [
        (
            "loadbalancer_create (VIP 172.24.4.9)",
            lambda d: d.lb_create(
                {
                    "loadbalancer_id": LB,
                    "vip_address": "172.24.4.9",
                    "vip_port_id": VIP_PORT,
                    "vip_network_id": NET,
                    "vip_subnet_id": VIP_SUBNET,
                    "admin_state_up": True,
                }
            ),
        ),
        (
            "listener_create (TCP 64015)",
            lambda d: d.listener_create(
                {
                    "listener_id": LISTENER,
                    "loadbalancer_id": LB,
                    "protocol": "TCP",
                    "protocol_port": 64015,
                    "admin_state_up": True,
                }
            ),
        ),
        (
            "pool_create (TCP, SOURCE_IP_PORT)",
            lambda d: d.pool_create(
                {
                    "pool_id": POOL,
                    "loadbalancer_id": LB,
                    "listener_id": LISTENER,
                    "protocol": "TCP",
                    "lb_algorithm": "SOURCE_IP_PORT",
                    "admin_state_up": True,
                }
            ),
        ),
        ("member_create (10.10.10.10:63015)", lambda d: d.member_create(member)),
        (
            "health_monitor_create (TCP 10/5/3/3)",
            lambda d: d.hm_create(
                {
                    "healthmonitor_id": HM,
                    "pool_id": POOL,
                    "type": "TCP",
                    "delay": 10,
                    "timeout": 5,
                    "max_retries": 3,
                    "max_retries_down": 3,
                    "admin_state_up": True,
                }
            ),
        ),
        (
            "member_update (admin_state_up=false)",
            lambda d: d.member_update(member, {"admin_state_up": False}),
        ),
    ]


def walkthrough(backend: Backend) -> Iterator[tuple[str, list[Any]]]:
    """Set up the topology, then run each step; yields ``(title, status payloads)``."""
    backend.apply_raw(topology_ops())
    driver = OvnLbDriver(backend, SUBNETS)
    for title, fn in steps():
        yield title, fn(driver)


#: Rows the walkthrough creates that are roots of the NB schema (the others
#: are referenced by them and go with them).
_ROOTS = (
    ("Logical_Switch", f"neutron-{NET}"),
    ("Logical_Switch", f"neutron-{MEMBER_NET}"),
    ("Logical_Router", f"neutron-{ROUTER}"),
)


def present_rows(reader: NbReader) -> list[str]:
    """The walkthrough's rows already in NB (``Table name``): a real NB must have none."""
    out = [f"Load_Balancer {LB}" for _ in reader.by_name("Load_Balancer", LB)][:1]
    for table, name in _ROOTS:
        if reader.by_name(table, name):
            out.append(f"{table} {name}")
    return out


def cleanup(backend: Backend) -> None:
    """Remove what the walkthrough created: the load balancer, then its topology."""
    driver = OvnLbDriver(backend, SUBNETS)
    if backend.reader().by_name("Load_Balancer", LB):
        driver.lb_delete({"loadbalancer_id": LB, "vip_address": "172.24.4.9"}, cascade=True)
    ops = [
        {"op": "delete", "table": t, "name": n} for t, n in _ROOTS if backend.reader().by_name(t, n)
    ]
    if ops:
        backend.apply_raw(ops)


def run(backend: Backend, out: TextIO, *, clean_up: bool = False) -> None:
    """Print the Load_Balancer rows after each step, as ``ovn-nbctl list load_balancer``.

    With ``clean_up`` the walkthrough's rows are removed at the end (also when
    a step fails), so that it can run again on the same NB database.
    """
    import json

    try:
        for n, (title, statuses) in enumerate(walkthrough(backend), 1):
            out.write(f"== step {n}: {title}\n")
            # Only the walkthrough's rows: a real NB may hold other load balancers.
            reader = backend.reader()
            hcs: set[str] = set()
            for uuid, row in sorted(reader.by_name("Load_Balancer", LB)):
                out.write(render_row("Load_Balancer", uuid, row) + "\n")
                hcs.update(row.get("health_check") or ())
            for uuid, row in sorted(reader.rows("Load_Balancer_Health_Check").items()):
                if uuid in hcs:
                    out.write(render_row("Load_Balancer_Health_Check", uuid, row) + "\n")
            for payload in statuses:
                out.write("status: " + json.dumps(payload, sort_keys=True) + "\n")
            out.write("\n")
    finally:
        if clean_up:
            cleanup(backend)
