"""Sync: Octavia's view against NB rows (ovnlb_core.sync, ovnlb_backends.service.sync).

Expected rows come from the conformance files (the reference's recorded NB
state) or from the spec; never from ovnlb's own output. The NB side runs on
a real ``ovsdb-server`` through :class:`IdlBackend`, except the all-steps
sweeps, which use the in-memory backend (it passes the same conformance
suite) to stay fast.
"""

from __future__ import annotations

import json
import uuid as uuidlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ovnlb_backends.idl import IdlBackend
from ovnlb_backends.memory import MemoryBackend
from ovnlb_backends.sandbox import OvnSandbox
from ovnlb_backends.service.driver import OvnLbDriver, handle
from ovnlb_backends.service.replay import replay
from ovnlb_backends.service.sources import JsonFileSource
from ovnlb_backends.service.sync import run_sync
from ovnlb_core import requests as rq
from ovnlb_core import sync as core
from ovnlb_core.dump import canonical_dump
from ovnlb_core.octavia import OctaviaView
from ovnlb_core.plan import (
    Attachment,
    HealthCheckRow,
    LbRowSet,
    LbUpdate,
    LoadBalancerRow,
    MapDelta,
    Plan,
    apply,
)
from ovnlb_core.topology import Topology, subnets_from_neutron
from ovnlb_core.translate import translate
from paths import ROOT
from sync_data.conformance_view import compared_steps, nb_batches, step, view_at

ROOT = ROOT
CONFORMANCE = sorted((ROOT / "tests" / "conformance").glob("*.json"))
EXAMPLE = ROOT / "examples" / "octavia-view.json"

# Names from 02_multi_protocol.json (its "names" table).
LB1 = "e5aff8c0-9670-5640-9b24-c161517ad2b7"
NET_PRIVATE = "neutron-81a2323d-585e-5d09-b469-affb041ee6a7"
NET_PUBLIC = "neutron-01f71283-28a0-5f77-9193-b539b7c07eef"
ROUTER1 = "neutron-956a7973-dc36-5da2-93d8-e01da294069d"
SUBNET_PRIVATE = "4d185484-6775-5505-a034-bc45d98bf81b"
POOL_TCP = "0e687ece-9bbe-5f96-b1dc-4ecfacb656e4"
POOL_UDP = "2b440de3-6788-5440-97ae-96660eb36c68"
M_TCP_2 = "297cf434-30bd-510b-a04c-8ddab6945d16"
M_UDP_1 = "d3679504-31cf-53b5-933c-332b37c48450"
VIP_PORT = "7a4c9033-8f81-5921-8aff-8df562b53895"


