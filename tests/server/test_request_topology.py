"""Topology answered through the readers' indexes equals Topology answered by scans.

Checked on every conformance file's NB state after each step (real Neutron
topologies, recorded), for every question the requests ask, on every
backend (memory, IDL, nbctl through a daemon), against :class:`ScannedReader`
over a plain snapshot of the same rows; and through a seeded sequence of
port, switch and NAT changes that moves, retypes, readdresses and deletes
ports (the indexes follow changes, they are not rebuilt). The driver's
per-request memo answers the same.
"""

from __future__ import annotations

import contextlib
import random
from pathlib import Path
from typing import Any

import pytest

from conftest import start_sandbox
from ovnlb_backends.idl import IdlBackend
from ovnlb_backends.memory import MemoryBackend
from ovnlb_backends.nbctl import NbctlBackend
from ovnlb_backends.sandbox import OvnSandbox
from ovnlb_backends.service.driver import OvnLbDriver, handle
from ovnlb_backends.service.replay import load
from ovnlb_core.errors import OvnlbError
from ovnlb_core.nb import SCHEMA, NbSnapshot
from ovnlb_core.pipeline import RequestTopology
from ovnlb_core.rawops import initial_ops
from ovnlb_core.topology import ScannedReader, Subnet, Topology, ovn_name, subnets_from_neutron
from paths import CONFORMANCE_DIR

CONFORMANCE = sorted((CONFORMANCE_DIR).glob("*.json"))


def _snapshot(reader: object) -> NbSnapshot:
    """A plain copy of every table (no indexes: Topology scans it)."""
    return NbSnapshot({t: dict(reader.rows(t)) for t in SCHEMA})  # type: ignore[attr-defined]


def _questions(
    topo: Topology, reader_rows: dict[str, dict[str, dict[str, object]]]
) -> list[object]:
    answers: list[object] = []
    addresses = {
        token
        for lsp in reader_rows["Logical_Switch_Port"].values()
        for entry in lsp.get("addresses", ())  # type: ignore[attr-defined]
        for token in entry.split()
    } | {"10.0.0.250", "2001:db8::1"}
    for subnet_id, subnet in sorted(topo.subnets.items()):
        ls = ovn_name(subnet.network_id)
        answers.append(topo.switch(ls))
        answers.append(topo.routers_of_subnet(ls, subnet.cidr))
        answers.append(topo.hm_source_ip(subnet_id))
        for address in sorted(addresses):
            answers.append(topo.member_port(subnet_id, address))
    for lr in sorted(r["name"] for r in reader_rows["Logical_Router"].values()):  # type: ignore[type-var]
        answers.append(topo.router_exists(str(lr)))
        answers.append(topo.switches_of_router(str(lr), 4))
        answers.append(topo.switches_of_router(str(lr), 6))
    for name in sorted(str(p["name"]) for p in reader_rows["Logical_Switch_Port"].values()):
        answers.append(sorted(topo.nats_of_port(name)))
    answers.append(topo.member_port("no-such-subnet", "10.0.0.1"))
    return answers


@pytest.mark.parametrize("path", CONFORMANCE, ids=lambda p: p.stem)
def test_request_topology_equals_topology(path: Path) -> None:
    doc = load(str(path))
    subnets = subnets_from_neutron(doc["neutron"]["subnets"])
    backend = MemoryBackend()
    backend.apply_raw(initial_ops(doc["nb_initial"]))
    states = 0
    for step in [None, *doc["steps"]]:
        if step is not None:
            if not step.get("nb_changes"):
                continue
            backend.apply_raw(step["nb_changes"])
        reader = backend.reader()
        rows = {t: dict(reader.rows(t)) for t in ("Logical_Switch_Port", "Logical_Router")}
        plain = _questions(Topology(_snapshot(reader), subnets), rows)  # type: ignore[arg-type]
        assert _questions(Topology(reader, subnets), rows) == plain  # type: ignore[arg-type]
        memo = RequestTopology(reader, subnets)
        # Twice: the second round is answered from the memo.
        assert _questions(memo, rows) == plain  # type: ignore[arg-type]
        assert _questions(memo, rows) == plain  # type: ignore[arg-type]
        states += 1
    assert states >= 1


