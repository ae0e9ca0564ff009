"""MemoryBackend: OVSDB transaction semantics for plans and raw row operations.

Expected values are written out from OVSDB's rules (ovsdb-server(1), ovn-nb(5):
weak ``load_balancer`` references, non-root tables garbage collected,
referential integrity) and from the conformance files' raw operations.
"""

from __future__ import annotations

import contextlib
import json
import uuid as uuidlib
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ovnlb_backends.base import Backend, BackendError, TryAgain
from ovnlb_backends.memory import MemoryBackend, MemoryReader
from ovnlb_core import plan as planlib
from ovnlb_core.dump import canonical_dump
from ovnlb_core.plan import (
    Attachment,
    HcUpdate,
    HealthCheckRow,
    LbRowSet,
    LbUpdate,
    LoadBalancerRow,
    MapDelta,
    NatColumns,
    NatUpdate,
    Plan,
)
from ovnlb_core.rawops import RawOp, insert_uuid
from paths import CONFORMANCE_DIR

CONFORMANCE = sorted((CONFORMANCE_DIR).glob("*.json"))
NS = uuidlib.UUID("4f0e6a0c-8d0b-4d7e-9c53-2b51a3f6e1d7")

LB1, LB2 = str(uuidlib.uuid5(NS, "lb1")), str(uuidlib.uuid5(NS, "lb2"))
HC1, HC2 = str(uuidlib.uuid5(NS, "hc1")), str(uuidlib.uuid5(NS, "hc2"))
NAT_UUID = insert_uuid("NAT", "nat-fip1")
LP, MAC = "port-a", "fa:16:3e:00:00:01"


def rowset(**fields: Any) -> LbRowSet:
    return LbRowSet(**fields)


def evolve(rows: LbRowSet, **changes: Any) -> LbRowSet:
    return attrs.evolve(rows, **changes)


def base_ops() -> list[RawOp]:
    """Two switches (one port on ls1), a router with one floating-IP NAT row."""
    return [
        {"op": "insert", "table": "Logical_Switch_Port", "row": {"_name": "p1", "name": "p1"}},
        {
            "op": "insert",
            "table": "Logical_Switch",
            "row": {"_name": "ls1", "name": "ls1", "ports": ["p1"]},
        },
        {"op": "insert", "table": "Logical_Switch", "row": {"_name": "ls2", "name": "ls2"}},
        {
            "op": "insert",
            "table": "NAT",
            "row": {
                "_name": "nat-fip1",
                "type": "dnat_and_snat",
                "external_ip": "172.24.4.100",
                "logical_ip": "10.0.0.11",
                "logical_port": LP,
                "external_mac": MAC,
                "external_ids": {"neutron:fip_id": "fip1"},
            },
        },
        {
            "op": "insert",
            "table": "Logical_Router",
            "row": {"_name": "lr1", "name": "lr1", "nat": ["nat-fip1"]},
        },
    ]


def base() -> MemoryBackend:
    backend = MemoryBackend()
    backend.apply_raw(base_ops())
    return backend


def one(reader: MemoryReader, table: str, name: str) -> dict[str, Any]:
    rows = reader.by_name(table, name)
    assert len(rows) == 1, rows
    return dict(rows[0][1])


def state(backend: MemoryBackend) -> str:
    """Everything the backend holds, as text, to compare before/after byte for byte."""
    return json.dumps(backend.snapshot().tables, sort_keys=True)


def lb_with_checks() -> Plan:
    return Plan(
        lb_inserts=(
            LoadBalancerRow(
                LB1,
                "lb1",
                "tcp",
                vips={"10.0.0.3:80": "10.0.0.11:8080"},
                external_ids={"neutron:vip": "10.0.0.3"},
                selection_fields=("ip_src", "ip_dst"),
                health_check=(HC1, HC2),
            ),
        ),
        hc_inserts=(
            HealthCheckRow(HC1, vip="10.0.0.3:80", options={"interval": "10"}),
            HealthCheckRow(HC2, vip="172.24.4.100:80", options={"interval": "10"}),
        ),
        attach=(Attachment("Logical_Switch", "ls1", LB1), Attachment("Logical_Router", "lr1", LB1)),
    )


