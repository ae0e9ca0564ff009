"""The batch fast paths against the checked ones: joined-line regex checks, pool texts taken
from the RowCache (issue 12, the 1% change of a 10k pool)."""

from __future__ import annotations

import gc
import re
from collections.abc import Sequence
from typing import Any

import attrs
import pytest
import test_requests_table as table
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_requests_table import MS, PO, STEP4, TOPOLOGY, VIP_SUBNET, L

from ovnlb_backends.cli import demo
from ovnlb_backends.memory import MemoryBackend
from ovnlb_backends.service.driver import OvnLbDriver
from ovnlb_core import requests as rq
from ovnlb_core.errors import OvnlbError
from ovnlb_core.formats import (
    IPV4_LINES_RE,
    IPV4_RE,
    UUID_LINES_RE,
    UUID_RE,
    all_lines,
)
from ovnlb_core.model import LoadBalancerState, MemberEntry, PoolState
from ovnlb_core.nb import NbSnapshot
from ovnlb_core.octavia import Member, MemberColumns
from ovnlb_core.parse import parse
from ovnlb_core.plan import NatUpdate
from ovnlb_core.requests import member as member_mod
from ovnlb_core.status import DELETED, Payload, entry, rollup
from ovnlb_core.textcache import member_texts
from ovnlb_core.topology import Topology
from ovnlb_core.translate import RowCache, translate
from strategies import ipv4, lb_states, statuses, uuids

#: Texts near the patterns: valid ones, ones with a newline or other character spliced in.
_near = st.one_of(
    uuids,
    uuids.map(str.upper),
    ipv4,
    st.builds(
        lambda a, b, c: a[:c] + b + a[c:],
        st.one_of(uuids, ipv4),
        st.sampled_from(["\n", "x", "0", ".", "-", " ", "\n\n", ""]),
        st.integers(0, 40),
    ),
    st.text(st.sampled_from("0123456789abcdefABCDEF.-\nx"), max_size=40),
)


@settings(max_examples=400)
@given(st.lists(_near, min_size=1, max_size=6))
def test_all_lines_is_every_text_matching(texts: list[str]) -> None:
    for lines_re, one in ((UUID_LINES_RE, UUID_RE), (IPV4_LINES_RE, IPV4_RE)):
        assert all_lines(lines_re, texts) == all(one.fullmatch(t) is not None for t in texts)


def test_all_lines_refuses_a_text_holding_two() -> None:
    a, b = "10.0.0.1", "10.0.0.2"
    assert all_lines(IPV4_LINES_RE, [a, b])
    assert not all_lines(IPV4_LINES_RE, [f"{a}\n{b}"])
    assert not all_lines(IPV4_LINES_RE, [a, f"{b}\n"])
    assert isinstance(UUID_LINES_RE, re.Pattern)


_TOPOLOGY = Topology(NbSnapshot({}), {})


@settings(max_examples=150)
@given(lb_states(), st.booleans())
def test_pool_texts_are_the_member_texts(state: LoadBalancerState, warm: bool) -> None:
    """``Context.pool_texts`` gives ``member_texts`` of the pool with a cache (warm: the
    pools parsed back through it, as a request sees them) or without one."""
    cache = RowCache()
    if warm:
        rows = translate(state, cache=cache)
        state = parse(state.name, rows, cache=cache)
    for ctx in (rq.Context(_TOPOLOGY), rq.Context(_TOPOLOGY, cache=cache)):
        for row in state.rows:
            for pool in row.pools:
                assert list(ctx.pool_texts(pool.id, pool.members)) == member_texts(pool.members)


# -- one draft for the whole batch ---------------------------------------------------------------

_IDS = [f"00000000-0000-4000-8000-0000000002{i:02d}" for i in range(6)]
_ADDRESSES = ["10.10.10.10", "10.10.10.11", "172.24.4.20"]


