"""The watcher against real ovsdb-server (NB, SB) and ovn-northd.

Neutron's and ovn-controller's writes are made from outside the watcher
(ovn-nbctl, ovn-sbctl, or another IDL connection writing the conformance
files' raw row operations); the watcher must notice them and fix the load
balancers. Waits poll the watcher's replica with a timeout; nothing asserts
on timing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from conftest import start_sandbox
from event_world import (
    DOC01,
    DOC12,
    LB1,
    LB2,
    PRIVATE,
    R1,
    VIP_PORT,
    VM1_PORT,
    holders,
    ls_of,
    make_lb,
    member_nat_ops,
    network_ops,
    replay_onto,
    with_router_nat,
)
from ovnlb_backends.idl import IdlBackend
from ovnlb_backends.sandbox import OvnSandbox
from ovnlb_backends.service.driver import OvnLbDriver, handle
from ovnlb_backends.service.replay import canon_status, load
from ovnlb_backends.service.watch import Watcher
from ovnlb_core.dump import canonical_dump
from ovnlb_core.errors import OvnlbError
from ovnlb_core.nb import NbReader
from ovnlb_core.octavia import OctaviaView
from ovnlb_core.rawops import initial_ops
from ovnlb_core.status import Payload
from ovnlb_core.topology import subnets_from_neutron
from paths import CONFORMANCE_DIR

pytestmark = pytest.mark.ovn

CONF = CONFORMANCE_DIR
WAIT = 15.0
IFACE = "99999999-9999-4999-8999-999999999999"  # port id of the router interface on e1


@pytest.fixture
def northd(tmp_path: Path) -> Iterator[OvnSandbox]:
    sandbox = start_sandbox(tmp_path / "ovn", with_northd=True)
    try:
        yield sandbox
    finally:
        sandbox.stop()


def setup_world(
    sandbox: OvnSandbox, doc: Mapping[str, Any], upto: int
) -> tuple[IdlBackend, OvnLbDriver]:
    """The file's topology and steps ``0..upto-1``, written by a separate IDL connection."""
    backend = IdlBackend(sandbox.nb_remote)
    return backend, replay_onto(backend, doc, upto)


def start(sandbox: OvnSandbox, statuses: list[Payload] | None = None, **kw: Any) -> Watcher:
    w = Watcher(
        sandbox.nb_remote,
        sandbox.sb_remote,
        on_status=None if statuses is None else statuses.append,
        **kw,
    )
    assert w.wait_for_lock(WAIT)
    w.step(0)  # the catch-up
    return w


def wait(w: Watcher, done: Callable[[NbReader], bool]) -> None:
    assert w.run_until(lambda: done(w.backend.reader()), WAIT)


def add_interface_nbctl(sandbox: OvnSandbox) -> None:
    """``router interface add`` as Neutron writes it, with ovn-nbctl (LRP, router-type LSP)."""
    ls = ls_of("e1")
    lrp = f"lrp-{IFACE}"
    sandbox.nbctl(
        "lrp-add", R1, lrp, "fa:16:3e:00:21:01", "10.21.0.1/24",
        "--", "set", "Logical_Router_Port", lrp,
        f'external_ids:"neutron:network_name"={ls}',
        f'external_ids:"neutron:router_name"={R1}',
        'external_ids:"neutron:is_ext_gw"=False',
    )  # fmt: skip
    sandbox.nbctl(
        "lsp-add", ls, IFACE,
        "--", "lsp-set-type", IFACE, "router",
        "--", "lsp-set-addresses", IFACE, "router",
        "--", "lsp-set-options", IFACE, f"router-port={lrp}",
        "--", "set", "Logical_Switch_Port", IFACE,
        'external_ids:"neutron:device_owner"="network:router_interface"',
        'external_ids:"neutron:cidrs"="10.21.0.1/24"',
        f'external_ids:"neutron:network_name"={ls}',
    )  # fmt: skip


def remove_interface_nbctl(sandbox: OvnSandbox) -> None:
    sandbox.nbctl("lsp-del", IFACE, "--", "lrp-del", f"lrp-{IFACE}")


def member_status(reader: NbReader, lb: str) -> dict[str, str]:
    for _u, row in reader.by_name("Load_Balancer", lb):
        value = row.get("external_ids", {}).get("neutron:member_status")
        if value:
            return dict(json.loads(value))
    return {}


