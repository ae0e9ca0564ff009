"""The incremental path (:class:`ovnlb_core.translate.RowCache`) equals the full path.

A cache kept across a sequence of edits (members appended, removed,
replaced, reordered; statuses added, changed, duplicated) must give exactly
the rows and models the uncached :func:`translate` and :func:`parse` give,
byte for byte, including for rows other writers made (non-canonical text).
"""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

import _requests_reference as ref
from ovnlb_backends import demo
from ovnlb_backends.driver import OvnLbDriver
from ovnlb_backends.memory import MemoryBackend
from ovnlb_core import requests as rq
from ovnlb_core.model import (
    ListenerState,
    LoadBalancerState,
    MemberEntry,
    PoolState,
    ProtocolRow,
)
from ovnlb_core.octavia import (
    HealthMonitor,
    Listener,
    LoadBalancer,
    Member,
    OctaviaView,
    Pool,
    Update,
)
from ovnlb_core.parse import parse
from ovnlb_core.plan import HealthCheckRow, LbRowSet, LoadBalancerRow
from ovnlb_core.status import rollup
from ovnlb_core.topology import Subnet, Topology
from ovnlb_core.translate import HC_HM, HC_VIP, RowCache, bracket, translate
from strategies import lb_states, members, statuses

EDITS = st.sampled_from(
    [
        "append",
        "append_many",
        "remove",
        "replace",
        "insert",
        "reverse",
        "clear",
        "status",
        "status_new",
        "status_fresh",
        "append_with_status",
        "status_dup",
        "status_none",
        "status_rebuild",
        "disable_pool",
        "same",
        "offline",
        "offline",
        "status_mid",
        "status_remove",
        "status_insert",
        "status_insert_dup",
        "delete_with_status",
        "delete_with_status",
    ]
)


def _edit_row(data: st.DataObject, row: ProtocolRow, edit: str) -> ProtocolRow:
    if not row.pools:
        pool = PoolState("00000000-0000-4000-8000-0000000000aa", True, ())
        return attrs.evolve(row, pools=(pool,))
    idx = data.draw(st.integers(0, len(row.pools) - 1))
    pool = row.pools[idx]
    ms = list(pool.members)
    pairs = list(row.member_status or ())
    if edit == "append":
        ms.append(data.draw(members))
    elif edit == "append_many":
        ms += data.draw(st.lists(members, min_size=1, max_size=4))
    elif edit == "remove" and ms:
        del ms[data.draw(st.integers(0, len(ms) - 1))]
    elif edit == "replace" and ms:
        ms[data.draw(st.integers(0, len(ms) - 1))] = data.draw(members)
    elif edit == "insert":
        ms.insert(data.draw(st.integers(0, len(ms))), data.draw(members))
    elif edit == "reverse":
        ms.reverse()
    elif edit == "clear":
        ms = []
    elif edit == "status" and pairs:
        i = data.draw(st.integers(0, len(pairs) - 1))
        pairs[i] = (pairs[i][0], data.draw(statuses))
    elif edit == "status_new":
        mid = ms[-1].id if ms else "00000000-0000-4000-8000-0000000000bb"
        pairs.append((mid, data.draw(statuses)))
    elif edit == "status_fresh":
        pairs.append((data.draw(members).id, data.draw(statuses)))
    elif edit == "append_with_status":
        # member_create: one entry more, its status appended.
        m = data.draw(members)
        ms.append(m)
        d = dict(pairs)
        d[m.id] = data.draw(statuses)
        pairs = list(d.items())
    elif edit == "status_dup" and pairs:
        pairs.append((pairs[0][0], data.draw(statuses)))
    elif edit == "status_none":
        return attrs.evolve(row, member_status=None)
    elif edit == "status_rebuild":
        # As the requests do it: through a dict, so a fresh tuple of fresh pairs.
        d = dict(pairs)
        if ms:
            d[ms[-1].id] = data.draw(statuses)
        pairs = list(d.items())
    elif edit == "disable_pool":
        pool = attrs.evolve(pool, enabled=not pool.enabled)
    elif edit == "offline" and ms:
        # member_update to admin down: a member's status (in the middle) set to OFFLINE.
        d = dict(pairs)
        d[ms[data.draw(st.integers(0, len(ms) - 1))].id] = "OFFLINE"
        pairs = list(d.items())
    elif edit == "status_mid" and pairs:
        i = data.draw(st.integers(0, len(pairs) - 1))
        pairs[i] = (pairs[i][0], data.draw(st.sampled_from(["OFFLINE", "ONLINE", "ERROR"])))
    elif edit == "status_remove" and pairs:
        del pairs[data.draw(st.integers(0, len(pairs) - 1))]
    elif edit == "status_insert":
        key = data.draw(
            st.sampled_from([*(m.id for m in ms), "00000000-0000-4000-8000-0000000000cc"])
        )
        pairs.insert(data.draw(st.integers(0, len(pairs))), (key, data.draw(statuses)))
    elif edit == "status_insert_dup" and pairs:
        key = pairs[data.draw(st.integers(0, len(pairs) - 1))][0]
        pairs.insert(data.draw(st.integers(0, len(pairs))), (key, data.draw(statuses)))
    elif edit == "delete_with_status" and ms:
        # member_delete: the entry and its status go, from anywhere in the lists.
        gone = ms.pop(data.draw(st.integers(0, len(ms) - 1)))
        pairs = [kv for kv in pairs if kv[0] != gone.id]
    new_pool = attrs.evolve(pool, members=tuple(ms))
    pools = tuple(new_pool if p is pool else p for p in row.pools)
    status = tuple(pairs) if (pairs or row.member_status is not None) else None
    return attrs.evolve(row, pools=pools, member_status=status)