def load(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as f:
        doc: dict[str, Any] = json.load(f)
    return doc


def new_id(tag: str) -> str:
    return str(uuidlib.uuid5(uuidlib.NAMESPACE_URL, f"ovnlb-test-sync/{tag}"))


@pytest.fixture
def idl(nb_server: OvnSandbox) -> Iterator[IdlBackend]:
    be = IdlBackend(nb_server.nb_remote, timeout=10)
    try:
        yield be
    finally:
        be.close()


def load_nb(backend: Any, doc: Mapping[str, Any], index: int) -> None:
    """Neutron's rows of the file up to ``index`` (no load balancer)."""
    for batch in nb_batches(doc, index):
        backend.apply_raw(batch)


def write_view(tmp_path: Path, view: Mapping[str, Any], name: str = "view.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(view, indent=1), encoding="utf-8")
    return path


def lb_part(dump: Mapping[str, Any], drop: tuple[str, ...] = ()) -> dict[str, Any]:
    """The dump without the rows labelled ``drop`` (e.g. a port-forwarding row)."""
    out = dict(dump)
    out["Load_Balancer"] = [r for r in dump["Load_Balancer"] if r["label"] not in drop]
    for key in ("Logical_Switch_load_balancers", "Logical_Router_load_balancers"):
        out[key] = {k: [x for x in v if x not in drop] for k, v in dump[key].items()}
    hcs = []
    for h in dump["Load_Balancer_Health_Check"]:
        refs = [x for x in h["referenced_by"] if x not in drop]
        if refs or not h["referenced_by"]:
            hcs.append({**h, "referenced_by": refs})
    out["Load_Balancer_Health_Check"] = hcs
    return out


def rows_by_protocol(backend: Any, name: str) -> dict[str | None, str]:
    return {r.get("protocol"): u for u, r in backend.reader().by_name("Load_Balancer", name)}


# ---------------------------------------------------------------------------
# (a) conformance: sync into an NB holding only Neutron's rows
# ---------------------------------------------------------------------------


@pytest.mark.ovn
@pytest.mark.parametrize("path", CONFORMANCE, ids=lambda p: p.stem)
def test_sync_reproduces_the_recorded_rows(path: Path, idl: IdlBackend, tmp_path: Path) -> None:
    doc = load(path)
    index = compared_steps(doc)[-1]
    load_nb(idl, doc, index)
    source = JsonFileSource(write_view(tmp_path, view_at(doc, index)))
    lbs = source.load_balancers()
    report = run_sync(idl, lbs, source.subnets())
    assert report.ok, [r.error for r in report.results]
    assert canonical_dump(idl.reader()) == step(doc, index)["expect"]["nb"]
    # One transaction per load balancer that had to be written.
    assert report.transactions == sum(1 for r in report.results if r.applied)
    assert all(r.applied for r in report.results if r.action.drift)
    # (c) A second sync changes nothing.
    before = idl.transaction_count()
    again = run_sync(idl, lbs, source.subnets())
    assert idl.transaction_count() == before
    assert again.transactions == 0
    assert {r.action.kind for r in again.results} <= {core.ActionKind.IN_SYNC}


@pytest.mark.parametrize("path", CONFORMANCE, ids=lambda p: p.stem)
def test_sync_from_empty_matches_every_compared_step(path: Path) -> None:
    """Memory backend, every compared step; health-event steps hold statuses that only NB
    knows (SB events), so they are checked by the next test instead."""
    doc = load(path)
    for index in compared_steps(doc):
        if step(doc, index)["request"]["op"] == "member_health":
            continue
        backend = MemoryBackend()
        load_nb(backend, doc, index)
        lbs, subnets = core.view_from_api(view_at(doc, index))
        report = run_sync(backend, lbs, subnets)
        assert report.ok
        assert canonical_dump(backend.reader()) == step(doc, index)["expect"]["nb"], index


@pytest.mark.parametrize("path", CONFORMANCE, ids=lambda p: p.stem)
def test_sync_over_the_recorded_state_changes_nothing(path: Path) -> None:
    """Rows written request by request (equal to the recorded ones, see test_conformance)
    are already what Octavia's view asks for, health statuses included."""
    doc = load(path)
    wanted = set(compared_steps(doc))
    backend = MemoryBackend()
    for rec in replay(doc, backend):
        if rec["index"] not in wanted:
            continue
        assert rec["nb"] == step(doc, rec["index"])["expect"]["nb"]
        lbs, subnets = core.view_from_api(view_at(doc, rec["index"]))
        actions = core.plan_all(lbs, backend.reader(), subnets)
        assert [a for a in actions if a.kind is not core.ActionKind.IN_SYNC] == [], rec["index"]


# ---------------------------------------------------------------------------
# (b) hand-corrupted rows are repaired
# ---------------------------------------------------------------------------

DOC02 = ROOT / "tests" / "conformance" / "02_multi_protocol.json"


def _pf_row() -> LoadBalancerRow:
    fip = new_id("pf-fip")
    return LoadBalancerRow(
        uuid=new_id("pf-row"),
        name=f"pf-floatingip-{fip}-tcp",
        protocol="tcp",
        vips={"172.24.4.101:2222": "10.0.0.13:22"},
        external_ids={
            "neutron:device_owner": "port_forwarding_plugin",
            "neutron:fip_id": fip,
            "neutron:router_name": ROUTER1,
        },
    )


def _orphan_row() -> LoadBalancerRow:
    return LoadBalancerRow(
        uuid=new_id("orphan-row"),
        name=new_id("orphan-lb"),
        protocol="tcp",
        vips={"10.0.0.50:80": "10.0.0.13:80"},
        external_ids={
            "enabled": "True",
            "neutron:vip": "10.0.0.50",
            "neutron:vip_port_id": new_id("orphan-port"),
            "ls_refs": json.dumps({NET_PRIVATE: 1}),
            "listener_" + new_id("orphan-listener"): "80:pool_" + new_id("orphan-pool"),
        },
    )


def _foreign_row() -> LoadBalancerRow:
    """A row named like an Octavia LB but without the provider's keys: not ours."""
    return LoadBalancerRow(
        uuid=new_id("foreign-row"),
        name=new_id("foreign-lb"),
        protocol="udp",
        vips={"10.0.0.60:53": "10.0.0.12:53"},
        external_ids={"owner": "someone-else"},
    )


@pytest.mark.ovn
def test_corrupted_rows_are_repaired(idl: IdlBackend, tmp_path: Path) -> None:
    doc = load(DOC02)
    index = 12  # TCP, UDP (health monitor) and SCTP rows
    expected = step(doc, index)["expect"]["nb"]
    load_nb(idl, doc, index)
    source = JsonFileSource(EXAMPLE)
    lbs, subnets = source.load_balancers(), source.subnets()
    assert run_sync(idl, lbs, subnets).ok
    assert canonical_dump(idl.reader()) == expected

    rows = rows_by_protocol(idl, LB1)
    reader = idl.reader()
    tcp_ids = dict(reader.rows("Load_Balancer")[rows["tcp"]]["external_ids"])
    stale_pool, stale_listener = new_id("stale-pool"), new_id("stale-listener")
    pf, orphan, foreign = _pf_row(), _orphan_row(), _foreign_row()
    stale_hc = HealthCheckRow(
        new_id("stale-hc"),
        "10.0.0.3:53",
        {"interval": "5"},
        {"octavia:healthmonitor": new_id("stale-hm"), "octavia:vip": "10.0.0.3"},
    )
    corruption = Plan(
        lb_inserts=(pf, orphan, foreign),
        hc_inserts=(stale_hc,),
        lb_updates=(
            LbUpdate(
                rows["tcp"],
                protocol="tcp",
                external_ids=MapDelta(
                    {
                        # removed member: the second TCP member is gone from the pool value
                        f"pool_{POOL_TCP}": tcp_ids[f"pool_{POOL_TCP}"].split(",")[0],
                        # stale pool and listener
                        f"pool_{stale_pool}": f"member_{new_id('m')}_10.0.0.13:80_{SUBNET_PRIVATE}",
                        f"listener_{stale_listener}": f"81:pool_{stale_pool}",
                        # wrong ls_refs counts and a switch it has no reason to be on
                        "ls_refs": json.dumps({NET_PRIVATE: 9, NET_PUBLIC: 1}),
                        # a stale floating IP
                        "neutron:vip_fip": "172.24.4.101",
                    }
                ),
                vips=MapDelta({"10.0.0.3:81": "10.0.0.13:80"}),
            ),
            LbUpdate(
                rows["udp"],
                protocol="udp",
                external_ids=MapDelta(
                    # a truncated member entry
                    {f"pool_{POOL_UDP}": f"member_{M_UDP_1}_10.0.0.11"}
                ),
                health_check_add=(stale_hc.uuid,),
            ),
            LbUpdate(
                rows["sctp"],
                protocol="sctp",
                # broken ls_refs JSON
                external_ids=MapDelta({"ls_refs": '{"' + NET_PRIVATE + '": 2'}),
            ),
        ),
        attach=(
            Attachment("Logical_Switch", NET_PUBLIC, rows["tcp"]),
            Attachment("Logical_Switch", NET_PRIVATE, orphan.uuid),
            Attachment("Logical_Router", ROUTER1, pf.uuid),
        ),
    )
    idl.commit(corruption)
    corrupted = canonical_dump(idl.reader())
    pf_label, foreign_label = f"{pf.name}/tcp", f"{foreign.name}/udp"
    keep = [r for r in corrupted["Load_Balancer"] if r["label"] in (pf_label, foreign_label)]
    assert len(keep) == 2

    actions = {a.lb_id: a for a in core.plan_all(lbs, idl.reader(), subnets)}
    assert set(actions) == {LB1, orphan.name}
    assert actions[LB1].kind is core.ActionKind.UPDATE
    assert actions[orphan.name].kind is core.ActionKind.DELETE
    issues = "\n".join(actions[LB1].issues)
    assert f"pool_{POOL_UDP}" in issues and "ls_refs" in issues
    assert len(actions[LB1].issues) == 2

    txns = idl.transaction_count()
    report = run_sync(idl, lbs, subnets)
    assert report.ok
    assert report.transactions == idl.transaction_count() - txns == 2  # one per load balancer
    after = canonical_dump(idl.reader())
    assert lb_part(after, (pf_label, foreign_label)) == expected
    assert [r for r in after["Load_Balancer"] if r["label"] in (pf_label, foreign_label)] == keep
    assert pf_label in after["Logical_Router_load_balancers"][ROUTER1]
    # (c) and nothing left to do
    assert all(a.kind is core.ActionKind.IN_SYNC for a in core.plan_all(lbs, idl.reader(), subnets))
    again = run_sync(idl, lbs, subnets)
    assert again.transactions == 0


@pytest.mark.ovn
def test_a_lost_protocol_row_is_recreated(idl: IdlBackend) -> None:
    doc = load(DOC02)
    load_nb(idl, doc, 12)
    source = JsonFileSource(EXAMPLE)
    lbs, subnets = source.load_balancers(), source.subnets()
    assert run_sync(idl, lbs, subnets).ok
    rows = rows_by_protocol(idl, LB1)
    idl.commit(Plan(lb_deletes=(rows["udp"],)))
    action = core.plan_all(lbs, idl.reader(), subnets)[0]
    assert action.kind is core.ActionKind.UPDATE
    assert [r.protocol for r in action.plan.lb_inserts] == ["udp"]
    assert run_sync(idl, lbs, subnets).transactions == 1
    assert canonical_dump(idl.reader()) == step(doc, 12)["expect"]["nb"]


DOC01 = ROOT / "tests" / "conformance" / "01_full_sequence.json"
FIP = "172.24.4.100"


@pytest.mark.ovn
def test_disabled_members_and_fips_are_repaired(idl: IdlBackend, tmp_path: Path) -> None:
    """01 ends with one disabled member (OFFLINE, out of vips and mappings, spec 1.4, 4.3), a
    health monitor and a FIP on the VIP (checks for VIP and FIP, spec 4.2, 6.2)."""
    doc = load(DOC01)
    index = compared_steps(doc)[-1]
    expected = step(doc, index)["expect"]["nb"]
    load_nb(idl, doc, index)
    view = view_at(doc, index)
    source = JsonFileSource(write_view(tmp_path, view))
    lbs, subnets = source.load_balancers(), source.subnets()
    assert run_sync(idl, lbs, subnets).ok
    assert canonical_dump(idl.reader()) == expected

    (name,) = {r["name"] for r in expected["Load_Balancer"]}
    (row_uuid,) = rows_by_protocol(idl, name).values()
    row = idl.reader().rows("Load_Balancer")[row_uuid]
    ids = row["external_ids"]
    member = json.loads(ids["neutron:member_status"])
    (member_id,) = member
    pool_key = next(k for k in ids if k.startswith("pool_"))
    listener_key = next(k for k in ids if k.startswith("listener_"))
    fip_hc = next(
        u
        for u in row["health_check"]
        if idl.reader().rows("Load_Balancer_Health_Check")[u]["external_ids"]["octavia:vip"] == FIP
    )
    # The reference's sync bug B24: the disabled member set NO_MONITOR and back in vips;
    # the FIP health check lost; the listener disabled by hand.
    idl.commit(
        Plan(
            lb_updates=(
                LbUpdate(
                    row_uuid,
                    protocol="tcp",
                    external_ids=MapDelta(
                        {
                            "neutron:member_status": json.dumps({member_id: "NO_MONITOR"}),
                            listener_key + ":D": ids[listener_key],
                        },
                        (listener_key,),
                    ),
                    vips=MapDelta({"10.0.0.3:80": "10.0.0.11:8080"}),
                    ip_port_mappings=MapDelta({"10.0.0.11": "x:10.0.0.4"}),
                    health_check_remove=(fip_hc,),
                ),
            )
        )
    )
    assert pool_key in idl.reader().rows("Load_Balancer")[row_uuid]["external_ids"]
    assert run_sync(idl, lbs, subnets).transactions == 1
    assert canonical_dump(idl.reader()) == expected

    # Neutron no longer has the FIP: its key, vips entries and health check go (spec 6.2).
    for f in view["neutron"]["floatingips"]:
        f["port_id"] = None
    source = JsonFileSource(write_view(tmp_path, view, "nofip.json"))
    lbs = source.load_balancers()
    assert run_sync(idl, lbs, subnets).transactions == 1
    dump = canonical_dump(idl.reader())
    (lb,) = dump["Load_Balancer"]
    assert "neutron:vip_fip" not in lb["external_ids"]
    assert [h["external_ids"]["octavia:vip"] for h in lb["health_check"]] == ["10.0.0.3"]
    assert not any(k.startswith(FIP) for k in lb["vips"])
    assert all(h["external_ids"]["octavia:vip"] != FIP for h in dump["Load_Balancer_Health_Check"])


# ---------------------------------------------------------------------------
# (f) health statuses recorded by events are kept
# ---------------------------------------------------------------------------

DOC12 = ROOT / "tests" / "conformance" / "12_hm_events.json"


@pytest.mark.ovn
def test_health_statuses_are_kept(idl: IdlBackend) -> None:
    doc = load(DOC12)
    index = 7  # both members ERROR after SB Service_Monitor events
    expected = step(doc, index)["expect"]["nb"]
    statuses = json.loads(expected["Load_Balancer"][0]["external_ids"]["neutron:member_status"])
    assert set(statuses.values()) == {"ERROR"}
    idl.apply_raw(nb_batches(doc, -1)[0])
    driver = OvnLbDriver(idl, subnets_from_neutron(doc["neutron"]["subnets"]), OctaviaView())
    for s in doc["steps"][: index + 1]:
        if s.get("nb_changes"):
            idl.apply_raw(s["nb_changes"])
        driver.view.apply_changes(s.get("octavia_changes") or {})
        handle(driver, s["request"])
        if s.get("nb_changes_after"):
            idl.apply_raw(s["nb_changes_after"])
    assert canonical_dump(idl.reader()) == expected
    lbs, subnets = core.view_from_api(view_at(doc, index))
    (row_uuid,) = rows_by_protocol(idl, lbs[0].id).values()
    # Something unrelated drifted: ls_refs lost.
    idl.commit(
        Plan(
            lb_updates=(
                LbUpdate(row_uuid, protocol="tcp", external_ids=MapDelta({}, ("ls_refs",))),
            )
        )
    )
    report = run_sync(idl, lbs, subnets)
    assert report.transactions == 1
    assert canonical_dump(idl.reader()) == expected  # ERROR kept, ls_refs back


# ---------------------------------------------------------------------------
# pure core: ownership, harmonising, properties
# ---------------------------------------------------------------------------


def test_ownership_rule() -> None:
    ids = {"enabled": "True", "neutron:vip": "10.0.0.3", "neutron:vip_port_id": VIP_PORT}
    assert core.is_owned(LB1, ids)
    assert not core.is_owned("pf-floatingip-x-tcp", ids)
    assert not core.is_owned(LB1, {**ids, "neutron:device_owner": "port_forwarding_plugin"})
    for key in ids:
        assert not core.is_owned(LB1, {k: v for k, v in ids.items() if k != key})
    assert core.is_port_forwarding({"neutron:device_owner": "port_forwarding_plugin"})


def test_invalid_load_balancer_is_an_error_not_a_change() -> None:
    doc = load(EXAMPLE)
    doc["listeners"][0]["protocol"] = "HTTP"
    lbs, subnets = core.view_from_api(doc)
    backend = MemoryBackend()
    load_nb(backend, load(DOC02), 12)
    (action,) = core.plan_all(lbs, backend.reader(), subnets)
    assert action.kind is core.ActionKind.ERROR
    assert "HTTP" in (action.error or "")
    assert action.plan.is_empty()


# The topology of 02 at step 12 (switches, router, member and HM ports) for the properties.
_TOPO_BACKEND = MemoryBackend()
load_nb(_TOPO_BACKEND, load(DOC02), 12)
_TOPO = Topology(_TOPO_BACKEND.reader(), subnets_from_neutron(load(DOC02)["neutron"]["subnets"]))

_ids = st.uuids().map(str)
_addresses = st.sampled_from(["10.0.0.11", "10.0.0.12", "10.0.0.13", "10.0.0.77"])


@st.composite
def desired_lbs(draw: st.DrawFn) -> core.DesiredLb:
    listeners = []
    pools = []
    protos = draw(st.lists(st.sampled_from(["TCP", "UDP", "SCTP"]), max_size=3))
    ports = draw(
        st.lists(st.integers(1, 65535), min_size=len(protos), max_size=len(protos), unique=True)
    )
    for proto, port in zip(protos, ports, strict=True):
        pool_id = draw(_ids)
        members = [
            {
                "member_id": draw(_ids),
                "pool_id": pool_id,
                "address": draw(_addresses),
                "protocol_port": draw(st.integers(1, 65535)),
                "subnet_id": draw(st.sampled_from([SUBNET_PRIVATE, None])),
                "admin_state_up": draw(st.booleans()),
            }
            for _ in range(draw(st.integers(0, 3)))
        ]
        hm = None
        if proto != "SCTP" and draw(st.booleans()):
            hm = {
                "healthmonitor_id": draw(_ids),
                "pool_id": pool_id,
                "type": draw(st.sampled_from(["TCP", "UDP-CONNECT"])),
                "delay": 10,
                "timeout": 5,
                "max_retries": 3,
                "max_retries_down": 3,
                "admin_state_up": True,
            }
        pools.append(
            {
                "pool_id": pool_id,
                "loadbalancer_id": LB1,
                "protocol": proto,
                "lb_algorithm": draw(st.sampled_from(["SOURCE_IP_PORT", "SOURCE_IP"])),
                "admin_state_up": draw(st.booleans()),
                "members": members,
                "healthmonitor": hm,
            }
        )
        if draw(st.booleans()):
            listeners.append(
                {
                    "listener_id": draw(_ids),
                    "loadbalancer_id": LB1,
                    "protocol": proto,
                    "protocol_port": port,
                    "default_pool_id": pool_id if draw(st.booleans()) else None,
                    "admin_state_up": draw(st.booleans()),
                }
            )
    data = {
        "loadbalancer_id": LB1,
        "admin_state_up": draw(st.booleans()),
        "vip_address": "10.0.0.3",
        "vip_port_id": VIP_PORT,
        "vip_network_id": NET_PRIVATE.removeprefix("neutron-"),
        "vip_subnet_id": SUBNET_PRIVATE,
        "listeners": listeners,
        "pools": pools,
    }
    return core.DesiredLb(data, draw(st.sampled_from([None, "172.24.4.100"])))


def _synced(lb: core.DesiredLb) -> LbRowSet:
    state, _ = core.desired_state(lb, rq.Context(_TOPO, lb.view()))
    return translate(state)


_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=20)


@st.composite
def actual_rows(draw: st.DrawFn) -> LbRowSet:
    """Empty, another view's rows, or such rows with values overwritten by junk."""
    kind = draw(st.sampled_from(["empty", "other", "mutated"]))
    if kind == "empty":
        return LbRowSet()
    rows = _synced(draw(desired_lbs()))
    if kind == "mutated" and rows.lbs:
        lbs = dict(rows.lbs)
        for _ in range(draw(st.integers(1, 4))):
            uuid = draw(st.sampled_from(sorted(lbs)))
            row = lbs[uuid]
            ids = dict(row.external_ids)
            key = draw(st.sampled_from([*sorted(ids), "ls_refs", "neutron:member_status"]))
            ids[key] = draw(_text)
            proto = draw(st.sampled_from([row.protocol, "tcp", "udp", "sctp", None]))
            lbs[uuid] = attrs.evolve(row, external_ids=ids, protocol=proto)
        rows = attrs.evolve(rows, lbs=lbs)
    return rows


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(desired_lbs(), actual_rows())
def test_property_one_sync_converges(lb: core.DesiredLb, actual: LbRowSet) -> None:
    """Whatever NB held, applying the plan leaves nothing to do (idempotence)."""
    first = core.sync_action(lb, actual, _TOPO)
    assume(first.kind is not core.ActionKind.ERROR)
    after = apply(actual, first.plan)
    second = core.sync_action(lb, after, _TOPO)
    assert second.kind is core.ActionKind.IN_SYNC, core.action_json(second)
    assert second.issues == ()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(desired_lbs())
def test_property_disabled_members_stay_out_of_vips(lb: core.DesiredLb) -> None:
    """Spec 1.4/1.9: a disabled member is OFFLINE and never a backend."""
    action = core.sync_action(lb, LbRowSet(), _TOPO)
    assume(action.kind is not core.ActionKind.ERROR)
    rows = apply(LbRowSet(), action.plan)
    disabled = {
        (m["address"], m["protocol_port"])
        for p in lb.data["pools"]
        for m in p["members"]
        if not m["admin_state_up"]
    }
    enabled = {
        (m["address"], m["protocol_port"])
        for p in lb.data["pools"]
        for m in p["members"]
        if m["admin_state_up"]
    }
    for row in rows.lbs.values():
        statuses = json.loads(row.external_ids.get("neutron:member_status", "{}"))
        for p in lb.data["pools"]:
            for m in p["members"]:
                if not m["admin_state_up"] and m["member_id"] in statuses:
                    assert statuses[m["member_id"]] == "OFFLINE"
        for backends in row.vips.values():
            for b in backends.split(","):
                ip, _, port = b.rpartition(":")
                if (ip, int(port)) in disabled:
                    assert (ip, int(port)) in enabled


def test_the_documented_example(tmp_path: Path) -> None:
    """docs/sync.md's complete example writes what the page says (spec 1.4-1.6, 2, 4, 6)."""
    text = (ROOT / "docs" / "sync.md").read_text(encoding="utf-8")
    block = text.split("### Complete example", 1)[1].split("```json", 1)[1].split("```", 1)[0]
    lbs, subnets = core.view_from_api(json.loads(block))
    backend = MemoryBackend()
    load_nb(backend, load(DOC02), 12)  # the HM source port of the subnet exists at step 12
    assert run_sync(backend, lbs, subnets).ok
    rows = {r["protocol"]: r for r in canonical_dump(backend.reader())["Load_Balancer"]}
    assert set(rows) == {"tcp", "udp"}
    for row in rows.values():
        assert row["external_ids"]["neutron:vip_fip"] == "172.24.4.100"
    udp = rows["udp"]
    assert udp["selection_fields"] == ["ip_dst", "ip_src"]
    assert udp["options"] == {"affinity_timeout": "120"}
    assert sorted(h["vip"] for h in udp["health_check"]) == ["10.0.0.3:53", "172.24.4.100:53"]
    assert list(udp["ip_port_mappings"]) == ["10.0.0.11"]
    assert json.loads(udp["external_ids"]["neutron:member_status"]) == {
        M_UDP_1: "ONLINE",
        "e768d309-46ac-57a0-bdf9-0466a6a6008e": "OFFLINE",
    }
    assert udp["vips"] == {"10.0.0.3:53": "10.0.0.11:53", "172.24.4.100:53": "10.0.0.11:53"}
    assert rows["tcp"]["vips"]["172.24.4.100:80"] == "10.0.0.11:80,10.0.0.12:80"
