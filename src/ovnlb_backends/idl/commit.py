"""Everything about turning a plan into one IDL transaction lives here.

:class:`PlanWriter` adds a :class:`~ovnlb_core.plan.Plan` (or resolved raw
operations) to an ovs transaction: per-key map mutations, set
``addvalue``/``delvalue``, inserts with the plan's UUIDs (``persist_uuid``),
``verify`` of a load balancer's ``_version`` (or of each changed column), and
the local basis check (:func:`ovnlb_backends.rowops.check_basis`).
:class:`PersistUuidTransaction` keeps references to such rows real UUIDs on
older ovs.
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Mapping
from typing import Any

import ovs.db.data
import ovs.db.error
import ovs.db.idl
import ovs.ovsuuid

from ovnlb_backends.base import BackendError, TryAgain
from ovnlb_backends.idl.datum import to_python
from ovnlb_backends.idl.replica import VERSION, IndexedIdl
from ovnlb_backends.rowops import check_basis, hc_columns, lb_columns
from ovnlb_core.nb import SCHEMA, Row
from ovnlb_core.plan import (
    LbRowSet,
    MapDelta,
    Plan,
)

__all__ = ["PersistUuidTransaction", "PlanWriter"]


class PersistUuidTransaction(ovs.db.idl.Transaction):  # type: ignore[misc]
    """An ovs Transaction whose references to persist_uuid rows stay real UUIDs.

    ovs < 3.2 (PyPI 3.1.x, Debian 12's python3-openvswitch) turns every
    reference to a row inserted in the same transaction into a ``named-uuid``,
    also when the row is inserted with ``"uuid"`` (persist_uuid) and so has no
    name: the server then reports a reference to a nonexistent row. This is
    the newer ovs code.
    """

    def _substitute_uuids(self, json: Any) -> Any:
        if isinstance(json, list | tuple):
            if len(json) == 2 and json[0] == "uuid" and ovs.ovsuuid.is_valid_string(json[1]):
                uuid = ovs.ovsuuid.from_string(json[1])
                row = self._txn_rows.get(uuid, None)
                if row and row._data is None and not row._persist_uuid:
                    return ["named-uuid", ovs.db.idl._uuid_name_from_uuid(uuid)]
            else:
                return [self._substitute_uuids(elem) for elem in json]
        return json


class PlanWriter:
    """Builds transactions on one replica."""

    def __init__(self, idl: IndexedIdl) -> None:
        self._idl = idl

    def _table(self, name: str) -> Any:
        return self._idl.tables[name]

    def existing(self, table: str, uuid: str, *, stale_is_retry: bool = True) -> Any:
        row = self._table(table).rows.get(uuidlib.UUID(uuid))
        if row is None:
            msg = f"{table} row {uuid} is gone"
            raise TryAgain(msg) if stale_is_retry else BackendError(msg)
        return row

    def assign(self, row: Any, table: str, col: str, value: Any) -> None:
        spec = SCHEMA[table][col]
        where = f"{table}.{col}"
        py = to_python(spec, value, where)
        column = self._table(table).columns[col]
        try:  # The IDL would only log a constraint violation and drop the write.
            ovs.db.data.Datum.from_python(column.type, py, ovs.db.idl._row_to_uuid)
        except ovs.db.error.Error as e:
            raise BackendError(f"{where}: {e}") from None
        setattr(row, col, py)

    def insert(self, txn: Any, table: str, uuid: str, columns: Mapping[str, Any]) -> None:
        u = uuidlib.UUID(uuid)
        if u in self._table(table).rows:
            raise TryAgain(f"{table} row {uuid} exists already (stale read)")
        # The plan's UUID goes to the server ("uuid" in the insert op): a
        # retried insert of a committed row then fails instead of duplicating it.
        row = txn.insert(self._table(table), new_uuid=u, persist_uuid=True)
        for col, value in columns.items():
            self.assign(row, table, col, value)

    def delete(self, txn: Any, row: Any, table: str, uuid: str) -> None:
        row.delete()
        if not self._table(table).is_root and hasattr(txn, "add_op"):
            # The IDL sends nothing for a non-root row and leaves it to garbage
            # collection; say it explicitly so a still-referenced row is an error.
            # (ovs < 3.2 has no add_op: there garbage collection alone deletes it.)
            txn.add_op({"op": "delete", "table": table, "where": [["_uuid", "==", ["uuid", uuid]]]})

    def mutate_map(
        self, row: Any, table: str, col: str, delta: MapDelta, *, verify: bool = True
    ) -> None:
        if not delta:
            return
        if verify:
            row.verify(col)
        where = f"{table}.{col}"
        for key in delta.delete:
            if not isinstance(key, str):
                raise BackendError(f"{where}: key {key!r} is not a string")
            row.delkey(col, key)
        for key, value in delta.set.items():
            if not (isinstance(key, str) and isinstance(value, str)):
                raise BackendError(f"{where}: {key!r}={value!r} is not a string pair")
            row.setkey(col, key, value)

    def build_plan(self, txn: Any, plan: Plan) -> None:
        lb, hc = "Load_Balancer", "Load_Balancer_Health_Check"
        for h in plan.hc_inserts:
            self.insert(txn, hc, h.uuid, hc_columns(h))
        for r in plan.lb_inserts:
            self.insert(txn, lb, r.uuid, lb_columns(r))
        for u in plan.lb_updates:
            row = self.existing(lb, u.uuid)
            # One 36-byte check of the row's version replaces the per-column
            # verifies (which would send every changed column's old value).
            by_column = not (
                self._idl.versioned
                and row.uuid in self._idl.version_trusted
                and row._data.get(VERSION) is not None
            )
            if not by_column:
                row.verify(VERSION)
            if u.set_protocol:
                if by_column:
                    row.verify("protocol")
                self.assign(row, lb, "protocol", u.protocol)
            if u.selection_fields is not None:
                if by_column:
                    row.verify("selection_fields")
                self.assign(row, lb, "selection_fields", u.selection_fields)
            for col, delta in (
                ("vips", u.vips),
                ("external_ids", u.external_ids),
                ("options", u.options),
                ("ip_port_mappings", u.ip_port_mappings),
            ):
                self.mutate_map(row, lb, col, delta, verify=by_column)
            if u.health_check_add or u.health_check_remove:
                if by_column:
                    row.verify("health_check")
                for h_uuid in u.health_check_remove:
                    row.delvalue("health_check", uuidlib.UUID(h_uuid))
                for h_uuid in u.health_check_add:
                    row.addvalue("health_check", uuidlib.UUID(h_uuid))
        for h_upd in plan.hc_updates:
            row = self.existing(hc, h_upd.uuid)
            if h_upd.vip is not None:
                row.verify("vip")
                self.assign(row, hc, "vip", h_upd.vip)
            self.mutate_map(row, hc, "options", h_upd.options)
            self.mutate_map(row, hc, "external_ids", h_upd.external_ids)
        for n in plan.nat_updates:
            row = self.existing("NAT", n.uuid)
            for col, clear in (
                ("logical_port", n.clear_logical_port),
                ("external_mac", n.clear_external_mac),
            ):
                if clear:
                    row.verify(col)
                    self.assign(row, "NAT", col, None)
        # Attach/detach are set mutations: idempotent and commutative with other
        # writers' mutations of the same switch, so they need no verify (and
        # verifying a busy switch's load_balancer column would conflict often).
        inserted = {r.uuid for r in plan.lb_inserts}
        for a in plan.detach:
            self.holder(a.table, a.name).delvalue("load_balancer", uuidlib.UUID(a.lb_uuid))
        for a in plan.attach:
            lb_uuid = uuidlib.UUID(a.lb_uuid)
            if a.lb_uuid not in inserted and lb_uuid not in self._table(lb).rows:
                # ovsdb-server would silently drop a weak reference to a missing row.
                raise BackendError(f"cannot attach missing Load_Balancer row {a.lb_uuid}")
            self.holder(a.table, a.name).addvalue("load_balancer", lb_uuid)
        for d in plan.lb_deletes:
            self.delete(txn, self.existing(lb, d), lb, d)
        for d in plan.hc_deletes:
            self.delete(txn, self.existing(hc, d), hc, d)

    def holder(self, table: str, name: str) -> Any:
        uuids = self._idl.names[table].get(name, set())
        if len(uuids) != 1:
            what = "no" if not uuids else "more than one"
            raise BackendError(f"{what} {table} row named {name!r}")
        return self._table(table).rows[next(iter(uuids))]

    def check_basis(self, basis: LbRowSet) -> None:
        """TryAgain when the replica no longer shows what the plan was computed from.

        A local comparison of every row, attachment and NAT of the basis
        (:func:`ovnlb_backends.rowops.check_basis`). The server-side check is
        the ``verify`` of the columns the plan mutates: it compares the
        replica's values, which this makes sure are the basis's.
        """
        idl = self._idl

        def row(table: str, u: str) -> Row | None:
            return idl.canonical_row(table, uuidlib.UUID(u))

        def holders(table: str, u: str) -> set[str]:
            names = set()
            for holder in idl.refs[(table, "load_balancer")].get(uuidlib.UUID(u), ()):
                found = idl.canonical_row(table, holder)
                if found is not None:
                    names.add(found["name"])
            return names

        check_basis(basis, row, holders)