@settings(max_examples=150)
@given(lb_states(), st.lists(EDITS, max_size=12), st.data())
def test_cached_translate_and_parse_equal_the_full_path(
    state: LoadBalancerState, edits: list[str], data: st.DataObject
) -> None:
    _run_edits(state, edits, data)


def _live(state: LoadBalancerState, ipv4: bool) -> LoadBalancerState:
    """Every row enabled, with an enabled listener on each pool: every pool is in ``vips``
    (``ipv4``: the VIP and every member IPv4, else as drawn)."""
    rows = []
    for row in state.rows:
        pools = row.pools
        if ipv4:
            pools = tuple(
                attrs.evolve(
                    p,
                    members=tuple(
                        attrs.evolve(m, address=f"10.0.0.{j}") for j, m in enumerate(p.members)
                    ),
                )
                for p in pools
            )
        listeners = tuple(
            ListenerState(f"00000000-0000-4000-8000-{i:012d}", 80 + i, p.id)
            for i, p in enumerate(pools)
        )
        vip = "10.1.0.1" if ipv4 else row.vip
        rows.append(attrs.evolve(row, enabled="True", vip=vip, listeners=listeners, pools=pools))
    return LoadBalancerState(state.name, tuple(rows))


@settings(max_examples=300)
@given(lb_states(), st.booleans(), st.lists(EDITS, max_size=12), st.data())
def test_cached_vips_equal_the_full_path(
    state: LoadBalancerState, ipv4: bool, edits: list[str], data: st.DataObject
) -> None:
    """The same on rows whose pools all have a listener: ``vips`` with OFFLINE members."""
    _run_edits(_live(state, ipv4), edits, data)


def _run_edits(state: LoadBalancerState, edits: list[str], data: st.DataObject) -> None:
    cache = RowCache()
    for edit in ["same", *edits]:
        rows = translate(state)
        assert translate(state, cache=cache) == rows
        assert parse(state.name, rows, cache=cache) == parse(state.name, rows)
        # Again: now every value is remembered.
        assert translate(state, cache=cache) == rows
        reparsed = parse(state.name, rows, cache=cache)
        assert reparsed == parse(state.name, rows)
        if state.rows:
            i = data.draw(st.integers(0, len(state.rows) - 1))
            # Continue from the parsed model half of the time, as the driver does.
            base = reparsed if data.draw(st.booleans()) and reparsed.rows else state
            row = base.rows[min(i, len(base.rows) - 1)]
            state = base.replace(row, _edit_row(data, row, edit))