# -- raw operations of the conformance files -------------------------------------------------


def _names(ops: list[RawOp], kind: str, table: str) -> set[str]:
    return {
        op["row"]["_name"] if kind == "insert" else op["name"]
        for op in ops
        if op["op"] == kind and op["table"] == table
    }


@pytest.mark.parametrize("path", CONFORMANCE, ids=lambda p: p.stem)
def test_conformance_raw_changes_apply(path: Path) -> None:
    doc = json.loads(path.read_text())
    backend = MemoryBackend.from_nb_initial(doc["nb_initial"])
    assert backend.transaction_count() == 1
    for table, rows in doc["nb_initial"].items():
        assert len(backend.reader().rows(table)) == len(rows)
    sent = 1
    for step in doc["steps"]:
        for key in ("nb_changes", "nb_changes_after"):
            ops = step.get(key) or []
            backend.apply_raw(ops)
            sent += bool(ops)
            reader = backend.reader()
            for name in _names(ops, "insert", "Logical_Switch_Port"):
                assert len(reader.by_name("Logical_Switch_Port", name)) == 1
            for name in _names(ops, "delete", "Logical_Switch_Port"):
                assert reader.by_name("Logical_Switch_Port", name) == []
            lsp_names = {u: r["name"] for u, r in reader.rows("Logical_Switch_Port").items()}
            # the last update of a switch in the list is the one that stays
            last_ports = {
                op["name"]: op["columns"]["ports"]
                for op in ops
                if op["op"] == "update" and op["table"] == "Logical_Switch"
            }
            for ls_name, ports in last_ports.items():
                ls = one(reader, "Logical_Switch", ls_name)
                assert sorted(lsp_names[u] for u in ls["ports"]) == sorted(ports)
            for op in ops:
                if op["op"] == "insert" and op["table"] == "NAT":
                    fip = op["row"]["external_ids"]["neutron:fip_id"]
                    nats = [
                        r
                        for r in reader.rows("NAT").values()
                        if r["external_ids"].get("neutron:fip_id") == fip
                    ]
                    assert len(nats) == 1
                    assert nats[0]["logical_port"] == op["row"]["logical_port"]
    assert backend.transaction_count() == sent


def test_raw_update_dropping_a_port_collects_it() -> None:
    """A Logical_Switch_Port is non-root: unreferenced, it is garbage collected."""
    backend = base()
    backend.apply_raw(
        [{"op": "update", "table": "Logical_Switch", "name": "ls1", "columns": {"ports": []}}]
    )
    assert backend.reader().rows("Logical_Switch_Port") == {}


def test_raw_insert_of_an_orphan_non_root_row_is_collected() -> None:
    backend = base()
    backend.apply_raw(
        [{"op": "insert", "table": "Logical_Switch_Port", "row": {"_name": "p2", "name": "p2"}}]
    )
    assert backend.reader().by_name("Logical_Switch_Port", "p2") == []
    assert backend.transaction_count() == 2


@pytest.mark.parametrize(
    "ops",
    [
        # deleting a row that a strong reference still holds
        [{"op": "delete", "table": "Logical_Switch_Port", "name": "p1"}],
        # unknown row
        [{"op": "update", "table": "Logical_Switch", "name": "nope", "columns": {"ports": []}}],
        # a second row under a unique name
        [{"op": "insert", "table": "Logical_Switch_Port", "row": {"_name": "p1", "name": "p1"}}],
        # wrong type
        [{"op": "update", "table": "Logical_Switch", "name": "ls2", "columns": {"name": 7}}],
        # enum
        [{"op": "update", "table": "NAT", "name": "nat-fip1", "columns": {"type": "masq"}}],
        # unknown column
        [{"op": "update", "table": "Logical_Switch", "name": "ls2", "columns": {"bogus": {}}}],
        # the first op is fine: nothing of the list may stay
        [
            {
                "op": "update",
                "table": "Logical_Switch",
                "name": "ls2",
                "columns": {"ports": ["p1"]},
            },
            {"op": "delete", "table": "Logical_Switch", "name": "missing"},
        ],
    ],
)
def test_invalid_raw_ops_change_nothing(ops: list[RawOp]) -> None:
    backend = base()
    before = state(backend)
    with pytest.raises(BackendError):
        backend.apply_raw(ops)
    assert state(backend) == before
    assert backend.transaction_count() == 1


