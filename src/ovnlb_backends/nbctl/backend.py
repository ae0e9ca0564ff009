"""Everything about the ovn-nbctl backend's protocol lives here: :class:`NbctlBackend`.

Reads go through :class:`~ovnlb_backends.nbctl.reader.NbctlReader`; a commit
checks its basis with one read-only invocation, then writes the plan's
commands (:mod:`ovnlb_backends.nbctl.commands`) in one invocation, turning
``duplicate uuid`` and ``no row`` for a touched row into
:class:`~ovnlb_backends.base.TryAgain`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Any, Final

from ovnlb_backends.base import BackendError, TryAgain
from ovnlb_backends.nbctl.commands import plan_commands, raw_commands
from ovnlb_backends.nbctl.process import NbctlProcess
from ovnlb_backends.nbctl.reader import NbctlReader
from ovnlb_backends.nbctl.syntax import HC, LB, Command, checked_uuid, list_cmd, parse_tables
from ovnlb_backends.rowops import check_basis
from ovnlb_core import rawops
from ovnlb_core.nb import Row
from ovnlb_core.plan import (
    LbRowSet,
    Plan,
)

__all__ = ["NbctlBackend"]

_NO_ROW_RE: Final = re.compile(r'no row "([^"]*)" in table (\w+)')


class NbctlBackend(NbctlProcess):
    """:class:`~ovnlb_backends.base.Backend` on ``ovn-nbctl`` (arguments: :class:`NbctlProcess`)."""

    # -- Backend protocol --------------------------------------------------------

    def reader(self) -> NbctlReader:
        """A read view whose lookups are targeted reads (see :class:`NbctlReader`)."""
        return NbctlReader(self, self.lookup_cache)

    def connected(self) -> bool:
        """True: ovn-nbctl reports an unreachable NB as a failed invocation, not ahead of it."""
        return True

    def schema_version(self) -> str | None:
        """None: ovn-nbctl does not report the server's schema version."""
        return None

    def transaction_count(self) -> int:
        """Write invocations that succeeded (see the module docstring)."""
        return self._txns

    def commit(self, plan: Plan, basis: LbRowSet | None = None) -> None:
        """Apply ``plan`` in one ovn-nbctl invocation (see the module docstring).

        Raises :class:`TryAgain` when the basis differs from the database
        (checked by a read before the write, when ``check_basis``), when a row
        the plan updates or deletes is gone, or when a row it inserts exists
        already; :class:`BackendError` for anything else.
        """
        if plan.is_empty():
            return
        cmds, touched = plan_commands(plan)  # validates every value before anything runs
        if basis is not None and self.check_basis:
            self._check_basis(basis)
        committed = False
        try:
            self._write(cmds, touched)
            committed = True
        finally:
            self._note_written(plan, basis if committed else None)

    def _note_written(self, plan: Plan, basis: LbRowSet | None) -> None:
        """Update the lookup hints a plan's writes changed: ``basis`` is the plan's basis
        once it committed (None: it did not, or the basis is unknown).

        Hints are checked when used; this only saves the misses. A committed
        insert is the only row of its name when no other row of the plan and
        no row of the basis that survives has it: its UUID becomes the name's
        hint (the next lookup checks it with ``get`` instead of a ``find``).
        Otherwise the name's hint is dropped.
        """
        cache = self.lookup_cache
        names = Counter(r.name for r in plan.lb_inserts)
        if basis is not None:
            deleted = set(plan.lb_deletes)
            names.update(r.name for u, r in basis.lbs.items() if u not in deleted)
        for r in plan.lb_inserts:
            if basis is not None and names[r.name] == 1:
                cache.set_name(LB, r.name, [r.uuid])
            else:
                cache.forget_name(LB, r.name)
        cache.forget_rows(plan.lb_deletes)
        cache.forget_rows(u.uuid for u in plan.lb_updates if u.external_ids.delete)

    def apply_raw(self, ops: Sequence[rawops.RawOp]) -> None:
        """Apply Neutron-style raw operations in one write invocation (whole-column writes).

        Names are resolved against a :meth:`reader` snapshot first (one read).
        """
        if not ops:
            return
        try:
            resolved = rawops.resolve(self.reader(), ops)
        except rawops.RawOpError as exc:
            raise BackendError(str(exc)) from exc
        cmds = raw_commands(resolved)
        if cmds:
            self.lookup_cache.forget()
            self._write(cmds, set())

    def _write(self, cmds: Sequence[Command], touched: set[str]) -> None:
        try:
            self.run(cmds)
        except BackendError as exc:
            text = str(exc)
            if "duplicate uuid" in text:
                raise TryAgain(f"row inserted already: {text}") from None
            m = _NO_ROW_RE.search(text)
            if m is not None and m.group(1) in touched:
                raise TryAgain(f"{m.group(2)} row {m.group(1)} is gone: {text}") from None
            raise
        self._txns += 1

    # -- basis check ---------------------------------------------------------------

    def _check_basis(self, basis: LbRowSet) -> None:
        """TryAgain when the database no longer holds what the plan was computed from.

        One read-only invocation: the basis's rows by UUID and, per load
        balancer row, the switches and routers holding it.
        """
        cmds: list[Command] = []
        tables: list[str] = []
        for table, uuids in (
            (LB, sorted(basis.lbs)),
            (HC, sorted(basis.health_checks)),
            ("NAT", sorted(basis.nats)),
        ):
            if uuids:
                cmds.append(list_cmd(table, uuids, if_exists=True))
                tables.append(table)
        holder_keys: list[tuple[str, str]] = []
        for table, holders in (
            ("Logical_Switch", basis.switches),
            ("Logical_Router", basis.routers),
        ):
            for u in sorted(set(basis.lbs) | set(holders)):
                lb = checked_uuid(u, "basis Load_Balancer")
                # Names only: a busy switch's load_balancer set can be huge.
                condition = f"load_balancer{{>=}}{lb}"
                cmds.append(["--columns=_uuid,name", "find", table, condition])
                tables.append(table)
                holder_keys.append((table, u))
        if not cmds:
            return
        parsed = parse_tables(self.run(cmds, json_output=True, read_only=True), tables)
        rows: dict[str, dict[str, dict[str, Any]]] = {}
        found: list[dict[str, dict[str, Any]]] = []
        for table, got in parsed:
            if table in (LB, HC, "NAT"):
                rows[table] = got
            else:
                found.append(got)
        names = {
            key: {r["name"] for r in got.values()}
            for key, got in zip(holder_keys, found, strict=True)
        }

        def row(table: str, u: str) -> Row | None:
            return rows.get(table, {}).get(u)

        check_basis(basis, row, lambda table, u: names[(table, u)])
