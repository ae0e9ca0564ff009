"""Reading the rows of one load balancer out of an NB view.

:func:`lb_rowset` collects everything of one Octavia load balancer (its
``Load_Balancer`` rows, their health checks, and the switches and routers
holding them) into an :class:`~ovnlb_core.plan.LbRowSet`, the input of
:func:`ovnlb_core.parse.parse` and of :func:`ovnlb_core.plan.diff`.
"""

from __future__ import annotations

from collections.abc import Iterator

from ovnlb_core.formats import pool_key
from ovnlb_core.nb import NbReader, Row
from ovnlb_core.plan import HealthCheckRow, LbRowSet, LoadBalancerRow

__all__ = [
    "find_lb_of_pool",
    "find_lbs_by_mapping",
    "hc_row",
    "holders",
    "lb_names",
    "lb_row",
    "lb_rowset",
]


def lb_row(uuid: str, row: Row) -> LoadBalancerRow:
    """A canonical ``Load_Balancer`` row -> :class:`LoadBalancerRow`."""
    return LoadBalancerRow(
        uuid=uuid,
        name=row.get("name", ""),
        protocol=row.get("protocol"),
        vips=row.get("vips", {}),
        external_ids=row.get("external_ids", {}),
        selection_fields=row.get("selection_fields", ()),
        options=row.get("options", {}),
        ip_port_mappings=row.get("ip_port_mappings", {}),
        health_check=row.get("health_check", ()),
    )


def hc_row(uuid: str, row: Row) -> HealthCheckRow:
    """A canonical ``Load_Balancer_Health_Check`` row -> :class:`HealthCheckRow`."""
    return HealthCheckRow(
        uuid=uuid,
        vip=row.get("vip", ""),
        options=row.get("options", {}),
        external_ids=row.get("external_ids", {}),
    )


def holders(reader: NbReader, table: str, lb_uuid: str) -> frozenset[str]:
    """Names of the switches or routers whose ``load_balancer`` holds the row."""
    return frozenset(
        str(r.get("name", "")) for _u, r in reader.referrers(table, "load_balancer", lb_uuid)
    )


def lb_rowset(reader: NbReader, name: str) -> LbRowSet:
    """Every NB row of the Octavia load balancer ``name``."""
    lbs = {}
    hcs = {}
    switches = {}
    routers = {}
    hc_table = reader.rows("Load_Balancer_Health_Check")
    for uuid, row in reader.by_name("Load_Balancer", name):
        lbs[uuid] = lb_row(uuid, row)
        for hu in row.get("health_check", ()):
            if hu in hc_table:
                hcs[hu] = hc_row(hu, hc_table[hu])
        ls = holders(reader, "Logical_Switch", uuid)
        if ls:
            switches[uuid] = ls
        lr = holders(reader, "Logical_Router", uuid)
        if lr:
            routers[uuid] = lr
    return LbRowSet(lbs=lbs, health_checks=hcs, switches=switches, routers=routers)


def lb_names(reader: NbReader) -> Iterator[str]:
    """Names of every ``Load_Balancer`` row (each once)."""
    seen: set[str] = set()
    for row in reader.rows("Load_Balancer").values():
        name = str(row.get("name", ""))
        if name not in seen:
            seen.add(name)
            yield name


def find_lb_of_pool(reader: NbReader, pool_id: str) -> str | None:
    """The load balancer whose rows hold ``pool_<id>`` (either admin form).

    Through the reader's ``load_balancers_with_external_id`` (an index lookup
    in the IDL and memory backends), the first such row in table order.
    """
    keys = (pool_key(pool_id), pool_key(pool_id, enabled=False))
    found = reader.load_balancers_with_external_id(keys)
    return str(found[0][1].get("name", "")) if found else None


def find_lbs_by_mapping(reader: NbReader, key: str, value: str, protocol: str) -> list[str]:
    """Load balancers with a row whose ``ip_port_mappings[key] == value`` on ``protocol``."""
    out: list[str] = []
    for _u, row in reader.load_balancers_with_mapping(key, value):
        if row.get("protocol") == protocol and row.get("ip_port_mappings", {}).get(key) == value:
            name = str(row.get("name", ""))
            if name not in out:
                out.append(name)
    return out