def _raw_row(pool_value: str, status_value: str) -> LoadBalancerRow:
    return LoadBalancerRow(
        uuid="00000000-0000-4000-8000-000000000001",
        name="lb",
        protocol="tcp",
        external_ids={
            "enabled": "True",
            "neutron:vip": "10.0.0.1",
            "listener_l1": "80:pool_p1",
            "pool_p1": pool_value,
            "neutron:member_status": status_value,
        },
    )


@given(
    st.lists(
        st.tuples(st.sampled_from(["m1", "m2", "m3"]), st.integers(1, 99), st.booleans()),
        max_size=4,
    ),
    st.lists(st.tuples(st.sampled_from(["m1", "m2", "m3"]), statuses), max_size=4),
    st.sampled_from([", ", ","]),
)
def test_rows_other_writers_made(
    entries: list[tuple[str, int, bool]], pairs: list[tuple[str, str]], sep: str
) -> None:
    """Non-canonical text (leading zeros, other JSON spacing, duplicate keys) stays exact."""
    pool_value = ",".join(
        f"member_{i}_10.0.0.{p}:{'0' if zero else ''}{p}_s" for i, p, zero in entries
    )
    status_value = "{" + sep.join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in pairs) + "}"
    rows = LbRowSet(lbs={"u": _raw_row(pool_value, status_value)})
    cache = RowCache()
    for _ in range(3):
        state = parse("lb", rows, cache=cache)
        assert state == parse("lb", rows)
        assert translate(state, cache=cache) == translate(state)
        # The model's own rows, then an appended member, through the same cache.
        row = state.rows[0]
        pool = row.pools[0]
        grown = attrs.evolve(pool, members=(*pool.members, MemberEntry("m9", "10.0.0.9", 9, "s")))
        bigger = state.replace(row, attrs.evolve(row, pools=(grown,)))
        assert translate(bigger, cache=cache) == translate(bigger)
        again = translate(bigger)
        assert parse("lb", again, cache=cache) == parse("lb", again)


def test_cache_splices_an_appended_member() -> None:
    """The point of the cache: one member more is a splice, not a rebuild."""
    ms = tuple(MemberEntry(f"m{i}", f"10.0.{i // 250}.{i % 250}", 80, "s") for i in range(100))
    row = ProtocolRow(uuid="r", vip="10.1.0.1", pools=(PoolState("p", True, ms),))
    cache = RowCache()
    translate(LoadBalancerState("lb", (row,)), cache=cache)
    more = attrs.evolve(
        row, pools=(PoolState("p", True, (*ms, MemberEntry("x", "10.9.0.1", 80, "s"))),)
    )
    state = LoadBalancerState("lb", (more,))
    assert translate(state, cache=cache) == translate(state)
    assert cache.stats.get("pool_splice") == 1


def test_cache_splices_status_changes_in_the_middle() -> None:
    """Statuses changed, OFFLINE members, deletes in the middle: splices, and the full result."""
    ms = [MemberEntry(f"m{i}", f"10.0.{i // 250}.{i % 250}", 80, "s") for i in range(200)]
    ms[150] = MemberEntry("m150", "fd00::1", 80, "s")  # one IPv6 member in a second pool
    pairs = [(m.id, "ONLINE") for m in ms]
    cache = RowCache()

    def check(members: list[MemberEntry], status: list[tuple[str, str]]) -> None:
        row = ProtocolRow(
            uuid="r",
            vip="10.1.0.1",
            listeners=(ListenerState("l", 80, "p"), ListenerState("l6", 81, "p6")),
            pools=(
                PoolState("p", True, tuple(m for m in members if not m.is_ipv6)),
                PoolState("p6", True, tuple(members)),
            ),
            member_status=tuple(status),
        )
        state = LoadBalancerState("lb", (row,))
        assert translate(state, cache=cache) == translate(state)

    check(ms, pairs)
    for step in range(40):
        i = 100 - step
        if step % 3 == 0:
            pairs[i] = (pairs[i][0], "OFFLINE")
        elif step % 3 == 1:
            pairs[i + 20] = (pairs[i + 20][0], "ERROR")
        else:
            gone = ms.pop(i)
            pairs = [kv for kv in pairs if kv[0] != gone.id]
        check(ms, pairs)
    assert cache.stats.get("status_miss") == 1
    assert cache.stats.get("status_splice") == 40


