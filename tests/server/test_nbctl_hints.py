"""The nbctl backend's lookup hints against a second writer, and a sync that shares them.

The hints (:class:`~ovnlb_backends.nbctl.LookupCache`) come from whole-table
reads, committed inserts and a switch's port set; each is checked in the
request that uses it. Another client (the sandbox's own ovn-nbctl) changes
rows between requests: the answers always equal a fresh scan's.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_nbctl_backend import backend as backend  # the fixture: sw0, sw1, lr0, direct mode

from cli_support import bench_sync as load_bench_sync
from ovnlb_backends.idl import IdlBackend
from ovnlb_backends.nbctl import NbctlBackend
from ovnlb_backends.sandbox import OvnSandbox
from ovnlb_backends.service.sync import LbResult, run_sync
from ovnlb_core.plan import LbRowSet, LoadBalancerRow, diff
from ovnlb_core.rawops import initial_ops
from ovnlb_core.rows import lb_rowset
from ovnlb_core.sync import view_from_api

bench_sync = load_bench_sync()

LB = "5e0c1a7d-3b2f-4c8e-9d6a-1f2e3d4c0101"
LB2 = "5e0c1a7d-3b2f-4c8e-9d6a-1f2e3d4c0102"
NAME = "7d1c3e55-0000-4000-8000-00000000b101"
LB_NAME = "7d1c3e55-0000-4000-8000-00000000b001"


POOL = "7d1c3e55-0000-4000-8000-00000000c001"


@pytest.fixture
def recorded(backend: NbctlBackend, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every command ``backend`` runs, as its name and table (``find Load_Balancer``)."""
    names: list[str] = []
    run = backend.run

    def recording(commands: Any, **kw: Any) -> str:
        for c in commands:
            words = [a for a in c if not a.startswith("--")]
            names.append(" ".join(words[:2]))
        return run(commands, **kw)

    monkeypatch.setattr(backend, "run", recording)
    return names


def other_writer(nb_server: OvnSandbox, *args: str) -> str:
    """A write by another client (the sandbox's own ovn-nbctl); its output."""
    return str(nb_server.nbctl(*args)).strip()


def lb_by_other_writer(nb_server: OvnSandbox, name: str, vip: str, **ids: str) -> str:
    uuid = other_writer(
        nb_server,
        "create",
        "Load_Balancer",
        f"name={json.dumps(name)}",
        f'vips:{json.dumps(vip)}="10.0.1.5:80"',
        "protocol=tcp",
    )
    for k, v in ids.items():
        other_writer(nb_server, "set", "Load_Balancer", uuid, f"external_ids:{k}={json.dumps(v)}")
    return uuid


@pytest.mark.ovn
def test_name_and_pool_hints_skip_the_scans_and_see_another_writers_changes(
    nb_server: OvnSandbox, backend: NbctlBackend, recorded: list[str]
) -> None:
    from ovnlb_core.rows import find_lb_of_pool

    pool_key = f"pool_{POOL}"
    first = lb_by_other_writer(nb_server, LB_NAME, "10.0.0.10:80", **{pool_key: ""})
    assert find_lb_of_pool(backend.reader(), POOL) == LB_NAME
    assert [u for u, _r in backend.reader().by_name("Load_Balancer", LB_NAME)] == [first]
    # Found once: the next requests read the rows by UUID, with no find (no scan).
    recorded.clear()
    reader = backend.reader()
    assert find_lb_of_pool(reader, POOL) == LB_NAME
    assert [u for u, _r in reader.by_name("Load_Balancer", LB_NAME)] == [first]
    assert "find Load_Balancer" not in recorded and "get Load_Balancer" in recorded

    # Another writer adds a second row under the name: both are seen.
    second = lb_by_other_writer(nb_server, LB_NAME, "10.0.0.10:53")
    got = [u for u, _r in backend.reader().by_name("Load_Balancer", LB_NAME)]
    assert got == sorted([first, second])
    other_writer(nb_server, "destroy", "Load_Balancer", second)
    assert [u for u, _r in backend.reader().by_name("Load_Balancer", LB_NAME)] == [first]

    # Deleted and recreated under the same name (and pool) by another writer.
    other_writer(nb_server, "destroy", "Load_Balancer", first)
    again = lb_by_other_writer(nb_server, LB_NAME, "10.0.0.10:80", **{pool_key: ""})
    reader = backend.reader()
    assert find_lb_of_pool(reader, POOL) == LB_NAME
    assert [u for u, _r in reader.by_name("Load_Balancer", LB_NAME)] == [again]
    assert [u for u, _r in reader.load_balancers_with_external_id([pool_key])] == [again]

    # Renamed by another writer: the old name finds nothing, the new one the row.
    other_writer(nb_server, "set", "Load_Balancer", again, 'name="renamed"')
    assert backend.reader().by_name("Load_Balancer", LB_NAME) == []
    assert [u for u, _r in backend.reader().by_name("Load_Balancer", "renamed")] == [again]

    # The pool moved to another load balancer (key removed here, set there).
    other = lb_by_other_writer(nb_server, "other-lb", "10.0.0.11:80", **{pool_key: ""})
    other_writer(nb_server, "remove", "Load_Balancer", again, "external_ids", json.dumps(pool_key))
    assert find_lb_of_pool(backend.reader(), POOL) == "other-lb"
    assert [u for u, _r in backend.reader().load_balancers_with_external_id([pool_key])] == [other]
    # And gone: nothing.
    other_writer(nb_server, "destroy", "Load_Balancer", other)
    assert find_lb_of_pool(backend.reader(), POOL) is None


