"""The batch fast paths against the checked ones: joined-line regex checks, pool texts taken
from the RowCache (issue 12, the 1% change of a 10k pool)."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from ovnlb_core import requests as rq
from ovnlb_core.formats import (
    IPV4_LINES_RE,
    IPV4_RE,
    UUID_LINES_RE,
    UUID_RE,
    all_lines,
)
from ovnlb_core.model import LoadBalancerState
from ovnlb_core.nb import NbSnapshot
from ovnlb_core.parse import parse
from ovnlb_core.textcache import member_texts
from ovnlb_core.topology import Topology
from ovnlb_core.translate import RowCache, translate
from strategies import ipv4, lb_states, uuids

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