def lb_ext(reader: NbReader, lb: str) -> dict[str, str]:
    return dict(reader.by_name("Load_Balancer", lb)[0][1]["external_ids"])


def sm_uuid(sandbox: OvnSandbox, ip: str) -> str:
    return sandbox.sbctl("--bare", "--columns=_uuid", "find", "Service_Monitor", f"ip={ip}").strip()


def wait_sm(sandbox: OvnSandbox, w: Watcher, ip: str) -> str:
    found: list[str] = []

    def done(_r: NbReader) -> bool:
        found[:] = [sm_uuid(sandbox, ip)]
        return bool(found[0])

    wait(w, done)
    return found[0]


M11 = DOC12["steps"][3]["request"]["member"]["member_id"]  # 10.0.0.11


# -- each event type end to end ----------------------------------------------------------------


def test_router_interface_fip_and_member_fip_events(northd: OvnSandbox) -> None:
    backend, driver = setup_world(northd, DOC01, 5)
    backend.apply_raw(network_ops("e1"))
    make_lb(driver, LB2, "e1")
    with start(northd) as w:
        add_interface_nbctl(northd)
        # Spec 3.6: lb2 joins r1 and r1's switches; lb1 (on r1) joins e1.
        wait(w, lambda r: holders(r, "Logical_Router", LB2) == {R1})
        r = w.backend.reader()
        assert holders(r, "Logical_Switch", LB2) == {ls_of("e1"), PRIVATE}
        assert lb_ext(r, LB2)["lr_ref"] == R1
        assert holders(r, "Logical_Switch", LB1) == {PRIVATE, ls_of("e1")}
        remove_interface_nbctl(northd)
        wait(w, lambda r: holders(r, "Logical_Router", LB2) == set())
        r = w.backend.reader()
        assert holders(r, "Logical_Switch", LB2) == {ls_of("e1")}
        assert holders(r, "Logical_Switch", LB1) == {PRIVATE}  # B33: VIP switch kept
        assert holders(r, "Logical_Router", LB1) == {R1}
        # The VIP port's FIP (conformance 01 step 6's Neutron writes).
        backend.apply_raw(DOC01["steps"][6]["nb_changes"])
        wait(w, lambda r: lb_ext(r, LB1).get("neutron:vip_fip") == "172.24.4.100")
        assert "172.24.4.100:80" in w.backend.reader().by_name("Load_Balancer", LB1)[0][1]["vips"]
        # A member's own FIP under DVR is centralised.
        fid = "aaaaaaaa-0000-4000-8000-000000000001"
        ops = member_nat_ops(VM1_PORT, fid, "172.24.4.50", "10.0.0.11")
        backend.apply_raw(with_router_nat(backend.reader(), ops))
        wait(
            w,
            lambda r: any(
                n["external_ids"].get("neutron:fip_id") == fid and n["logical_port"] is None
                for n in r.rows("NAT").values()
            ),
        )
        # The VIP's FIP removed: keys and vips entries go.
        lr = backend.reader().by_name("Logical_Router", R1)[0][1]
        nats = backend.reader().rows("NAT")
        keep = [
            f"nat-{nats[u]['external_ids']['neutron:fip_id']}"
            for u in lr["nat"]
            if nats[u]["external_ids"]["neutron:fip_port_id"] != VIP_PORT
        ]
        backend.apply_raw(
            [
                {"op": "update", "table": "Logical_Router", "name": R1, "columns": {"nat": keep}},
                {
                    "op": "delete",
                    "table": "NAT",
                    "name": "nat-6ef31e8f-a8e7-5b28-a0d1-422438e8bd52",
                },
            ]
        )
        wait(w, lambda r: "neutron:vip_fip" not in lb_ext(r, LB1))
        assert (
            "172.24.4.100:80" not in w.backend.reader().by_name("Load_Balancer", LB1)[0][1]["vips"]
        )
    backend.close()


