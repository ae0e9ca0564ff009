"""The incremental path (:class:`ovnlb_core.translate.RowCache`) equals the full path.

A cache kept across a sequence of edits (members appended, removed,
replaced, reordered; statuses added, changed, duplicated) must give exactly
the rows and models the uncached :func:`translate` and :func:`parse` give,
byte for byte, including for rows other writers made (non-canonical text).
"""

from __future__ import annotations

import json
from collections.abc import Callable

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st

from ovnlb_backends.cli import demo
from ovnlb_backends.memory import MemoryBackend
from ovnlb_backends.service.driver import OvnLbDriver
from ovnlb_core import validate
from ovnlb_core.errors import OvnlbError
from ovnlb_core.model import (
    ListenerState,
    LoadBalancerState,
    MemberEntry,
    PoolState,
    ProtocolRow,
)
from ovnlb_core.octavia import Member
from ovnlb_core.parse import parse
from ovnlb_core.plan import LbRowSet, LoadBalancerRow
from ovnlb_core.topology import Subnet
from ovnlb_core.translate import RowCache, translate
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
        "batch",
        "batch",
        "batch_reorder",
        "status_batch",
        "status_batch",
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
    elif edit in ("batch", "batch_reorder") and ms:
        # member_batch_update: some entries out (anywhere), the rest kept in order (the
        # same objects), new ones appended; or the kept ones reordered / one repeated.
        keep = data.draw(st.lists(st.booleans(), min_size=len(ms), max_size=len(ms)))
        ms = [m for m, k in zip(ms, keep, strict=True) if k]
        if edit == "batch_reorder" and ms:
            ms = [ms[-1], *ms] if data.draw(st.booleans()) else ms[::-1]
        ms += data.draw(st.lists(members, max_size=3))
    elif edit == "status_batch" and pairs:
        # member_batch_update: some statuses out (anywhere), the rest kept in order (fresh
        # pairs, through a dict), new ones appended, sometimes a kept one changed.
        keep = data.draw(st.lists(st.booleans(), min_size=len(pairs), max_size=len(pairs)))
        d = dict(kv for kv, k in zip(pairs, keep, strict=True) if k)
        for _ in range(data.draw(st.integers(0, 3))):
            d[data.draw(members).id] = data.draw(statuses)
        change: bool = data.draw(st.booleans())
        if d and change:
            d[next(iter(d))] = data.draw(statuses)
        pairs = list(d.items())
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


# -- validate.members: the batch check (VIP families looked at once) ----------------------

_V4 = st.sampled_from(["10.0.0.5", "10.1.0.7", "192.168.1.1"])
_V6 = st.sampled_from(["fd00::5", "2001:db8::7"])
_batch_members = st.lists(
    st.builds(
        Member,
        id=st.sampled_from(["m1", "m2", "m3"]),
        pool_id=st.just("p"),
        address=st.one_of(_V4, _V6),
        protocol_port=st.just(80),
        subnet_id=st.sampled_from([None, "s1"]),
        monitor_address=st.sampled_from([None, None, None, "10.0.0.9"]),
        monitor_port=st.sampled_from([None, None, None, 8080]),
    ),
    max_size=6,
)


def _failure(check: Callable[[], None]) -> tuple[type, str, str | None] | None:
    try:
        check()
    except OvnlbError as e:
        return type(e), str(e), getattr(e, "resource_id", None)
    return None


@settings(max_examples=400, deadline=None)
@given(
    _batch_members,
    st.one_of(st.none(), _V4, _V6),
    st.lists(st.one_of(_V4, _V6), max_size=2),
    st.sampled_from([None, "10.0.0.0/16", "fd00::/64"]),
    st.booleans(),
    st.booleans(),
)
def test_validate_members_is_member_one_by_one(
    batch: list[Member],
    vip: str | None,
    more_vips: list[str],
    cidr: str | None,
    as_batch: bool,
    check_address: bool,
) -> None:
    row = ProtocolRow(uuid="r", vip=vip, additional_vips=tuple(more_vips) or None)
    subnet = Subnet("s0", "n0", cidr) if cidr else None

    def one_by_one() -> None:
        for m in batch:
            validate.member(m, row, subnet, batch=as_batch, check_address=check_address)

    def at_once() -> None:
        validate.members(batch, row, subnet, batch=as_batch, check_address=check_address)

    assert _failure(at_once) == _failure(one_by_one)

    def no_row_one_by_one() -> None:
        for m in batch:
            validate.member(m, None, subnet, batch=as_batch)

    no_row = _failure(lambda: validate.members(batch, None, subnet, batch=as_batch))
    assert no_row == _failure(no_row_one_by_one)


# -- a batch update of a big pool: kept entries picked, new ones appended -------------------


@settings(max_examples=150, deadline=None)
@given(
    st.lists(members, min_size=20, max_size=60),
    st.lists(members, max_size=12),
    st.data(),
)
def test_cached_batch_of_a_big_pool_equals_the_full_path(
    old: list[MemberEntry], new: list[MemberEntry], data: st.DataObject
) -> None:
    """Many entries out (anywhere, more than a prefix/suffix splice takes), the rest kept in
    order, new ones appended, optionally reordered or repeated: translate and parse through
    the cache equal the full path, and the parse after the write is a cache hit when the
    kept order was left alone."""
    keep = data.draw(st.lists(st.booleans(), min_size=len(old), max_size=len(old)))
    kept = [m for m, k in zip(old, keep, strict=True) if k]
    odd = data.draw(st.sampled_from(["", "", "reverse", "repeat"]))
    if odd == "reverse":
        kept.reverse()
    elif odd == "repeat" and kept:
        kept.append(kept[0])
    pool = PoolState("00000000-0000-4000-8000-0000000000aa", True, tuple(old))
    listener = ListenerState("00000000-0000-4000-8000-0000000000ab", 80, pool.id)
    row = ProtocolRow(uuid="r", vip="10.1.0.1", enabled="True", listeners=(listener,))
    state = LoadBalancerState("lb", (attrs.evolve(row, pools=(pool,)),))
    cache = RowCache()
    rows = translate(state, cache=cache)
    assert rows == translate(state)
    # As the driver does: the next request starts from the parsed model.
    parsed = parse(state.name, rows, cache=cache)
    assert parsed == parse(state.name, rows)
    base = parsed.rows[0]
    (bpool,) = base.pools
    picks = [bpool.members[old.index(m)] for m in kept]  # the parsed objects, same entries
    after = attrs.evolve(base, pools=(attrs.evolve(bpool, members=(*picks, *new)),))
    state2 = LoadBalancerState("lb", (after,))
    rows2 = translate(state2, cache=cache)
    assert rows2 == translate(state2)
    assert parse(state2.name, rows2, cache=cache) == parse(state2.name, rows2)