def test_raw_delete_after_dropping_the_reference_in_the_same_list() -> None:
    backend = base()
    backend.apply_raw(
        [
            {"op": "update", "table": "Logical_Switch", "name": "ls1", "columns": {"ports": []}},
            {"op": "delete", "table": "Logical_Switch_Port", "name": "p1"},
        ]
    )
    assert backend.reader().rows("Logical_Switch_Port") == {}


def test_raw_delete_of_an_lb_drops_weak_refs_written_in_the_same_list() -> None:
    backend = base()
    backend.commit(lb_with_checks())
    backend.apply_raw(
        [
            {
                "op": "update",
                "table": "Logical_Switch",
                "name": "ls2",
                "columns": {"load_balancer": ["lb1"]},
            },
            {"op": "delete", "table": "Load_Balancer", "name": "lb1"},
        ]
    )
    reader = backend.reader()
    assert one(reader, "Logical_Switch", "ls1")["load_balancer"] == ()
    assert one(reader, "Logical_Switch", "ls2")["load_balancer"] == ()
    assert one(reader, "Logical_Router", "lr1")["load_balancer"] == ()
    assert reader.rows("Load_Balancer_Health_Check") == {}


# -- plans ---------------------------------------------------------------------------------


def test_is_a_backend() -> None:
    backend: Backend = MemoryBackend()
    backend.close()


def test_insert_lb_with_health_checks_and_attach() -> None:
    backend = base()
    backend.commit(lb_with_checks())
    reader = backend.reader()
    assert dict(reader.rows("Load_Balancer")[LB1]) == {
        "name": "lb1",
        "protocol": "tcp",
        "vips": {"10.0.0.3:80": "10.0.0.11:8080"},
        "external_ids": {"neutron:vip": "10.0.0.3"},
        "selection_fields": ("ip_dst", "ip_src"),
        "options": {},
        "ip_port_mappings": {},
        "health_check": tuple(sorted((HC1, HC2))),
    }
    assert dict(reader.rows("Load_Balancer_Health_Check")[HC1]) == {
        "vip": "10.0.0.3:80",
        "options": {"interval": "10"},
        "external_ids": {},
    }
    assert one(reader, "Logical_Switch", "ls1")["load_balancer"] == (LB1,)
    assert one(reader, "Logical_Switch", "ls2")["load_balancer"] == ()
    assert one(reader, "Logical_Router", "lr1")["load_balancer"] == (LB1,)
    assert [r["name"] for _, r in reader.referrers("Logical_Switch", "load_balancer", LB1)] == [
        "ls1"
    ]
    assert reader.by_name("Load_Balancer", "lb1") == [(LB1, reader.rows("Load_Balancer")[LB1])]
    assert backend.transaction_count() == 2


def test_map_mutation_is_per_key() -> None:
    backend = base()
    backend.commit(lb_with_checks())
    backend.commit(
        Plan(
            lb_updates=(
                LbUpdate(
                    LB1,
                    vips=MapDelta(
                        {"10.0.0.3:80": "10.0.0.11:8080,10.0.0.12:8080", "10.0.0.3:443": "x"},
                        delete=("absent",),
                    ),
                    options=MapDelta({"reject": "true"}),
                ),
            )
        )
    )
    row = backend.reader().rows("Load_Balancer")[LB1]
    assert row["vips"] == {"10.0.0.3:80": "10.0.0.11:8080,10.0.0.12:8080", "10.0.0.3:443": "x"}
    assert row["external_ids"] == {"neutron:vip": "10.0.0.3"}
    assert row["options"] == {"reject": "true"}
    backend.commit(
        Plan(lb_updates=(LbUpdate(LB1, vips=MapDelta({"k": "v"}, delete=("10.0.0.3:80", "k"))),))
    )
    # delete first, then insert: a key in both ends up set
    assert backend.reader().rows("Load_Balancer")[LB1]["vips"] == {"10.0.0.3:443": "x", "k": "v"}


