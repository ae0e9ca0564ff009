"""Everything about members lives here: their requests, one or a batch at a time.

``member_create/update/delete`` and ``member_batch_update`` (spec 3.4, 3.5,
5.3): a member is an entry of its pool in the row, a status in
``neutron:member_status``, a count of its switch in ``ls_refs`` and its
subnet's routers (:mod:`~ovnlb_core.requests.associations`), a mapping when
the row has health checks, and its floating IP centralised (spec 6.4). A
batch changes the row through one :class:`~ovnlb_core.requests.draft.RowDraft`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Collection, Iterable, Sequence
from itertools import compress
from typing import Any

import attrs

from ovnlb_core import validate
from ovnlb_core.errors import UnsupportedOptionError
from ovnlb_core.formats import MEMBER_PREFIX, MEMBER_TEXT
from ovnlb_core.model import LoadBalancerState, MemberEntry, PoolState, ProtocolRow
from ovnlb_core.octavia import Member, MemberColumns, Update
from ovnlb_core.plan import NatUpdate
from ovnlb_core.requests.common import (
    Context,
    Outcome,
    pool_row,
    vip_subnet,
    vip_subnet_obj,
)
from ovnlb_core.requests.draft import RowDraft
from ovnlb_core.status import ACTIVE, DELETED, Payload, entry, rollup
from ovnlb_core.topology import Topology, ovn_name

__all__ = [
    "member_batch_update",
    "member_batch_update_columns",
    "member_create",
    "member_delete",
    "member_update",
    "members_delete",
]

_MEMBER_ID = operator.attrgetter("id")
_ADDRESS = operator.attrgetter("address")
_PROTOCOL_PORT = operator.attrgetter("protocol_port")
#: A member's status without health checks, by its admin state (False, True).
_BY_ADMIN = ("OFFLINE", "NO_MONITOR")


class _MemberIndex:
    """Where each member id sits in a pool's member tuple.

    Lookups by id, and by entry text (:meth:`MemberEntry.text`), cost a C-speed scan
    of the ids for the first few and O(1) after (an id -> positions dict is built on
    the ninth, or on the first when the caller expects more): no member's text is built
    for a lookup. An entry ``member_<id>_...`` can only equal the text of a member
    whose id is the text between ``member_`` and one of the later ``_``, so only the
    members with those ids are compared (by their full text).
    """

    __slots__ = ("_first", "_groups", "_ids", "_lookups", "members")

    #: Lookups answered by scanning before the dict is built.
    SCANS = 8

    def __init__(self, members: tuple[MemberEntry, ...], expected: int = 0) -> None:
        """``expected``: how many members the caller will look up; more than
        :attr:`SCANS` builds the dict at the first lookup (scans would be wasted)."""
        self.members = members
        self._ids: list[str] | None = None
        self._lookups = self.SCANS if expected > self.SCANS else 0
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
        if not text.startswith(MEMBER_PREFIX):
            return None
        best: int | None = None
        start = len(MEMBER_PREFIX)
        k = text.find("_", start)
        while k >= 0:
            for i in self.positions(text[start:k]):
                if i in skip or (best is not None and i >= best):
                    continue
                if self.members[i].text() == text:
                    best = i
                    break
            k = text.find("_", k + 1)
        return best

    def has_text(self, text: str) -> bool:
        """Some member's text is ``text``."""
        return self.by_text(text) is not None

    def without(self, gone: Collection[int]) -> tuple[MemberEntry, ...]:
        """The members, those at the positions ``gone`` left out (C-speed slices)."""
        out: list[MemberEntry] = []
        start = 0
        for i in sorted(gone):
            out += self.members[start:i]
            start = i + 1
        out += self.members[start:]
        return tuple(out)


class _SubnetOf:
    """A member's subnet (its own, else the VIP's) for one request; the VIP subnet is looked
    up at most once."""

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
            self._vip = vip_subnet(self.ctx, self.lb_id, self.row) or ""
            self._looked_up = True
        return self._vip or ""

    def entry(self, m: Member) -> MemberEntry:
        """The member's pool entry."""
        return MemberEntry(m.id, m.address, m.protocol_port, self(m))


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


# -- create ---------------------------------------------------------------------------------------


