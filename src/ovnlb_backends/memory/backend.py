"""Everything about applying plans to the memory backend lives here: :class:`MemoryBackend`.

A commit checks its basis (:func:`ovnlb_backends.rowops.check_basis`), stages
the plan in a :class:`~ovnlb_backends.memory.txn.Txn` (inserts, per-key map
edits, attachments grouped per holder, NAT clears) and publishes it: all or
nothing, like ovsdb-server.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ovnlb_backends.base import BackendError
from ovnlb_backends.memory.store import MemoryStore
from ovnlb_backends.memory.txn import Txn
from ovnlb_backends.memory.values import (
    coerce,
    complete_row,
    edit_set,
    mutate_map,
)
from ovnlb_backends.rowops import check_basis, hc_columns, lb_columns
from ovnlb_core.formats import is_lower_uuid
from ovnlb_core.plan import (
    Attachment,
    HcUpdate,
    LbRowSet,
    LbUpdate,
    Plan,
)
from ovnlb_core.rawops import RawOp, RawOpError, RowDelete, RowInsert, initial_ops, resolve

__all__ = ["MemoryBackend", "apply_update"]


def apply_update(table: str, row: dict[str, Any], upd: LbUpdate | HcUpdate) -> None:
    """Apply a planned row update to ``row`` (a copy of the staged row), in place."""
    if isinstance(upd, LbUpdate):
        if upd.set_protocol:
            row["protocol"] = coerce(table, "protocol", upd.protocol)
        for col, delta in (
            ("vips", upd.vips),
            ("external_ids", upd.external_ids),
            ("options", upd.options),
            ("ip_port_mappings", upd.ip_port_mappings),
        ):
            mutate_map(row, col, delta, table)
        if upd.selection_fields is not None:
            row["selection_fields"] = coerce(table, "selection_fields", upd.selection_fields)
        if upd.health_check_add or upd.health_check_remove:
            hcs = set(row["health_check"]) - set(upd.health_check_remove)
            hcs |= set(upd.health_check_add)
            row["health_check"] = coerce(table, "health_check", hcs)
        return
    if upd.vip is not None:
        row["vip"] = coerce(table, "vip", upd.vip)
    mutate_map(row, "options", upd.options, table)
    mutate_map(row, "external_ids", upd.external_ids, table)


class MemoryBackend(MemoryStore):
    """In-memory NB database implementing :class:`~ovnlb_backends.base.Backend`."""

    @classmethod
    def from_nb_initial(
        cls, nb_initial: Mapping[str, Sequence[Mapping[str, Any]]]
    ) -> MemoryBackend:
        """A backend holding a conformance file's ``nb_initial`` (loaded in one transaction)."""
        backend = cls()
        backend.apply_raw(initial_ops(nb_initial))
        return backend

    def apply_raw(self, ops: Sequence[RawOp]) -> None:
        """Apply Neutron-style raw row operations (conformance ``nb_changes``), one transaction."""
        if not ops:
            return
        try:
            resolved = resolve(self.reader(), ops)
        except RawOpError as exc:
            raise BackendError(str(exc)) from exc
        txn = Txn(self)
        for op in resolved:
            current = txn.get(op.table, op.uuid)
            if isinstance(op, RowInsert):
                if current is not None:
                    raise BackendError(f"duplicate uuid: {op.table} row {op.uuid} exists")
                txn.put(op.table, op.uuid, complete_row(op.table, op.columns))
            elif current is None:
                raise BackendError(f"no {op.table} row {op.uuid}")
            elif isinstance(op, RowDelete):
                txn.put(op.table, op.uuid, None)
            else:
                changes = {col: coerce(op.table, col, v) for col, v in op.columns.items()}
                txn.put(op.table, op.uuid, {**current, **changes})
        txn.finish()
        txn.publish()

    def commit(self, plan: Plan, basis: LbRowSet | None = None) -> None:
        """Apply ``plan`` in one transaction (see the module docstring for the semantics).

        ``basis`` is verified like the IDL's ``verify``: when a row, attachment
        or NAT column it holds differs from the committed state, :class:`TryAgain`.
        """
        if plan.is_empty():
            return
        if basis is not None:
            self._verify(basis)
        txn = Txn(self)
        lb_inserts = [(r.uuid, lb_columns(r)) for r in plan.lb_inserts]
        self._stage_table(txn, "Load_Balancer", lb_inserts, plan.lb_updates, plan.lb_deletes)
        hc_inserts = [(h.uuid, hc_columns(h)) for h in plan.hc_inserts]
        hc = "Load_Balancer_Health_Check"
        self._stage_table(txn, hc, hc_inserts, plan.hc_updates, plan.hc_deletes)
        self._stage_attachments(txn, plan.attach, plan.detach)
        for nu in plan.nat_updates:
            row = txn.get("NAT", nu.uuid)
            if row is None:
                raise BackendError(f"no NAT row {nu.uuid}")
            new = dict(row)
            if nu.clear_logical_port:
                new["logical_port"] = None
            if nu.clear_external_mac:
                new["external_mac"] = None
            txn.put("NAT", nu.uuid, new)
        txn.finish()
        txn.publish()

    # -- staging --------------------------------------------------------------

    @staticmethod
    def _stage_insert(txn: Txn, table: str, uuid: str, columns: Mapping[str, Any]) -> None:
        if not is_lower_uuid(uuid):
            raise BackendError(f"{table} row UUID {uuid!r} is not a lowercase UUID")
        if txn.get(table, uuid) is not None:
            raise BackendError(f"duplicate uuid: {table} row {uuid} exists")
        txn.put(table, uuid, complete_row(table, columns))

    @staticmethod
    def _existing(txn: Txn, table: str, uuid: str, deleting: set[str]) -> dict[str, Any]:
        if uuid in deleting:
            raise BackendError(f"{table} row {uuid} is both updated and deleted")
        row = txn.get(table, uuid)
        if row is None:
            raise BackendError(f"no {table} row {uuid}")
        return dict(row)

    @staticmethod
    def _stage_deletes(txn: Txn, table: str, uuids: Sequence[str]) -> None:
        for uuid in uuids:
            if txn.get(table, uuid) is None:
                raise BackendError(f"cannot delete {table} row {uuid}: no such row")
            txn.put(table, uuid, None)

    def _stage_table(
        self,
        txn: Txn,
        table: str,
        inserts: Sequence[tuple[str, Mapping[str, Any]]],
        updates: Sequence[LbUpdate | HcUpdate],
        deletes: Sequence[str],
    ) -> None:
        """Stage one table's inserts, updates (:func:`apply_update`) and deletes."""
        for uuid, columns in inserts:
            self._stage_insert(txn, table, uuid, columns)
        deleting = set(deletes)
        for upd in updates:
            row = self._existing(txn, table, upd.uuid, deleting)
            apply_update(table, row, upd)
            txn.put(table, upd.uuid, row)
        self._stage_deletes(txn, table, deletes)

    @staticmethod
    def _stage_attachments(
        txn: Txn, attach: Sequence[Attachment], detach: Sequence[Attachment]
    ) -> None:
        # Grouped per holder so that N attachments to one switch rebuild its
        # load_balancer set once, not N times.
        changes: dict[tuple[str, str], tuple[set[str], set[str]]] = {}
        for atts, add in ((detach, False), (attach, True)):
            for att in atts:
                holders = txn.named(att.table, att.name)
                if len(holders) != 1:
                    what = "no" if not holders else "more than one"
                    raise BackendError(f"{what} {att.table} row named {att.name!r}")
                if add and txn.get("Load_Balancer", att.lb_uuid) is None:
                    # ovsdb-server would drop the weak reference silently; a plan
                    # doing this is a bug worth failing on.
                    raise BackendError(f"cannot attach missing Load_Balancer row {att.lb_uuid}")
                adds, removes = changes.setdefault((att.table, holders[0]), (set(), set()))
                # Detach then attach, as the plan lists them.
                if add:
                    adds.add(att.lb_uuid)
                    removes.discard(att.lb_uuid)
                else:
                    removes.add(att.lb_uuid)
        for (table, uuid), (adds, removes) in changes.items():
            row = txn.get(table, uuid)
            assert row is not None
            value, added, removed = edit_set(row["load_balancer"], adds, removes)
            if added or removed:
                delta = ("load_balancer", added, removed)
                txn.put(table, uuid, {**row, "load_balancer": value}, delta)

    # -- basis verification ---------------------------------------------------

    def _verify(self, basis: LbRowSet) -> None:
        """Raise :class:`TryAgain` when the committed rows differ from ``basis``."""

        def holders(table: str, uuid: str) -> set[str]:
            referrers = self.refs[(table, "load_balancer")].get(uuid, ())
            return {self.tables[table][r]["name"] for r in referrers}

        check_basis(basis, lambda table, uuid: self.tables[table].get(uuid), holders)