def _sequential_batch(
    ctx: rq.Context, state: LoadBalancerState, pool_id: str, *lists: Any
) -> rq.Outcome:
    """The batch as three requests, each on the row the previous one wrote (what
    ``member._batch`` did before one draft took the whole batch). ``lists``: ``_batch``'s
    create, update, delete and (optional) kept."""
    create: Sequence[Member] = lists[0]
    update: Sequence[Member] = lists[1]
    delete: Sequence[Member] = lists[2]
    kept: tuple[list[str], list[bool]] | None = lists[3] if len(lists) > 3 else None
    reports: list[Payload] = []
    nats: list[NatUpdate] = []
    if create:
        state, row, statuses, new_nats = member_mod._add_members(
            ctx, state, pool_id, create, new_only=True
        )
        nats += new_nats
        reports.append(rollup(state.name, row, ctx.view, statuses=statuses))
    items = (
        [(m, True) for m in update]
        if kept is None
        else [
            (Member(i, pool_id, "10.0.0.1", 1, None, a), True) for i, a in zip(*kept, strict=True)
        ]
    )
    if items:
        state, report = member_mod._update_members(ctx, state, pool_id, items)
        reports.append(report)
    if delete:
        state, row, statuses = member_mod._remove_members(ctx, state, pool_id, delete)
        report = rollup(state.name, row, ctx.view, statuses=statuses, members=False)
        report["members"] = [entry(m.id, DELETED) for m in delete]
        reports.append(report)
    return rq.Outcome(state, tuple(reports), tuple(nats))


_entries = st.builds(
    MemberEntry,
    st.sampled_from(_IDS),
    st.sampled_from(_ADDRESSES),
    st.sampled_from([80, 63015]),
    st.sampled_from([MS, VIP_SUBNET, ""]),
)
_batch_members = st.lists(
    st.builds(
        Member,
        st.sampled_from(_IDS),
        st.just(PO),
        st.sampled_from(_ADDRESSES),
        st.sampled_from([80, 63015]),
        st.sampled_from([MS, VIP_SUBNET, None]),
        st.booleans(),
    ),
    max_size=6,
)


@st.composite
def _rows_without_hc(draw: st.DrawFn) -> LoadBalancerState:
    """The walkthrough's step-4 row (no health check) with a drawn pool (repeats allowed),
    drawn statuses (ERROR, OFFLINE, missing, foreign ids), sometimes a second pool before
    it and the pool disabled."""
    state = parse(L, table._rowset([STEP4]))
    (row,) = state.rows
    pool = row.pools[0]
    members = tuple(draw(st.lists(_entries, max_size=6)))
    # Mostly one status per entry (often ERROR), then a few drawn pairs.
    every = draw(st.one_of(st.just("ERROR"), statuses))
    pairs = [
        (m.id, draw(st.one_of(st.just(every), statuses)))
        for m in members
        if draw(st.integers(0, 4))
    ]
    status_ids = st.sampled_from([*_IDS, "foreign"])
    pairs += draw(st.lists(st.tuples(status_ids, statuses), max_size=3))
    pools = [attrs.evolve(pool, members=members, enabled=draw(st.booleans()))]
    if draw(st.booleans()):
        # Its key sorts before or after the pool's (a row keeps its pools sorted by key).
        other_id = draw(st.sampled_from([_IDS[5], "ffffffff-0000-4000-8000-000000000000"]))
        pools.append(PoolState(other_id, True, tuple(draw(st.lists(_entries, max_size=2)))))
    new = attrs.evolve(row, pools=tuple(pools), member_status=tuple(pairs) or None)
    return state.replace(row, new)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(_rows_without_hc(), _batch_members)