def _append_members(
    ctx: Context,
    draft: RowDraft,
    lb_name: str,
    pool: PoolState,
    members: Sequence[Member],
    new_only: bool = False,
) -> list[MemberEntry]:
    """Append to ``pool`` (in ``draft``) the members not in it yet (by entry text), with
    their statuses, switch counts and routers; the entries added. O(len(members)) plus one
    copy of the pool's member tuple.

    ``new_only``: the caller knows no member's entry text is in the pool (a batch's creates):
    the pool is not searched."""
    row = draft.row
    topo = ctx.topology
    subnet_of = _SubnetOf(ctx, lb_name, row)
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
    in_pool: Callable[[str], bool] | None = None
    if pool.members and not new_only:
        # The cache's texts of the pool when it has them (a C-speed scan), else the index.
        known = ctx.known_pool_texts(pool.id, pool.members)
        in_pool = known.__contains__ if known is not None else index.has_text
    for m in members:
        e = subnet_of.entry(m)
        text = e.text()
        if text in added_texts or (in_pool is not None and in_pool(text)):
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
    return added


def _add_members(
    ctx: Context,
    state: LoadBalancerState,
    pool_id: str,
    members: Sequence[Member],
    new_only: bool = False,
) -> tuple[LoadBalancerState, ProtocolRow, dict[str, str], list[NatUpdate]]:
    """:func:`_append_members` in a draft of its own, the row rebuilt; the new state, row,
    the row's statuses (``row.statuses()``) and the NAT updates."""
    state, row, pool = pool_row(state, pool_id)
    draft = RowDraft(row)
    added = _append_members(ctx, draft, state.name, pool, members, new_only)
    new_row = draft.finish()
    state = state.replace(row, new_row)
    return state, new_row, draft.statuses(), _member_nat_updates(new_row, ctx.topology, added)


def member_create(ctx: Context, state: LoadBalancerState | None, member: Member) -> Outcome:
    """``member_create``: append the entry, count its switch, join its routers; roll-up."""
    pool_id = member.pool_id
    lb_row = state.row_with_pool(pool_id) if state and pool_id else None
    validate.member(member, lb_row, vip_subnet_obj(ctx, state, lb_row))
    assert pool_id is not None
    state, row, statuses, nats = _add_members(ctx, state, pool_id, [member])  # type: ignore[arg-type]
    return Outcome(state, (rollup(state.name, row, ctx.view, statuses=statuses),), tuple(nats))


# -- delete ---------------------------------------------------------------------------------------


def _drop_members(
    ctx: Context, draft: RowDraft, lb_name: str, pool: PoolState, members: Sequence[Member]
) -> None:
    """Remove from ``pool`` (in ``draft``) each member's entry (by text, else by id), its
    status, its switch count and (with health checks) its mapping. O(len(members)) plus one
    copy of the pool's member tuple."""
    row = draft.row
    topo = ctx.topology
    subnet_of = _SubnetOf(ctx, lb_name, row)
    index = _MemberIndex(pool.members, expected=len(members))
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
            draft.hm_member_unmap(found, pool.id, leaving)
        subnet = topo.subnet(found.subnet_id)
        if subnet is not None:
            draft.disassociate_ls(topo, ovn_name(subnet.network_id))
    if gone:
        draft.replace_pool(attrs.evolve(pool, members=index.without(gone)))
    draft.drop_statuses(removed_ids)


def _remove_members(
    ctx: Context, state: LoadBalancerState, pool_id: str, members: Sequence[Member]
) -> tuple[LoadBalancerState, ProtocolRow, dict[str, str]]:
    """:func:`_drop_members` in a draft of its own, the row rebuilt; the new state, row and
    its statuses."""
    state, row, pool = pool_row(state, pool_id)
    draft = RowDraft(row)
    _drop_members(ctx, draft, state.name, pool, members)
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
        subnet = vip_subnet_obj(ctx, state, lb_row)
        if subnet is None or not subnet.contains(member.address):
            raise UnsupportedOptionError(
                "member",
                "subnet_id",
                "Subnet is required, or Loadbalancer associated with Pool must have a subnet, "
                "for Member deletion with OVN Provider Driver if it is not the same as LB VIP "
                "subnet",
                resource_id=member.id,
            )
    return members_delete(ctx, state, member.pool_id, [member])