def test_protocol_selection_fields_and_health_check_update() -> None:
    backend = base()
    backend.commit(lb_with_checks())
    backend.commit(
        Plan(
            lb_updates=(
                LbUpdate(LB1, set_protocol=True, protocol=None, selection_fields=("tp_src",)),
            ),
            hc_updates=(HcUpdate(HC1, vip="10.0.0.3:81", options=MapDelta(delete=("interval",))),),
        )
    )
    reader = backend.reader()
    assert reader.rows("Load_Balancer")[LB1]["protocol"] is None
    assert reader.rows("Load_Balancer")[LB1]["selection_fields"] == ("tp_src",)
    assert dict(reader.rows("Load_Balancer_Health_Check")[HC1]) == {
        "vip": "10.0.0.3:81",
        "options": {},
        "external_ids": {},
    }


def test_deleting_an_lb_drops_weak_refs_and_collects_its_health_checks() -> None:
    backend = base()
    backend.commit(lb_with_checks())
    backend.commit(Plan(lb_deletes=(LB1,)))
    reader = backend.reader()
    assert reader.rows("Load_Balancer") == {}
    assert reader.rows("Load_Balancer_Health_Check") == {}
    assert one(reader, "Logical_Switch", "ls1")["load_balancer"] == ()
    assert one(reader, "Logical_Router", "lr1")["load_balancer"] == ()
    assert reader.referrers("Logical_Switch", "load_balancer", LB1) == []
    assert canonical_dump(reader)["Logical_Switch_load_balancers"] == {"ls1": [], "ls2": []}
    # the rest of the database is untouched
    assert one(reader, "Logical_Switch", "ls1")["ports"] == (
        insert_uuid("Logical_Switch_Port", "p1"),
    )
    assert set(reader.rows("NAT")) == {NAT_UUID}


def test_health_check_taken_out_of_health_check_is_collected() -> None:
    backend = base()
    backend.commit(lb_with_checks())
    backend.commit(Plan(lb_updates=(LbUpdate(LB1, health_check_remove=(HC1,)),)))
    reader = backend.reader()
    assert set(reader.rows("Load_Balancer_Health_Check")) == {HC2}
    assert reader.rows("Load_Balancer")[LB1]["health_check"] == (HC2,)


def test_health_check_moved_to_a_new_lb_survives_its_old_lb() -> None:
    backend = base()
    backend.commit(lb_with_checks())
    backend.commit(
        Plan(
            lb_inserts=(LoadBalancerRow(LB2, "lb2", "udp", health_check=(HC1,)),), lb_deletes=(LB1,)
        )
    )
    assert set(backend.reader().rows("Load_Balancer_Health_Check")) == {HC1}


def test_detach_and_nat_update() -> None:
    backend = base()
    backend.commit(lb_with_checks())
    backend.commit(
        Plan(
            detach=(Attachment("Logical_Switch", "ls1", LB1),),
            attach=(Attachment("Logical_Switch", "ls2", LB1),),
            nat_updates=(NatUpdate(NAT_UUID, clear_logical_port=True, clear_external_mac=True),),
        )
    )
    reader = backend.reader()
    assert one(reader, "Logical_Switch", "ls1")["load_balancer"] == ()
    assert one(reader, "Logical_Switch", "ls2")["load_balancer"] == (LB1,)
    nat = reader.rows("NAT")[NAT_UUID]
    assert (nat["logical_port"], nat["external_mac"]) == (None, None)
    assert nat["external_ip"] == "172.24.4.100"


def test_many_attachments_in_one_plan() -> None:
    backend = base()
    many = sorted(str(uuidlib.uuid5(NS, f"many{i}")) for i in range(20))
    backend.commit(
        Plan(
            lb_inserts=tuple(LoadBalancerRow(u, u) for u in many),
            attach=tuple(Attachment("Logical_Switch", "ls1", u) for u in many),
        )
    )
    assert one(backend.reader(), "Logical_Switch", "ls1")["load_balancer"] == tuple(many)
    backend.commit(
        Plan(
            detach=tuple(Attachment("Logical_Switch", "ls1", u) for u in many[::2]),
            attach=(Attachment("Logical_Switch", "ls1", many[0]),),
        )
    )
    kept = (many[0], *many[1::2])
    assert one(backend.reader(), "Logical_Switch", "ls1")["load_balancer"] == tuple(sorted(kept))
    backend.commit(Plan(lb_deletes=tuple(many[:5])))
    assert one(backend.reader(), "Logical_Switch", "ls1")["load_balancer"] == tuple(
        u for u in sorted(kept) if u not in many[:5]
    )


