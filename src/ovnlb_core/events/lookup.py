"""Row look-ups of the event handlers: everything about finding the rows and the load
balancers an NB change concerns lives here (referring rows, the LBs a switch or router
holds, whether a NAT change matters to floating IPs).
"""

from __future__ import annotations

from collections.abc import Iterable

from ovnlb_core.events.model import RowChange
from ovnlb_core.nb import NbReader

__all__ = [
    "FIP_PORT_KEY",
    "holder_lbs",
    "nat_relevant",
]


FIP_PORT_KEY = "neutron:fip_port_id"


def _lb_names_of(reader: NbReader, uuids: Iterable[str]) -> list[str]:
    table = reader.rows("Load_Balancer")
    out: list[str] = []
    for u in uuids:
        row = table.get(u)
        if row is not None:
            name = str(row.get("name", ""))
            if name and name not in out:
                out.append(name)
    return out


def holder_lbs(reader: NbReader, table: str, name: str) -> list[str]:
    """Names of the load balancers attached to the switch or router ``name``."""
    uuids: list[str] = []
    for _u, row in reader.by_name(table, name):
        uuids += list(row.get("load_balancer", ()))
    return _lb_names_of(reader, uuids)


def nat_relevant(change: RowChange) -> bool:
    """True when a NAT change touches a column a floating IP depends on (or creates or deletes)."""
    if change.old is None or change.new is None:
        return True
    return any(
        change.old.get(c) != change.new.get(c)
        for c in ("external_ip", "logical_ip", "type", "external_ids")
    )