# ---------------------------------------------------------------------------
# Every backend's indexes against scans
# ---------------------------------------------------------------------------


def _open(kind: str, server: OvnSandbox | None) -> Any:
    if kind == "memory":
        return MemoryBackend()
    assert server is not None
    if kind == "idl":
        return IdlBackend(server.nb_remote)
    return NbctlBackend(server.nb_remote, daemon=True)


def _lb_lookups(reader: Any) -> list[object]:
    """Every load balancer lookup of the Reader protocol, for every key and mapping in NB."""
    rows = dict(reader.rows("Load_Balancer"))
    out: list[object] = []
    keys = sorted({k for r in rows.values() for k in r["external_ids"]} | {"pool_none"})
    for key in keys:
        want = sorted((u, r) for u, r in rows.items() if key in r["external_ids"])
        got = sorted(reader.load_balancers_with_external_id([key]))
        assert [u for u, _ in got] == [u for u, _ in want], key
        out.append(got)
    pairs = sorted({kv for r in rows.values() for kv in r["ip_port_mappings"].items()})
    for k, v in [*pairs, ("10.9.9.9", "nowhere:10.9.9.1")]:
        want = sorted(u for u, r in rows.items() if r["ip_port_mappings"].get(k) == v)
        assert sorted(u for u, _ in reader.load_balancers_with_mapping(k, v)) == want
    return out


def _check(reader: Any, subnets: dict[str, Subnet]) -> int:
    rows = {t: dict(reader.rows(t)) for t in ("Logical_Switch_Port", "Logical_Router")}
    want = _questions(Topology(_snapshot(reader), subnets), rows)
    assert _questions(Topology(reader, subnets), rows) == want
    _lb_lookups(reader)
    scan = ScannedReader(_snapshot(reader))
    for ls_uuid in sorted(reader.rows("Logical_Switch")):
        for port_type in ("router", "", "localport", "nope"):
            assert reader.switch_ports_of_type(ls_uuid, port_type) == scan.switch_ports_of_type(
                ls_uuid, port_type
            )
    return len(want)


@pytest.mark.ovn
@pytest.mark.parametrize("kind", ["memory", "idl", "nbctl"])
@pytest.mark.parametrize("path", CONFORMANCE, ids=lambda p: p.stem)
def test_backend_indexes_equal_scans(kind: str, path: Path, tmp_path: Path) -> None:
    doc = load(str(path))
    subnets = subnets_from_neutron(doc["neutron"]["subnets"])
    server = None if kind == "memory" else start_sandbox(tmp_path / "ovn")
    backend = _open(kind, server)
    try:
        backend.apply_raw(initial_ops(doc["nb_initial"]))
        driver = OvnLbDriver(backend, subnets)
        checked = 0
        for step in [None, *doc["steps"]]:
            if step is not None:
                if step.get("nb_changes"):
                    backend.apply_raw(step["nb_changes"])
                elif step.get("request"):
                    # The load balancer rows change too (lookups by pool and mapping).
                    with contextlib.suppress(OvnlbError):
                        handle(driver, step["request"])
                else:
                    continue
            checked += _check(backend.reader(), subnets)
        assert checked > 0
    finally:
        backend.close()
        if server is not None:
            server.stop()


def _port(name: str, addresses: list[str], **extra: Any) -> dict[str, Any]:
    return {"_name": name, "name": name, "addresses": addresses, **extra}


