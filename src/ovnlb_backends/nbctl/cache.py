"""Everything about what an nbctl backend keeps across requests lives here: :class:`LookupCache`.

ovn-nbctl's replica has no indexes: a ``find`` scans its whole table (a few
microseconds per row, in every request). The cache keeps, across readers,
where rows were found (a name's one row, a pool key's rows, a switch's ports)
so that the next request reads those rows by UUID (a hash lookup in the
daemon) instead, or in the same request as the read that checks them.
It holds UUIDs only, never rows: every hit is checked against what the
server returns in the same request (see :class:`~.reader.NbctlReader`), and
a miss falls back to the ``find``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

__all__ = ["MAX_ENTRIES", "LookupCache"]

#: Past this many entries a map is emptied (a hint store, rebuilt by the next finds).
MAX_ENTRIES: Final = 100_000


class LookupCache:
    """Hints for an :class:`~.reader.NbctlReader`: where rows were found last time.

    ``name``: ``(table, name)`` -> the UUID of the only row of ``table``
    with that name. ``pool``: the ``external_ids`` keys of a load balancer
    lookup -> the UUIDs of the rows holding one of them. ``switch_ports``: a
    switch's UUID -> its port set and the ports whose rows a request wanted
    (its router ports). All are hints:
    readers verify them against the server before use and :meth:`forget`
    them when they no longer hold.
    """

    def __init__(self) -> None:
        self._names: dict[tuple[str, str], str] = {}
        # switch UUID -> (its ports, the ports whose rows were read)
        self._switches: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
        self._pools: dict[tuple[str, ...], tuple[str, ...]] = {}
        # row UUID -> the entries naming it (for forget_rows)
        self._by_row: dict[str, set[tuple[str, ...]]] = {}

    def name(self, table: str, name: str) -> str | None:
        """The UUID last found as the only row of ``table`` named ``name``."""
        return self._names.get((table, name))

    def set_name(self, table: str, name: str, uuids: Sequence[str]) -> None:
        """Remember what a ``find`` by name returned (only a single row is kept)."""
        if len(uuids) != 1:
            self._names.pop((table, name), None)
            return
        if len(self._names) >= MAX_ENTRIES:
            self.forget()
        self._names[(table, name)] = uuids[0]
        self._by_row.setdefault(uuids[0], set()).add(("name", table, name))

    def learn_names(self, table: str, rows: Iterable[tuple[str, str]]) -> None:
        """Remember where every name of a whole-table read is: ``rows`` are all
        ``(uuid, name)`` of ``table`` (a name with several rows is forgotten)."""
        found: dict[str, list[str]] = {}
        for uuid, name in rows:
            found.setdefault(name, []).append(uuid)
        if len(found) >= MAX_ENTRIES:
            return  # a hint store, not a replica of huge tables
        for name, uuids in found.items():
            self.set_name(table, name, uuids)

    def pool(self, keys: Sequence[str]) -> tuple[str, ...]:
        """The UUIDs last found holding one of ``keys`` (empty: unknown)."""
        return self._pools.get(tuple(keys), ())

    def set_pool(self, keys: Sequence[str], uuids: Sequence[str]) -> None:
        """Remember what a ``find`` by ``external_ids`` keys returned (nothing: forgotten)."""
        if not uuids:
            self._pools.pop(tuple(keys), None)
            return
        if len(self._pools) >= MAX_ENTRIES:
            self.forget()
        self._pools[tuple(keys)] = tuple(sorted(uuids))
        for u in uuids:
            self._by_row.setdefault(u, set()).add(("pool", *keys))

    def switch_ports(self, ls: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The port set last read of switch ``ls`` and the ports whose rows were
        wanted (both empty: unknown)."""
        return self._switches.get(ls, ((), ()))

    def set_switch_ports(
        self, ls: str, ports: Sequence[str], wanted: Sequence[str] | None = None
    ) -> None:
        """Remember switch ``ls``'s port set (and, when given, the ports whose rows
        were wanted; else those remembered stay)."""
        if len(self._switches) >= MAX_ENTRIES:
            self.forget()
        keep = tuple(sorted(wanted)) if wanted is not None else self.switch_ports(ls)[1]
        self._switches[ls] = (tuple(sorted(ports)), keep)

    def forget_name(self, table: str, name: str) -> None:
        """Drop the hint for ``name`` (a row of that name was just written)."""
        self._names.pop((table, name), None)

    def forget_rows(self, uuids: Iterable[str]) -> None:
        """Drop every hint that names one of ``uuids`` (rows just deleted or changed)."""
        for u in uuids:
            for entry in self._by_row.pop(u, ()):
                if entry[0] == "name":
                    self._names.pop((entry[1], entry[2]), None)
                else:
                    self._pools.pop(entry[1:], None)

    def forget(self) -> None:
        """Drop every hint."""
        self._names.clear()
        self._pools.clear()
        self._switches.clear()
        self._by_row.clear()
