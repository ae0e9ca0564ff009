"""Octavia provider requests as pure functions on the model.

Each request takes the current :class:`~ovnlb_core.model.LoadBalancerState`
(parsed from NB), a :class:`Context` (topology and Octavia's view) and the
request's objects, and returns an :class:`Outcome`: the new state (translate
and plan it to get the NB writes) and the status payloads Octavia expects
(spec section 5), in send order. Validation runs first: a rejected request
raises a :class:`~ovnlb_core.errors.ValidationError` and changes nothing.

Where the reference driver has a bug (spec section 10) these functions do
the correct thing; docs/compat.md lists every such deviation.
"""

from __future__ import annotations

import operator
from collections.abc import Collection, Iterable, Mapping, Sequence
from itertools import islice
from typing import Any

import attrs

from ovnlb_core import status as st
from ovnlb_core import validate
from ovnlb_core.errors import NotFoundError, UnsupportedOptionError
from ovnlb_core.model import (
    SELECTION_FIELDS,
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
from ovnlb_core.plan import HealthCheckRow, NatUpdate
from ovnlb_core.status import ACTIVE, DELETED, ERROR, Payload, entry, rollup
from ovnlb_core.topology import Topology, ovn_name
from ovnlb_core.translate import (
    _TEXT,
    HC_HM,
    HC_POOL,
    HC_VIP,
    _texts,
    bracket,
    is_ipv6,
    row_uuid,
    vip_list,
)

AFFINITY = "affinity_timeout"
HM_OPTIONS = (
    ("delay", "interval"),
    ("timeout", "timeout"),
    ("max_retries", "success_count"),
    ("max_retries_down", "failure_count"),
)


@attrs.frozen
class Context:
    """What a request may consult besides the rows: topology and Octavia's view."""

    topology: Topology
    view: OctaviaView = attrs.field(factory=OctaviaView)


@attrs.frozen
class Outcome:
    """A request's result: the new state (None: every row deleted) and the status payloads."""

    state: LoadBalancerState | None
    statuses: tuple[Payload, ...] = ()
    nat_updates: tuple[NatUpdate, ...] = ()


# -- small helpers --------------------------------------------------------------------


def _replace_pool(row: ProtocolRow, pool: PoolState) -> ProtocolRow:
    others = [p for p in row.pools if p.id != pool.id]
    return attrs.evolve(row, pools=(*others, pool))


def _replace_listener(row: ProtocolRow, li: ListenerState) -> ProtocolRow:
    others = [x for x in row.listeners if x.id != li.id]
    return attrs.evolve(row, listeners=(*others, li))


def _vip_version(row: ProtocolRow) -> int:
    return 6 if row.vip and is_ipv6(row.vip) else 4


def _lb_view(ctx: Context, lb_id: str) -> Mapping[str, Any]:
    return ctx.view.loadbalancers.get(lb_id, {})


def _vip_subnet(ctx: Context, lb_id: str, row: ProtocolRow | None) -> str | None:
    subnet = _lb_view(ctx, lb_id).get("vip_subnet_id")
    if subnet:
        return str(subnet)
    if row is None or row.vip is None:
        return None
    for s in ctx.topology.subnets.values():
        if s.contains(row.vip):
            return s.id
    return None


def _associate_ls(row: ProtocolRow, topo: Topology, ls: str, extra: int = 0) -> ProtocolRow:
    """``ls_refs`` +1 for a switch the LB owns a reason to be on (spec 1.7)."""
    if not topo.switch_exists(ls) or topo.is_provider(ls):
        return row
    refs = row.ls_ref_counts()
    refs[ls] = refs[ls] + 1 if ls in refs else 1 + extra
    return attrs.evolve(row, ls_refs=tuple(refs.items()), switches=row.switches | {ls})


def _reachable_by_router(row: ProtocolRow, topo: Topology, ls: str) -> bool:
    version = _vip_version(row)
    return any(ls in topo.switches_of_router(lr, version) for lr in row.routers)


def _disassociate_ls(row: ProtocolRow, topo: Topology, ls: str) -> ProtocolRow:
    """``ls_refs`` -1; at zero the key goes and the switch is detached (spec 1.7).

    Deviation B40: a switch the LB still reaches through one of its routers stays attached.
    """
    refs = row.ls_ref_counts()
    detach = False
    if ls not in refs:
        detach = True
    elif refs[ls] <= 1:
        del refs[ls]
        detach = True
        row = attrs.evolve(row, ls_refs=tuple(refs.items()))
    else:
        refs[ls] -= 1
        row = attrs.evolve(row, ls_refs=tuple(refs.items()))
    if detach and not _reachable_by_router(row, topo, ls):
        row = attrs.evolve(row, switches=row.switches - {ls})
    return row


def _associate_lr(row: ProtocolRow, topo: Topology, lr: str) -> ProtocolRow:
    """Attach the LB to a router, to the router's switches of the VIP family, and note it in
    ``lr_ref`` (spec 1.8)."""
    if not topo.router_exists(lr):
        return row
    switches = row.switches | set(topo.switches_of_router(lr, _vip_version(row)))
    lr_ref = row.lr_ref
    # Deviation B35: an exact name match (the reference tests for a substring of the list).
    if lr not in (lr_ref or ()):
        lr_ref = (*lr_ref, lr) if lr_ref else (lr,)
    return attrs.evolve(row, routers=row.routers | {lr}, switches=switches, lr_ref=lr_ref)


def _associate_subnet_routers(
    row: ProtocolRow, topo: Topology, subnet_id: str | None
) -> ProtocolRow:
    subnet = topo.subnet(subnet_id)
    if subnet is None:
        return row
    for lr in topo.routers_of_subnet(ovn_name(subnet.network_id), subnet.cidr):
        row = _associate_lr(row, topo, lr)
    return row


def _vip_associations(
    row: ProtocolRow, ctx: Context, network_id: str | None, subnet_id: str | None, n_add: int
) -> ProtocolRow:
    row = _associate_subnet_routers(row, ctx.topology, subnet_id)
    if network_id:
        row = _associate_ls(row, ctx.topology, ovn_name(network_id), n_add)
    return row


def _require_state(state: LoadBalancerState | None, lb_id: str | None) -> LoadBalancerState:
    if state is None or not state.rows:
        raise NotFoundError("loadbalancer", lb_id or "?", "no Load_Balancer row in NB")
    return state


def _vip_location(ctx: Context, lb_id: str, row: ProtocolRow) -> tuple[str | None, str | None]:
    view = _lb_view(ctx, lb_id)
    network = view.get("vip_network_id")
    subnet = _vip_subnet(ctx, lb_id, row)
    if not network and subnet:
        s = ctx.topology.subnet(subnet)
        network = s.network_id if s else None
    return network, subnet


def _row_for(
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
    row = _vip_associations(row, ctx, network, subnet, len(add_ips or ()))
    new_state = attrs.evolve(state, rows=(*state.rows, row))
    return new_state, row


def _clean_if_empty(state: LoadBalancerState, row: ProtocolRow) -> LoadBalancerState:
    """Spec 2.4: an empty row loses its protocol when alone, else it is deleted."""
    if not row.is_empty:
        return state
    if len(state.rows) == 1:
        return state.replace(row, attrs.evolve(row, protocol=None))
    return state.replace(row, None)


def _lb_active(lb_id: str) -> list[dict[str, Any]]:
    return [entry(lb_id)]


def _hc_vip_with_port(hc: HealthCheckRow, port: int) -> str:
    """The health check's vip moved to ``port`` (deviation B11: IPv6 keeps its brackets)."""
    if hc.vip:
        host = hc.vip.rpartition(":")[0] if ":" in hc.vip else hc.vip
        return f"{host}:{port}"
    return f"{bracket(hc.external_ids.get(HC_VIP, ''))}:{port}"


def _hc_pool_id(hc: HealthCheckRow) -> str:
    pool = hc.external_ids.get(HC_POOL, "")
    return pool[:-2] if pool.endswith(":D") else pool


def _retarget_hcs(state: LoadBalancerState, pool_id: str, port: int) -> LoadBalancerState:
    for row in state.rows:
        if not any(_hc_pool_id(h) == pool_id for h in row.health_checks):
            continue
        hcs = tuple(
            attrs.evolve(h, vip=_hc_vip_with_port(h, port)) if _hc_pool_id(h) == pool_id else h
            for h in row.health_checks
        )
        state = state.replace(row, attrs.evolve(row, health_checks=hcs))
    return state


def _pool_port(row: ProtocolRow, pool_id: str) -> int | None:
    """The port of the first listener of the row naming the pool (spec 4.2), else None."""
    return next((li.port for li in row.listeners if li.pool_id == pool_id), None)


def _untarget_hcs(row: ProtocolRow, pool_id: str) -> ProtocolRow:
    """Deviation B48: once a listener no longer names ``pool_id``, the pool's health checks
    follow the row's remaining listener of the pool, or get ``vip=""`` when none is left
    (what ``hm_create`` writes for a pool without listener, spec 4.2)."""
    port = _pool_port(row, pool_id)
    hcs = tuple(
        attrs.evolve(h, vip=_hc_vip_with_port(h, port) if port is not None else "")
        if _hc_pool_id(h) == pool_id
        else h
        for h in row.health_checks
    )
    return row if hcs == row.health_checks else attrs.evolve(row, health_checks=hcs)


# -- one row edited by a member request ---------------------------------------------------

_MEMBER_ID = operator.attrgetter("id")
_SECOND = operator.itemgetter(1)
_ADDRESS = operator.attrgetter("address")
_PROTOCOL_PORT = operator.attrgetter("protocol_port")


class _MemberIndex:
    """Where each member id sits in a pool's member tuple.

    Lookups by id, and by entry text (:meth:`MemberEntry.text`), cost a C-speed scan
    of the ids for the first few and O(1) after (an id -> positions dict is built on
    the ninth): no member's text is built for a lookup. An entry ``member_<id>_...``
    can only equal the text of a member whose id is the text between ``member_`` and
    one of the later ``_``, so only the members with those ids are compared (by their
    full text).
    """

    __slots__ = ("_first", "_groups", "_ids", "_lookups", "members")

    #: Lookups answered by scanning before the dict is built.
    SCANS = 8

    def __init__(self, members: tuple[MemberEntry, ...]) -> None:
        self.members = members
        self._ids: list[str] | None = None
        self._lookups = 0
        #: id -> its first position; None until built.
        self._first: dict[str, int] | None = None
        #: id -> every position, only when some id occurs more than once.
        self._groups: dict[str, list[int]] | None = None

    def _build(self, ids: list[str]) -> None:
        n = len(ids)
        # Later positions are overwritten by earlier ones: the first position stays.
        self._first = dict(zip(reversed(ids), range(n - 1, -1, -1), strict=True))
        if len(self._first) != n:
            groups: dict[str, list[int]] = {}
            for i, mid in enumerate(ids):
                groups.setdefault(mid, []).append(i)
            self._groups = groups

    def positions(self, member_id: str) -> Sequence[int]:
        """Every position of ``member_id``, ascending."""
        if self._ids is None:
            self._ids = list(map(_MEMBER_ID, self.members))
        self._lookups += 1
        if self._first is None and self._lookups > self.SCANS:
            self._build(self._ids)
        if self._groups is not None:
            return self._groups.get(member_id, ())
        if self._first is not None:
            i = self._first.get(member_id)
            return () if i is None else (i,)
        out: list[int] = []
        i = -1
        while True:
            try:
                i = self._ids.index(member_id, i + 1)
            except ValueError:
                return out
            out.append(i)

    def by_id(self, member_id: str, skip: Collection[int] = ()) -> int | None:
        """The first position of ``member_id`` not in ``skip``."""
        return next((i for i in self.positions(member_id) if i not in skip), None)

    def by_text(self, text: str, skip: Collection[int] = ()) -> int | None:
        """The first position (not in ``skip``) whose member's text is ``text``."""
        if not text.startswith("member_"):
            return None
        best: int | None = None
        k = text.find("_", 7)
        while k >= 0:
            for i in self.positions(text[7:k]):
                if i in skip or (best is not None and i >= best):
                    continue
                if self.members[i].text() == text:
                    best = i
                    break
            k = text.find("_", k + 1)
        return best

    def without(self, gone: Collection[int]) -> tuple[MemberEntry, ...]:
        """The members, those at the positions ``gone`` left out (C-speed slices)."""
        out: list[MemberEntry] = []
        start = 0
        for i in sorted(gone):
            out += self.members[start:i]
            start = i + 1
        out += self.members[start:]
        return tuple(out)


class _RowDraft:
    """One row changed by a member or health-monitor request, rebuilt once at the end.

    The columns those requests change (member statuses, ``ls_refs``, switches,
    routers, ``lr_ref``, ``ip_port_mappings``, one pool) are kept as mutable
    copies, so k changes cost O(k) plus one O(N) rebuild in :meth:`finish`, where
    rebuilding the row per change cost O(N) each (O(N^2) for a batch). The
    ``associate_*``/``disassociate_ls`` methods do what the row-level helpers of the
    same name do; :meth:`finish` gives the row that rebuilding it after each change,
    one by one, would give (tests/test_fastpath.py checks it against that).
    """

    def __init__(self, row: ProtocolRow) -> None:
        self.row = row
        self._statuses: dict[str, str] | None = None
        self._statuses_changed = False
        #: The row's pairs had distinct keys / some key was dropped (see _status_pairs).
        self._statuses_distinct = False
        self._statuses_dropped = False
        self._refs: dict[str, int] | None = None
        self._refs_changed = False
        self._switches: set[str] | None = None
        self._routers: set[str] | None = None
        self._lr_ref = row.lr_ref
        self._lr_ref_changed = False
        self._mappings: dict[str, str] | None = None
        self._pool: PoolState | None = None
        self._others: dict[str, dict[str, list[str]]] = {}
        self._same: dict[str, dict[str, list[str]]] = {}

    # -- member statuses ---------------------------------------------------------------

    def statuses(self) -> dict[str, str]:
        """The current ``neutron:member_status`` as a dict (read only: use the setters)."""
        if self._statuses is None:
            self._statuses = self.row.statuses()
            self._statuses_distinct = len(self._statuses) == len(self.row.member_status or ())
        return self._statuses

    def set_status(self, member_id: str, value: str) -> None:
        """One member's status."""
        self.statuses()[member_id] = value
        self._statuses_changed = True

    def update_statuses(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Every pair set in order (the status write of ``_add_members``)."""
        self.statuses().update(pairs)
        self._statuses_changed = True

    def drop_statuses(self, member_ids: Iterable[str]) -> None:
        """Remove these members' statuses (the column goes when none is left)."""
        statuses = self.statuses()
        for mid in member_ids:
            statuses.pop(mid, None)
        self._statuses_changed = True
        self._statuses_dropped = True

    # -- switches and routers ------------------------------------------------------------

    def _ref_counts(self) -> dict[str, int]:
        if self._refs is None:
            self._refs = self.row.ls_ref_counts()
        return self._refs

    def _switch_set(self) -> set[str]:
        if self._switches is None:
            self._switches = set(self.row.switches)
        return self._switches

    def _router_set(self) -> set[str]:
        if self._routers is None:
            self._routers = set(self.row.routers)
        return self._routers

    def associate_ls(self, topo: Topology, ls: str) -> bool:
        """``_associate_ls`` (``extra`` 0); False when the switch is not counted (absent, or
        a provider network), as it will not be by :meth:`count_ls` either."""
        if not topo.switch_exists(ls) or topo.is_provider(ls):
            return False
        self.count_ls(ls)
        return True

    def count_ls(self, ls: str) -> None:
        """``associate_ls`` again for a switch it counted in this request (the topology
        does not change while a request runs, so only the count moves)."""
        refs = self._ref_counts()
        refs[ls] = refs[ls] + 1 if ls in refs else 1
        self._refs_changed = True
        self._switch_set().add(ls)

    def disassociate_ls(self, topo: Topology, ls: str) -> None:
        """``_disassociate_ls`` (deviation B40 included)."""
        refs = self._ref_counts()
        detach = False
        if ls not in refs:
            detach = True
        elif refs[ls] <= 1:
            del refs[ls]
            detach = True
            self._refs_changed = True
        else:
            refs[ls] -= 1
            self._refs_changed = True
        if detach:
            version = _vip_version(self.row)
            routers = self._routers if self._routers is not None else self.row.routers
            if not any(ls in topo.switches_of_router(lr, version) for lr in routers):
                self._switch_set().discard(ls)

    def associate_lr(self, topo: Topology, lr: str) -> None:
        """``_associate_lr``."""
        if not topo.router_exists(lr):
            return
        self._switch_set().update(topo.switches_of_router(lr, _vip_version(self.row)))
        lr_ref = self._lr_ref
        if lr not in (lr_ref or ()):
            self._lr_ref = (*lr_ref, lr) if lr_ref else (lr,)
            self._lr_ref_changed = True
        self._router_set().add(lr)

    def associate_subnet_routers(self, topo: Topology, subnet_id: str | None) -> None:
        """``_associate_subnet_routers``."""
        subnet = topo.subnet(subnet_id)
        if subnet is None:
            return
        for lr in topo.routers_of_subnet(ovn_name(subnet.network_id), subnet.cidr):
            self.associate_lr(topo, lr)

    # -- health-check mappings -------------------------------------------------------------

    def hm_member(self, topo: Topology, e: MemberEntry) -> str:
        """Map a member for health checks (spec 4.3); its status ``ONLINE`` or ``ERROR``."""
        lsp = topo.member_port(e.subnet_id, e.address)
        src = topo.hm_source_ip(e.subnet_id)
        if lsp is None or src is None:
            return "ERROR"
        if self._mappings is None:
            self._mappings = dict(self.row.ip_port_mappings)
        self._mappings[bracket(e.address)] = f"{lsp.get('name')}:{bracket(src)}"
        return "ONLINE"

    def hm_member_unmap(self, e: MemberEntry, pool_id: str, leaving: Collection[str] = ()) -> None:
        """Remove a member's mapping unless another pool's monitored member shares its IP,
        or an enabled, monitored (``ONLINE``/``ERROR``) member of the same pool that stays
        does (``leaving``: ids removed by the same request). Members are indexed by address
        once per draft."""
        others = self._others.get(pool_id)
        if others is None:
            others = self._others[pool_id] = {}
            same: dict[str, list[str]] = {}
            for p in self.row.pools:
                index = same if p.id == pool_id else others
                for m in p.members:
                    index.setdefault(m.address, []).append(m.id)
            self._same[pool_id] = same
        statuses = self.statuses()
        if any(
            statuses.get(mid, "NO_MONITOR") != "NO_MONITOR" for mid in others.get(e.address, ())
        ):
            return
        # Idempotence: a member replaced by another at the same IP (other id or port) in one
        # batch keeps the mapping its replacement needs; without this check the replacement
        # was left without one, and only a second application of the batch restored it.
        if any(
            mid != e.id and mid not in leaving and statuses.get(mid) in ("ONLINE", "ERROR")
            for mid in self._same[pool_id].get(e.address, ())
        ):
            return
        key = bracket(e.address)
        mappings = self._mappings if self._mappings is not None else self.row.ip_port_mappings
        if key not in mappings:
            return
        if self._mappings is None:
            self._mappings = dict(self.row.ip_port_mappings)
        del self._mappings[key]

    # -- pools -------------------------------------------------------------------------------

    def replace_pool(self, pool: PoolState) -> None:
        """``_replace_pool`` (applied in :meth:`finish`)."""
        self._pool = pool

    def _status_pairs(self, statuses: dict[str, str]) -> tuple[tuple[str, str], ...]:
        """``tuple(statuses.items())``, reusing the row's own pairs when only new members
        were added (the common member add): no new pair per member of the pool."""
        orig = self.row.member_status or ()
        n = len(orig)
        # With distinct keys and nothing dropped, the dict's first n keys are the row's,
        # in order (a set moves no key): only their values can differ.
        if (
            self._statuses_distinct
            and not self._statuses_dropped
            and len(statuses) >= n
            and list(islice(statuses.values(), n)) == list(map(_SECOND, orig))
        ):
            return orig + tuple(islice(statuses.items(), n, None))
        return tuple(statuses.items())

    def finish(self) -> ProtocolRow:
        """The row with every change applied."""
        changes: dict[str, Any] = {}
        if self._statuses_changed:
            assert self._statuses is not None
            # A status set leaves the dict non-empty; only drops can empty it (-> None).
            changes["member_status"] = self._status_pairs(self._statuses) or None
        if self._refs_changed:
            assert self._refs is not None
            changes["ls_refs"] = tuple(self._refs.items())
        if self._switches is not None:
            changes["switches"] = frozenset(self._switches)
        if self._routers is not None:
            changes["routers"] = frozenset(self._routers)
        if self._lr_ref_changed:
            changes["lr_ref"] = self._lr_ref
        if self._mappings is not None:
            changes["ip_port_mappings"] = self._mappings
        if self._pool is not None:
            pool = self._pool
            changes["pools"] = (*(p for p in self.row.pools if p.id != pool.id), pool)
        return attrs.evolve(self.row, **changes) if changes else self.row


# -- load balancer ----------------------------------------------------------------------


def lb_create(ctx: Context, state: LoadBalancerState | None, lb: LoadBalancer) -> Outcome:
    """``loadbalancer_create``: the protocol-less row, router and switch associations."""
    validate.loadbalancer(lb)
    operating = "ONLINE" if lb.admin_state_up else "OFFLINE"
    report: Payload = {"loadbalancers": [entry(lb.id, ACTIVE, operating)]}
    if state is not None and state.rows:
        return Outcome(state, (report,))
    vip_port = lb.vip_port_id
    if vip_port is None and lb.vip_network_id and lb.vip_address:
        vip_port = _find_vip_port(ctx.topology, lb.vip_network_id, lb.vip_address)
    add = lb.additional_vips
    row = ProtocolRow(
        uuid=row_uuid(lb.id, "none"),
        enabled=str(lb.admin_state_up),
        vip=lb.vip_address,
        vip_port_id=vip_port,
        additional_vips=tuple(a.ip_address for a in add) or None,
        additional_vip_port_ids=tuple(a.port_id or "" for a in add) or None,
        selection_fields=SELECTION_FIELDS[None],
    )
    row = _vip_associations(row, ctx, lb.vip_network_id, lb.vip_subnet_id, len(add))
    return Outcome(LoadBalancerState(lb.id, (row,)), (report,))


def _find_vip_port(topo: Topology, network_id: str, address: str) -> str | None:
    found = topo.switch(ovn_name(network_id))
    if found is None:
        return None
    lsps = topo.nb.rows("Logical_Switch_Port")
    for u in found[1].get("ports", ()):
        lsp = lsps.get(u)
        if lsp and any(address in e.split() for e in lsp.get("addresses", ())):
            return str(lsp.get("name"))
    return None


def lb_update(ctx: Context, state: LoadBalancerState | None, upd: Update[LoadBalancer]) -> Outcome:
    """``loadbalancer_update``: only the admin state reaches OVN."""
    lb = upd.new
    if "admin_state_up" not in upd.changed:
        return Outcome(state, ({"loadbalancers": [entry(lb.id)]},))
    operating = "ONLINE" if lb.admin_state_up else "OFFLINE"
    report: Payload = {"loadbalancers": [entry(lb.id, ACTIVE, operating)]}
    if state is None:
        return Outcome(state, ({"loadbalancers": [entry(lb.id, ERROR, ERROR)]},))
    enabled = str(lb.admin_state_up)
    for row in state.rows:
        if row.enabled != enabled:
            state = state.replace(row, attrs.evolve(row, enabled=enabled))
    return Outcome(state, (report,))


def lb_delete(
    ctx: Context, state: LoadBalancerState | None, lb: LoadBalancer, cascade: bool = False
) -> Outcome:
    """``loadbalancer_delete``: every row goes (with its health checks and attachments)."""
    lb_entry = entry(lb.id, DELETED, "OFFLINE")
    if state is None or not state.rows:
        return Outcome(
            None, ({"loadbalancers": [lb_entry], "listeners": [], "pools": [], "members": []},)
        )
    report: Payload = {"loadbalancers": [lb_entry]}
    if cascade:
        listeners = [entry(li.id, DELETED, "OFFLINE") for li in lb.listeners]
        pools = [entry(p.id, DELETED) for p in lb.pools]
        members = [entry(m.id, DELETED) for p in lb.pools for m in p.members]
        hms = [
            entry(p.healthmonitor.id, DELETED, "NO_MONITOR")
            for p in lb.pools
            if p.healthmonitor is not None
        ]
        for key, items in (
            ("listeners", listeners),
            ("pools", pools),
            ("members", members),
            ("healthmonitors", hms),
        ):
            if items:
                report[key] = items
    return Outcome(None, (report,))


# -- listener -----------------------------------------------------------------------------


def listener_create(ctx: Context, state: LoadBalancerState | None, li: Listener) -> Outcome:
    """``listener_create``: ``listener_<id>[:D] = <port>:[pool_<id>]`` on its protocol's row."""
    validate.listener(li)
    lb_id = li.loadbalancer_id or (state.name if state else None)
    state = _require_state(state, lb_id)
    state, row = _row_for(state, ctx, li.protocol, None)
    new_li = ListenerState(li.id, li.protocol_port, li.default_pool_id, li.admin_state_up)
    state = state.replace(row, _replace_listener(row, new_li))
    if li.default_pool_id:
        state = _retarget_hcs(state, li.default_pool_id, li.protocol_port)
    operating = "ONLINE" if li.admin_state_up else "OFFLINE"
    report: Payload = {
        "listeners": [entry(li.id, ACTIVE, operating)],
        "loadbalancers": _lb_active(state.name),
    }
    return Outcome(state, (report,))


def listener_update(
    ctx: Context, state: LoadBalancerState | None, upd: Update[Listener]
) -> Outcome:
    """``listener_update``: admin state (key form) and default pool.

    Deviations B5 (a removed default pool leaves ``<port>:``) and B14 (health checks of the
    new default pool get the listener's port).
    """
    validate.listener(upd.new)
    li = upd.new
    lb_id = li.loadbalancer_id or (state.name if state else "")
    listener_entry = entry(li.id)
    if "admin_state_up" in upd.changed:
        listener_entry["operating_status"] = "ONLINE" if li.admin_state_up else "OFFLINE"
    pools = []
    if "default_pool_id" in upd.changed and li.default_pool_id:
        pools = [entry(li.default_pool_id)]
    report: Payload = {
        "listeners": [listener_entry],
        "loadbalancers": _lb_active(lb_id),
        "pools": pools,
    }
    if not upd.changed & {"admin_state_up", "default_pool_id"}:
        return Outcome(state, (report,))
    row = None
    if state is not None:
        row = state.row_with_listener(li.id) or state.row_for_protocol(li.protocol)
    if state is None or row is None:
        failed: Payload = {
            "listeners": [entry(li.id, ERROR)],
            "loadbalancers": [entry(lb_id, ERROR)],
        }
        return Outcome(state, (failed,))
    current = row.listener(li.id) or ListenerState(li.id, li.protocol_port, None)
    new_li = attrs.evolve(current, enabled=li.admin_state_up)
    if "default_pool_id" in upd.changed:
        new_li = attrs.evolve(new_li, pool_id=li.default_pool_id, pool_ref_disabled=False)
    new_row = _replace_listener(row, new_li)
    if current.pool_id and current.pool_id != new_li.pool_id:
        new_row = _untarget_hcs(new_row, current.pool_id)
    state = state.replace(row, new_row)
    if "default_pool_id" in upd.changed and li.default_pool_id:
        state = _retarget_hcs(state, li.default_pool_id, new_li.port)
    return Outcome(state, (report,))


def listener_delete(ctx: Context, state: LoadBalancerState | None, li: Listener) -> Outcome:
    """``listener_delete``: the key goes (either admin form, deviation B49); empty rows go.

    Deviation B48: the health checks of the listener's pool no longer name its ``vip:port``.
    """
    lb_id = li.loadbalancer_id or (state.name if state else "")
    report: Payload = {
        "listeners": [entry(li.id, DELETED, "OFFLINE")],
        "loadbalancers": _lb_active(lb_id),
    }
    row = state.row_with_listener(li.id) if state else None
    if state is None or row is None:
        return Outcome(state, (report,))
    old = row.listener(li.id)
    new_row = attrs.evolve(row, listeners=tuple(x for x in row.listeners if x.id != li.id))
    if old is not None and old.pool_id:
        new_row = _untarget_hcs(new_row, old.pool_id)
    state = _clean_if_empty(state.replace(row, new_row), new_row)
    return Outcome(state, (report,))


# -- pool -------------------------------------------------------------------------------


def _affinity(options: Mapping[str, str], pool: Pool) -> dict[str, str]:
    out = dict(options)
    sp = pool.session_persistence
    if sp is not None and sp.timeout:
        out[AFFINITY] = str(sp.timeout)
    return out


def pool_create(ctx: Context, state: LoadBalancerState | None, pool: Pool) -> Outcome:
    """``pool_create``: ``pool_<id>[:D] = ""``, the listener's reference, hashing and affinity.

    Deviations B3/B4: the listener always names the pool in its plain form, whatever the
    admin state of either.
    """
    validate.pool(pool)
    lb_id = pool.loadbalancer_id or (state.name if state else None)
    state = _require_state(state, lb_id)
    state, row = _row_for(state, ctx, pool.protocol, pool.lb_algorithm)
    existing = row.pool(pool.id)
    members = existing.members if existing else ()
    new_row = _replace_pool(row, PoolState(pool.id, pool.admin_state_up, members))
    if pool.listener_id:
        li = new_row.listener(pool.listener_id)
        if li is not None and (li.pool_id != pool.id or li.pool_ref_disabled):
            new_row = _replace_listener(
                new_row, attrs.evolve(li, pool_id=pool.id, pool_ref_disabled=False)
            )
    new_row = attrs.evolve(
        new_row,
        options=_affinity(new_row.options, pool),
        selection_fields=SELECTION_FIELDS[pool.lb_algorithm],
    )
    state = state.replace(row, new_row)
    report: Payload = {
        "pools": [entry(pool.id, ACTIVE, "ONLINE" if pool.listener_id else "OFFLINE")],
        "loadbalancers": _lb_active(state.name),
    }
    if pool.listener_id:
        report["listeners"] = [entry(pool.listener_id)]
    return Outcome(state, (report,))


def pool_update(ctx: Context, state: LoadBalancerState | None, upd: Update[Pool]) -> Outcome:
    """``pool_update``: admin state (key form), session persistence and algorithm.

    Deviations B6 (persistence alone is reported ACTIVE), B7 (removing persistence removes
    ``affinity_timeout``; a null timeout writes nothing), B9 (the algorithm is applied).
    """
    validate.pool(upd.new)
    pool = upd.new
    lb_id = pool.loadbalancer_id or (state.name if state else "")
    row = state.row_with_pool(pool.id) if state else None
    if state is None or row is None:
        return Outcome(
            state, ({"pools": [entry(pool.id, ERROR)], "loadbalancers": [entry(lb_id, ERROR)]},)
        )
    current = row.pool(pool.id)
    assert current is not None
    new_row = _replace_pool(row, attrs.evolve(current, enabled=pool.admin_state_up))
    if "session_persistence" in upd.changed:
        options = dict(new_row.options)
        options.pop(AFFINITY, None)
        new_row = attrs.evolve(new_row, options=_affinity(options, pool))
    if "lb_algorithm" in upd.changed:
        new_row = attrs.evolve(new_row, selection_fields=SELECTION_FIELDS[pool.lb_algorithm])
    state = state.replace(row, new_row)
    if not upd.changed & {"admin_state_up", "session_persistence"}:
        return Outcome(state, ({"pools": [entry(pool.id)], "loadbalancers": _lb_active(lb_id)},))
    operating = "ONLINE" if pool.admin_state_up else "OFFLINE"
    listeners = [entry(li.id) for li in new_row.listeners if li.pool_id == pool.id]
    report: Payload = {
        "pools": [entry(pool.id, ACTIVE, operating)],
        "loadbalancers": _lb_active(lb_id),
        "listeners": listeners,
    }
    return Outcome(state, (report,))


def pool_delete(ctx: Context, state: LoadBalancerState | None, pool: Pool) -> Outcome:
    """``pool_delete``: its health monitor and members first, then the pool.

    As the reference's driver queues them (spec A.2): the monitor's payload, then **one**
    ``member_delete`` payload for all the pool's members (the row's roll-up after all are
    removed, ``members`` listing each ``DELETED``), then the pool's payload.

    Deviation B10: ``affinity_timeout`` stays while another pool of the row keeps session
    persistence in Octavia's view. Deviation B51: a disabled pool's key going counts for the
    empty-row clean-up like an enabled one's.
    """
    reports: list[Payload] = []
    nats: list[NatUpdate] = []
    if pool.healthmonitor is not None:
        out = hm_delete(ctx, state, pool.healthmonitor)
        state = out.state
        reports += out.statuses
    if pool.members:
        out = _members_delete(
            ctx, state, pool.id, [attrs.evolve(m, pool_id=pool.id) for m in pool.members]
        )
        state = out.state
        reports += out.statuses
        nats += out.nat_updates
    lb_id = pool.loadbalancer_id or (state.name if state else "")
    row = state.row_with_pool(pool.id) if state else None
    if state is None or row is None:
        reports.append(
            {
                "pools": [entry(pool.id, DELETED)],
                "loadbalancers": _lb_active(lb_id),
                "listeners": [],
            }
        )
        return Outcome(state, tuple(reports), tuple(nats))
    listeners = []
    new_listeners = []
    for li in row.listeners:
        if li.pool_id == pool.id:
            listeners.append(entry(li.id))
            li = attrs.evolve(li, pool_id=None, pool_ref_disabled=False)
        new_listeners.append(li)
    options = dict(row.options)
    keep = any(
        p.id != pool.id and (ctx.view.pools.get(p.id) or {}).get("session_persistence")
        for p in row.pools
    )
    if not keep:
        options.pop(AFFINITY, None)
    new_row = attrs.evolve(
        row,
        pools=tuple(p for p in row.pools if p.id != pool.id),
        listeners=tuple(new_listeners),
        options=options,
    )
    state = _clean_if_empty(state.replace(row, new_row), new_row)
    reports.append(
        {
            "pools": [entry(pool.id, DELETED)],
            "loadbalancers": _lb_active(lb_id),
            "listeners": listeners,
        }
    )
    return Outcome(state, tuple(reports), tuple(nats))


# -- members ------------------------------------------------------------------------------


class _SubnetOf:
    """``_member_subnet`` for one request, the VIP subnet looked up at most once."""

    def __init__(self, ctx: Context, lb_id: str, row: ProtocolRow) -> None:
        self.ctx = ctx
        self.lb_id = lb_id
        self.row = row
        self._vip: str | None = None
        self._looked_up = False

    def __call__(self, m: Member) -> str:
        if m.subnet_id:
            return m.subnet_id
        if not self._looked_up:
            self._vip = _vip_subnet(self.ctx, self.lb_id, self.row) or ""
            self._looked_up = True
        return self._vip or ""

    def entry(self, m: Member) -> MemberEntry:
        """``_entry_of``."""
        return MemberEntry(m.id, m.address, m.protocol_port, self(m))


def _member_subnet(ctx: Context, lb_id: str, row: ProtocolRow, m: Member) -> str:
    if m.subnet_id:
        return m.subnet_id
    return _vip_subnet(ctx, lb_id, row) or ""


def _entry_of(ctx: Context, lb_id: str, row: ProtocolRow, m: Member) -> MemberEntry:
    return MemberEntry(m.id, m.address, m.protocol_port, _member_subnet(ctx, lb_id, row, m))


def _member_nat_updates(
    row: ProtocolRow, topo: Topology, entries: Iterable[MemberEntry]
) -> list[NatUpdate]:
    """Member FIP centralisation (spec 6.4; deviation B19: every member is looked at)."""
    if not row.vip_fip and not row.additional_vip_fips:
        return []
    out = []
    for e in entries:
        lsp = topo.member_port(e.subnet_id, e.address)
        if lsp is None:
            continue
        for u, nat in topo.nats_of_port(str(lsp.get("name"))):
            clear_mac = nat.get("external_mac") is not None
            clear_lp = nat.get("logical_port") is not None
            if clear_mac or clear_lp:
                out.append(NatUpdate(u, clear_logical_port=clear_lp, clear_external_mac=clear_mac))
    return out


def _pool_row(
    state: LoadBalancerState | None, pool_id: str | None
) -> tuple[LoadBalancerState, ProtocolRow, PoolState]:
    if state is None or pool_id is None:
        raise NotFoundError("pool", pool_id or "?", "no Load_Balancer row holds it")
    row = state.row_with_pool(pool_id)
    if row is None:
        raise NotFoundError("pool", pool_id, "no Load_Balancer row holds it")
    pool = row.pool(pool_id)
    assert pool is not None
    return state, row, pool


def _add_members(
    ctx: Context, state: LoadBalancerState, pool_id: str, members: Sequence[Member]
) -> tuple[LoadBalancerState, ProtocolRow, dict[str, str], list[NatUpdate]]:
    """Append the members not in the pool yet (by entry text); the new state, row, the row's
    statuses (``row.statuses()``) and the NAT updates. O(len(members)) plus one row rebuild."""
    state, row, pool = _pool_row(state, pool_id)
    topo = ctx.topology
    draft = _RowDraft(row)
    subnet_of = _SubnetOf(ctx, state.name, row)
    index = _MemberIndex(pool.members)
    added_texts: set[str] = set()
    new_members = list(pool.members)
    added: list[MemberEntry] = []
    has_hc = bool(row.health_checks)
    statuses: list[tuple[str, str]] = []
    # Subnet text -> the switch its members count (None: none). Associating a subnet's
    # routers again changes nothing (same switches, routers and lr_ref) and the switch
    # checks give the same answers within a request, so a batch pays them once per
    # subnet; only the switch's count moves per member.
    counted: dict[str, str | None] = {}
    in_pool = index.by_text if pool.members else None
    for m in members:
        e = subnet_of.entry(m)
        text = e.text()
        if text in added_texts or (in_pool is not None and in_pool(text) is not None):
            # Not changed so far in this request: the row's statuses as they came.
            statuses.append((m.id, draft.statuses().get(m.id, "NO_MONITOR")))
            continue
        added_texts.add(text)
        new_members.append(e)
        added.append(e)
        sid = e.subnet_id
        if sid in counted:
            ls_counted = counted[sid]
            if ls_counted is not None:
                draft.count_ls(ls_counted)
        else:
            subnet = topo.subnet(sid)
            ls_counted = None
            if subnet is not None:
                ls = ovn_name(subnet.network_id)
                if draft.associate_ls(topo, ls):
                    ls_counted = ls
                draft.associate_subnet_routers(topo, sid)
            counted[sid] = ls_counted
        if not m.admin_state_up:
            value = "OFFLINE"
        elif has_hc:
            value = draft.hm_member(topo, e)
        else:
            value = "NO_MONITOR"
        statuses.append((m.id, value))
    draft.replace_pool(attrs.evolve(pool, members=tuple(new_members)))
    draft.update_statuses(statuses)
    new_row = draft.finish()
    state = state.replace(row, new_row)
    return state, new_row, draft.statuses(), _member_nat_updates(new_row, topo, added)


def member_create(ctx: Context, state: LoadBalancerState | None, member: Member) -> Outcome:
    """``member_create``: append the entry, count its switch, join its routers; roll-up."""
    return _member_create_many(ctx, state, member.pool_id, [member])


def _member_create_many(
    ctx: Context, state: LoadBalancerState | None, pool_id: str | None, members: Sequence[Member]
) -> Outcome:
    lb_row = state.row_with_pool(pool_id) if state and pool_id else None
    for m in members:
        validate.member(m, lb_row, _vip_subnet_obj(ctx, state, lb_row))
    assert pool_id is not None
    state, row, statuses, nats = _add_members(ctx, state, pool_id, members)  # type: ignore[arg-type]
    return Outcome(state, (rollup(state.name, row, ctx.view, statuses=statuses),), tuple(nats))


def _vip_subnet_obj(ctx: Context, state: LoadBalancerState | None, row: ProtocolRow | None) -> Any:
    if state is None:
        return None
    return ctx.topology.subnet(_vip_subnet(ctx, state.name, row))


def _remove_members(
    ctx: Context, state: LoadBalancerState, pool_id: str, members: Sequence[Member]
) -> tuple[LoadBalancerState, ProtocolRow, dict[str, str]]:
    """Remove each member's entry (by text, else by id); the new state, row and its statuses.

    O(len(members)) plus one rebuild of the pool and the row.
    """
    state, row, pool = _pool_row(state, pool_id)
    topo = ctx.topology
    draft = _RowDraft(row)
    subnet_of = _SubnetOf(ctx, state.name, row)
    index = _MemberIndex(pool.members)
    has_hc = bool(row.health_checks)
    gone: set[int] = set()
    removed_ids = []
    leaving = {m.id for m in members}
    for m in members:
        e = subnet_of.entry(m)
        i = index.by_text(e.text(), gone)
        if i is None:
            i = index.by_id(m.id, gone)
        removed_ids.append(m.id)
        if i is None:
            continue
        found = pool.members[i]
        # The entry object goes wherever it occurs (the same object can only recur under
        # its own id).
        gone.update(j for j in index.positions(found.id) if pool.members[j] is found)
        if has_hc:
            draft.hm_member_unmap(found, pool_id, leaving)
        subnet = topo.subnet(found.subnet_id)
        if subnet is not None:
            draft.disassociate_ls(topo, ovn_name(subnet.network_id))
    if gone:
        draft.replace_pool(attrs.evolve(pool, members=index.without(gone)))
    draft.drop_statuses(removed_ids)
    new_row = draft.finish()
    state = state.replace(row, new_row)
    return state, new_row, draft.statuses()


def member_delete(ctx: Context, state: LoadBalancerState | None, member: Member) -> Outcome:
    """``member_delete``: remove the entry, uncount its switch; roll-up with the member DELETED.

    V8 (spec 7) applies to deletes as to creates: without a subnet the member must be on the
    VIP subnet, else ``UnsupportedOptionError`` and nothing is written.
    """
    if not member.subnet_id:
        lb_row = state.row_with_pool(member.pool_id) if state and member.pool_id else None
        vip_subnet = _vip_subnet_obj(ctx, state, lb_row)
        if vip_subnet is None or not vip_subnet.contains(member.address):
            raise UnsupportedOptionError(
                "member",
                "subnet_id",
                "Subnet is required, or Loadbalancer associated with Pool must have a subnet, "
                "for Member deletion with OVN Provider Driver if it is not the same as LB VIP "
                "subnet",
                resource_id=member.id,
            )
    return _members_delete(ctx, state, member.pool_id, [member])


def _members_delete(
    ctx: Context, state: LoadBalancerState | None, pool_id: str | None, members: Sequence[Member]
) -> Outcome:
    """One ``member_delete`` request for ``members`` (all of ``pool_id``): one roll-up
    payload, computed after every member is removed, with each member ``DELETED``."""
    deleted = [entry(m.id, DELETED) for m in members]
    if state is None or pool_id is None or state.row_with_pool(pool_id) is None:
        return Outcome(state, ({"members": deleted},))
    state, row, statuses = _remove_members(ctx, state, pool_id, members)
    report = rollup(state.name, row, ctx.view, statuses=statuses, members=False)
    report["members"] = deleted
    return Outcome(state, (report,))


def _updated_status(prev: str | None, has_hc: bool, m: Member, admin_given: bool) -> str:
    if not admin_given:
        return prev or "NO_MONITOR"
    if not m.admin_state_up:
        return "OFFLINE"
    if has_hc:
        return "ERROR" if prev == "ERROR" else "ONLINE"
    return "NO_MONITOR"


def _update_members(
    ctx: Context, state: LoadBalancerState, pool_id: str, items: Sequence[tuple[Member, bool]]
) -> tuple[LoadBalancerState, Payload]:
    """New statuses (and mappings) of members; O(len(items)) plus one row rebuild."""
    state, row, pool = _pool_row(state, pool_id)
    has_hc = bool(row.health_checks)
    draft = _RowDraft(row)
    statuses = draft.statuses()
    index: _MemberIndex | None = None
    reported: list[dict[str, Any]] = []
    if items and not has_hc and all(given for _, given in items):
        # No health check and every admin state given (a batch): no mapping changes,
        # each status follows its member's admin state alone (what the loop below does,
        # without a call per member).
        # (Lists and zip, no pair per member: with 10k members, fewer live objects for
        # the interpreter's collections to promote.)
        ids = [m.id for m, _ in items]
        values = ["NO_MONITOR" if m.admin_state_up else "OFFLINE" for m, _ in items]
        draft.update_statuses(zip(ids, values, strict=True))
        reported = [
            {"id": mid, "provisioning_status": ACTIVE, "operating_status": value}
            for mid, value in zip(ids, values, strict=True)
        ]
        items = ()
    for m, admin_given in items:
        value = _updated_status(statuses.get(m.id), has_hc, m, admin_given)
        draft.set_status(m.id, value)
        reported.append(entry(m.id, ACTIVE, value))
        if has_hc and admin_given:
            if index is None:
                index = _MemberIndex(pool.members)
            i = index.by_id(m.id)
            if i is not None:
                e = pool.members[i]
                if m.admin_state_up:
                    draft.hm_member(ctx.topology, e)
                else:
                    draft.hm_member_unmap(e, pool_id)
    new_row = draft.finish()
    state = state.replace(row, new_row)
    report = rollup(state.name, new_row, ctx.view, statuses=draft.statuses(), members=False)
    report["members"] = reported
    return state, report


def member_update(ctx: Context, state: LoadBalancerState | None, upd: Update[Member]) -> Outcome:
    """``member_update``: the member's status (spec 5.3; deviation B41: without an admin state
    the stored status is kept)."""
    m = upd.new
    lb_row = state.row_with_pool(m.pool_id) if state and m.pool_id else None
    validate.member(
        m, lb_row, _vip_subnet_obj(ctx, state, lb_row), check_address="address" in upd.changed
    )
    _, _, _ = _pool_row(state, m.pool_id)
    assert state is not None and m.pool_id is not None
    state, report = _update_members(ctx, state, m.pool_id, [(m, "admin_state_up" in upd.changed)])
    return Outcome(state, (report,))


def member_batch_update(
    ctx: Context, state: LoadBalancerState | None, pool_id: str, members: Sequence[Member]
) -> Outcome:
    """``member_batch_update``: create, update, delete requests in that order, each reported."""
    state, row, pool = _pool_row(state, pool_id)
    vip_subnet = _vip_subnet_obj(ctx, state, row)
    for m in members:
        validate.member(m, row, vip_subnet, batch=True)
    members = [m if m.pool_id == pool_id else attrs.evolve(m, pool_id=pool_id) for m in members]
    texts = set(_texts(pool.members))
    subnet_of = _SubnetOf(ctx, state.name, row)
    create: list[Member] = []
    update: list[Member] = []
    # Each member's entry text (MemberEntry.text), formatted at C speed over the batch.
    wanted_texts = map(
        _TEXT,
        map(_MEMBER_ID, members),
        map(_ADDRESS, members),
        map(_PROTOCOL_PORT, members),
        map(subnet_of, members),
    )
    for m, text in zip(members, wanted_texts, strict=True):
        (update if text in texts else create).append(m)
    wanted = {m.id for m in members}
    delete = [
        Member(e.id, pool_id, e.address, e.port, e.subnet_id or None)
        for e in pool.members
        if e.id not in wanted
    ]
    reports: list[Payload] = []
    nats: list[NatUpdate] = []
    if create:
        state, row, statuses, new_nats = _add_members(ctx, state, pool_id, create)
        nats += new_nats
        reports.append(rollup(state.name, row, ctx.view, statuses=statuses))
    if update:
        state, report = _update_members(ctx, state, pool_id, [(m, True) for m in update])
        reports.append(report)
    if delete:
        state, row, statuses = _remove_members(ctx, state, pool_id, delete)
        report = rollup(state.name, row, ctx.view, statuses=statuses, members=False)
        report["members"] = [entry(m.id, DELETED) for m in delete]
        reports.append(report)
    return Outcome(state, tuple(reports), tuple(nats))


# -- health monitors --------------------------------------------------------------------------


def _hm_options(hm: HealthMonitor) -> dict[str, str]:
    return {
        key: str(getattr(hm, field)) for field, key in HM_OPTIONS if getattr(hm, field) is not None
    }


def _new_hc(
    row: ProtocolRow, hm: HealthMonitor, pool_id: str, vip: str, octavia_vip: str, taken: set[str]
) -> HealthCheckRow:
    # The first free UUID of the (row, monitor, VIP) series: a row can hold a check whose
    # UUID was derived for another row (a sync's fresh UUIDs), hence the search.
    n = 0
    while True:
        uuid = row_uuid(row.uuid, "hc", hm.id, octavia_vip, str(n))
        if uuid not in taken:
            taken.add(uuid)
            break
        n += 1
    return HealthCheckRow(
        uuid, vip, _hm_options(hm), {HC_HM: hm.id, HC_POOL: pool_id, HC_VIP: octavia_vip}
    )


def hm_create(ctx: Context, state: LoadBalancerState | None, hm: HealthMonitor) -> Outcome:
    """``health_monitor_create``: one health check per VIP and FIP, member mappings.

    Deviations: B12 (each FIP check names its own FIP), B15 (works on a disabled pool; plain
    pool id), U1 (disabled members stay OFFLINE and unmapped), B13 (a monitor created with
    ``admin_state_up=false`` is only listed in ``octavia:healthmonitors``: no health check,
    so nothing probes; member statuses and mappings are left alone).
    """
    validate.health_monitor(hm, state.row_with_pool(hm.pool_id) if state and hm.pool_id else None)
    if state is None or hm.pool_id is None:
        return Outcome(state, ({"healthmonitors": [entry(hm.id, ERROR, "NO_MONITOR")]},))
    row = state.row_with_pool(hm.pool_id)
    if row is None:
        return Outcome(
            state,
            (
                {
                    "healthmonitors": [entry(hm.id, ERROR, "NO_MONITOR")],
                    "loadbalancers": _lb_active(state.name),
                    "pools": [entry(hm.pool_id, None, "OFFLINE")],
                },
            ),
        )
    pool = row.pool(hm.pool_id)
    assert pool is not None
    hms = list(row.healthmonitors or ())
    if hm.id not in hms:
        hms.append(hm.id)
    if not hm.admin_state_up:
        row = attrs.evolve(row, healthmonitors=tuple(hms))
        state = state.replace(state.row_with_pool(hm.pool_id), row)  # type: ignore[arg-type]
        report = rollup(state.name, row, ctx.view)
        report["healthmonitors"] = [entry(hm.id, ACTIVE, "OFFLINE")]
        return Outcome(state, (report,))
    port = _pool_port(row, pool.id)
    taken = {h.uuid for r in state.rows for h in r.health_checks}
    hcs = list(row.health_checks)
    # Idempotence: a check of this monitor for a VIP (or FIP) the row already holds is the
    # one an earlier application inserted (a retry after an unknown commit outcome, a
    # repeated request): it is kept, not duplicated under the next free UUID.
    have = {h.external_ids.get(HC_VIP) for h in hcs if h.external_ids.get(HC_HM) == hm.id}
    fips = ([row.vip_fip] if row.vip_fip else []) + list(row.additional_vip_fips or ())
    for vip in [*vip_list(row), *fips]:
        if vip in have:
            continue
        hcs.append(_new_hc(row, hm, pool.id, f"{bracket(vip)}:{port}" if port else "", vip, taken))
    row = attrs.evolve(row, health_checks=tuple(hcs), healthmonitors=tuple(hms))
    statuses = row.statuses()  # as before the loop (the draft's copy changes in it)
    draft = _RowDraft(row)
    failed = False
    for e in pool.members:
        if statuses.get(e.id) == "OFFLINE":
            continue
        value = draft.hm_member(ctx.topology, e)
        failed = failed or (value == "ERROR" and ctx.topology.hm_source_ip(e.subnet_id) is None)
        draft.set_status(e.id, value)
    if failed:
        # Spec 4.3 hm_create step 4: a member without a source IP cleans the pool's
        # mappings, the mapped members' too (a member of another pool that shares the IP
        # and is monitored keeps its mapping, as on hm_delete).
        leaving = {e.id for e in pool.members}
        for e in pool.members:
            draft.hm_member_unmap(e, pool.id, leaving)
    row = draft.finish()
    state = state.replace(state.row_with_pool(hm.pool_id), row)  # type: ignore[arg-type]
    report = rollup(state.name, row, ctx.view, statuses=draft.statuses())
    if failed:
        report["healthmonitors"] = [entry(hm.id, ERROR, ERROR)]
    else:
        report["healthmonitors"] = [
            entry(hm.id, ACTIVE, "ONLINE" if hm.admin_state_up else "OFFLINE")
        ]
    return Outcome(state, (report,))


def _rows_of_hm(state: LoadBalancerState, hm_id: str) -> list[ProtocolRow]:
    return [
        r
        for r in state.rows
        if any(h.external_ids.get(HC_HM) == hm_id for h in r.health_checks)
        or hm_id in (r.healthmonitors or ())
    ]


def _hm_disable(ctx: Context, state: LoadBalancerState, hm: HealthMonitor) -> LoadBalancerState:
    """``hm_delete`` that keeps the monitor listed in ``octavia:healthmonitors`` (B13)."""
    listed = {r.uuid: r.healthmonitors for r in _rows_of_hm(state, hm.id)}
    out = hm_delete(ctx, state, hm)
    assert out.state is not None
    new = out.state
    for r in list(new.rows):
        if r.uuid in listed and r.healthmonitors != listed[r.uuid]:
            new = new.replace(r, attrs.evolve(r, healthmonitors=listed[r.uuid]))
    return new


def hm_update(ctx: Context, state: LoadBalancerState | None, upd: Update[HealthMonitor]) -> Outcome:
    """``health_monitor_update``: merge the changed timers into every check of the monitor.

    Deviation B13: disabling the monitor removes its health checks (members back to
    NO_MONITOR, mappings removed, as ``hm_delete``) but keeps it listed; enabling it
    creates them as ``hm_create`` does, with every timer of the updated monitor.
    """
    hm = upd.new
    listed = _rows_of_hm(state, hm.id) if state else []
    rows = [r for r in listed if any(h.external_ids.get(HC_HM) == hm.id for h in r.health_checks)]
    if state is None or not listed:
        return Outcome(state, ({"healthmonitors": [entry(hm.id, ERROR, ERROR)]},))
    if "admin_state_up" in upd.changed and bool(rows) != hm.admin_state_up:
        if hm.admin_state_up:
            out = hm_create(ctx, state, hm)
            new_state, hm_entries = out.state, out.statuses[0]["healthmonitors"]
        else:
            new_state = _hm_disable(ctx, state, hm)
            hm_entries = [entry(hm.id, ACTIVE, "OFFLINE")]
        toggled: Payload = {
            "loadbalancers": _lb_active(state.name),
            "pools": [entry(hm.pool_id)] if hm.pool_id else [],
            "healthmonitors": hm_entries,
        }
        pool_row = new_state.row_with_pool(hm.pool_id) if new_state and hm.pool_id else None
        pool = pool_row.pool(hm.pool_id) if pool_row and hm.pool_id else None
        if pool_row is not None and pool is not None and pool.members:
            statuses = pool_row.statuses()
            toggled["members"] = [
                entry(e.id, ACTIVE, statuses.get(e.id, "NO_MONITOR")) for e in pool.members
            ]
        return Outcome(new_state, (toggled,))
    if not rows:
        # A disabled monitor (B13): nothing to merge into; its timers apply when enabled.
        return Outcome(
            state,
            (
                {
                    "loadbalancers": _lb_active(state.name),
                    "pools": [entry(hm.pool_id)] if hm.pool_id else [],
                    "healthmonitors": [
                        entry(hm.id, ACTIVE, "ONLINE" if hm.admin_state_up else "OFFLINE")
                    ],
                },
            ),
        )
    changes = {
        key: str(getattr(hm, field))
        for field, key in HM_OPTIONS
        if field in upd.changed and getattr(hm, field)
    }
    for row in rows:
        hcs = tuple(
            attrs.evolve(h, options={**h.options, **changes})
            if h.external_ids.get(HC_HM) == hm.id
            else h
            for h in row.health_checks
        )
        state = state.replace(row, attrs.evolve(row, health_checks=hcs))
    report: Payload = {
        "loadbalancers": _lb_active(state.name),
        "pools": [entry(hm.pool_id)] if hm.pool_id else [],
        "healthmonitors": [entry(hm.id, ACTIVE, "ONLINE" if hm.admin_state_up else "OFFLINE")],
    }
    return Outcome(state, (report,))


def hm_delete(ctx: Context, state: LoadBalancerState | None, hm: HealthMonitor) -> Outcome:
    """``health_monitor_delete``: members back to NO_MONITOR (disabled ones stay OFFLINE),
    mappings and checks removed."""
    gone: Payload = {"healthmonitors": [entry(hm.id, DELETED, "NO_MONITOR")]}
    if state is None:
        return Outcome(state, (gone,))
    rows = _rows_of_hm(state, hm.id)
    pool_row = state.row_with_pool(hm.pool_id) if hm.pool_id else None
    if pool_row is not None and pool_row not in rows:
        rows.append(pool_row)
    if not rows:
        return Outcome(state, (gone,))
    report: Payload = {
        "loadbalancers": _lb_active(state.name),
        "pools": [entry(hm.pool_id)] if hm.pool_id else [],
        "healthmonitors": [entry(hm.id, DELETED, "NO_MONITOR")],
    }
    for row in rows:
        pool = row.pool(hm.pool_id) if hm.pool_id else None
        draft = _RowDraft(row)
        if pool is not None:
            members = []
            statuses = draft.statuses()
            for e in pool.members:
                value = "OFFLINE" if statuses.get(e.id) == "OFFLINE" else "NO_MONITOR"
                draft.set_status(e.id, value)
                members.append(entry(e.id, ACTIVE, value))
            for e in pool.members:
                draft.hm_member_unmap(e, pool.id)
            if members:
                report["members"] = members
            report["listeners"] = [entry(li.id) for li in row.listeners if li.pool_id == pool.id]
        new_row = draft.finish()
        hms = tuple(h for h in (new_row.healthmonitors or ()) if h != hm.id)
        new_row = attrs.evolve(
            new_row,
            health_checks=tuple(
                h for h in new_row.health_checks if h.external_ids.get(HC_HM) != hm.id
            ),
            healthmonitors=hms or None,
        )
        state = state.replace(row, new_row)
    return Outcome(state, (report,))


# -- floating IPs and health events -------------------------------------------------------------


def fip_associate(
    ctx: Context, state: LoadBalancerState | None, fip: str, vip_kind: str, related: Sequence[str]
) -> Outcome:
    """A floating IP put on the LB's VIP port (spec 6.2): vips and a health check copy.

    Deviation B31: associating a FIP the rows already hold adds nothing twice, and a primary
    VIP FIP replaced by another (A -> B) takes A's health checks with it.
    """
    if state is None:
        return Outcome(state)
    for row in state.rows:
        new = row
        if vip_kind == "additional_vip":
            fips = tuple(new.additional_vip_fips or ())
            if fip not in fips:
                new = attrs.evolve(new, additional_vip_fips=(*fips, fip))
        else:
            replaced = new.vip_fip if new.vip_fip not in (None, fip) else None
            still_used = replaced in (new.additional_vip_fips or ())
            if replaced is not None and not still_used:
                new = attrs.evolve(
                    new,
                    health_checks=tuple(
                        h for h in new.health_checks if h.external_ids.get(HC_VIP) != replaced
                    ),
                )
            new = attrs.evolve(new, vip_fip=fip)
        taken = {h.uuid for r in state.rows for h in r.health_checks}
        hcs = list(new.health_checks)
        have = {(h.external_ids.get(HC_HM), h.external_ids.get(HC_VIP)) for h in hcs}
        for h in new.health_checks:
            ip = h.external_ids.get(HC_VIP) or h.vip.rpartition(":")[0].strip("[]")
            if ip not in related or (h.external_ids.get(HC_HM), fip) in have:
                continue
            _host, sep, port = h.vip.rpartition(":")
            if not (sep and port.isdigit()):
                # Deviation B44: a check without port takes the pool's listener port.
                pool_port = _pool_port(new, _hc_pool_id(h))
                port = str(pool_port) if pool_port is not None else ""
            vip = f"{fip}:{port}" if port else ""
            uuid = row_uuid(new.uuid, "hc", h.external_ids.get(HC_HM, ""), fip, "0")
            n = 0
            while uuid in taken:
                n += 1
                uuid = row_uuid(new.uuid, "hc", h.external_ids.get(HC_HM, ""), fip, str(n))
            taken.add(uuid)
            hcs.append(HealthCheckRow(uuid, vip, h.options, {**h.external_ids, HC_VIP: fip}))
            have.add((h.external_ids.get(HC_HM), fip))
        new = attrs.evolve(new, health_checks=tuple(hcs))
        state = state.replace(row, new)
    return Outcome(state)


def fip_disassociate(ctx: Context, state: LoadBalancerState | None, fip: str) -> Outcome:
    """A floating IP taken off the VIP port: its keys, vips entries and health check go."""
    if state is None:
        return Outcome(state)
    for row in state.rows:
        fips = tuple(f for f in (row.additional_vip_fips or ()) if f != fip)
        new = attrs.evolve(
            row,
            additional_vip_fips=fips or None,
            vip_fip=None if row.vip_fip == fip else row.vip_fip,
            health_checks=tuple(h for h in row.health_checks if h.external_ids.get(HC_VIP) != fip),
        )
        state = state.replace(row, new)
    return Outcome(state)


def member_health(
    ctx: Context,
    state: LoadBalancerState,
    ip: str,
    port: int,
    protocol: str,
    logical_port: str,
    src_ip: str,
    status: str | None,
    deleted: bool,
) -> tuple[LoadBalancerState, list[Payload]]:
    """A SB ``Service_Monitor`` change (spec 4.4) applied to one LB; one roll-up per row hit.

    Deviations B16 (exact member match), B17 (``error`` means ERROR), B18 (a deleted monitor
    means NO_MONITOR, the member stays in ``vips``).
    """
    key, value = bracket(ip), f"{logical_port}:{bracket(src_ip)}"
    payloads = []
    for row in state.rows:
        if row.protocol != protocol or row.ip_port_mappings.get(key) != value:
            continue
        match = next((m for _p, m in row.all_members() if m.address == ip and m.port == port), None)
        if match is None:
            continue
        if deleted:
            new_status = "NO_MONITOR"
        elif status in ("offline", "error"):
            new_status = "ERROR"
        else:
            new_status = "ONLINE"
        draft = _RowDraft(row)
        draft.set_status(match.id, new_status)
        new = draft.finish()
        state = state.replace(row, new)
        payloads.append(rollup(state.name, new, ctx.view, statuses=draft.statuses()))
    return state, payloads


def merge_payloads(payloads: Sequence[Payload]) -> Payload:
    """Concatenate the lists under each key (the reference's merge of per-row roll-ups)."""
    out: Payload = {}
    for p in payloads:
        for k, v in p.items():
            out.setdefault(k, []).extend(v)
    return out


__all__ = [
    "Context",
    "Outcome",
    "fip_associate",
    "fip_disassociate",
    "hm_create",
    "hm_delete",
    "hm_update",
    "lb_create",
    "lb_delete",
    "lb_update",
    "listener_create",
    "listener_delete",
    "listener_update",
    "member_batch_update",
    "member_create",
    "member_delete",
    "member_health",
    "member_update",
    "merge_payloads",
    "pool_create",
    "pool_delete",
    "pool_update",
    "st",
]