def members_delete(
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


# -- update ---------------------------------------------------------------------------------------


def _updated_status(prev: str | None, has_hc: bool, m: Member, admin_given: bool) -> str:
    if not admin_given:
        return prev or "NO_MONITOR"
    if not m.admin_state_up:
        return "OFFLINE"
    if has_hc:
        return "ERROR" if prev == "ERROR" else "ONLINE"
    return "NO_MONITOR"


def _admin_statuses(draft: RowDraft, ids: list[str], admins: list[bool]) -> list[dict[str, Any]]:
    """Without health checks: each member's status follows its admin state alone; set in
    ``draft``, and the members' report entries."""
    values = list(map(_BY_ADMIN.__getitem__, map(bool, admins)))
    draft.update_statuses(zip(ids, values, strict=True))
    return [
        {"id": mid, "provisioning_status": ACTIVE, "operating_status": value}
        for mid, value in zip(ids, values, strict=True)
    ]


def _update_members(
    ctx: Context, state: LoadBalancerState, pool_id: str, items: Sequence[tuple[Member, bool]]
) -> tuple[LoadBalancerState, Payload]:
    """New statuses (and mappings) of members; O(len(items)) plus one row rebuild."""
    state, row, pool = pool_row(state, pool_id)
    has_hc = bool(row.health_checks)
    draft = RowDraft(row)
    statuses = draft.statuses()
    index: _MemberIndex | None = None
    reported: list[dict[str, Any]] = []
    if items and not has_hc and all(given for _, given in items):
        # No health check and every admin state given (a batch): no mapping changes,
        # each status follows its member's admin state alone (what the loop below does,
        # without a call per member).
        # (Lists and zip, no pair per member: with 10k members, fewer live objects for
        # the interpreter's collections to promote.)
        reported = _admin_statuses(
            draft, [m.id for m, _ in items], [m.admin_state_up for m, _ in items]
        )
        items = ()
    for m, admin_given in items:
        value = _updated_status(statuses.get(m.id), has_hc, m, admin_given)
        draft.set_status(m.id, value)
        reported.append(entry(m.id, ACTIVE, value))
        if has_hc and admin_given:
            if index is None:
                index = _MemberIndex(pool.members, expected=len(items))
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
        m, lb_row, vip_subnet_obj(ctx, state, lb_row), check_address="address" in upd.changed
    )
    _, _, _ = pool_row(state, m.pool_id)
    assert state is not None and m.pool_id is not None
    state, report = _update_members(ctx, state, m.pool_id, [(m, "admin_state_up" in upd.changed)])
    return Outcome(state, (report,))


def _leaving(pool: PoolState, wanted: set[str]) -> list[Member]:
    """A batch's deletes: a Member for each entry of the pool whose id the batch does not
    name, in the pool's order (the entries picked at C speed)."""
    out = compress(
        pool.members, map(operator.not_, map(wanted.__contains__, map(_MEMBER_ID, pool.members)))
    )
    return [Member(e.id, pool.id, e.address, e.port, e.subnet_id or None) for e in out]


def member_batch_update(
    ctx: Context, state: LoadBalancerState | None, pool_id: str, members: Sequence[Member]
) -> Outcome:
    """``member_batch_update``: create, update, delete requests in that order, each reported."""
    state, row, pool = pool_row(state, pool_id)
    subnet = vip_subnet_obj(ctx, state, row)
    validate.members(members, row, subnet, batch=True)
    members = [m if m.pool_id == pool_id else attrs.evolve(m, pool_id=pool_id) for m in members]
    texts = set(ctx.pool_texts(pool_id, pool.members))
    subnet_of = _SubnetOf(ctx, state.name, row)
    create: list[Member] = []
    update: list[Member] = []
    # Each member's entry text (MemberEntry.text), formatted at C speed over the batch.
    wanted_texts = map(
        MEMBER_TEXT,
        map(_MEMBER_ID, members),
        map(_ADDRESS, members),
        map(_PROTOCOL_PORT, members),
        map(subnet_of, members),
    )
    for m, text in zip(members, wanted_texts, strict=True):
        (update if text in texts else create).append(m)
    delete = _leaving(pool, {m.id for m in members})
    return _batch(ctx, state, pool_id, create, update, delete)