def _changes(rng: random.Random, step: int, ports: dict[str, str | None]) -> list[Any]:
    """One seeded change of ports, switches or NATs (``ports``: port -> its switch)."""
    switches = ["sw-a", "sw-b", "sw-c"]
    what = rng.choice(["add", "move", "address", "type", "delete", "nat", "unplug"])
    live = sorted(p for p in ports)
    if what == "add" or not live:
        name = f"p{step}"
        sw = rng.choice(switches)
        ports[name] = sw
        members = sorted(p for p, s in ports.items() if s == sw)
        return [
            {
                "op": "insert",
                "table": "Logical_Switch_Port",
                "row": _port(
                    name,
                    [f"fa:16:3e:00:00:{step % 256:02x} 10.0.0.{rng.randrange(1, 6)}"],
                    type=rng.choice(["", "router"]),
                    external_ids={"neutron:port_name": rng.choice(["vm", "ovn-lb-hm-s1"])},
                ),
            },
            {"op": "update", "table": "Logical_Switch", "name": sw, "columns": {"ports": members}},
        ]
    port = rng.choice(live)
    if what == "address":
        return [
            {
                "op": "update",
                "table": "Logical_Switch_Port",
                "name": port,
                "columns": {"addresses": [f"fa:16:3e:00:01:01 10.0.0.{rng.randrange(1, 6)}"]},
            }
        ]
    if what == "type":
        return [
            {
                "op": "update",
                "table": "Logical_Switch_Port",
                "name": port,
                "columns": {
                    "type": rng.choice(["", "router", "localport"]),
                    "external_ids": {"neutron:port_name": rng.choice(["vm", "ovn-lb-hm-s1"])},
                },
            }
        ]
    if what == "nat":
        return [
            {
                "op": "update",
                "table": "NAT",
                "name": "nat-f1",
                "columns": {"external_ids": {"neutron:fip_id": "f1", "neutron:fip_port_id": port}},
            }
        ]
    old = ports[port]
    ops: list[Any] = []
    if what == "move":
        new = rng.choice([s for s in switches if s != old])
        ports[port] = new
        ops.append(
            {
                "op": "update",
                "table": "Logical_Switch",
                "name": new,
                "columns": {"ports": sorted(p for p, s in ports.items() if s == new)},
            }
        )
    else:  # "delete", "unplug": the port leaves its switch
        del ports[port]
    ops.append(
        {
            "op": "update",
            "table": "Logical_Switch",
            "name": old,
            "columns": {"ports": sorted(p for p, s in ports.items() if s == old)},
        }
    )
    # A port no switch holds any more is garbage collected (a non-root table).
    return ops


@pytest.mark.ovn
@pytest.mark.parametrize("kind", ["memory", "idl", "nbctl"])
def test_indexes_follow_port_changes(kind: str, tmp_path: Path) -> None:
    server = None if kind == "memory" else start_sandbox(tmp_path / "ovn")
    backend = _open(kind, server)
    subnets = {"s1": Subnet("s1", "sw-a", "10.0.0.0/24"), "s2": Subnet("s2", "sw-b", "10.0.0.0/24")}
    try:
        backend.apply_raw(
            [
                *(
                    {"op": "insert", "table": "Logical_Switch", "row": {"_name": n, "name": n}}
                    for n in ("neutron-sw-a", "neutron-sw-b", "neutron-sw-c")
                ),
                {
                    "op": "insert",
                    "table": "NAT",
                    "row": {
                        "_name": "nat-f1",
                        "type": "dnat_and_snat",
                        "external_ip": "172.24.4.50",
                        "logical_ip": "10.0.0.1",
                        "external_ids": {"neutron:fip_id": "f1"},
                    },
                },
                {
                    "op": "insert",
                    "table": "Logical_Router",
                    "row": {"_name": "r1", "name": "r1", "nat": ["nat-f1"]},
                },
            ]
        )
        rng = random.Random(12)
        ports: dict[str, str | None] = {}
        steps = 40 if kind == "nbctl" else 80
        for step in range(steps):
            ops = _changes(rng, step, ports)
            for op in ops:  # switch names in the changes are short: Neutron's are prefixed
                if op["table"] == "Logical_Switch":
                    op["name"] = f"neutron-{op['name']}"
            backend.apply_raw(ops)
            reader = backend.reader()
            _check(reader, subnets)
            # The indexes saw the ports: an address is found on its switch only.
            for port, sw in ports.items():
                found = reader.by_name("Logical_Switch_Port", port)
                if not found or sw is None:
                    continue
                ((ls_uuid, _ls),) = reader.by_name("Logical_Switch", f"neutron-{sw}")
                for entry in found[0][1]["addresses"]:
                    for token in entry.split():
                        got = [u for u, _r in reader.switch_ports_with_address(ls_uuid, token)]
                        assert found[0][0] in got
    finally:
        backend.close()
        if server is not None:
            server.stop()