def test_driver_with_and_without_cache_write_the_same_rows() -> None:
    """A member sequence through two drivers: one with a cache, one whose cache holds nothing."""
    from ovnlb_backends import demo

    dbs = []
    for size in (256, 0):
        backend = MemoryBackend()
        backend.apply_raw(demo.topology_ops())
        driver = OvnLbDriver(backend, demo.SUBNETS, cache=RowCache(size))
        for _title, step in demo.steps()[:3]:
            step(driver)
        base = {
            "pool_id": demo.POOL,
            "protocol_port": 80,
            "subnet_id": demo.MEMBER_SUBNET,
            "admin_state_up": True,
        }
        ms = [
            {**base, "member_id": f"00000000-0000-4000-8000-{i:012d}", "address": f"10.10.10.{i}"}
            for i in range(1, 30)
        ]
        for m in ms[:10]:
            driver.member_create(m)
        driver.member_delete(ms[3])
        driver.member_update(ms[5], {**ms[5], "admin_state_up": False})
        driver.member_batch_update(demo.POOL, ms[8:25])
        driver.member_create(ms[27])
        dbs.append(backend.snapshot().tables)
    assert dbs[0] == dbs[1]


# -- the member requests equal the straightforward implementation -----------------------------
#
# ``_requests_reference`` is ``ovnlb_core.requests`` (with the roll-up of ``status``) as it was
# before the member paths were made O(changed): every request below runs through both, on the
# same state, and must give the same state, rows, status payloads (key order included), NAT
# updates, or the same exception.

#: A third network behind a second router: a member there makes the LB join that router
#: (``lr_ref`` grows) and that network's switch.
_NET3 = "00000000-0000-4000-8000-0000000000a3"
_SUBNET3 = "00000000-0000-4000-8000-0000000000a4"
_RI3 = "00000000-0000-4000-8000-0000000000a5"
_ROUTER2 = "00000000-0000-4000-8000-0000000000a6"


def _third_network() -> list[dict[str, Any]]:
    ri = {
        "_name": _RI3,
        "name": _RI3,
        "addresses": ["router"],
        "type": "router",
        "options": {"router-port": f"lrp-{_RI3}"},
        "external_ids": {
            "neutron:cidrs": "10.20.0.1/24",
            "neutron:device_owner": "network:router_interface",
            "neutron:network_name": f"neutron-{_NET3}",
        },
    }
    lrp = {
        "_name": f"lrp-{_RI3}",
        "name": f"lrp-{_RI3}",
        "mac": "fa:16:3e:00:00:31",
        "networks": ["10.20.0.1/24"],
        "external_ids": {"neutron:network_name": f"neutron-{_NET3}"},
    }
    rows: list[tuple[str, dict[str, Any]]] = [
        ("Logical_Switch_Port", ri),
        (
            "Logical_Switch",
            {"_name": f"neutron-{_NET3}", "name": f"neutron-{_NET3}", "ports": [_RI3]},
        ),
        ("Logical_Router_Port", lrp),
        (
            "Logical_Router",
            {
                "_name": f"neutron-{_ROUTER2}",
                "name": f"neutron-{_ROUTER2}",
                "ports": [f"lrp-{_RI3}"],
            },
        ),
    ]
    return [{"op": "insert", "table": t, "row": r} for t, r in rows]


_TOPOLOGY_BACKEND = MemoryBackend()
_TOPOLOGY_BACKEND.apply_raw([*demo.topology_ops(), *_third_network()])
_TOPOLOGY = Topology(
    _TOPOLOGY_BACKEND.reader(),
    {**demo.SUBNETS, _SUBNET3: Subnet(_SUBNET3, _NET3, "10.20.0.0/24")},
)

