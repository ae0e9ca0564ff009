"""Everything about the model lives here: an Octavia LB's NB state as typed frozen values.

An Octavia load balancer is one :class:`LoadBalancerState`: one
:class:`ProtocolRow` per L4 protocol in use (plus at most one protocol-less
row), each holding its listeners, pools (with members in order), member
statuses, health checks and bookkeeping (``ls_refs``, ``lr_ref``) exactly as
the rows record them. ``vips`` is not stored: it is derived
(:func:`ovnlb_core.translate.compute_vips`).

Everything a row can hold has a place here, so ``parse(translate(m)) == m``;
keys ovnlb does not understand are kept verbatim in ``extra_ids``. The text
of every key and value comes from :mod:`ovnlb_core.formats`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

import attrs

from ovnlb_core.formats import (
    SELECTION_FIELDS,
    endpoint,
    is_ipv6,
    listener_key,
    listener_value,
    member_text,
    pool_key,
)
from ovnlb_core.frozen import FrozenMap, frozen_map
from ovnlb_core.plan import HealthCheckRow

__all__ = [
    "PROTOCOLS",
    "SELECTION_FIELDS",
    "ListenerState",
    "LoadBalancerState",
    "MemberEntry",
    "PoolState",
    "ProtocolRow",
]


PROTOCOLS = ("tcp", "udp", "sctp")


def _dict(value: Mapping[str, str]) -> FrozenMap[str, str]:
    return frozen_map(value)


def _sorted(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(value))


@attrs.frozen
class MemberEntry:
    """One member entry of a pool value: ``member_<id>_<address>:<port>_<subnet>``."""

    id: str
    address: str
    port: int
    #: The subnet text as stored: a subnet id, or ``""``/``"None"`` in rows older writers made.
    subnet_id: str

    @property
    def is_ipv6(self) -> bool:
        """True for an IPv6 address."""
        return is_ipv6(self.address)

    def text(self) -> str:
        """The entry as written in the pool value."""
        return member_text(self.id, self.address, self.port, self.subnet_id)

    def backend(self) -> str:
        """The backend as written in a ``vips`` value."""
        return endpoint(self.address, self.port)


@attrs.frozen
class PoolState:
    """A ``pool_<id>[:D]`` key and its member list."""

    id: str
    enabled: bool = True
    members: tuple[MemberEntry, ...] = ()

    @property
    def key(self) -> str:
        """The external_ids key."""
        return pool_key(self.id, self.enabled)


@attrs.frozen
class ListenerState:
    """A ``listener_<id>[:D]`` key: ``<port>:[pool_<id>]``."""

    id: str
    port: int
    pool_id: str | None = None
    enabled: bool = True
    #: The listener names its pool in the disabled form ``pool_<id>:D`` (written by
    #: the reference for pools created disabled, B3); ovnlb never writes it.
    pool_ref_disabled: bool = False

    @property
    def key(self) -> str:
        """The external_ids key."""
        return listener_key(self.id, self.enabled)

    @property
    def value(self) -> str:
        """The external_ids value."""
        return listener_value(self.port, self.pool_id, self.pool_ref_disabled)


def _listeners(value: Iterable[ListenerState]) -> tuple[ListenerState, ...]:
    return tuple(sorted(value, key=lambda x: x.key))


def _pools(value: Iterable[PoolState]) -> tuple[PoolState, ...]:
    return tuple(sorted(value, key=lambda x: x.key))


def _hcs(value: Iterable[HealthCheckRow]) -> tuple[HealthCheckRow, ...]:
    return tuple(sorted(value, key=lambda h: h.uuid))


@attrs.frozen
class ProtocolRow:
    """One NB ``Load_Balancer`` row of an Octavia load balancer."""

    uuid: str
    protocol: str | None = None
    #: ``external_ids["enabled"]`` as stored (``"True"``/``"False"``); None when absent.
    enabled: str | None = "True"
    vip: str | None = None
    vip_port_id: str | None = None
    additional_vips: tuple[str, ...] | None = None
    additional_vip_port_ids: tuple[str, ...] | None = None
    vip_fip: str | None = None
    additional_vip_fips: tuple[str, ...] | None = None
    lr_ref: tuple[str, ...] | None = None
    ls_refs: tuple[tuple[str, int], ...] | None = None
    listeners: tuple[ListenerState, ...] = attrs.field(default=(), converter=_listeners)
    pools: tuple[PoolState, ...] = attrs.field(default=(), converter=_pools)
    member_status: tuple[tuple[str, str], ...] | None = None
    healthmonitors: tuple[str, ...] | None = None
    selection_fields: tuple[str, ...] = attrs.field(
        default=SELECTION_FIELDS[None], converter=_sorted
    )
    options: Mapping[str, str] = attrs.field(factory=dict, converter=_dict)
    ip_port_mappings: Mapping[str, str] = attrs.field(factory=dict, converter=_dict)
    health_checks: tuple[HealthCheckRow, ...] = attrs.field(default=(), converter=_hcs)
    switches: frozenset[str] = frozenset()
    routers: frozenset[str] = frozenset()
    extra_ids: Mapping[str, str] = attrs.field(factory=dict, converter=_dict)

    # -- lookups -----------------------------------------------------------------

    def pool(self, pool_id: str) -> PoolState | None:
        """The pool with this id (either admin form), or None."""
        for p in self.pools:
            if p.id == pool_id:
                return p
        return None

    def listener(self, listener_id: str) -> ListenerState | None:
        """The listener with this id (either admin form), or None."""
        for li in self.listeners:
            if li.id == listener_id:
                return li
        return None

    def statuses(self) -> dict[str, str]:
        """``neutron:member_status`` as an ordered dict (empty when absent)."""
        return dict(self.member_status or ())

    def ls_ref_counts(self) -> dict[str, int]:
        """``ls_refs`` as an ordered dict (empty when absent)."""
        return dict(self.ls_refs or ())

    def all_members(self) -> Iterator[tuple[PoolState, MemberEntry]]:
        """Every member entry of every pool of the row, in order."""
        for p in self.pools:
            for m in p.members:
                yield p, m

    @property
    def is_empty(self) -> bool:
        """No listener and no pool key (the reference's ``_is_lb_empty``)."""
        return not self.listeners and not self.pools


def _rows(value: Iterable[ProtocolRow]) -> tuple[ProtocolRow, ...]:
    return tuple(sorted(value, key=lambda r: (r.protocol or "", r.uuid)))


@attrs.frozen
class LoadBalancerState:
    """Every NB ``Load_Balancer`` row of one Octavia load balancer."""

    name: str
    rows: tuple[ProtocolRow, ...] = attrs.field(default=(), converter=_rows)

    def row_for_protocol(self, protocol: str | None) -> ProtocolRow | None:
        """The row a request on ``protocol`` uses (spec 2.1)."""
        if protocol is None:
            return self.rows[0] if self.rows else None
        proto = protocol.lower()
        if len(self.rows) == 1 and self.rows[0].protocol is None:
            return self.rows[0]
        for r in self.rows:
            if r.protocol == proto:
                return r
        return None

    def row_with_pool(self, pool_id: str) -> ProtocolRow | None:
        """The row that holds ``pool_<id>`` (enabled form first, then disabled)."""
        for enabled in (True, False):
            for r in self.rows:
                p = r.pool(pool_id)
                if p is not None and p.enabled == enabled:
                    return r
        return None

    def row_with_listener(self, listener_id: str) -> ProtocolRow | None:
        """The row that holds the listener (either admin form)."""
        for r in self.rows:
            if r.listener(listener_id) is not None:
                return r
        return None

    def replace(self, old: ProtocolRow, new: ProtocolRow | None) -> LoadBalancerState:
        """A copy with ``old`` replaced by ``new`` (or removed when ``new`` is None)."""
        rows = [r for r in self.rows if r is not old]
        if new is not None:
            rows.append(new)
        return attrs.evolve(self, rows=rows)
