"""The requests package: its modules, its exports, and the association rule written once.

:class:`ovnlb_core.requests.Associations` applies the switch/router rule to one
row's columns as mutable copies and rebuilds the row once; applying the same
changes one at a time (a fresh ``Associations`` per change) must give the same
row, whatever the order of counts, uncounts and router joins.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ovnlb_backends.cli import demo
from ovnlb_backends.memory import MemoryBackend
from ovnlb_core import requests as rq
from ovnlb_core.model import ProtocolRow
from ovnlb_core.topology import Topology, ovn_name


def _topology() -> Topology:
    backend = MemoryBackend()
    backend.apply_raw(demo.topology_ops())
    return Topology(backend.reader(), demo.SUBNETS)


TOPO = _topology()
SWITCHES = [ovn_name(demo.NET), ovn_name(demo.MEMBER_NET), "neutron-absent"]
ROUTERS = [ovn_name(demo.ROUTER), "neutron-no-such-router"]

CHANGES = st.lists(
    st.one_of(
        st.tuples(st.just("associate_ls"), st.sampled_from(SWITCHES), st.integers(0, 2)),
        st.tuples(st.just("disassociate_ls"), st.sampled_from(SWITCHES), st.just(0)),
        st.tuples(st.just("associate_lr"), st.sampled_from(ROUTERS), st.just(0)),
        st.tuples(
            st.just("associate_subnet_routers"),
            st.sampled_from([demo.VIP_SUBNET, demo.MEMBER_SUBNET, None]),
            st.just(0),
        ),
    ),
    max_size=12,
)


def _apply(links: rq.Associations, change: tuple[str, Any, int]) -> None:
    name, arg, extra = change
    if name == "associate_ls":
        links.associate_ls(TOPO, arg, extra)
    elif name == "disassociate_ls":
        links.disassociate_ls(TOPO, arg)
    elif name == "associate_lr":
        links.associate_lr(TOPO, arg)
    else:
        links.associate_subnet_routers(TOPO, arg)


@settings(max_examples=200, deadline=None)
@given(CHANGES, st.sampled_from(["172.24.4.9", "fd00::9", None]))
def test_associations_once_equals_one_change_at_a_time(
    changes: list[tuple[str, Any, int]], vip: str | None
) -> None:
    row = ProtocolRow(uuid=demo.LB, vip=vip)
    once = rq.Associations(row)
    for change in changes:
        _apply(once, change)
    step = row
    for change in changes:
        links = rq.Associations(step)
        _apply(links, change)
        step = links.finish()
    assert once.finish() == step


def test_row_level_rule_is_the_draft_rule() -> None:
    row = ProtocolRow(uuid=demo.LB, vip="172.24.4.9")
    router = ovn_name(demo.ROUTER)
    joined = rq.associate_lr(row, TOPO, router)
    assert joined.routers == {router} and joined.lr_ref == (router,)
    assert set(joined.switches) == set(TOPO.switches_of_router(router, 4))
    assert rq.associate_lr(row, TOPO, "neutron-no-such-router") is row
    new = rq.vip_associations(row, TOPO, demo.NET, demo.VIP_SUBNET, 1)
    assert new.ls_ref_counts() == {ovn_name(demo.NET): 2}
    assert router in new.routers


def test_every_export_resolves_and_every_module_says_what_it_holds() -> None:
    assert len(set(rq.__all__)) == len(rq.__all__)
    for name in rq.__all__:
        assert not isinstance(getattr(rq, name), type(sys)), name
    for info in pkgutil.iter_modules(rq.__path__):
        module = importlib.import_module(f"{rq.__name__}.{info.name}")
        assert (module.__doc__ or "").startswith("Everything"), info.name
        assert module.__file__ is not None
        assert len(Path(module.__file__).read_text().splitlines()) <= 600, info.name
