"""Everything about editing one row for many members at once lives here.

A member or health-monitor request changes a few columns of one row per
member (member statuses, the switch and router associations,
``ip_port_mappings``, one pool); :class:`RowDraft` keeps them as mutable
copies and rebuilds the row once, so a batch of k members costs O(k) plus one
O(N) rebuild instead of O(N) per member.
"""

from __future__ import annotations

import operator
from collections.abc import Collection, Iterable
from itertools import islice
from typing import Any

from ovnlb_core.formats import mapping_key, mapping_value
from ovnlb_core.model import MemberEntry, PoolState, ProtocolRow
from ovnlb_core.requests.associations import Associations
from ovnlb_core.topology import Topology

__all__ = ["RowDraft"]

_SECOND = operator.itemgetter(1)
_KEY = operator.attrgetter("key")


class RowDraft(Associations):
    """One row changed by a member or health-monitor request, rebuilt once at the end.

    Besides the associations (:class:`~ovnlb_core.requests.associations.Associations`),
    the member statuses, ``ip_port_mappings`` and one pool are kept as mutable copies;
    :meth:`finish` gives the row that rebuilding it after each change, one by one,
    would give (tests/core/test_fastpath.py checks it against that).
    """

    def __init__(self, row: ProtocolRow) -> None:
        super().__init__(row)
        self._statuses: dict[str, str] | None = None
        self._statuses_changed = False
        #: The row's pairs had distinct keys / some key was dropped (see _status_pairs).
        self._statuses_distinct = False
        self._statuses_dropped = False
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
        """Every pair set in order (the status write of a member create)."""
        self.statuses().update(pairs)
        self._statuses_changed = True

    def drop_statuses(self, member_ids: Iterable[str]) -> None:
        """Remove these members' statuses (the column goes when none is left)."""
        statuses = self.statuses()
        for mid in member_ids:
            statuses.pop(mid, None)
        self._statuses_changed = True
        self._statuses_dropped = True

    # -- health-check mappings -------------------------------------------------------------

    def hm_member(self, topo: Topology, e: MemberEntry) -> str:
        """Map a member for health checks (spec 4.3); its status ``ONLINE`` or ``ERROR``."""
        lsp = topo.member_port(e.subnet_id, e.address)
        src = topo.hm_source_ip(e.subnet_id)
        if lsp is None or src is None:
            return "ERROR"
        if self._mappings is None:
            self._mappings = dict(self.row.ip_port_mappings)
        self._mappings[mapping_key(e.address)] = mapping_value(str(lsp.get("name")), src)
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
        key = mapping_key(e.address)
        mappings = self._mappings if self._mappings is not None else self.row.ip_port_mappings
        if key not in mappings:
            return
        if self._mappings is None:
            self._mappings = dict(self.row.ip_port_mappings)
        del self._mappings[key]

    # -- pools -------------------------------------------------------------------------------

    def replace_pool(self, pool: PoolState) -> None:
        """The pool of the same id replaced by ``pool`` (applied in :meth:`finish`)."""
        self._pool = pool

    def pool(self, pool_id: str) -> PoolState | None:
        """The pool ``pool_id`` as the draft has it now."""
        if self._pool is not None and self._pool.id == pool_id:
            return self._pool
        return self.row.pool(pool_id)

    def pools(self) -> tuple[PoolState, ...]:
        """The row's pools as :meth:`finish` leaves them (sorted by key, as a row keeps
        them)."""
        pool = self._pool
        if pool is None:
            return self.row.pools
        return tuple(sorted((*(p for p in self.row.pools if p.id != pool.id), pool), key=_KEY))

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

    def changes(self) -> dict[str, Any]:
        """The changed columns, as ``attrs.evolve`` keywords."""
        changes: dict[str, Any] = {}
        if self._statuses_changed:
            assert self._statuses is not None
            # A status set leaves the dict non-empty; only drops can empty it (-> None).
            changes["member_status"] = self._status_pairs(self._statuses) or None
        changes.update(super().changes())
        if self._mappings is not None:
            changes["ip_port_mappings"] = self._mappings
        if self._pool is not None:
            changes["pools"] = self.pools()
        return changes
