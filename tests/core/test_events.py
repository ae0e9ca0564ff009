"""Pure event handling (ovnlb_core.events) on the in-memory backend.

Worlds are built from the public conformance files (their NB topology and
requests), plus extra networks and router interfaces written as Neutron's
raw row operations. Expected values come from the spec (reference-behavior.md
3.6, 4.4, 6.2, 6.4 and the fixed bugs B16-B20, B31, B33) or from the
conformance files' expectations.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from event_world import (
    DOC01,
    DOC12,
    FIP_NAT,
    LB1,
    LB2,
    LB3,
    PRIVATE,
    R1,
    R2,
    VIP_PORT,
    VM1_PORT,
    VM3_PORT,
    add_interface_ops,
    add_member,
    apply_actions,
    apply_changes,
    apply_nb,
    ext,
    holders,
    lb_rows,
    ls_of,
    member_nat_ops,
    nat_of,
    remove_interface_ops,
    replay_steps,
    row_changes,
    subnet_id,
    tables,
    with_router_nat,
    world,
)
from histories import INTERFACES, event_topology_ops, interface_ops, interface_port
from ovnlb_backends.cli import demo
from ovnlb_backends.memory import MemoryBackend
from ovnlb_backends.service.actions import lrp_row, router_interface_event
from ovnlb_backends.service.driver import OvnLbDriver, handle
from ovnlb_backends.service.replay import canon_status
from ovnlb_core import events as ev
from ovnlb_core.dump import canonical_dump
from ovnlb_core.nb import NbReader
from ovnlb_core.octavia import OctaviaView
from ovnlb_core.plan import Plan
from ovnlb_core.rows import lb_names
from ovnlb_core.status import Payload
from ovnlb_core.topology import Topology

# -- (a) router interfaces ---------------------------------------------------------------------


def test_world_starts_as_creation_makes_it() -> None:
    backend, _ = world()
    r = backend.reader()
    # Spec 3.3: lb1's VIP subnet has router r1 -> r1 and its IPv4 switches, lr_ref r1.
    assert holders(r, "Logical_Router", LB1) == {R1}
    assert holders(r, "Logical_Switch", LB1) == {PRIVATE}
    assert ext(r, LB1)["lr_ref"] == R1
    # e1/e2 have no router yet: lb2 only on its VIP switch, no lr_ref.
    assert holders(r, "Logical_Router", LB2) == set()
    assert holders(r, "Logical_Switch", LB2) == {ls_of("e1")}
    assert "lr_ref" not in ext(r, LB2)
    assert holders(r, "Logical_Switch", LB3) == {ls_of("e2"), PRIVATE}
    # lb3's member subnet (private) has r1: spec 3.4 associates the router too.
    assert holders(r, "Logical_Router", LB3) == {R1}


def test_interface_added_associates_lbs_of_the_network_and_of_the_router() -> None:
    backend, driver = world()
    refs_before = ext(backend.reader(), LB1)["ls_refs"]
    plans = apply_nb(backend, add_interface_ops(backend.reader(), R1, "e1"), driver.subnets)
    r = backend.reader()
    # Spec 3.6: lb2 (on e1, not on r1) is added to r1, to all of r1's switches, and lr_ref.
    assert holders(r, "Logical_Router", LB2) == {R1}
    assert holders(r, "Logical_Switch", LB2) == {ls_of("e1"), PRIVATE}
    assert ext(r, LB2)["lr_ref"] == R1
    # lb1 (on r1, not on e1) gets e1 with ls_lb_add; ls_refs unchanged.
    assert holders(r, "Logical_Switch", LB1) == {PRIVATE, ls_of("e1")}
    assert ext(r, LB1)["ls_refs"] == refs_before
    # Only load balancers on r1 or e1 were looked at.
    assert {lb for lb, _p in plans} <= {LB1, LB2, LB3}


def test_interface_removed_keeps_own_switches_b33() -> None:
    backend, driver = world()
    # lb1 gets a member on e1 while r1 connects e1: ls_refs counts e1.
    apply_nb(backend, add_interface_ops(backend.reader(), R1, "e1"), driver.subnets)
    add_member(driver, LB1, "10.21.0.5", subnet_id("e1"), 2)
    r = backend.reader()
    assert holders(r, "Logical_Switch", LB1) == {PRIVATE, ls_of("e1")}
    apply_nb(backend, remove_interface_ops(backend.reader(), R1, "e1"), driver.subnets)
    r = backend.reader()
    # B33 would take lb1 off r1's remaining switches (its VIP switch) too. Correct: the VIP
    # subnet still has r1, so lb1 stays on r1 and on both switches it has members/VIP on.
    assert holders(r, "Logical_Router", LB1) == {R1}
    assert holders(r, "Logical_Switch", LB1) == {PRIVATE, ls_of("e1")}
    assert ext(r, LB1)["lr_ref"] == R1
    # lb2 reached r1 only through e1: off r1 and off r1's other switch; its VIP switch stays.
    assert holders(r, "Logical_Router", LB2) == set()
    assert holders(r, "Logical_Switch", LB2) == {ls_of("e1")}
    assert "lr_ref" not in ext(r, LB2)


def test_add_then_remove_interface_restores_rows() -> None:
    backend, driver = world()
    before = canonical_dump(backend.reader())
    apply_nb(backend, add_interface_ops(backend.reader(), R1, "e2"), driver.subnets)
    assert canonical_dump(backend.reader()) != before
    apply_nb(backend, remove_interface_ops(backend.reader(), R1, "e2"), driver.subnets)
    assert canonical_dump(backend.reader()) == before


def test_router_lsp_event_alone_is_handled() -> None:
    """The router-type LSP and the LRP may arrive in separate transactions, in any order."""
    backend, driver = world()
    ops = add_interface_ops(backend.reader(), R1, "e1")
    apply_nb(backend, ops[2:], driver.subnets)  # the LSP first: no LRP yet, nothing to do
    assert holders(backend.reader(), "Logical_Router", LB2) == set()
    apply_nb(backend, ops[:2], driver.subnets)
    assert holders(backend.reader(), "Logical_Router", LB2) == {R1}


def test_gateway_port_does_not_associate() -> None:
    backend, driver = world()
    ops = add_interface_ops(backend.reader(), R2, "e1")
    ops[0]["row"]["external_ids"]["neutron:is_ext_gw"] = "True"
    ops[2]["row"]["external_ids"]["neutron:device_owner"] = "network:router_gateway"
    plans = apply_nb(backend, ops, driver.subnets)
    assert all(p.is_empty() for _lb, p in plans)
    assert holders(backend.reader(), "Logical_Router", LB2) == set()


# -- property: idempotent, local, path independent ---------------------------------------------

IFACES = [(R1, "e1"), (R1, "e2"), (R2, "e1"), (R2, "e2")]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(st.sampled_from(IFACES), min_size=1, max_size=6))
# Found by hypothesis: lb2 joins R1 through e2 (behind R2) and keeps R1 and its network
# once that interface goes (spec 3.6).
@example([(R2, "e1"), (R2, "e2"), (R1, "e2")])
def test_interface_events_properties(toggles: list[tuple[str, str]]) -> None:
    backend, driver = world()
    initial = canonical_dump(backend.reader())
    present: list[tuple[str, str]] = []
    for lr, key in toggles:
        reader = backend.reader()
        if (lr, key) in present:
            ops = remove_interface_ops(reader, lr, key)
            present.remove((lr, key))
        else:
            ops = add_interface_ops(reader, lr, key)
            present.append((lr, key))
        attached_before = {
            n
            for table, name in (("Logical_Router", lr), ("Logical_Switch", ls_of(key)))
            for n in _lbs_on(reader, table, name)
        }
        before = tables(reader)
        backend.apply_raw(ops)
        changes = row_changes(before, tables(backend.reader()))
        plans = apply_changes(backend, changes, driver.subnets)
        # Events never touch load balancers that were not on that router or network.
        for lb, plan in plans:
            assert lb in attached_before or plan.is_empty()
        # Applying the same event again changes nothing.
        again = apply_changes(backend, changes, driver.subnets)
        assert all(p.is_empty() for _lb, p in again)
        # The result is what a full reconciliation (catch-up) computes.
        catch = apply_actions(
            backend,
            ev.catch_up_actions(backend.reader(), list(lb_names(backend.reader()))),
            driver.subnets,
        )
        assert all(p.is_empty() for _lb, p in catch), catch
    # Taking every added interface away restores every column but the router associations,
    # and the switch attachments but those behind a router kept that way. Spec 3.6 is event
    # based: an LB on a network only through its router is associated with a second router
    # added there, and when that interface goes it only leaves the network (the network is
    # not in its ls_refs), so it keeps the second router and the networks still behind it
    # (the reference does the same; tests/test_sync_agreement.py
    # test_router_of_a_deleted_member_is_not_drift pins the router staying).
    for lr, key in reversed(present):
        apply_nb(backend, remove_interface_ops(backend.reader(), lr, key), driver.subnets)
    final = canonical_dump(backend.reader())
    topo_final = Topology(backend.reader())
    initial_ls = initial["Logical_Switch_load_balancers"]
    initial_lr = initial["Logical_Router_load_balancers"]
    for ls, lbs in final["Logical_Switch_load_balancers"].items():
        assert set(initial_ls.get(ls, [])) <= set(lbs), ls
        for lb in set(lbs) - set(initial_ls.get(ls, [])):
            kept = [
                lr
                for lr, on in final["Logical_Router_load_balancers"].items()
                if lb in on and lb not in initial_lr.get(lr, [])
            ]
            assert any(ls in ev.router_reach(topo_final, [lr]) for lr in kept), (ls, lb)

    def without_lr_ref(dump: dict[str, Any]) -> list[Any]:
        return [
            {**r, "external_ids": {k: v for k, v in r["external_ids"].items() if k != "lr_ref"}}
            for r in dump["Load_Balancer"]
        ]

    assert without_lr_ref(final) == without_lr_ref(initial)
    # A router kept that way is a leftover: it reaches none of the row's own networks.
    own = {
        r["label"]: set(json.loads(r["external_ids"].get("ls_refs", "{}")))
        for r in final["Load_Balancer"]
    }
    for lr, lbs in final["Logical_Router_load_balancers"].items():
        for lb in set(lbs) - set(initial_lr.get(lr, [])):
            assert not own[lb] & ev.router_reach(topo_final, [lr]), (lr, lb)
        assert set(initial_lr.get(lr, [])) <= set(lbs)
    for r in final["Load_Balancer"]:
        refs = [x for x in r["external_ids"].get("lr_ref", "").split(",") if x]
        on = {lr for lr, lbs in final["Logical_Router_load_balancers"].items() if r["label"] in lbs}
        assert set(refs) == on


def _lbs_on(reader: NbReader, table: str, name: str) -> set[str]:
    lbs = reader.rows("Load_Balancer")
    out = set()
    for _u, row in reader.by_name(table, name):
        out |= {str(lbs[u]["name"]) for u in row.get("load_balancer", ()) if u in lbs}
    return out


# -- (b) VIP floating IPs ----------------------------------------------------------------------


def test_fip_nat_event_matches_the_conformance_step() -> None:
    backend, driver = replay_steps(DOC01, 6)
    step = DOC01["steps"][6]
    assert step["request"]["op"] == "fip_associate"
    plans = apply_nb(backend, step["nb_changes"], driver.subnets)
    assert canonical_dump(backend.reader()) == step["expect"]["nb"]
    assert [lb for lb, p in plans if not p.is_empty()] == [LB1]
    # Seen again (or the LSP's neutron:port_fip seen separately): nothing more (B31).
    changes = [
        ev.RowChange("NAT", "x", None, r)
        for r in backend.reader().rows("NAT").values()
        if r["external_ids"].get("neutron:fip_port_id") == VIP_PORT
    ]
    assert all(p.is_empty() for _lb, p in apply_changes(backend, changes, driver.subnets))


def _nat_ops(external_ip: str) -> list[dict[str, Any]]:
    return [
        {"op": "update", "table": "NAT", "name": FIP_NAT, "columns": {"external_ip": external_ip}}
    ]


def test_fip_changed_a_to_b_removes_a_b31() -> None:
    backend, driver = replay_steps(DOC01, 6)
    apply_nb(backend, DOC01["steps"][6]["nb_changes"], driver.subnets)
    apply_nb(backend, _nat_ops("172.24.4.101"), driver.subnets)
    r = backend.reader()
    row = lb_rows(r, LB1)[0]
    # Spec 6.2 associate B, disassociate A (B31: A must not stay in vips or as a check).
    assert row["external_ids"]["neutron:vip_fip"] == "172.24.4.101"
    assert "172.24.4.100:80" not in row["vips"]
    assert row["vips"]["172.24.4.101:80"] == row["vips"]["10.0.0.3:80"]
    hcs = r.rows("Load_Balancer_Health_Check")
    vips = sorted(hcs[u]["vip"] for u in row["health_check"])
    assert vips == ["10.0.0.3:80", "172.24.4.101:80"]
    octavia_vips = sorted(hcs[u]["external_ids"]["octavia:vip"] for u in row["health_check"])
    assert octavia_vips == ["10.0.0.3", "172.24.4.101"]


def test_fip_disassociated_restores_the_rows_before_it() -> None:
    backend, driver = replay_steps(DOC01, 6)
    apply_nb(backend, DOC01["steps"][6]["nb_changes"], driver.subnets)
    r = backend.reader()
    lsp = dict(r.by_name("Logical_Switch_Port", VIP_PORT)[0][1]["external_ids"])
    del lsp["neutron:port_fip"]
    ops: list[dict[str, Any]] = [
        {"op": "update", "table": "Logical_Router", "name": R1, "columns": {"nat": []}},
        {"op": "delete", "table": "NAT", "name": FIP_NAT},
        {
            "op": "update",
            "table": "Logical_Switch_Port",
            "name": VIP_PORT,
            "columns": {"external_ids": lsp},
        },
    ]
    apply_nb(backend, ops, driver.subnets)
    got = canonical_dump(backend.reader())
    want = DOC01["steps"][5]["expect"]["nb"]  # the rows before the FIP (spec 6.2 disassociate)
    for key in ("Load_Balancer", "Load_Balancer_Health_Check", "Logical_Switch_load_balancers"):
        assert got[key] == want[key], key


# -- (c) member FIPs under DVR -----------------------------------------------------------------


def test_member_fip_is_centralised_when_the_lb_has_a_fip() -> None:
    backend, driver = replay_steps(DOC01, 6)
    apply_nb(backend, DOC01["steps"][6]["nb_changes"], driver.subnets)
    fid1, fid3 = "aaaaaaaa-0000-4000-8000-000000000001", "aaaaaaaa-0000-4000-8000-000000000003"
    ops = member_nat_ops(VM1_PORT, fid1, "172.24.4.50", "10.0.0.11")
    ops += member_nat_ops(VM3_PORT, fid3, "172.24.4.53", "10.0.0.13")
    apply_nb(backend, with_router_nat(backend.reader(), ops), driver.subnets)
    r = backend.reader()
    # Spec 6.4: the member's NAT loses external_mac and logical_port.
    assert (nat_of(r, fid1)["logical_port"], nat_of(r, fid1)["external_mac"]) == (None, None)
    # Port 10.0.0.13 is no member: untouched.
    assert nat_of(r, fid3)["logical_port"] == VM3_PORT
    assert nat_of(r, fid3)["external_mac"] == "fa:16:3e:77:77:77"


def test_member_fip_untouched_without_lb_fip() -> None:
    backend, driver = replay_steps(DOC01, 6)
    fid = "aaaaaaaa-0000-4000-8000-000000000001"
    ops = member_nat_ops(VM1_PORT, fid, "172.24.4.50", "10.0.0.11")
    apply_nb(backend, with_router_nat(backend.reader(), ops), driver.subnets)
    assert nat_of(backend.reader(), fid)["logical_port"] == VM1_PORT
    # The VIP gets its FIP afterwards: now the member's FIP is centralised (B19/B20 fixed:
    # not only at member creation).
    ops = [op for op in DOC01["steps"][6]["nb_changes"] if op["table"] != "Logical_Router"]
    apply_nb(backend, with_router_nat(backend.reader(), ops), driver.subnets)
    nat = nat_of(backend.reader(), fid)
    assert (nat["logical_port"], nat["external_mac"]) == (None, None)


# -- (d) Service_Monitor -----------------------------------------------------------------------


def sm_row(event_row: Mapping[str, Any]) -> dict[str, Any]:
    """A SB Service_Monitor row as the watcher delivers it."""
    return {**event_row, "protocol": event_row["protocol"], "status": event_row.get("status")}


def health(
    backend: MemoryBackend, change: ev.RowChange, view: OctaviaView, report: bool = True
) -> tuple[list[Payload], list[Plan]]:
    statuses: list[Payload] = []
    plans = []
    for a in ev.sb_actions(backend.reader(), change, report):
        ap = ev.plan_action(backend.reader(), a, None, view)
        backend.commit(ap.plan, basis=ap.actual)
        plans.append(ap.plan)
        statuses += ap.outcome.statuses
    return statuses, plans


def test_member_health_events_match_conformance() -> None:
    backend, driver = replay_steps(DOC12, 6)
    sm: dict[str, dict[str, Any]] = {}
    for step in DOC12["steps"][6:9]:
        driver.view.apply_changes(step.get("octavia_changes") or {})
        statuses: list[Payload] = []
        for event in step["request"]["events"]:
            key = f"{event['row']['ip']}:{event['row']['port']}"
            old = sm.get(key)
            new = sm_row(event["row"])
            sm[key] = new
            got, _plans = health(
                backend, ev.RowChange("Service_Monitor", key, old, new), driver.view
            )
            statuses += got
        assert [canon_status(s) for s in statuses] == step["expect"]["statuses"]
        assert canonical_dump(backend.reader()) == step["expect"]["nb"]


def _member_status(backend: MemoryBackend) -> dict[str, str]:
    return dict(json.loads(ext(backend.reader(), LB1)["neutron:member_status"]))


def test_service_monitor_error_delete_and_repeat() -> None:
    backend, driver = replay_steps(DOC12, 6)
    row = sm_row(DOC12["steps"][6]["request"]["events"][0]["row"])
    member = DOC12["steps"][3]["request"]["member"]["member_id"]
    assert DOC12["steps"][3]["request"]["member"]["address"] == row["ip"]
    vips_before = lb_rows(backend.reader(), LB1)[0]["vips"]
    # B17: SB status "error" is a failed check -> ERROR (not ONLINE).
    err = {**row, "status": "error"}
    statuses, _ = health(backend, ev.RowChange("Service_Monitor", "s", None, err), driver.view)
    assert _member_status(backend)[member] == "ERROR"
    assert statuses and statuses[0]["pools"][0]["operating_status"] == "DEGRADED"
    # The same row seen again (catch-up): no change, no report.
    statuses, plans = health(
        backend, ev.RowChange("Service_Monitor", "s", None, err), driver.view, report=False
    )
    assert all(p.is_empty() for p in plans)
    # An update that leaves the status alone is no event at all.
    same = ev.RowChange("Service_Monitor", "s", err, {**err, "options": {"x": "y"}})
    assert ev.sb_actions(backend.reader(), same) == []
    # B18: a deleted monitor means no monitoring -> NO_MONITOR, the member stays in vips.
    health(backend, ev.RowChange("Service_Monitor", "s", err, None), driver.view)
    assert _member_status(backend)[member] == "NO_MONITOR"
    assert lb_rows(backend.reader(), LB1)[0]["vips"] == vips_before


def test_service_monitor_of_another_backend_changes_nothing_b16() -> None:
    backend, driver = replay_steps(DOC12, 6)
    row = sm_row(DOC12["steps"][6]["request"]["events"][0]["row"])
    before = canonical_dump(backend.reader())
    # 10.0.0.1 is a substring of 10.0.0.11 (B16); 8 of 80.
    for other in ({**row, "ip": "10.0.0.1", "status": "offline"}, {**row, "port": 8}):
        statuses, _ = health(
            backend, ev.RowChange("Service_Monitor", "o", None, other), driver.view
        )
        assert statuses == []
    assert canonical_dump(backend.reader()) == before


def test_catch_up_on_a_fresh_world_changes_nothing() -> None:
    for doc, upto in ((DOC01, 9), (DOC12, 9)):
        backend, driver = replay_steps(doc, upto)
        reader = backend.reader()
        plans = apply_actions(
            backend, ev.catch_up_actions(reader, list(lb_names(reader))), driver.subnets
        )
        assert all(p.is_empty() for _lb, p in plans)


# -- one rule for an interface without neutron:cidrs (issue 14 item 10) ------------------------


def test_interface_without_neutron_cidrs_watch_and_sync_agree() -> None:
    """A router-interface LSP lacking ``neutron:cidrs``: the request path, sync and the
    watcher's reconcile all take the interface for the peer LRP's ``networks``
    (``topology.interface_cidrs``), so none of them undoes what another did."""
    from ovnlb_backends.cli import demo
    from ovnlb_core import sync as core
    from ovnlb_core.rows import lb_rowset
    from ovnlb_core.topology import Topology

    backend = MemoryBackend()
    backend.apply_raw(demo.topology_ops())
    ((_u, lsp),) = backend.reader().by_name("Logical_Switch_Port", demo.RI_VIP)
    ext = {k: v for k, v in lsp["external_ids"].items() if k != "neutron:cidrs"}
    assert ext != lsp["external_ids"]
    backend.apply_raw(
        [
            {
                "op": "update",
                "table": "Logical_Switch_Port",
                "name": demo.RI_VIP,
                "columns": {"external_ids": ext},
            }
        ]
    )
    lb = {
        "loadbalancer_id": demo.LB,
        "vip_address": "172.24.4.9",
        "vip_port_id": demo.VIP_PORT,
        "vip_network_id": demo.NET,
        "vip_subnet_id": demo.VIP_SUBNET,
        "admin_state_up": True,
    }
    OvnLbDriver(backend, demo.SUBNETS).lb_create(lb)
    reader = backend.reader()
    rows = lb_rowset(reader, demo.LB)
    ((uuid, row),) = rows.lbs.items()
    router = f"neutron-{demo.ROUTER}"
    # The interface's LRP serves 172.24.4.1/24: the VIP subnet's router is associated.
    assert row.external_ids["lr_ref"] == router
    assert rows.routers[uuid] == {router}
    # The watcher's catch-up (routers, FIPs) keeps it ...
    action = ev.catch_up_actions(reader, [demo.LB])[0]
    assert ev.plan_action(reader, action, demo.SUBNETS).plan.is_empty()
    # ... and so does a sync from the same Octavia view.
    sync = core.sync_action(
        core.DesiredLb({**lb, "listeners": [], "pools": []}),
        core.rowset(reader, demo.LB),
        Topology(reader, demo.SUBNETS),
    )
    assert sync.kind == core.ActionKind.IN_SYNC, core.action_json(sync)


# -- deviations of the event-based interface handling (docs/compat.md) ----------------------------


def _demo_world() -> tuple[MemoryBackend, OvnLbDriver]:
    backend = MemoryBackend()
    backend.apply_raw(event_topology_ops())
    driver = OvnLbDriver(backend, demo.SUBNETS, OctaviaView())
    lb = {
        "loadbalancer_id": demo.LB,
        "vip_address": "172.24.4.9",
        "vip_port_id": demo.VIP_PORT,
        "vip_network_id": demo.NET,
        "vip_subnet_id": demo.VIP_SUBNET,
        "admin_state_up": True,
    }
    handle(driver, {"op": "lb_create", "loadbalancer": lb})
    return backend, driver


def _toggle(backend: MemoryBackend, driver: OvnLbDriver, i: int) -> None:
    name = f"lrp-{interface_port(i)}"
    before = lrp_row(backend, name)
    backend.apply_raw(interface_ops(backend.reader(), i))
    after = lrp_row(backend, name)
    if after is not None:
        change = ev.RowChange("Logical_Router_Port", after[0], None, after[1])
    else:
        assert before is not None
        change = ev.RowChange("Logical_Router_Port", before[0], before[1], None)
    router_interface_event(backend, change, driver.subnets, driver.view)


def _member_on(driver: OvnLbDriver, address: str) -> None:
    pool = {
        "pool_id": "898be8a2-5185-4f3b-8658-a56457f59501",
        "loadbalancer_id": demo.LB,
        "listener_id": None,
        "protocol": "TCP",
        "lb_algorithm": "SOURCE_IP_PORT",
        "admin_state_up": True,
    }
    handle(driver, {"op": "pool_create", "pool": pool})
    member = {
        "member_id": "adf55e70-3d50-4e62-99fd-dd77eababb00",
        "pool_id": pool["pool_id"],
        "address": address,
        "protocol_port": 80,
        "subnet_id": demo.MEMBER_SUBNET,
        "admin_state_up": True,
    }
    handle(driver, {"op": "member_create", "member": member})


def test_interface_removed_keeps_a_router_still_serving_the_vip() -> None:
    """Spec 3.6/1.8: an LB counting the interface's network in ls_refs is disassociated from
    the router. Deviation (compat.md): the router stays while another of its interfaces
    serves a VIP or member subnet of the LB (here the VIP's), and nothing is detached."""
    backend, driver = _demo_world()
    lr = f"neutron-{demo.ROUTER}"
    _member_on(driver, "10.10.10.10")
    assert holders(backend.reader(), "Logical_Router", demo.LB) == {lr}
    _toggle(backend, driver, 0)  # R leaves the member network (counted in ls_refs)
    reader = backend.reader()
    assert holders(reader, "Logical_Router", demo.LB) == {lr}
    (row,) = lb_rows(reader, demo.LB)
    assert row["external_ids"]["lr_ref"] == lr
    assert holders(reader, "Logical_Switch", demo.LB) == {
        f"neutron-{demo.NET}",
        f"neutron-{demo.MEMBER_NET}",
    }
    # Then R leaves the VIP network too: nothing of R serves the LB, it is disassociated.
    _toggle(backend, driver, 1)
    reader = backend.reader()
    assert holders(reader, "Logical_Router", demo.LB) == set()
    assert "lr_ref" not in lb_rows(reader, demo.LB)[0]["external_ids"]


def test_interface_removed_keeps_a_switch_another_router_reaches_u4() -> None:
    """Spec 3.6 (U4 in the conformance files): the router's other LBs leave the interface's
    network with a plain ls_lb_del. ovnlb keeps the switch while another of the LB's
    routers still reaches it."""
    backend, driver = _demo_world()
    lr, lr2 = f"neutron-{demo.ROUTER}", INTERFACES[2][0]
    _toggle(backend, driver, 2)  # R2 on the member network: the LB (on it via R) joins R2
    _toggle(backend, driver, 3)  # R2 on network X: R2's LBs join X
    reader = backend.reader()
    x = f"neutron-{INTERFACES[3][1]}"
    assert holders(reader, "Logical_Router", demo.LB) == {lr, lr2}
    assert x in holders(reader, "Logical_Switch", demo.LB)
    _toggle(backend, driver, 0)  # R leaves the member network; R2 still reaches it
    reader = backend.reader()
    assert f"neutron-{demo.MEMBER_NET}" in holders(reader, "Logical_Switch", demo.LB)
    _toggle(backend, driver, 3)  # R2 leaves X: no other router of the LB reaches X
    assert x not in holders(backend.reader(), "Logical_Switch", demo.LB)
