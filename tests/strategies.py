"""Hypothesis strategies for the core's models and rows."""

from __future__ import annotations

import uuid as uuidlib

import attrs
from hypothesis import strategies as st

from ovnlb_core.model import (
    PROTOCOLS,
    SELECTION_FIELDS,
    ListenerState,
    LoadBalancerState,
    MemberEntry,
    PoolState,
    ProtocolRow,
)
from ovnlb_core.plan import HealthCheckRow, LbRowSet, LoadBalancerRow

uuids = st.builds(lambda n: str(uuidlib.UUID(int=n)), st.integers(0, 2**128 - 1))
ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).map(str)
ips = st.one_of(ipv4, ipv6)
ports = st.integers(1, 65535)
statuses = st.sampled_from(["ONLINE", "OFFLINE", "ERROR", "NO_MONITOR"])
ls_names = uuids.map(lambda u: f"neutron-{u}")
text = st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF), max_size=12)


def _unique_by_id(items: list[MemberEntry]) -> list[MemberEntry]:
    seen: set[str] = set()
    out = []
    for m in items:
        if m.id not in seen:
            seen.add(m.id)
            out.append(m)
    return out


members = st.builds(MemberEntry, uuids, ips, ports, uuids)
pools = st.builds(
    PoolState,
    uuids,
    st.booleans(),
    st.lists(members, max_size=5).map(lambda ms: tuple(_unique_by_id(ms))),
)
listeners = st.builds(ListenerState, uuids, ports, st.one_of(st.none(), uuids), st.booleans())
health_checks = st.builds(
    HealthCheckRow,
    uuids,
    st.one_of(st.just(""), st.builds(lambda ip, p: f"{ip}:{p}", ipv4, ports)),
    st.fixed_dictionaries({"interval": st.integers(1, 60).map(str)}),
    st.fixed_dictionaries({"octavia:healthmonitor": uuids, "octavia:vip": ipv4}),
)


@st.composite
def protocol_rows(draw: st.DrawFn, protocol: str | None = None) -> ProtocolRow:
    row_pools = draw(st.lists(pools, max_size=3, unique_by=lambda p: p.id))
    row_listeners = draw(st.lists(listeners, max_size=3, unique_by=lambda li: li.id))
    # member_status is a JSON object: one status per member id.
    member_ids = list(dict.fromkeys(m.id for p in row_pools for m in p.members))
    status = draw(st.one_of(st.none(), st.just(tuple((m, draw(statuses)) for m in member_ids))))
    return ProtocolRow(
        uuid=draw(uuids),
        protocol=protocol,
        enabled=draw(st.sampled_from(["True", "False"])),
        vip=draw(ips),
        vip_port_id=draw(uuids),
        additional_vips=draw(
            st.one_of(st.none(), st.lists(ips, min_size=1, max_size=2).map(tuple))
        ),
        vip_fip=draw(st.one_of(st.none(), ipv4)),
        lr_ref=draw(st.one_of(st.none(), st.lists(ls_names, min_size=1, max_size=2).map(tuple))),
        ls_refs=draw(
            st.one_of(
                st.none(),
                st.lists(
                    st.tuples(ls_names, st.integers(1, 9)), max_size=3, unique_by=lambda t: t[0]
                ).map(tuple),
            )
        ),
        listeners=tuple(row_listeners),
        pools=tuple(row_pools),
        member_status=status,
        healthmonitors=draw(st.one_of(st.none(), st.lists(uuids, max_size=2).map(tuple))),
        selection_fields=draw(st.sampled_from(list(SELECTION_FIELDS.values()))),
        options=draw(st.dictionaries(st.just("affinity_timeout"), st.integers(1, 999).map(str))),
        ip_port_mappings=draw(st.dictionaries(ipv4, text, max_size=2)),
        health_checks=tuple(draw(st.lists(health_checks, max_size=2, unique_by=lambda h: h.uuid))),
        switches=frozenset(draw(st.lists(ls_names, max_size=2))),
        routers=frozenset(draw(st.lists(ls_names, max_size=2))),
        extra_ids=draw(st.dictionaries(st.sampled_from(["owner", "x-note"]), text, max_size=1)),
    )


@st.composite
def lb_states(draw: st.DrawFn) -> LoadBalancerState:
    protos = draw(
        st.one_of(
            st.just([None]),
            st.lists(st.sampled_from(PROTOCOLS), min_size=1, max_size=3, unique=True),
        )
    )
    rows = [draw(protocol_rows(p)) for p in protos]
    # Row UUIDs are unique in a database.
    rows = [attrs.evolve(r, uuid=f"{r.uuid[:-2]}{i:02d}") for i, r in enumerate(rows)]
    return LoadBalancerState(draw(uuids), tuple(rows))


small_maps = st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), text, max_size=4)


@st.composite
def row_sets(draw: st.DrawFn, lb_uuids: list[str], hc_uuids: list[str]) -> LbRowSet:
    hcs = {
        u: HealthCheckRow(u, draw(text), draw(small_maps), draw(small_maps))
        for u in draw(st.lists(st.sampled_from(hc_uuids), unique=True))
    }
    lbs = {}
    for u in draw(st.lists(st.sampled_from(lb_uuids), unique=True)):
        lbs[u] = LoadBalancerRow(
            uuid=u,
            name="lb",
            protocol=draw(st.sampled_from([None, "tcp", "udp"])),
            vips=draw(small_maps),
            external_ids=draw(small_maps),
            selection_fields=draw(st.sampled_from(list(SELECTION_FIELDS.values()))),
            options=draw(small_maps),
            ip_port_mappings=draw(small_maps),
            health_check=tuple(
                draw(st.lists(st.sampled_from(sorted(hcs) or [""]), unique=True)) if hcs else ()
            ),
        )
    referenced = {h for r in lbs.values() for h in r.health_check}
    hcs = {u: h for u, h in hcs.items() if u in referenced}
    names = ["ls1", "ls2", "ls3"]
    switches = {
        u: frozenset(s) for u in lbs if (s := draw(st.lists(st.sampled_from(names), unique=True)))
    }
    routers = {
        u: frozenset(s)
        for u in lbs
        if (s := draw(st.lists(st.sampled_from(["lr1", "lr2"]), unique=True)))
    }
    return LbRowSet(lbs=lbs, health_checks=hcs, switches=switches, routers=routers)


# The hypothesis profiles (default, and fuzz = 10,000 examples) are registered in
# conftest.py, so that they apply to every test module.