INVALID_PLANS = {
    "update unknown": Plan(lb_updates=(LbUpdate(LB2, vips=MapDelta({"a": "b"})),)),
    "attach to missing switch": Plan(attach=(Attachment("Logical_Switch", "nope", LB1),)),
    "attach missing lb": Plan(attach=(Attachment("Logical_Switch", "ls2", LB2),)),
    "insert existing": Plan(lb_inserts=(LoadBalancerRow(LB1, "again"),)),
    "update a deleted row": Plan(
        lb_updates=(LbUpdate(LB1, options=MapDelta({"a": "b"})),), lb_deletes=(LB1,)
    ),
    "delete unknown": Plan(lb_deletes=(LB2,)),
    "delete unknown hc": Plan(hc_deletes=(LB2,)),
    "hc still referenced": Plan(hc_deletes=(HC1,)),
    "reference to missing hc": Plan(lb_updates=(LbUpdate(LB1, health_check_add=(LB2,)),)),
    "bad protocol": Plan(lb_updates=(LbUpdate(LB1, set_protocol=True, protocol="http"),)),
    "bad selection field": Plan(lb_updates=(LbUpdate(LB1, selection_fields=("ipv6_src",)),)),
    "not a uuid": Plan(lb_inserts=(LoadBalancerRow("lb-x", "x"),)),
    "unknown nat": Plan(nat_updates=(NatUpdate(LB2, clear_logical_port=True),)),
    # valid operations first: none of them may stay
    "valid then invalid": Plan(
        lb_inserts=(LoadBalancerRow(LB2, "lb2"),),
        attach=(Attachment("Logical_Switch", "ls2", LB2), Attachment("Logical_Router", "x", LB2)),
    ),
}


@pytest.mark.parametrize("bad", INVALID_PLANS.values(), ids=INVALID_PLANS.keys())
def test_invalid_plan_changes_nothing(bad: Plan) -> None:
    backend = base()
    backend.commit(lb_with_checks())
    reader = backend.reader()
    before, dump, count = state(backend), canonical_dump(reader), backend.transaction_count()
    with pytest.raises(BackendError):
        backend.commit(bad)
    assert state(backend) == before
    assert canonical_dump(backend.reader()) == dump
    assert backend.transaction_count() == count
    assert backend.reader() is reader


def test_empty_plan_is_not_a_transaction() -> None:
    backend = base()
    reader = backend.reader()
    backend.commit(Plan())
    backend.apply_raw([])
    assert backend.transaction_count() == 1
    assert backend.reader() is reader


def test_reader_is_a_snapshot() -> None:
    backend = base()
    old = backend.reader()
    backend.commit(lb_with_checks())
    assert old.rows("Load_Balancer") == {}
    assert old.by_name("Load_Balancer", "lb1") == []
    assert one(old, "Logical_Switch", "ls1")["load_balancer"] == ()
    assert old.referrers("Logical_Switch", "load_balancer", LB1) == []
    new = backend.reader()
    assert new is not old
    (lr1, _), *rest = new.by_name("Logical_Router", "lr1")
    assert rest == []
    assert [u for u, _ in new.referrers("Logical_Router", "load_balancer", LB1)] == [lr1]


