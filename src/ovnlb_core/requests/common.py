"""Everything the requests of every resource share lives here.

What a request consults (:class:`Context`) and returns (:class:`Outcome`),
Octavia's view of the VIP (its subnet and network), finding and replacing a
row's pool or listener, the row of a protocol (created with the VIP's
associations, spec 2.2) and its clean-up once empty (spec 2.4), and the
status helpers the requests share.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from ovnlb_core.errors import NotFoundError
from ovnlb_core.formats import row_uuid
from ovnlb_core.model import (
    SELECTION_FIELDS,
    ListenerState,
    LoadBalancerState,
    MemberEntry,
    PoolState,
    ProtocolRow,
)
from ovnlb_core.octavia import OctaviaView
from ovnlb_core.plan import NatUpdate
from ovnlb_core.requests.associations import vip_associations
from ovnlb_core.status import Payload, entry
from ovnlb_core.textcache import RowCache, member_texts
from ovnlb_core.topology import Subnet, Topology

__all__ = [
    "Context",
    "Outcome",
    "clean_if_empty",
    "lb_active",
    "merge_payloads",
    "pool_row",
    "replace_listener",
    "replace_pool",
    "require_state",
    "row_for",
    "vip_subnet",
    "vip_subnet_obj",
]


@attrs.frozen
class Context:
    """What a request may consult besides the rows: topology and Octavia's view."""

    topology: Topology
    view: OctaviaView = attrs.field(factory=OctaviaView)
    #: The caller's text cache (the pipeline passes it): requests may read strings it
    #: remembers instead of building them again; their results are the same without it.
    cache: RowCache | None = attrs.field(default=None, eq=False, repr=False)

    def pool_texts(self, pool_id: str, members: tuple[MemberEntry, ...]) -> Sequence[str]:
        """``[m.text() for m in members]`` (the members of pool ``pool_id``); read only."""
        known = self.known_pool_texts(pool_id, members)
        return member_texts(members) if known is None else known

    def known_pool_texts(
        self, pool_id: str, members: tuple[MemberEntry, ...]
    ) -> Sequence[str] | None:
        """:meth:`pool_texts` when the cache remembers them, else None (nothing built)."""
        return None if self.cache is None else self.cache.known_pool_texts(pool_id, members)


@attrs.frozen
class Outcome:
    """A request's result: the new state (None: every row deleted) and the status payloads."""

    state: LoadBalancerState | None
    statuses: tuple[Payload, ...] = ()
    nat_updates: tuple[NatUpdate, ...] = ()


# -- Octavia's view of the VIP ---------------------------------------------------------------


def _lb_view(ctx: Context, lb_id: str) -> Mapping[str, Any]:
    return ctx.view.loadbalancers.get(lb_id, {})


def vip_subnet(ctx: Context, lb_id: str, row: ProtocolRow | None) -> str | None:
    """The VIP's subnet id: Octavia's view, else the subnet holding the row's VIP."""
    subnet = _lb_view(ctx, lb_id).get("vip_subnet_id")
    if subnet:
        return str(subnet)
    if row is None or row.vip is None:
        return None
    for s in ctx.topology.subnets.values():
        if s.contains(row.vip):
            return s.id
    return None


def vip_subnet_obj(
    ctx: Context, state: LoadBalancerState | None, row: ProtocolRow | None
) -> Subnet | None:
    """The VIP's :class:`~ovnlb_core.topology.Subnet` (None without a state)."""
    if state is None:
        return None
    return ctx.topology.subnet(vip_subnet(ctx, state.name, row))


def _vip_location(ctx: Context, lb_id: str, row: ProtocolRow) -> tuple[str | None, str | None]:
    view = _lb_view(ctx, lb_id)
    network = view.get("vip_network_id")
    subnet = vip_subnet(ctx, lb_id, row)
    if not network and subnet:
        s = ctx.topology.subnet(subnet)
        network = s.network_id if s else None
    return network, subnet


# -- rows, pools and listeners ---------------------------------------------------------------


