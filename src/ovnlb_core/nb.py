"""Everything about the NB tables ovnlb reads or writes lives here: schema, reader, snapshot.

A backend hands the core an :class:`NbSnapshot` (or anything with the same
``rows``/``by_name`` methods) and receives a :class:`~ovnlb_core.plan.Plan`.

Values use one canonical Python form whatever the backend:

* string / integer / boolean scalar: the Python value;
* optional scalar (``min 0, max 1``): the value or ``None``;
* set: a ``tuple`` of values, sorted;
* map: a ``dict`` of ``str`` to ``str``;
* reference: the referenced row's UUID as a string (sets of references as a
  sorted tuple of UUID strings).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal, Protocol

import attrs

__all__ = [
    "NAMED_TABLES",
    "NON_ROOT_TABLES",
    "SCHEMA",
    "Column",
    "ColumnKind",
    "NbReader",
    "NbSnapshot",
    "Row",
    "full_row",
]


Row = Mapping[str, Any]

ColumnKind = Literal["scalar", "optional", "set", "map"]


@attrs.frozen
class Column:
    """Type of one column: its kind, its atom type and, for references, the target table."""

    kind: ColumnKind
    atom: Literal["string", "integer", "boolean", "uuid"] = "string"
    ref_table: str | None = None
    weak: bool = False

    def default(self) -> Any:
        """The OVSDB default value of the column in canonical form."""
        if self.kind == "map":
            return {}
        if self.kind == "set":
            return ()
        if self.kind == "optional":
            return None
        return {"string": "", "integer": 0, "boolean": False, "uuid": ""}[self.atom]


def _ref(table: str, kind: ColumnKind = "set", weak: bool = False) -> Column:
    return Column(kind, "uuid", table, weak)


_S = Column("scalar")
_OPT = Column("optional")
_SET = Column("set")
_MAP = Column("map")

#: The subset of the OVN NB schema (7.0.0, OVN 23.03) that ovnlb reads or writes.
SCHEMA: Final[dict[str, dict[str, Column]]] = {
    "Logical_Switch": {
        "name": _S,
        "ports": _ref("Logical_Switch_Port"),
        "load_balancer": _ref("Load_Balancer", weak=True),
        "other_config": _MAP,
        "external_ids": _MAP,
    },
    "Logical_Switch_Port": {
        "name": _S,
        "type": _S,
        "options": _MAP,
        "addresses": _SET,
        "port_security": _SET,
        "enabled": Column("optional", "boolean"),
        "up": Column("optional", "boolean"),
        "external_ids": _MAP,
    },
    "Logical_Router": {
        "name": _S,
        "ports": _ref("Logical_Router_Port"),
        "nat": _ref("NAT"),
        "load_balancer": _ref("Load_Balancer", weak=True),
        "enabled": Column("optional", "boolean"),
        "options": _MAP,
        "external_ids": _MAP,
    },
    "Logical_Router_Port": {
        "name": _S,
        "mac": _S,
        "networks": _SET,
        "gateway_chassis": _ref("Gateway_Chassis"),
        "ha_chassis_group": _ref("HA_Chassis_Group", kind="optional"),
        "options": _MAP,
        "external_ids": _MAP,
    },
    "Gateway_Chassis": {
        "name": _S,
        "chassis_name": _S,
        "priority": Column("scalar", "integer"),
        "external_ids": _MAP,
        "options": _MAP,
    },
    "HA_Chassis_Group": {
        "name": _S,
        "ha_chassis": _ref("HA_Chassis"),
        "external_ids": _MAP,
    },
    "HA_Chassis": {
        "chassis_name": _S,
        "priority": Column("scalar", "integer"),
        "external_ids": _MAP,
    },
    "NAT": {
        "type": _S,
        "external_ip": _S,
        "external_mac": _OPT,
        "logical_ip": _S,
        "logical_port": _OPT,
        "options": _MAP,
        "external_ids": _MAP,
    },
    "Load_Balancer": {
        "name": _S,
        "protocol": _OPT,
        "vips": _MAP,
        "external_ids": _MAP,
        "selection_fields": _SET,
        "options": _MAP,
        "ip_port_mappings": _MAP,
        "health_check": _ref("Load_Balancer_Health_Check"),
    },
    "Load_Balancer_Health_Check": {
        "vip": _S,
        "options": _MAP,
        "external_ids": _MAP,
    },
}

#: Tables that are garbage collected when no strong reference points at them.
NON_ROOT_TABLES: Final[frozenset[str]] = frozenset(
    {
        "Logical_Switch_Port",
        "Logical_Router_Port",
        "Gateway_Chassis",
        "HA_Chassis",
        "NAT",
        "Load_Balancer_Health_Check",
    }
)

#: Tables whose rows are named by a ``name`` column.
NAMED_TABLES: Final[frozenset[str]] = frozenset(
    {
        "Logical_Switch",
        "Logical_Switch_Port",
        "Logical_Router",
        "Logical_Router_Port",
        "HA_Chassis_Group",
        "Gateway_Chassis",
        "Load_Balancer",
    }
)


class NbReader(Protocol):
    """Read access to NB rows in canonical form (see the module docstring)."""

    def rows(self, table: str) -> Mapping[str, Row]:
        """All rows of ``table``, keyed by UUID."""
        ...

    def by_name(self, table: str, name: str) -> list[tuple[str, Row]]:
        """Rows of ``table`` whose ``name`` column equals ``name`` (UUID, row)."""
        ...

    def referrers(self, table: str, column: str, uuid: str) -> list[tuple[str, Row]]:
        """Rows of ``table`` whose reference column ``column`` holds ``uuid`` (UUID, row)."""
        ...

    def load_balancers_with_external_id(self, keys: Sequence[str]) -> list[tuple[str, Row]]:
        """``Load_Balancer`` rows whose external_ids has one of ``keys``, in table order."""
        ...

    def load_balancers_with_mapping(self, key: str, value: str) -> list[tuple[str, Row]]:
        """``Load_Balancer`` rows with ``ip_port_mappings[key] == value``, in table order."""
        ...


@attrs.define
class NbSnapshot:
    """An in-memory copy of NB rows; implements :class:`NbReader`."""

    tables: dict[str, dict[str, dict[str, Any]]] = attrs.field(factory=dict)
    _name_index: dict[str, dict[str, list[str]]] | None = attrs.field(default=None, init=False)

    def rows(self, table: str) -> Mapping[str, Row]:
        """All rows of ``table``, keyed by UUID."""
        return self.tables.get(table, {})

    def by_name(self, table: str, name: str) -> list[tuple[str, Row]]:
        """Rows of ``table`` whose ``name`` column equals ``name``."""
        if self._name_index is None:
            index: dict[str, dict[str, list[str]]] = {}
            for tname, rows in self.tables.items():
                if tname not in NAMED_TABLES:
                    continue
                tindex: dict[str, list[str]] = {}
                for uuid, row in rows.items():
                    tindex.setdefault(row.get("name", ""), []).append(uuid)
                index[tname] = tindex
            self._name_index = index
        uuids = self._name_index.get(table, {}).get(name, [])
        rows = self.tables[table] if uuids else {}
        return [(u, rows[u]) for u in uuids]

    def referrers(self, table: str, column: str, uuid: str) -> list[tuple[str, Row]]:
        """Rows of ``table`` whose reference column ``column`` holds ``uuid`` (a scan)."""
        return [(u, r) for u, r in self.rows(table).items() if uuid in r.get(column, ())]

    def load_balancers_with_external_id(self, keys: Sequence[str]) -> list[tuple[str, Row]]:
        """``Load_Balancer`` rows whose external_ids has one of ``keys`` (a scan)."""
        return [
            (u, r)
            for u, r in self.rows("Load_Balancer").items()
            if any(k in r.get("external_ids", {}) for k in keys)
        ]

    def load_balancers_with_mapping(self, key: str, value: str) -> list[tuple[str, Row]]:
        """``Load_Balancer`` rows with ``ip_port_mappings[key] == value`` (a scan)."""
        return [
            (u, r)
            for u, r in self.rows("Load_Balancer").items()
            if r.get("ip_port_mappings", {}).get(key) == value
        ]


def full_row(table: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``row`` completed with the default of every known column it lacks."""
    out = {col: spec.default() for col, spec in SCHEMA[table].items()}
    out.update(row)
    return out
