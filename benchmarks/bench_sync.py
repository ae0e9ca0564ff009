"""Sync at scale: 1000 load balancers x 10 members into an empty real NB, then a no-op sync.

Usage::

    python benchmarks/bench_sync.py [--lbs 1000] [--members 10]

``run()`` returns the figures as a dict (for the benchmark driver). The NB
is a private ``ovsdb-server`` (:class:`OvnSandbox`) holding one Neutron
network (switch), its subnet's router interface and the router; every load
balancer has one TCP listener, one pool and ``members`` members on that
subnet. The first sync creates every load balancer (one transaction each);
the second finds nothing to do (no transaction).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid as uuidlib
from pathlib import Path
from typing import Any

try:
    import ovnlb_core  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from ovnlb_backends.idl import IdlBackend
from ovnlb_backends.nbctl import NbctlBackend
from ovnlb_backends.sandbox import OvnSandbox
from ovnlb_backends.service.sync import run_sync
from ovnlb_core.rawops import initial_ops
from ovnlb_core.sync import view_from_api

NS = uuidlib.UUID("9d0f5a52-3b7e-4c61-8a0e-2f4b6c8d1e3a")
NET = "0b1c2d3e-0000-4000-8000-000000000001"
SUBNET = "0b1c2d3e-0000-4000-8000-000000000002"
ROUTER = "0b1c2d3e-0000-4000-8000-000000000003"
RI_PORT = "0b1c2d3e-0000-4000-8000-000000000004"


def _id(*parts: object) -> str:
    return str(uuidlib.uuid5(NS, "/".join(map(str, parts))))


def topology() -> dict[str, Any]:
    """Neutron's NB rows: a switch, its router interface, the router (nb_initial format)."""
    ls, lr, lrp = f"neutron-{NET}", f"neutron-{ROUTER}", f"lrp-{RI_PORT}"
    return {
        "Logical_Switch": [{"_name": ls, "name": ls, "ports": [RI_PORT]}],
        "Logical_Switch_Port": [
            {
                "_name": RI_PORT,
                "name": RI_PORT,
                "type": "router",
                "addresses": ["router"],
                "options": {"router-port": lrp},
                "external_ids": {
                    "neutron:device_owner": "network:router_interface",
                    "neutron:cidrs": "10.0.0.1/8",
                },
            }
        ],
        "Logical_Router": [{"_name": lr, "name": lr, "ports": [lrp]}],
        "Logical_Router_Port": [
            {
                "_name": lrp,
                "name": lrp,
                "mac": "fa:16:3e:00:00:01",
                "networks": ["10.0.0.1/8"],
                "external_ids": {"neutron:network_name": ls},
            }
        ],
    }


def octavia_view(n_lbs: int, n_members: int) -> dict[str, Any]:
    """Octavia's view (docs/sync.md format) of ``n_lbs`` load balancers."""
    lbs, listeners, pools, members = [], [], [], {}
    for i in range(n_lbs):
        lb, li, pool = _id("lb", i), _id("listener", i), _id("pool", i)
        lbs.append(
            {
                "id": lb,
                "provider": "ovn",
                "admin_state_up": True,
                "vip_address": f"10.1.{i // 250}.{i % 250 + 1}",
                "vip_port_id": _id("vip-port", i),
                "vip_network_id": NET,
                "vip_subnet_id": SUBNET,
                "listeners": [{"id": li}],
                "pools": [{"id": pool}],
            }
        )
        listeners.append(
            {
                "id": li,
                "protocol": "TCP",
                "protocol_port": 80,
                "default_pool_id": pool,
                "admin_state_up": True,
                "loadbalancers": [{"id": lb}],
            }
        )
        pools.append(
            {
                "id": pool,
                "protocol": "TCP",
                "lb_algorithm": "SOURCE_IP_PORT",
                "admin_state_up": True,
                "loadbalancers": [{"id": lb}],
                "listeners": [{"id": li}],
            }
        )
        members[pool] = [
            {
                "id": _id("member", i, j),
                "address": f"10.2.{i % 250}.{j + 1}",
                "protocol_port": 8080,
                "subnet_id": SUBNET,
                "admin_state_up": True,
            }
            for j in range(n_members)
        ]
    return {
        "format": "ovnlb-octavia-view/1",
        "loadbalancers": lbs,
        "listeners": listeners,
        "pools": pools,
        "members": members,
        "healthmonitors": [],
        "neutron": {
            "subnets": [{"id": SUBNET, "network_id": NET, "cidr": "10.0.0.0/8", "ip_version": 4}],
            "floatingips": [],
            "ports": [],
        },
    }


def run(n_lbs: int = 1000, n_members: int = 10, kind: str = "idl") -> dict[str, Any]:
    """Both syncs against a private ovsdb-server; the figures.

    ``kind``: ``idl`` (:class:`IdlBackend`) or ``nbctl`` (:class:`NbctlBackend`
    through a private ovn-nbctl daemon, started with the connection).
    """
    lbs, subnets = view_from_api(octavia_view(n_lbs, n_members))
    with tempfile.TemporaryDirectory(prefix="ovnlb-bench-sync-") as tmp, OvnSandbox(tmp) as sb:
        backend: Any = (
            IdlBackend(sb.nb_remote, timeout=60)
            if kind == "idl"
            else NbctlBackend(sb.nb_remote, daemon=True, timeout=60)
        )
        try:
            backend.apply_raw(initial_ops(topology()))
            t0 = time.perf_counter()
            first = run_sync(backend, lbs, subnets)
            t1 = time.perf_counter()
            second = run_sync(backend, lbs, subnets)
            t2 = time.perf_counter()
            rows = len(backend.reader().rows("Load_Balancer"))
        finally:
            backend.close()
    if not first.ok or not second.ok:
        raise RuntimeError("sync failed: " + str([r.error for r in first.results if r.error][:3]))
    return {
        "backend": kind,
        "load_balancers": n_lbs,
        "members_per_lb": n_members,
        "nb_load_balancer_rows": rows,
        "first_sync_s": round(t1 - t0, 3),
        "first_sync_transactions": first.transactions,
        "first_sync_ms_per_lb": round((t1 - t0) * 1000 / n_lbs, 3),
        "first_sync_created": first.counts()["create"],
        "second_sync_s": round(t2 - t1, 3),
        "second_sync_transactions": second.transactions,
        "second_sync_ms_per_lb": round((t2 - t1) * 1000 / n_lbs, 3),
        "second_sync_in_sync": second.counts()["in-sync"],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lbs", type=int, default=1000)
    p.add_argument("--members", type=int, default=10)
    p.add_argument("--backend", choices=["idl", "nbctl"], default="idl")
    args = p.parse_args(argv)
    figures = run(args.lbs, args.members, args.backend)
    width = max(map(len, figures))
    for key, value in figures.items():
        print(f"{key:{width}}  {value}")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
