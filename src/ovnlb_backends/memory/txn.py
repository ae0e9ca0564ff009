"""Everything about one memory transaction lives here: :class:`Txn`.

Changes are staged over the committed state; :meth:`Txn.finish` applies
OVSDB's commit-time rules (weak references, garbage collection, integrity)
and :meth:`Txn.publish` makes the staged state the committed one, keeping
every index and every live reader's snapshot right.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ovnlb_backends.base import BackendError
from ovnlb_backends.memory.values import (
    REF_COLUMNS,
    STRONG_TO,
    UNIQUE_NAME,
    WEAK_TO,
    RefKey,
    edit_set,
    ref_targets,
)
from ovnlb_core.nb import NON_ROOT_TABLES, SCHEMA

__all__ = ["Txn"]

if TYPE_CHECKING:
    from ovnlb_backends.memory.store import MemoryStore


_RefDeltas = dict[RefKey, dict[str, set[str]]]


def _stage_ref(
    undo: _RefDeltas, record: _RefDeltas, key: RefKey, target: str, referrer: str
) -> None:
    """Stage a reference change: cancel the opposite staged change, else record it."""
    staged = undo.get(key, {}).get(target)
    if staged is not None and referrer in staged:
        staged.discard(referrer)
    else:
        record.setdefault(key, {}).setdefault(target, set()).add(referrer)


class Txn:
    """Changes staged over the committed state; nothing is visible before :meth:`publish`.

    Invariant of the reference deltas, per (table, column) and target:
    staged referrers = committed - ``ref_del`` + ``ref_add``, with ``ref_del``
    a subset of the committed ones and ``ref_add`` disjoint from them.
    """

    def __init__(self, db: MemoryStore) -> None:
        self.db = db
        self.rows: dict[tuple[str, str], dict[str, Any] | None] = {}
        self.ref_add: dict[RefKey, dict[str, set[str]]] = {}
        self.ref_del: dict[RefKey, dict[str, set[str]]] = {}
        self.deleted: list[tuple[str, str]] = []
        self.gc_candidates: set[tuple[str, str]] = set()

    def get_committed(self, table: str, uuid: str) -> bool:
        return uuid in self.db.tables[table]

    def get(self, table: str, uuid: str) -> dict[str, Any] | None:
        key = (table, uuid)
        if key in self.rows:
            return self.rows[key]
        return self.db.tables[table].get(uuid)

    def put(
        self,
        table: str,
        uuid: str,
        new: dict[str, Any] | None,
        delta: tuple[str, set[str], set[str]] | None = None,
    ) -> None:
        """Stage ``new`` (None: delete) as row ``uuid`` of ``table``.

        ``delta`` (column, added, removed) states exactly how one reference
        column changed, sparing the diff of a large set.
        """
        old = self.get(table, uuid)
        if old is None and new is None:
            return
        for col, spec in REF_COLUMNS[table]:
            if delta is not None and delta[0] == col:
                gone, came = delta[2], delta[1]
            else:
                old_t = ref_targets(spec, old[col]) if old is not None else ()
                new_t = ref_targets(spec, new[col]) if new is not None else ()
                if old_t == new_t:
                    continue
                old_s, new_s = set(old_t), set(new_t)
                gone, came = old_s - new_s, new_s - old_s
            for target in gone:
                self._unref((table, col), target, uuid)
                if not spec.weak and spec.ref_table in NON_ROOT_TABLES:
                    self.gc_candidates.add((str(spec.ref_table), target))
            for target in came:
                self._ref((table, col), target, uuid)
        if new is None:
            self.deleted.append((table, uuid))
        elif old is None and table in NON_ROOT_TABLES:
            # An orphan inserted into a non-root table is collected at commit.
            self.gc_candidates.add((table, uuid))
        self.rows[(table, uuid)] = new

    def _ref(self, key: RefKey, target: str, referrer: str) -> None:
        _stage_ref(self.ref_del, self.ref_add, key, target, referrer)

    def _unref(self, key: RefKey, target: str, referrer: str) -> None:
        _stage_ref(self.ref_add, self.ref_del, key, target, referrer)

    def referrers(self, key: RefKey, target: str) -> set[str]:
        out = set(self.db.refs[key].get(target, ()))
        out -= self.ref_del.get(key, {}).get(target, set())
        out |= self.ref_add.get(key, {}).get(target, set())
        return out

    def strongly_referenced(self, table: str, uuid: str) -> bool:
        return any(self.referrers(key, uuid) for key in STRONG_TO.get(table, ()))

    def named(self, table: str, name: str, staged: Iterable[str] = ()) -> list[str]:
        """UUIDs of the staged rows of ``table`` named ``name``.

        Candidates are the committed holders of the name plus ``staged``: callers
        pass the UUIDs this transaction inserted or renamed when there can be any.
        """
        uuids = set(self.db.names[table].get(name, ()))
        uuids.update(staged)
        return sorted(u for u in uuids if (row := self.get(table, u)) and row["name"] == name)

    def finish(self) -> None:
        """Apply OVSDB's commit-time rules: weak references, garbage collection, integrity."""
        done = 0
        while True:
            if done < len(self.deleted):
                # Removing weak references deletes no row, so this batch is complete.
                batch, done = self.deleted[done:], len(self.deleted)
                self._drop_refs(self._weak_refs_to(batch))
                continue
            if not self.gc_candidates:
                break
            table, uuid = self.gc_candidates.pop()
            if self.get(table, uuid) is not None and not self.strongly_referenced(table, uuid):
                self.put(table, uuid, None)
        # A weak reference to a row that never existed (which OVSDB would drop)
        # cannot arise: raw operations resolve names, plans are checked.
        self._check_integrity()

    def _weak_refs_to(
        self, rows: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str, str], set[str]]:
        out: dict[tuple[str, str, str], set[str]] = {}
        for table, uuid in rows:
            for rtable, col in WEAK_TO.get(table, ()):
                for referrer in self.referrers((rtable, col), uuid):
                    out.setdefault((rtable, col, referrer), set()).add(uuid)
        return out

    def _drop_refs(self, removals: Mapping[tuple[str, str, str], set[str]]) -> None:
        """Take ``targets`` out of column ``col`` of row ``referrer``, one put per row."""
        for (rtable, col, referrer), targets in sorted(removals.items()):
            row = self.get(rtable, referrer)
            if row is None:
                continue
            value = row[col]
            if SCHEMA[rtable][col].kind == "set":
                value, added, removed = edit_set(value, (), targets)
                self.put(rtable, referrer, {**row, col: value}, (col, added, removed))
            elif value in targets:
                self.put(rtable, referrer, {**row, col: None})

    def _check_integrity(self) -> None:
        for (rtable, col), targets in self.ref_add.items():
            spec = SCHEMA[rtable][col]
            if spec.weak or spec.ref_table is None:
                continue
            for target, referrers in targets.items():
                if referrers and self.get(spec.ref_table, target) is None:
                    raise BackendError(
                        f"referential integrity violation: {rtable}.{col} of "
                        f"{sorted(referrers)[0]} refers to missing {spec.ref_table} row {target}"
                    )
        for table, uuid in self.deleted:
            if self.get(table, uuid) is None and self.strongly_referenced(table, uuid):
                raise BackendError(
                    f"referential integrity violation: cannot delete {table} row {uuid}, "
                    "it is still referenced"
                )
        staged: dict[tuple[str, str], list[str]] = {}
        for (table, uuid), row in self.rows.items():
            if row is not None and table in UNIQUE_NAME:
                staged.setdefault((table, row["name"]), []).append(uuid)
        for (table, name), uuids in staged.items():
            if len(self.named(table, name, uuids)) > 1:
                raise BackendError(f"constraint violation: duplicate {table} name {name!r}")

    def publish(self) -> None:
        """Make the staged state the committed one."""
        db = self.db
        readers = [r for ref in db.readers if (r := ref()) is not None]
        db.readers = [weakref.ref(r) for r in readers]
        undos: dict[str, list[dict[str, dict[str, Any] | None]]] = {}
        # A view restoring a deleted row would put it last: to keep every view's
        # row order, a table losing a row is copied as before.
        deleting = {
            t for (t, u), new in self.rows.items() if new is None and self.get_committed(t, u)
        }
        for (table, uuid), new in self.rows.items():
            rows = db.tables[table]
            old = rows.get(uuid)
            if old is new:
                continue
            table_undos = undos.get(table)
            if table_undos is None:
                # The readers holding this very dict keep their snapshot: a copy on
                # write when one handed it out, else each records what changes.
                holders = [r for r in readers if r.tables.get(table) is rows]
                if table in deleting or table in db.handed_out:
                    rows = db.tables[table] = dict(rows)
                    db.handed_out.discard(table)
                    table_undos = []
                else:
                    table_undos = [r.undo.setdefault(table, {}) for r in holders]
                undos[table] = table_undos
            for undo in table_undos:
                if uuid not in undo:
                    undo[uuid] = old
            if new is None:
                del rows[uuid]
            else:
                rows[uuid] = new
            if table == "Load_Balancer":
                db.index_pool_keys(uuid, old, new)
                db.index_mappings(uuid, old, new)
            elif table == "Logical_Switch_Port":
                db.dirty_ports.add(uuid)
            if table in db.ext_tables:
                db.index_ext_ids(table, uuid, old, new)
            if table in db.names:
                names = db.names[table]
                if old is not None:
                    bucket = names[old["name"]]
                    bucket.discard(uuid)
                    if not bucket:
                        del names[old["name"]]
                if new is not None:
                    names.setdefault(new["name"], set()).add(uuid)
        # A port joining or leaving a switch changes the switch-port index.
        for deltas in (self.ref_add, self.ref_del):
            db.dirty_ports.update(deltas.get(("Logical_Switch", "ports"), {}))
        for key, targets in self.ref_del.items():
            index = db.refs[key]
            for target, referrers in targets.items():
                if referrers:
                    bucket = index[target]
                    bucket -= referrers
                    if not bucket:
                        del index[target]
        for key, targets in self.ref_add.items():
            index = db.refs[key]
            for target, referrers in targets.items():
                if referrers:
                    index.setdefault(target, set()).update(referrers)
        db.generation += 1
        db.view = None
        db.txns += 1