def test_service_monitor_events_with_northd(northd: OvnSandbox) -> None:
    backend, _driver = setup_world(northd, DOC12, 6)
    statuses: list[Payload] = []
    with start(northd, statuses) as w:
        sm = wait_sm(northd, w, "10.0.0.11")
        northd.sbctl("set", "Service_Monitor", sm, "status=offline")
        wait(w, lambda r: member_status(r, LB1).get(M11) == "ERROR")
        assert any(
            m == {"id": M11, "provisioning_status": "ACTIVE", "operating_status": "ERROR"}
            for p in statuses
            for m in p.get("members", [])
        )
        # Deleted (ovn-northd recreates it at once, without a status: up).
        n = len(statuses)
        northd.sbctl("destroy", "Service_Monitor", sm)
        wait(w, lambda r: len(statuses) >= n + 1)
        reported = [
            m["operating_status"] for p in statuses[n:] for m in p["members"] if m["id"] == M11
        ]
        # B18: never OFFLINE. The delete reports NO_MONITOR; when northd's re-creation
        # (no status: up) arrives in the same batch, only the coalesced ONLINE is reported
        # (the delete alone is pinned in test_events / test_compat without northd).
        assert reported and "OFFLINE" not in reported
        assert reported[0] in ("NO_MONITOR", "ONLINE")
        wait(w, lambda r: member_status(r, LB1).get(M11) in ("NO_MONITOR", "ONLINE"))
    backend.close()


# -- restart, lock -----------------------------------------------------------------------------


def test_restart_catches_up(northd: OvnSandbox) -> None:
    backend, driver = setup_world(northd, DOC12, 6)
    backend.apply_raw(network_ops("e1"))
    make_lb(driver, LB2, "e1")
    w = start(northd)
    sm = wait_sm(northd, w, "10.0.0.11")
    w.close()
    # While no watcher runs: a router interface, the VIP FIP, a failed check.
    add_interface_nbctl(northd)
    fip_step = next(s for s in DOC01["steps"] if s["request"]["op"] == "fip_associate")
    backend.apply_raw(fip_step["nb_changes"])
    northd.sbctl("set", "Service_Monitor", sm, "status=offline")
    statuses: list[Payload] = []
    with start(northd, statuses) as w2:
        wait(w2, lambda r: member_status(r, LB1).get(M11) == "ERROR")
        r = w2.backend.reader()
        assert holders(r, "Logical_Router", LB2) == {R1}
        assert lb_ext(r, LB1).get("neutron:vip_fip") == "172.24.4.100"
        assert any(m["id"] == M11 for p in statuses for m in p["members"])
        assert w2.catch_ups == 1
    backend.close()


def test_nb_reconnect_triggers_a_catch_up(northd: OvnSandbox) -> None:
    backend, _driver = setup_world(northd, DOC12, 6)
    backend.close()
    with start(northd) as w:
        assert w.catch_ups == 1
        gen = w.backend.connection_generation
        northd.restart_nb()
        assert w.run_until(lambda: w.backend.connection_generation != gen and w.has_lock, WAIT)
        # The first step with the lock after the reconnect catches up (events may be lost).
        assert w.run_until(lambda: w.catch_ups == 2, WAIT)


def test_only_the_lock_holder_acts(northd: OvnSandbox) -> None:
    backend, driver = setup_world(northd, DOC01, 5)
    backend.apply_raw(network_ops("e1"))
    make_lb(driver, LB2, "e1")
    w1 = start(northd)
    w2 = Watcher(northd.nb_remote, northd.sb_remote)
    try:
        assert not w2.run_until(lambda: w2.has_lock, 0.5)
        add_interface_nbctl(northd)

        def both_done(r: NbReader) -> bool:
            w2.step(0)
            return holders(r, "Logical_Router", LB2) == {R1} and w2.pending == 0

        wait(w1, both_done)
        # Make sure w2 saw the change too, then check it wrote nothing.
        assert w2.run_until(
            lambda: holders(w2.backend.reader(), "Logical_Router", LB2) == {R1}, WAIT
        )
        assert w2.backend.transaction_count() == 0 and not w2.applied
        assert w1.applied
        w1.close()
        # w2 takes over: it gets the lock, catches up and acts on new events.
        assert w2.wait_for_lock(WAIT)
        remove_interface_nbctl(northd)
        wait(w2, lambda r: holders(r, "Logical_Router", LB2) == set())
        assert w2.catch_ups == 1
    finally:
        w2.close()
        w1.close() if w1.backend.connected() else None
    backend.close()


# -- conformance steps through the watcher -----------------------------------------------------