def require_state(state: LoadBalancerState | None, lb_id: str | None) -> LoadBalancerState:
    """``state``, or :class:`~ovnlb_core.errors.NotFoundError` when it holds no row."""
    if state is None or not state.rows:
        raise NotFoundError("loadbalancer", lb_id or "?", "no Load_Balancer row in NB")
    return state


def pool_row(
    state: LoadBalancerState | None, pool_id: str | None
) -> tuple[LoadBalancerState, ProtocolRow, PoolState]:
    """The state, the row holding the pool and the pool; else ``NotFoundError``."""
    if state is None or pool_id is None:
        raise NotFoundError("pool", pool_id or "?", "no Load_Balancer row holds it")
    row = state.row_with_pool(pool_id)
    if row is None:
        raise NotFoundError("pool", pool_id, "no Load_Balancer row holds it")
    pool = row.pool(pool_id)
    assert pool is not None
    return state, row, pool


def replace_pool(row: ProtocolRow, pool: PoolState) -> ProtocolRow:
    """The row with the pool of ``pool``'s id replaced or added (a row keeps its pools
    sorted by key)."""
    others = [p for p in row.pools if p.id != pool.id]
    return attrs.evolve(row, pools=(*others, pool))


def replace_listener(row: ProtocolRow, li: ListenerState) -> ProtocolRow:
    """The row with the listener of ``li``'s id replaced (moved last) or added."""
    others = [x for x in row.listeners if x.id != li.id]
    return attrs.evolve(row, listeners=(*others, li))


def row_for(
    state: LoadBalancerState, ctx: Context, protocol: str, algorithm: str | None
) -> tuple[LoadBalancerState, ProtocolRow]:
    """The row of ``protocol``, reusing the protocol-less row or creating one (spec 2.2).

    Deviations B1/B2: a new row takes the load balancer's admin state and only the VIP
    switch's reference count, like a freshly created load balancer.
    """
    proto = protocol.lower()
    for r in state.rows:
        if r.protocol == proto:
            return state, r
    if len(state.rows) == 1 and state.rows[0].protocol is None:
        new = attrs.evolve(state.rows[0], protocol=proto)
        return state.replace(state.rows[0], new), new
    base = state.rows[0]
    add = _lb_view(ctx, state.name).get("additional_vips")
    add_ips = tuple(a["ip_address"] for a in add) if add else base.additional_vips
    add_ports = tuple(a["port_id"] for a in add) if add else base.additional_vip_port_ids
    row = ProtocolRow(
        uuid=row_uuid(state.name, proto),
        protocol=proto,
        enabled=base.enabled,
        vip=base.vip,
        vip_port_id=base.vip_port_id,
        additional_vips=add_ips or None,
        additional_vip_port_ids=add_ports or None,
        vip_fip=base.vip_fip,
        additional_vip_fips=base.additional_vip_fips,
        lr_ref=base.lr_ref,
        selection_fields=SELECTION_FIELDS[algorithm or "SOURCE_IP_PORT"],
    )
    network, subnet = _vip_location(ctx, state.name, base)
    row = vip_associations(row, ctx.topology, network, subnet, len(add_ips or ()))
    new_state = attrs.evolve(state, rows=(*state.rows, row))
    return new_state, row


def clean_if_empty(state: LoadBalancerState, row: ProtocolRow) -> LoadBalancerState:
    """Spec 2.4: an empty row loses its protocol when alone, else it is deleted."""
    if not row.is_empty:
        return state
    if len(state.rows) == 1:
        return state.replace(row, attrs.evolve(row, protocol=None))
    return state.replace(row, None)


# -- statuses ----------------------------------------------------------------------------------


def lb_active(lb_id: str) -> list[dict[str, Any]]:
    """The ``loadbalancers`` entry of a request that succeeded: the LB ``ACTIVE``."""
    return [entry(lb_id)]


def merge_payloads(payloads: Sequence[Payload]) -> Payload:
    """Concatenate the lists under each key (the reference's merge of per-row roll-ups)."""
    out: Payload = {}
    for p in payloads:
        for k, v in p.items():
            out.setdefault(k, []).extend(v)
    return out