@pytest.mark.ovn
def test_name_hint_is_not_fooled_by_names_ovn_nbctl_reads_as_uuids(
    nb_server: OvnSandbox, backend: NbctlBackend
) -> None:
    # A row whose name is another row's UUID: ovn-nbctl's `get` finds the row
    # by UUID first; the hint must not take that for "the only row so named".
    target = lb_by_other_writer(nb_server, "target", "10.0.0.12:80")
    named = lb_by_other_writer(nb_server, target, "10.0.0.13:80")
    assert [u for u, _r in backend.reader().by_name("Load_Balancer", target)] == [named]
    twin = lb_by_other_writer(nb_server, target, "10.0.0.14:80")
    got = [u for u, _r in backend.reader().by_name("Load_Balancer", target)]
    assert got == sorted([named, twin])
    # A name that is a prefix of its own row's UUID is never checked by `get`.
    prefix = lb_by_other_writer(nb_server, "p", "10.0.0.15:80")
    other_writer(nb_server, "set", "Load_Balancer", prefix, f'name="{prefix[:8]}"')
    assert [u for u, _r in backend.reader().by_name("Load_Balancer", prefix[:8])] == [prefix]
    dup = lb_by_other_writer(nb_server, prefix[:8], "10.0.0.16:80")
    got = [u for u, _r in backend.reader().by_name("Load_Balancer", prefix[:8])]
    assert got == sorted([prefix, dup])


@pytest.mark.ovn
def test_switch_ports_of_a_type_follow_another_writer(
    nb_server: OvnSandbox, backend: NbctlBackend, recorded: list[str]
) -> None:
    other_writer(nb_server, "lsp-add", "sw0", "vm1", "--", "lsp-add", "sw1", "rp-other")
    other_writer(nb_server, "lsp-set-type", "rp-other", "router")
    [(ls, _row)] = backend.reader().by_name("Logical_Switch", "sw0")
    assert backend.reader().switch_ports_of_type(ls, "router") == []
    other_writer(nb_server, "lsp-add", "sw0", "rp1", "--", "lsp-set-type", "rp1", "router")
    recorded.clear()
    found = backend.reader().switch_ports_of_type(ls, "router")
    assert [r["name"] for _u, r in found] == ["rp1"]
    assert "find Logical_Switch_Port" not in recorded  # from the switch's own ports
    other_writer(nb_server, "lsp-set-type", "rp1", "")
    assert backend.reader().switch_ports_of_type(ls, "router") == []
    plain = backend.reader().switch_ports_of_type(ls, "")
    assert sorted(r["name"] for _u, r in plain) == ["rp1", "vm1"]
    assert [u for u, _r in plain] == sorted(u for u, _r in plain)