def _batch(
    ctx: Context,
    state: LoadBalancerState,
    pool_id: str,
    create: Sequence[Member],
    update: Sequence[Member],
    delete: Sequence[Member],
    kept: tuple[list[str], list[bool]] | None = None,
) -> Outcome:
    """A batch's create, update and delete requests, in that order, each reported. On a row
    without health checks ``kept`` (ids and admin states) may stand for ``update``."""
    _, row, _ = pool_row(state, pool_id)
    if not row.health_checks:
        if kept is None:
            kept = ([m.id for m in update], [m.admin_state_up for m in update])
        return _batch_one_draft(ctx, state, pool_id, create, kept, delete)
    reports: list[Payload] = []
    nats: list[NatUpdate] = []
    if create:
        # Both batch paths create exactly the members whose entry text is not in the pool.
        state, row, statuses, new_nats = _add_members(ctx, state, pool_id, create, new_only=True)
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


def _batch_one_draft(
    ctx: Context,
    state: LoadBalancerState,
    pool_id: str,
    create: Sequence[Member],
    kept: tuple[list[str], list[bool]],
    delete: Sequence[Member],
) -> Outcome:
    """:func:`_batch` on a row without health checks: the three requests change one draft,
    the row is rebuilt once. Each report is the roll-up of the draft as its request leaves
    it (the statuses, and the pools in the order, of the row that request alone would
    write), so the reports, the row and the NAT updates are those of the requests applied
    one by one (tests/core/test_batch_fastpaths.py checks it)."""
    state, row, pool = pool_row(state, pool_id)
    draft = RowDraft(row)
    name = state.name
    reports: list[Payload] = []
    nats: list[NatUpdate] = []
    if create:
        # Both batch paths create exactly the members whose entry text is not in the pool.
        added = _append_members(ctx, draft, name, pool, create, new_only=True)
        nats = _member_nat_updates(row, ctx.topology, added)
        reports.append(rollup(name, row, ctx.view, statuses=draft.statuses(), pools=draft.pools()))
    ids, admins = kept
    if ids:
        # No health check, every admin state given: each status follows its member's
        # admin state alone (what _update_members does for such a batch).
        reported = _admin_statuses(draft, ids, admins)
        report = rollup(
            name, row, ctx.view, statuses=draft.statuses(), members=False, pools=draft.pools()
        )
        report["members"] = reported
        reports.append(report)
    if delete:
        current = draft.pool(pool_id)
        assert current is not None
        _drop_members(ctx, draft, name, current, delete)
        report = rollup(
            name, row, ctx.view, statuses=draft.statuses(), members=False, pools=draft.pools()
        )
        report["members"] = [entry(m.id, DELETED) for m in delete]
        reports.append(report)
    return Outcome(state.replace(row, draft.finish()), tuple(reports), tuple(nats))


def member_batch_update_columns(
    ctx: Context, state: LoadBalancerState | None, pool_id: str, cols: MemberColumns
) -> Outcome:
    """:func:`member_batch_update` of a batch read by :meth:`MemberColumns.of` (same rows,
    reports and errors), with no Python object per member the batch keeps.

    The entry texts are formatted from the columns and compared as a set with the pool's;
    ``Member`` objects are built only for the members created (and, on a row with health
    checks, the members kept). A batch the checks would refuse takes the member-by-member
    path, which raises the same error.
    """
    state, row, pool = pool_row(state, pool_id)
    subnet = vip_subnet_obj(ctx, state, row)
    if not validate.usual_members_pass(cols.addresses, cols.subnets, row, subnet):
        return member_batch_update(ctx, state, pool_id, cols.members())
    subnets: list[str] | list[str | None] = cols.subnets
    if None in set(subnets):
        vip = vip_subnet(ctx, state.name, row) or ""
        subnets = [s or vip for s in subnets]
    texts = set(ctx.pool_texts(pool_id, pool.members))
    wanted_texts = map(MEMBER_TEXT, cols.ids, cols.addresses, cols.ports, subnets)
    kept = list(map(texts.__contains__, wanted_texts))
    n = len(kept)
    create = [cols.member(i) for i in compress(range(n), map(operator.not_, kept))]
    update: list[Member] = []
    kept_admin: tuple[list[str], list[bool]] | None = None
    if row.health_checks:
        update = [cols.member(i) for i in compress(range(n), kept)]
    else:
        kept_admin = (list(compress(cols.ids, kept)), list(compress(cols.admins, kept)))
    delete = _leaving(pool, set(cols.ids))
    return _batch(ctx, state, pool_id, create, update, delete, kept_admin)