def test_basis_is_verified() -> None:
    backend = base()
    backend.commit(lb_with_checks())
    reader = backend.reader()
    lb = LoadBalancerRow(LB1, **reader.rows("Load_Balancer")[LB1])
    basis = rowset(
        lbs={LB1: lb},
        health_checks={
            u: HealthCheckRow(u, **reader.rows("Load_Balancer_Health_Check")[u]) for u in (HC1, HC2)
        },
        switches={LB1: frozenset({"ls1"})},
        routers={LB1: frozenset({"lr1"})},
        nats={NAT_UUID: NatColumns(NAT_UUID, LP, MAC)},
    )
    change = Plan(lb_updates=(LbUpdate(LB1, options=MapDelta({"a": "b"})),))
    backend.commit(change, basis=basis)  # basis is current: applied
    before = state(backend)
    with pytest.raises(TryAgain):
        backend.commit(Plan(lb_deletes=(LB1,)), basis=basis)  # LB1 changed since
    assert state(backend) == before
    fresh = evolve(basis, lbs={LB1: attrs.evolve(lb, options={"a": "b"})})
    backend.commit(Plan(attach=(Attachment("Logical_Switch", "ls2", LB1),)))
    with pytest.raises(TryAgain):
        backend.commit(Plan(lb_deletes=(LB1,)), basis=fresh)  # attachments changed since
    backend.commit(
        Plan(lb_deletes=(LB1,)),
        basis=evolve(fresh, switches={LB1: frozenset({"ls1", "ls2"})}),
    )
    assert backend.reader().rows("Load_Balancer") == {}


# -- property: committing diff(a, b) to a database holding a yields b ---------------------

LB_POOL = [str(uuidlib.uuid5(NS, f"p-lb{i}")) for i in range(4)]
HC_POOL = [str(uuidlib.uuid5(NS, f"p-hc{i}")) for i in range(4)]
small_maps = st.dictionaries(
    st.sampled_from(["10.0.0.3:80", "[fd00::3]:80", "k"]), st.sampled_from(["v1", "v2"]), max_size=3
)


@st.composite
def rowsets(draw: st.DrawFn, nat: NatColumns) -> LbRowSet:
    hcs = {
        u: HealthCheckRow(
            u,
            vip=draw(st.sampled_from(["10.0.0.3:80", "[fd00::3]:80"])),
            options=draw(small_maps),
            external_ids=draw(small_maps),
        )
        for u in draw(st.lists(st.sampled_from(HC_POOL), unique=True))
    }
    lbs = {}
    for u in draw(st.lists(st.sampled_from(LB_POOL), unique=True, max_size=3)):
        lbs[u] = LoadBalancerRow(
            u,
            # A row's name is its Octavia LB id, fixed for its life (LbUpdate cannot rename);
            # two rows share one name, as the rows of one LB's protocols do.
            name=f"lb-{LB_POOL.index(u) % 2}",
            protocol=draw(st.sampled_from([None, "tcp", "udp", "sctp"])),
            vips=draw(small_maps),
            external_ids=draw(small_maps),
            selection_fields=tuple(draw(st.sets(st.sampled_from(["ip_src", "ip_dst", "tp_src"])))),
            options=draw(small_maps),
            ip_port_mappings=draw(small_maps),
            health_check=tuple(draw(st.sets(st.sampled_from(sorted(hcs))))) if hcs else (),
        )
    # OVSDB keeps no health check that no load balancer references.
    referenced = {h for lb in lbs.values() for h in lb.health_check}
    switches = {u: frozenset(draw(st.sets(st.sampled_from(["ls1", "ls2"])))) for u in lbs}
    routers = {u: frozenset(draw(st.sets(st.just("lr1")))) for u in lbs}
    return rowset(
        lbs=lbs,
        health_checks={u: h for u, h in hcs.items() if u in referenced},
        switches={u: s for u, s in switches.items() if s},
        routers={u: s for u, s in routers.items() if s},
        nats={nat.uuid: nat},
    )


@st.composite
def rowset_pairs(draw: st.DrawFn) -> tuple[LbRowSet, LbRowSet]:
    def maybe(value: str | None) -> str | None:
        return None if value is None else draw(st.sampled_from([value, None]))

    nat_a = NatColumns(NAT_UUID, maybe(LP), maybe(MAC))
    # ovnlb only clears these two columns, never sets them back
    nat_b = NatColumns(NAT_UUID, maybe(nat_a.logical_port), maybe(nat_a.external_mac))
    return draw(rowsets(nat_a)), draw(rowsets(nat_b))