_LB = demo.LB
_POOLS = [demo.POOL, "00000000-0000-4000-8000-0000000000b2"]
_LISTENERS = [demo.LISTENER, "00000000-0000-4000-8000-0000000000c2"]
_HMS = [demo.HM, "00000000-0000-4000-8000-0000000000d2"]
_MEMBER_IDS = [f"00000000-0000-4000-8000-0000000000e{i}" for i in range(6)]
#: 10.10.10.10 has a port on the member network (health checks map it: ONLINE), the others
#: have none (ERROR); 172.24.4.x is in the VIP subnet (a member without subnet is valid).
_ADDRESSES = ["10.10.10.10", "10.10.10.11", "10.10.10.12", "172.24.4.20", "10.20.0.5"]
_SUBNET_IDS = [demo.MEMBER_SUBNET, demo.MEMBER_SUBNET, None, demo.VIP_SUBNET, _SUBNET3]

octavia_members = st.builds(
    Member,
    st.sampled_from(_MEMBER_IDS),
    st.sampled_from(_POOLS),
    st.sampled_from(_ADDRESSES),
    st.sampled_from([80, 81]),
    st.sampled_from(_SUBNET_IDS),
    st.booleans(),
)


def _strict(state: LoadBalancerState | None) -> object:
    """The state with every dict's order, and the rows with their key order."""
    if state is None:
        return None
    rows = translate(state)
    return (
        state,
        [
            (
                r.member_status,
                list(r.ip_port_mappings.items()),
                list(r.options.items()),
                list(r.extra_ids.items()),
                r.ls_refs,
                r.lr_ref,
            )
            for r in state.rows
        ],
        rows,
        [
            (list(r.external_ids.items()), list(r.vips.items()), list(r.ip_port_mappings.items()))
            for r in rows.lbs.values()
        ],
    )


def _event(what: str) -> None:
    """Counted by ``--hypothesis-show-statistics`` (what the random requests reached)."""
    if currently_in_test_context():
        event(what)


def _with_issue_11_fixes(
    before: LoadBalancerState | None, expected: ref.Outcome, got: rq.Outcome
) -> ref.Outcome:
    """The reference implementation's outcome with the two corrections issue 11 makes
    (spec: every request idempotent), checked here rather than copied:

    * ``hm_create`` (also ``hm_update`` enabling a monitor) keeps a check of the monitor for
      a VIP the row already holds instead of adding another under the next free UUID: the
      reference's new checks that repeat an existing (monitor, ``octavia:vip``) pair go;
    * a member removed or disabled keeps its address's ``ip_port_mappings`` entry while an
      enabled, monitored (``ONLINE``/``ERROR``) member at that address stays on the row: a
      key ovnlb keeps and the reference dropped must be such an address, with the value it
      had before the request or the one the request wrote.
    """
    if expected.state is None or got.state is None or before is None:
        return expected
    old_rows = {r.uuid: r for r in before.rows}
    got_rows = {r.uuid: r for r in got.state.rows}
    rows = []
    for r in expected.state.rows:
        old = old_rows.get(r.uuid)
        mine = got_rows.get(r.uuid)
        if old is None or mine is None:
            rows.append(r)
            continue
        pairs = {(h.external_ids.get(HC_HM), h.external_ids.get(HC_VIP)) for h in old.health_checks}
        kept_uuids = {h.uuid for h in old.health_checks}
        hcs = tuple(
            h
            for h in r.health_checks
            if h.uuid in kept_uuids
            or (h.external_ids.get(HC_HM), h.external_ids.get(HC_VIP)) not in pairs
        )
        mappings = r.ip_port_mappings
        extra = set(mine.ip_port_mappings) - set(mappings)
        if extra:
            statuses = mine.statuses()
            live = {
                bracket(m.address)
                for _p, m in mine.all_members()
                if statuses.get(m.id) in ("ONLINE", "ERROR")
            }
            for key in extra:
                assert key in live, f"mapping {key} kept without a monitored member there"
                if key in old.ip_port_mappings:
                    assert mine.ip_port_mappings[key] == old.ip_port_mappings[key]
            assert set(mappings) <= set(mine.ip_port_mappings)
            mappings = mine.ip_port_mappings
        rows.append(attrs.evolve(r, health_checks=hcs, ip_port_mappings=mappings))
    state = attrs.evolve(expected.state, rows=tuple(rows))
    return attrs.evolve(expected, state=state)