def test_one_draft_batch_is_the_three_requests(
    state: LoadBalancerState, batch: list[Member]
) -> None:
    """On a row without health checks the batch's three requests share one draft: the same
    state, reports and NAT updates as the requests applied one by one."""
    ctx = rq.Context(TOPOLOGY)

    def outcome() -> Any:
        try:
            out = rq.member_batch_update(ctx, state, PO, batch)
        except OvnlbError as e:
            return type(e), str(e)
        return out.state, out.statuses, out.nat_updates

    cols = MemberColumns.of(
        [
            {
                "member_id": m.id,
                "address": m.address,
                "protocol_port": m.protocol_port,
                "subnet_id": m.subnet_id,
                "admin_state_up": m.admin_state_up,
            }
            for m in batch
        ],
        PO,
    )

    def by_columns() -> Any:
        if cols is None:
            return None
        try:
            out = rq.member_batch_update_columns(ctx, state, PO, cols)
        except OvnlbError as e:
            return type(e), str(e)
        return out.state, out.statuses, out.nat_updates

    fast, fast_cols = outcome(), by_columns()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(member_mod, "_batch", _sequential_batch)
        slow, slow_cols = outcome(), by_columns()
    assert fast == slow
    assert fast_cols == slow_cols


# -- the collector paused per request ----------------------------------------------------------


@pytest.mark.parametrize("enabled", [True, False])
def test_a_request_leaves_the_collector_as_it_found_it(enabled: bool) -> None:
    """The driver pauses the cyclic collector while a request runs and restores it, after
    an error too, and never turns on a collector the caller turned off."""
    backend = MemoryBackend()
    backend.apply_raw(demo.topology_ops())
    driver = OvnLbDriver(backend, demo.SUBNETS)
    for _title, step in demo.steps()[:3]:  # load balancer, listener, pool
        step(driver)
    member = {
        "member_id": "00000000-0000-4000-8000-000000000301",
        "pool_id": demo.POOL,
        "address": "10.0.0.31",
        "protocol_port": 80,
        "subnet_id": demo.MEMBER_SUBNET,
    }
    was = gc.isenabled()
    try:
        if not enabled:
            gc.disable()
        driver.member_batch_update(demo.POOL, [member])
        assert gc.isenabled() is enabled
        with pytest.raises(OvnlbError):
            # Refused inside the request (no subnet, address off the VIP subnet).
            driver.member_create({**member, "subnet_id": None, "address": "192.0.2.1"})
        assert gc.isenabled() is enabled
    finally:
        if was:
            gc.enable()


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(_rows_without_hc(), _batch_members)
def test_requests_with_the_cache_are_the_requests_without(
    state: LoadBalancerState, batch: list[Member]
) -> None:
    """A member create (its pool searched in the cache's texts) and a batch (the pool's
    texts from the cache) give the same outcome with a warm cache as with none."""
    cache = RowCache()
    state = parse(L, translate(state, cache=cache), cache=cache)
    warm = rq.Context(TOPOLOGY, cache=cache)
    cold = rq.Context(TOPOLOGY)

    def outcome(fn: Any, *args: Any) -> Any:
        try:
            out = fn(*args)
        except OvnlbError as e:
            return type(e), str(e)
        return out.state, out.statuses, out.nat_updates

    for m in batch[:2]:
        assert outcome(rq.member_create, warm, state, m) == outcome(
            rq.member_create, cold, state, m
        )
    assert outcome(rq.member_batch_update, warm, state, PO, batch) == outcome(
        rq.member_batch_update, cold, state, PO, batch
    )


@settings(max_examples=200)
@given(
    st.lists(_entries, max_size=12),
    st.lists(st.one_of(st.sampled_from(_IDS), _entries.map(MemberEntry.text)), max_size=12),
)
def test_member_index_built_at_once_answers_as_scanning(
    members: list[MemberEntry], lookups: list[str]
) -> None:
    """A member index told to expect many lookups (its dict built on the first) answers
    every lookup as one that scans the ids for its first few."""
    entries = tuple(members)
    scanning = member_mod._MemberIndex(entries)
    built = member_mod._MemberIndex(entries, expected=100)
    for key in lookups:
        assert list(built.positions(key)) == list(scanning.positions(key))
        assert built.by_text(key) == scanning.by_text(key)
        assert built.by_id(key, {0}) == scanning.by_id(key, {0})