@pytest.mark.ovn
def test_name_hint_check_that_ovn_nbctl_refuses_falls_back_to_the_find(
    nb_server: OvnSandbox, backend: NbctlBackend
) -> None:
    # `get` of a name no row has, which begins two rows' UUIDs, is an error in ovn-nbctl
    # ("2 or more rows whose UUIDs begin with"): a miss, not a failed request.
    for suffix, name in (("0001", "x1"), ("0002", "x2")):
        other_writer(
            nb_server,
            f"--id=abcd0000-0000-4000-8000-00000000{suffix}",
            "create",
            "Load_Balancer",
            f'name="{name}"',
        )
    named = lb_by_other_writer(nb_server, "abcd", "10.0.0.17:80")
    assert [u for u, _r in backend.reader().by_name("Load_Balancer", "abcd")] == [named]
    other_writer(nb_server, "set", "Load_Balancer", named, 'name="gone"')
    assert backend.reader().by_name("Load_Balancer", "abcd") == []


@pytest.mark.ovn
def test_every_named_table_is_found_by_its_kept_uuid(
    nb_server: OvnSandbox, backend: NbctlBackend, recorded: list[str]
) -> None:
    from ovnlb_core.nb import NAMED_TABLES

    other_writer(
        nb_server,
        "lsp-add",
        "sw0",
        "p0",
        "--",
        "lrp-add",
        "lr0",
        "rp0",
        "00:00:00:00:00:01",
        "10.0.0.1/24",
    )
    other_writer(
        nb_server, "ha-chassis-group-add", "g0", "--", "lb-add", "lb0", "10.0.0.9:80", "10.0.1.5:80"
    )
    other_writer(nb_server, "lrp-set-gateway-chassis", "rp0", "ch0", "1")
    names = {
        "Logical_Switch": "sw0",
        "Logical_Switch_Port": "p0",
        "Logical_Router": "lr0",
        "Logical_Router_Port": "rp0",
        "HA_Chassis_Group": "g0",
        "Gateway_Chassis": "rp0-ch0",
        "Load_Balancer": "lb0",
    }
    assert set(names) == NAMED_TABLES
    for table, name in names.items():
        [(uuid, _row)] = backend.reader().by_name(table, name)
        recorded.clear()
        assert [u for u, _r in backend.reader().by_name(table, name)] == [uuid]
        if table == "Gateway_Chassis":  # ovn-nbctl's get has no name for it: find
            assert recorded == [f"find {table}"]
        else:
            assert f"find {table}" not in recorded and f"get {table}" in recorded, table


def names_found(be: NbctlBackend, name: str) -> list[str]:
    return [u for u, _r in be.reader().by_name("Load_Balancer", name)]


def lb_row(uuid: str, protocol: str = "tcp") -> LoadBalancerRow:
    return LoadBalancerRow(
        uuid=uuid,
        name=NAME,
        protocol=protocol,
        vips={"10.0.0.10:80": "10.0.1.5:8080"},
        external_ids={"enabled": "True"},
    )


def commit_desired(be: NbctlBackend, desired: LbRowSet) -> None:
    actual = lb_rowset(be.reader(), NAME)
    be.commit(diff(actual, desired), basis=actual)


@pytest.mark.ovn
def test_a_whole_table_read_teaches_every_name(
    nb_server: OvnSandbox, backend: NbctlBackend, recorded: list[str]
) -> None:
    # Names no UUID can begin with (those are never checked with get).
    a = lb_by_other_writer(nb_server, "lb-a", "10.0.0.1:80")
    dups = sorted(lb_by_other_writer(nb_server, "dup", f"10.0.0.{i}:80") for i in (2, 3))
    assert len(list(backend.reader().rows("Load_Balancer"))) == 3
    recorded.clear()
    assert names_found(backend, "lb-a") == [a]
    assert "get Load_Balancer" in recorded and "find Load_Balancer" not in recorded
    recorded.clear()
    assert names_found(backend, "dup") == dups  # several rows: no hint, the find
    assert "find Load_Balancer" in recorded
    # Another writer adds a row under the learnt name, renames the other: seen.
    a2 = lb_by_other_writer(nb_server, "lb-a", "10.0.0.4:80")
    assert names_found(backend, "lb-a") == sorted([a, a2])
    other_writer(nb_server, "set", "Load_Balancer", a2, 'name="lb-b"')
    assert names_found(backend, "lb-a") == [a]
    assert names_found(backend, "lb-b") == [a2]
    other_writer(nb_server, "set", "Load_Balancer", a, 'name="lb-c"')
    assert names_found(backend, "lb-a") == []