def _same(
    name: str, ctx: rq.Context, state: LoadBalancerState | None, *args: Any
) -> LoadBalancerState | None:
    """``name`` through both implementations: equal results; the new state."""
    try:
        expected: ref.Outcome = getattr(ref, name)(ctx, state, *args)
    except Exception as exc:
        _event(f"{name}: {type(exc).__name__}")
        with pytest.raises(type(exc)):
            getattr(rq, name)(ctx, state, *args)
        return state
    _event(f"{name}: ok")
    got: rq.Outcome = getattr(rq, name)(ctx, state, *args)
    expected = _with_issue_11_fixes(state, expected, got)
    # (Two Outcome classes: compare their fields.)
    assert (got.state, got.statuses, got.nat_updates) == (
        expected.state,
        expected.statuses,
        expected.nat_updates,
    )
    assert json.dumps(got.statuses) == json.dumps(expected.statuses)
    assert _strict(got.state) == _strict(expected.state)
    return got.state


def _same_health(ctx: Any, state: LoadBalancerState, *args: Any) -> LoadBalancerState | None:
    expected = ref.member_health(ctx, state, *args)
    got = rq.member_health(ctx, state, *args)
    _event(f"member_health: {len(got[1])} reports")
    assert got == expected
    assert json.dumps(got[1]) == json.dumps(expected[1])
    assert _strict(got[0]) == _strict(expected[0])
    return got[0]


def _hm(i: int, pool: int, admin: bool = True) -> HealthMonitor:
    return HealthMonitor(_HMS[i], _POOLS[pool], "TCP", 10, 5, 3, 3, admin)


def _start(ctx: rq.Context, data: st.DataObject) -> LoadBalancerState | None:
    lb = LoadBalancer(
        _LB, "172.24.4.9", demo.VIP_PORT, demo.NET, demo.VIP_SUBNET, admin_state_up=True
    )
    state = _same("lb_create", ctx, None, lb)
    for i in range(data.draw(st.integers(1, 2), label="listeners")):
        li = Listener(_LISTENERS[i], _LB, "TCP", 80 + i, None, data.draw(st.booleans()))
        state = _same("listener_create", ctx, state, li)
    for i in range(data.draw(st.integers(1, 2), label="pools")):
        listener = _LISTENERS[i] if data.draw(st.booleans()) else None
        pool = Pool(
            _POOLS[i],
            _LB,
            listener,
            "TCP",
            "SOURCE_IP_PORT",
            admin_state_up=data.draw(st.booleans()),
        )
        state = _same("pool_create", ctx, state, pool)
    return state


