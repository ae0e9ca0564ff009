"""The driver's per-request topology memo answers exactly what Topology answers.

Checked on every conformance file's NB state after each step (real Neutron
topologies, recorded), for every question the requests ask.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ovnlb_backends.driver import _RequestTopology
from ovnlb_backends.memory import MemoryBackend
from ovnlb_backends.replay import load
from ovnlb_core.rawops import initial_ops
from ovnlb_core.topology import Topology, ovn_name, subnets_from_neutron

CONFORMANCE = sorted((Path(__file__).parent / "conformance").glob("*.json"))


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
        plain = _questions(Topology(reader, subnets), rows)  # type: ignore[arg-type]
        memo = _RequestTopology(reader, subnets)
        # Twice: the second round is answered from the memo.
        assert _questions(memo, rows) == plain  # type: ignore[arg-type]
        assert _questions(memo, rows) == plain  # type: ignore[arg-type]
        states += 1
    assert states >= 1