@pytest.mark.ovn
def test_a_committed_insert_is_its_names_hint_and_its_holders_come_with_it(
    nb_server: OvnSandbox, backend: NbctlBackend, recorded: list[str]
) -> None:
    [(sw0, _row)] = backend.reader().by_name("Logical_Switch", "sw0")
    commit_desired(backend, LbRowSet(lbs={LB: lb_row(LB)}, switches={LB: frozenset({"sw0"})}))
    recorded.clear()
    before = backend.invocation_count()
    rows = lb_rowset(backend.reader(), NAME)
    # One request: the row, its holders and the check that it is the only one so named.
    assert backend.invocation_count() - before == 1
    assert "find Load_Balancer" not in recorded and "get Load_Balancer" in recorded
    assert rows.switches == {LB: frozenset({"sw0"})} and set(rows.lbs) == {LB}
    # Another writer detaches it and adds a row under its name: both seen.
    other_writer(nb_server, "ls-lb-del", "sw0", LB)
    other = lb_by_other_writer(nb_server, NAME, "10.0.0.11:80")
    rows = lb_rowset(backend.reader(), NAME)
    assert set(rows.lbs) == {LB, other} and rows.switches == {}
    other_writer(nb_server, "destroy", "Load_Balancer", other)
    # An insert under a name whose basis row survives is no hint: the find answers.
    commit_desired(backend, LbRowSet(lbs={LB: lb_row(LB), LB2: lb_row(LB2, "udp")}))
    recorded.clear()
    assert names_found(backend, NAME) == [LB, LB2]
    assert "find Load_Balancer" in recorded
    assert sw0


@pytest.mark.ovn
def test_a_switchs_port_hint_follows_another_writer(
    nb_server: OvnSandbox, backend: NbctlBackend
) -> None:
    other_writer(nb_server, "lsp-add", "sw0", "vm1", "--", "lsp-add", "sw0", "rp1")
    other_writer(nb_server, "lsp-set-type", "rp1", "router")
    [(ls, _row)] = backend.reader().by_name("Logical_Switch", "sw0")

    def routers() -> list[tuple[str, str]]:
        return sorted(
            (str(r["name"]), str(r["options"].get("router-port", "")))
            for _u, r in backend.reader().switch_ports_of_type(ls, "router")
        )

    assert routers() == [("rp1", "")]
    before = backend.invocation_count()
    assert routers() == [("rp1", "")]
    assert backend.invocation_count() - before == 1  # ports, types and rows at once
    # The remembered router port changes: its fresh row is read.
    other_writer(nb_server, "lsp-set-options", "rp1", "router-port=lrp1")
    assert routers() == [("rp1", "lrp1")]
    # A router port added, one retyped, one deleted: the port set or types say so.
    other_writer(nb_server, "lsp-add", "sw0", "rp2", "--", "lsp-set-type", "rp2", "router")
    assert routers() == [("rp1", "lrp1"), ("rp2", "")]
    other_writer(nb_server, "lsp-set-type", "rp1", "")
    assert routers() == [("rp2", "")]
    other_writer(nb_server, "lsp-del", "rp2")
    assert routers() == []
    other_writer(nb_server, "lsp-set-type", "vm1", "router")
    assert routers() == [("vm1", "")]