REQUESTS = st.sampled_from(
    [
        "member_create",
        "member_create",
        "member_delete",
        "member_update",
        "member_batch_update",
        "member_batch_update",
        "hm_create",
        "hm_delete",
        "hm_update",
        "member_health",
        "fip_associate",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(REQUESTS, min_size=1, max_size=14), st.data())
def test_member_requests_equal_the_reference(requests: list[str], data: st.DataObject) -> None:
    """Random request sequences on a real topology: the same outcome as the reference."""
    view = OctaviaView()
    if data.draw(st.booleans(), label="pool admin in view"):
        view.pools[_POOLS[0]] = {"pool_id": _POOLS[0], "admin_state_up": data.draw(st.booleans())}
    ctx = rq.Context(_TOPOLOGY, view)
    state = _start(ctx, data)
    for name in requests:
        if state is None:
            break
        pool = data.draw(st.integers(0, 1))
        if name == "member_create":
            m = data.draw(octavia_members)
            state = _same(name, ctx, state, m)
        elif name == "member_delete":
            state = _same(name, ctx, state, data.draw(octavia_members))
        elif name == "member_update":
            old = data.draw(octavia_members)
            new = attrs.evolve(old, admin_state_up=data.draw(st.booleans()))
            changed = frozenset(data.draw(st.sets(st.sampled_from(["admin_state_up", "weight"]))))
            state = _same(name, ctx, state, Update(old, new, changed))
        elif name == "member_batch_update":
            batch = data.draw(st.lists(octavia_members, max_size=6))
            state = _same(name, ctx, state, _POOLS[pool], batch)
        elif name == "hm_create":
            state = _same(name, ctx, state, _hm(pool, pool, data.draw(st.booleans())))
        elif name == "hm_delete":
            state = _same(name, ctx, state, _hm(pool, pool))
        elif name == "hm_update":
            admin = data.draw(st.booleans())
            upd = Update(
                _hm(pool, pool, not admin), _hm(pool, pool, admin), frozenset({"admin_state_up"})
            )
            state = _same(name, ctx, state, upd)
        elif name == "member_health":
            row = state.rows[0]
            key = data.draw(st.sampled_from([*row.ip_port_mappings, "10.10.10.99"]))
            value = row.ip_port_mappings.get(key, "p:10.10.10.3")
            lsp, _, src = value.partition(":")
            status = data.draw(st.sampled_from(["online", "offline", "error", None]))
            deleted = data.draw(st.booleans())
            args = (key, data.draw(st.sampled_from([80, 81])), "tcp", lsp, src, status, deleted)
            state = _same_health(ctx, state, *args)
        elif name == "fip_associate":
            state = _same(name, ctx, state, "203.0.113.10", "vip", ["172.24.4.9"])


# Entries whose texts collide: ``member_a_10.0.0.1:80_10.0.0.2:81_s`` is both
# (a_10.0.0.1:80, 10.0.0.2, 81, s) and (a, 10.0.0.1, 80, 10.0.0.2:81_s).
_ODD_IDS = ["a", "a_10.0.0.1:80", "b", "b_"]
_ODD_SUBNETS = ["s", "10.0.0.2:81_s", "", "None"]
odd_entries = st.builds(
    MemberEntry,
    st.sampled_from(_ODD_IDS),
    st.sampled_from(["10.0.0.1", "10.0.0.2"]),
    st.sampled_from([80, 81]),
    st.sampled_from(_ODD_SUBNETS),
)


@st.composite
def odd_states(draw: st.DrawFn) -> LoadBalancerState:
    """Rows other writers could have made: duplicate ids, the same entry object twice,
    colliding texts, duplicate status keys, a pool in both admin forms, health checks."""
    state = draw(lb_states())
    row = state.rows[0]
    ms = draw(st.lists(odd_entries, max_size=6))
    twice = draw(st.booleans())
    if ms and twice:
        ms.append(ms[0])  # the same object twice
    pid = "00000000-0000-4000-8000-0000000000f1"
    pools = [PoolState(pid, True, tuple(ms))]
    if draw(st.booleans()):
        pools.append(PoolState(pid, False, tuple(draw(st.lists(odd_entries, max_size=3)))))
    if draw(st.booleans()):
        other = PoolState(
            "00000000-0000-4000-8000-0000000000f2",
            True,
            tuple(draw(st.lists(odd_entries, max_size=3))),
        )
        pools.append(other)
    pairs = draw(st.lists(st.tuples(st.sampled_from(_ODD_IDS), statuses), max_size=8))
    empty_not_none = draw(st.booleans())
    member_status = tuple(pairs) if pairs or empty_not_none else None
    row = attrs.evolve(row, pools=(*row.pools, *pools), member_status=member_status)
    return state.replace(state.rows[0], row)


odd_requests = st.builds(
    Member,
    st.sampled_from(_ODD_IDS),
    st.just("00000000-0000-4000-8000-0000000000f1"),
    st.sampled_from(["10.0.0.1", "10.0.0.2"]),
    st.sampled_from([80, 81]),
    st.sampled_from(["s", "10.0.0.2:81_s", "None"]),
    st.booleans(),
)


@settings(max_examples=300, deadline=None)
@given(
    odd_states(),
    st.lists(
        st.sampled_from(["create", "delete", "update", "batch", "hm_delete"]),
        min_size=1,
        max_size=6,
    ),
    st.data(),
)
def test_member_requests_on_odd_rows_equal_the_reference(
    start: LoadBalancerState, requests: list[str], data: st.DataObject
) -> None:
    """Member lookups by text and by id, and roll-ups, on rows ovnlb would not write."""
    ctx = rq.Context(_TOPOLOGY, OctaviaView())
    pid = "00000000-0000-4000-8000-0000000000f1"
    state: LoadBalancerState | None = start
    for name in requests:
        if state is None or state.row_with_pool(pid) is None:
            break
        m = data.draw(odd_requests)
        if name == "create":
            state = _same("member_create", ctx, state, m)
        elif name == "delete":
            state = _same("member_delete", ctx, state, m)
        elif name == "update":
            upd = Update(m, m, frozenset(data.draw(st.sets(st.just("admin_state_up")))))
            state = _same("member_update", ctx, state, upd)
        elif name == "batch":
            state = _same(
                "member_batch_update",
                ctx,
                state,
                pid,
                data.draw(st.lists(odd_requests, max_size=6)),
            )
        else:
            state = _same("hm_delete", ctx, state, HealthMonitor(_HMS[0], pid, "TCP"))


@settings(max_examples=300, deadline=None)
@given(lb_states(), st.data())
def test_rollup_equals_the_reference(state: LoadBalancerState, data: st.DataObject) -> None:
    """Every row, any admin states in Octavia's view: the reference roll-up, key order too;
    with ``members=False`` the same but an empty member list."""
    view = OctaviaView()
    for row in state.rows:
        for p in row.pools:
            if data.draw(st.booleans()):
                view.pools[p.id] = {"admin_state_up": data.draw(st.booleans())}
        for li in row.listeners:
            if data.draw(st.booleans()):
                view.listeners[li.id] = {"admin_state_up": data.draw(st.booleans())}
    if data.draw(st.booleans()):
        view.loadbalancers[state.name] = {"admin_state_up": data.draw(st.booleans())}
    for row in state.rows:
        # Statuses of some members, ERROR for some, and stale keys.
        ids = [m.id for p in row.pools for m in p.members] + [
            "00000000-0000-4000-8000-00000000ffff"
        ]
        pairs = data.draw(st.lists(st.tuples(st.sampled_from(ids), statuses), max_size=8))
        row = attrs.evolve(row, member_status=tuple(pairs) if pairs else row.member_status)
        expected = ref.rollup(state.name, row, view)
        got = rollup(state.name, row, view)
        assert json.dumps(got) == json.dumps(expected)
        assert rollup(state.name, row, view, statuses=row.statuses()) == expected
        partial = rollup(state.name, row, view, members=False)
        assert json.dumps(partial) == json.dumps({**expected, "members": []})


@pytest.mark.parametrize("order", [0, 1])
@pytest.mark.parametrize("request_index", [0, 1])
@pytest.mark.parametrize("name", ["member_create", "member_delete", "member_batch_update"])
def test_colliding_texts_equal_the_reference(order: int, request_index: int, name: str) -> None:
    """Two entries with different ids and one text: the first in the pool is the one found."""
    pid = "00000000-0000-4000-8000-0000000000f1"
    x = MemberEntry("a", "10.0.0.1", 80, "10.0.0.2:81_s")
    y = MemberEntry("a_10.0.0.1:80", "10.0.0.2", 81, "s")
    assert x.text() == y.text()
    entries = (x, y) if order == 0 else (y, x)
    hc = HealthCheckRow("00000000-0000-4000-8000-0000000000f9", "10.0.0.100:80", {}, {})
    row = ProtocolRow(
        uuid="00000000-0000-4000-8000-0000000000f8",
        protocol="tcp",
        vip="10.0.0.100",
        pools=(
            PoolState(pid, True, entries),
            PoolState("00000000-0000-4000-8000-0000000000f2", True, (y,)),
        ),
        member_status=(("a", "ERROR"), ("a_10.0.0.1:80", "ONLINE")),
        ip_port_mappings={"10.0.0.1": "p1:10.0.0.3", "10.0.0.2": "p2:10.0.0.3"},
        health_checks=(hc,),
    )
    state = LoadBalancerState("lb", (row,))
    e = entries[request_index]
    m = Member(e.id, pid, e.address, e.port, e.subnet_id)
    ctx = rq.Context(_TOPOLOGY, OctaviaView())
    args: tuple[Any, ...] = (pid, [m]) if name == "member_batch_update" else (m,)
    _same(name, ctx, state, *args)