def _sb_write(sandbox: OvnSandbox, event: Mapping[str, Any]) -> None:
    row = event["row"]
    found = sandbox.sbctl(
        "--bare",
        "--columns=_uuid",
        "find",
        "Service_Monitor",
        f"ip={row['ip']}",
        f"port={row['port']}",
        f"logical_port={row['logical_port']}",
    ).strip()
    if event["type"] == "delete":
        if found:
            sandbox.sbctl("destroy", "Service_Monitor", found)
        return
    status = f"status={row['status']}" if row.get("status") else "status=[]"
    if found:
        sandbox.sbctl("set", "Service_Monitor", found, status)
    else:
        sandbox.sbctl(
            "create",
            "Service_Monitor",
            f"ip={row['ip']}",
            f"port={row['port']}",
            f"protocol={row['protocol']}",
            f"logical_port={row['logical_port']}",
            f"src_ip={row['src_ip']}",
            'src_mac="fe:00:00:00:00:01"',
            status,
        )


@pytest.mark.parametrize("name", ["01_full_sequence", "07_cascade_delete", "12_hm_events"])
def test_conformance_event_steps_through_the_watcher(tmp_path: Path, name: str) -> None:
    """Steps fip_associate/fip_disassociate/member_health are done by writing the NB/SB rows
    and letting the watcher react; every compared step must match the file."""
    doc = load(str(CONF / f"{name}.json"))
    sandbox = start_sandbox(tmp_path / "ovn", with_sb=True)  # no northd: SB rows are ours
    backend = IdlBackend(sandbox.nb_remote)
    statuses: list[Payload] = []
    try:
        backend.apply_raw(initial_ops(doc["nb_initial"]))
        driver = OvnLbDriver(
            backend, subnets_from_neutron(doc["neutron"]["subnets"]), OctaviaView()
        )
        w = start(sandbox, statuses, view=driver.view)
        div = doc.get("diverged_after")
        event_steps = 0
        for step in doc["steps"]:
            op = step["request"]["op"]
            driver.view.apply_changes(step.get("octavia_changes") or {})
            got: list[Payload] = []
            if op in ("fip_associate", "fip_disassociate", "member_health"):
                event_steps += 1
                n_applied, n_status = len(w.applied), len(statuses)
                if step.get("nb_changes"):
                    backend.apply_raw(step["nb_changes"])
                for event in step["request"].get("events", []):
                    _sb_write(sandbox, event)
                kind = "member_health" if op == "member_health" else "vip_fip"

                def reacted(kind: str = kind, n: int = n_applied) -> bool:
                    return any(a.kind == kind for a in w.applied[n:])

                assert w.run_until(reacted, WAIT)
                got = statuses[n_status:]
            else:
                if step.get("nb_changes"):
                    backend.apply_raw(step["nb_changes"])
                try:
                    got = handle(driver, step["request"])
                except OvnlbError:
                    got = []
                w.step(0)
            if step.get("nb_changes_after"):
                backend.apply_raw(step["nb_changes_after"])

            # Both replicas show the same rows once the watcher's writes arrived.
            def same_rows() -> bool:
                w.step(0)
                return canonical_dump(backend.reader()) == canonical_dump(w.backend.reader())

            assert backend.wait_for(same_rows, WAIT)
            if step.get("known_bugs") or (div is not None and step["index"] > div):
                continue
            assert canonical_dump(backend.reader()) == step["expect"]["nb"], step["index"]
            assert [canon_status(s) for s in got] == step["expect"]["statuses"], step["index"]
        assert event_steps > 0
        w.close()
    finally:
        backend.close()
        sandbox.stop()


def test_cli_watch_once(northd: OvnSandbox, capsys: pytest.CaptureFixture[str]) -> None:
    from ovnlb_backends.cli import main

    backend, _driver = setup_world(northd, DOC12, 6)
    with start(northd) as w:
        sm = wait_sm(northd, w, "10.0.0.11")
    northd.sbctl("set", "Service_Monitor", sm, "status=offline")
    assert (
        main(["watch", "--remote", northd.nb_remote, "--sb-remote", northd.sb_remote, "--once"])
        == 0
    )
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.strip()]
    assert any(
        m == {"id": M11, "provisioning_status": "ACTIVE", "operating_status": "ERROR"}
        for p in lines
        for m in p["members"]
    )
    assert backend.wait_for(lambda: member_status(backend.reader(), LB1).get(M11) == "ERROR", WAIT)
    backend.close()