def read_rowset(reader: MemoryReader) -> LbRowSet:
    """Everything of the load balancers, read with plain scans (not the backend's indexes)."""

    def holders(table: str) -> dict[str, frozenset[str]]:
        out: dict[str, set[str]] = {}
        for row in reader.rows(table).values():
            for u in row["load_balancer"]:
                out.setdefault(u, set()).add(row["name"])
        return {u: frozenset(names) for u, names in out.items()}

    return rowset(
        lbs={u: LoadBalancerRow(u, **row) for u, row in reader.rows("Load_Balancer").items()},
        health_checks={
            u: HealthCheckRow(u, **row)
            for u, row in reader.rows("Load_Balancer_Health_Check").items()
        },
        switches=holders("Logical_Switch"),
        routers=holders("Logical_Router"),
        nats={
            u: NatColumns(u, row["logical_port"], row["external_mac"])
            for u, row in reader.rows("NAT").items()
        },
    )


def holding(a: LbRowSet) -> MemoryBackend:
    backend = base()
    start = rowset(nats={NAT_UUID: NatColumns(NAT_UUID, LP, MAC)})
    assert read_rowset(backend.reader()) == start
    backend.commit(planlib.diff(start, a))
    assert read_rowset(backend.reader()) == a
    return backend


@settings(max_examples=300, deadline=None)
@given(rowset_pairs())
def test_committing_diff_yields_desired_rows(pair: tuple[LbRowSet, LbRowSet]) -> None:
    a, b = pair
    backend = holding(a)
    count = backend.transaction_count()
    plan = planlib.diff(a, b)
    backend.commit(plan, basis=a)
    assert read_rowset(backend.reader()) == b
    assert backend.transaction_count() == count + (not plan.is_empty())
    # once applied, the same change plans to nothing (a retry is safe)
    assert planlib.diff(read_rowset(backend.reader()), b).is_empty()


@settings(max_examples=200, deadline=None)
@given(rowset_pairs())
def test_backend_agrees_with_pure_apply(pair: tuple[LbRowSet, LbRowSet]) -> None:
    """Differential: MemoryBackend and ``plan.apply`` model OVSDB the same way."""
    a, b = pair
    backend = holding(a)
    plan = planlib.diff(a, b)
    backend.commit(plan)
    assert read_rowset(backend.reader()) == planlib.apply(a, plan)


# -- reader snapshots stay consistent while commits change the shared tables in place ---------

_SNAP_LBS = [str(uuidlib.uuid5(NS, f"snap{i}")) for i in range(4)]
_SNAP_TABLES = ["Load_Balancer", "Logical_Switch", "Logical_Router", "NAT"]

snapshot_steps = st.lists(
    st.one_of(
        st.tuples(st.just("read"), st.just(0), st.just("")),
        st.tuples(st.just("rows"), st.integers(0, 9), st.sampled_from(_SNAP_TABLES)),
        st.tuples(st.just("check"), st.integers(0, 9), st.sampled_from(_SNAP_TABLES)),
        st.tuples(st.just("drop"), st.integers(0, 9), st.just("")),
        st.tuples(
            st.sampled_from(["insert", "update", "delete", "attach", "detach", "nat"]),
            st.integers(0, len(_SNAP_LBS) - 1),
            st.sampled_from(["ls1", "ls2"]),
        ),
    ),
    max_size=25,
)


def _snap_plan(op: str, uuid: str, switch: str, value: int) -> Plan:
    if op == "insert":
        return Plan(lb_inserts=(LoadBalancerRow(uuid, f"n{value}", "tcp"),))
    if op == "update":
        return Plan(
            lb_updates=(
                LbUpdate(
                    uuid,
                    external_ids=MapDelta(
                        {f"pool_p{value % 2}": str(value)}, delete=(f"pool_p{value % 3 % 2}",)
                    ),
                ),
            ),
        )
    if op == "delete":
        return Plan(lb_deletes=(uuid,))
    if op == "attach":
        return Plan(attach=(Attachment("Logical_Switch", switch, uuid),))
    if op == "detach":
        return Plan(detach=(Attachment("Logical_Switch", switch, uuid),))
    return Plan(nat_updates=(NatUpdate(NAT_UUID, clear_logical_port=True),))