@pytest.mark.ovn
def test_a_router_ports_router_comes_with_its_name_check(
    nb_server: OvnSandbox, backend: NbctlBackend
) -> None:
    other_writer(nb_server, "lr-add", "lr1")
    other_writer(nb_server, "lrp-add", "lr0", "rp0", "00:00:00:00:00:01", "10.0.0.1/24")

    def router_of(port: str) -> list[str]:
        reader = backend.reader()
        lrps = reader.by_name("Logical_Router_Port", port)
        if not lrps:
            return []
        return [r["name"] for _u, r in reader.referrers("Logical_Router", "ports", lrps[0][0])]

    assert router_of("rp0") == ["lr0"]
    before = backend.invocation_count()
    assert router_of("rp0") == ["lr0"]
    assert backend.invocation_count() - before == 1
    # Moved to another router by another writer (a new row under the name).
    other_writer(nb_server, "lrp-del", "rp0")
    other_writer(nb_server, "lrp-add", "lr1", "rp0", "00:00:00:00:00:01", "10.0.0.1/24")
    assert router_of("rp0") == ["lr1"]
    # The same row, held by a second router too: both seen.
    [(u, _r)] = backend.reader().by_name("Logical_Router_Port", "rp0")
    other_writer(nb_server, "add", "Logical_Router", "lr0", "ports", u)
    assert sorted(router_of("rp0")) == ["lr0", "lr1"]


@pytest.mark.ovn
def test_a_port_deleted_between_the_port_set_and_the_types_is_left_out(
    nb_server: OvnSandbox, backend: NbctlBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    other_writer(nb_server, "lsp-add", "sw0", "vm1", "--", "lsp-add", "sw0", "rp1")
    other_writer(nb_server, "lsp-add", "sw0", "vm2", "--", "lsp-set-type", "rp1", "router")
    [(ls, _row)] = backend.reader().by_name("Logical_Switch", "sw0")
    run = backend.run
    raced: list[str] = []

    def racing(cmds: Any, **kw: Any) -> str:
        # Types are printed in the order asked, without UUIDs: one port fewer
        # must not shift the others' types.
        if not raced and any("--columns=type" in c for c in cmds):
            raced.append(other_writer(nb_server, "lsp-del", "vm1"))
        return run(cmds, **kw)

    monkeypatch.setattr(backend, "run", racing)
    reader = backend.reader()
    assert [r["name"] for _u, r in reader.switch_ports_of_type(ls, "router")] == ["rp1"]
    assert [r["name"] for _u, r in reader.switch_ports_of_type(ls, "")] == ["vm2"]
    assert raced


@pytest.mark.ovn
def test_a_sync_sees_another_writers_changes_made_before_each_lbs_turn(
    nb_server: OvnSandbox,
) -> None:
    lbs, subnets = view_from_api(bench_sync.octavia_view(4, 3))
    be = NbctlBackend(nb_server.nb_remote, timeout=10, daemon=False)
    idl = IdlBackend(nb_server.nb_remote, timeout=10)
    try:
        be.apply_raw(initial_ops(bench_sync.topology()))
        assert run_sync(be, lbs, subnets).counts()["create"] == 4
        idl.wait_for(lambda: len(idl.reader().rows("Load_Balancer")) == 4, timeout=5)
        synced = {lb.id: lb_rowset(idl.reader(), lb.id) for lb in lbs}
        ls = f"neutron-{bench_sync.NET}"
        third, fourth = lbs[2].id, lbs[3].id

        def meddle(done: int, _total: int, _result: LbResult) -> None:
            # After the first load balancer's turn (its reads are in the backend's
            # hints), another writer changes the third and the fourth.
            if done != 1:
                return
            [(u3, _r)] = lb_rowset(idl.reader(), third).lbs.items()
            other_writer(nb_server, "set", "Load_Balancer", u3, 'vips={"10.9.9.9:80"="1.2.3.4:80"}')
            [u4] = lb_rowset(idl.reader(), fourth).lbs
            other_writer(nb_server, "ls-lb-del", ls, u4)

        second = run_sync(be, lbs, subnets, progress=meddle)
        assert second.ok
        kinds = {r.lb_id: r.action.kind.value for r in second.results}
        assert kinds == {
            lbs[0].id: "in-sync",
            lbs[1].id: "in-sync",
            third: "update",
            fourth: "update",
        }
        third_sync = run_sync(be, lbs, subnets)
        assert third_sync.counts()["in-sync"] == 4 and third_sync.transactions == 0
        idl.wait_for(lambda: {lb.id: lb_rowset(idl.reader(), lb.id) for lb in lbs} == synced, 5)
    finally:
        be.close()
        idl.close()