@settings(max_examples=500, deadline=None)
@given(snapshot_steps)
@example([("read", 0, ""), ("rows", 0, "Load_Balancer"), ("insert", 0, "ls1")])
@example([("insert", 0, ""), ("insert", 1, ""), ("read", 0, ""), ("delete", 0, "")])
@example([("read", 0, ""), ("insert", 0, "ls1"), ("read", 0, ""), ("attach", 0, "ls1")])
@example(
    [
        ("read", 0, ""),
        ("insert", 0, "ls1"),
        ("read", 0, ""),
        ("rows", 1, "Load_Balancer"),
        ("update", 0, "ls1"),
        ("check", 0, "Load_Balancer"),
        ("insert", 1, "ls1"),
    ]
)
def test_readers_keep_their_snapshot_through_commits(
    steps: list[tuple[str, int, str]],
) -> None:
    """Readers taken at any time, tables handed out or not, readers dropped: each reader,
    and each mapping it handed out, shows the rows of the moment it was taken."""
    backend = base()
    kept: list[tuple[MemoryReader, dict[str, dict[str, Any]]]] = []
    proxies: list[tuple[Any, dict[str, Any]]] = []
    for value, (op, i, arg) in enumerate(steps):
        if op == "read":
            reader = backend.reader()
            kept.append((reader, {t: dict(r) for t, r in backend.snapshot().tables.items()}))
        elif op in ("rows", "check", "drop"):
            if not kept:
                continue
            reader, expected = kept[i % len(kept)]
            if op == "rows":
                proxies.append((reader.rows(arg), expected[arg]))
            elif op == "check":  # (no ``rows``: the table is not handed out)
                names = {row["name"] for row in expected[arg].values() if "name" in row}
                for name in names:
                    want = sorted((u, r) for u, r in expected[arg].items() if r["name"] == name)
                    assert sorted(reader.by_name(arg, name)) == want
                for lb in _SNAP_LBS:
                    want = sorted(
                        (u, r)
                        for u, r in expected["Logical_Switch"].items()
                        if lb in r["load_balancer"]
                    )
                    assert reader.referrers("Logical_Switch", "load_balancer", lb) == want
                keys = ["pool_p0", "pool_p0:D"]
                assert reader.load_balancers_with_external_id(keys) == [
                    (u, r)
                    for u, r in expected["Load_Balancer"].items()
                    if any(k in r["external_ids"] for k in keys)
                ]
            else:
                del kept[i % len(kept)]
        else:
            with contextlib.suppress(BackendError):
                backend.commit(_snap_plan(op, _SNAP_LBS[i], arg, value))
        for proxy, rows_then in proxies:
            assert list(proxy.items()) == list(rows_then.items())
    for reader, expected in kept:
        for table in _SNAP_TABLES:
            assert list(reader.rows(table).items()) == list(expected[table].items())
    reader = backend.reader()
    assert {t: dict(reader.rows(t)) for t in _SNAP_TABLES} == {
        t: backend.snapshot().tables[t] for t in _SNAP_TABLES
    }


def test_commit_does_not_copy_a_table_a_reader_did_not_hand_out() -> None:
    """The cost of a commit is what it changes: a reader that only looked rows up (as the
    driver's does) gets the old rows recorded, the table is not copied."""
    backend = base()
    backend.commit(lb_with_checks())
    reader = backend.reader()
    before = dict(reader.rows("NAT"))  # handed out: copied on write
    assert reader.by_name("Load_Balancer", "lb1")
    lbs, nats = backend.tables["Load_Balancer"], backend.tables["NAT"]
    backend.commit(
        Plan(
            lb_updates=(LbUpdate(LB1, external_ids=MapDelta({"k": "v"})),),
            nat_updates=(NatUpdate(NAT_UUID, clear_logical_port=True),),
        )
    )
    assert backend.tables["Load_Balancer"] is lbs
    assert backend.tables["NAT"] is not nats
    assert "k" not in reader.rows("Load_Balancer")[LB1]["external_ids"]
    assert "k" not in one(reader, "Load_Balancer", "lb1")["external_ids"]
    assert dict(reader.rows("NAT")) == before
    assert backend.reader().rows("Load_Balancer")[LB1]["external_ids"]["k"] == "v"
