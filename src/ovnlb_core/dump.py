"""Everything about the canonical NB dump lives here (``expect.nb``; conformance-format.md 6).

:func:`canonical_dump` turns the whole NB content seen through an
:class:`~ovnlb_core.nb.NbReader` into plain JSON data in which no row UUID
appears and every list has a documented order, so that two databases holding
the same rows dump equal whatever UUIDs their rows got. Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ovnlb_core.nb import NbReader, Row

__all__ = ["canonical_dump", "lb_labels"]


# Same text as json.dumps(item, sort_keys=True), which the spec's sort order is
# defined by (default separators ", " and ": "); one reused encoder is cheaper.
# check_circular only guards against cycles, which plain row data cannot have.
_ENCODER = json.JSONEncoder(sort_keys=True, check_circular=False)


def _key(item: Mapping[str, Any]) -> str:
    return _ENCODER.encode(item)


def _protocol(row: Row) -> str | None:
    proto = row.get("protocol")
    return str(proto) if proto else None


def _hc_item(row: Row) -> dict[str, Any]:
    return {
        "vip": row.get("vip", ""),
        "options": dict(row.get("options", {})),
        "external_ids": dict(row.get("external_ids", {})),
    }


def _lb_item(row: Row, hc_items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": row.get("name", ""),
        "protocol": _protocol(row),
        "vips": dict(row.get("vips", {})),
        "external_ids": dict(row.get("external_ids", {})),
        "selection_fields": sorted(row.get("selection_fields", ())),
        "options": dict(row.get("options", {})),
        "ip_port_mappings": dict(row.get("ip_port_mappings", {})),
        "health_check": hc_items,
    }


def _labels(lb_rows: Mapping[str, Row], items: Mapping[str, dict[str, Any]]) -> dict[str, str]:
    """Label per LB UUID; ``items`` (the rows' dumps) order duplicates independently of UUIDs."""
    groups: dict[str, list[str]] = {}
    for uuid, row in lb_rows.items():
        base = f"{row.get('name', '')}/{_protocol(row) or 'none'}"
        groups.setdefault(base, []).append(uuid)
    labels: dict[str, str] = {}
    for base, uuids in groups.items():
        if len(uuids) == 1:
            labels[uuids[0]] = base
            continue
        # The spec leaves the order of duplicates open; content first keeps the
        # dump independent of UUIDs unless two rows are identical too.
        uuids.sort(key=lambda u: (_key(items[u]), u))
        for i, uuid in enumerate(uuids):
            labels[uuid] = base if i == 0 else f"{base}#{i + 1}"
    return labels


def lb_labels(reader: NbReader) -> dict[str, str]:
    """The dump label of every ``Load_Balancer`` row, keyed by row UUID."""
    return _dump_lbs(reader)[0]


def _dump_lbs(
    reader: NbReader,
) -> tuple[dict[str, str], list[dict[str, Any]], list[dict[str, Any]]]:
    """Labels, the ``Load_Balancer`` list and the ``Load_Balancer_Health_Check`` list."""
    lb_rows = reader.rows("Load_Balancer")
    hc_rows = reader.rows("Load_Balancer_Health_Check")
    hc_items = {uuid: _hc_item(row) for uuid, row in hc_rows.items()}
    hc_keys: dict[str, str] = {}

    def hc_key(uuid: str) -> str:
        key = hc_keys.get(uuid)
        if key is None:
            key = hc_keys[uuid] = _key(hc_items[uuid])
        return key

    items: dict[str, dict[str, Any]] = {}
    for uuid, row in lb_rows.items():
        # A dangling reference cannot be inlined; OVSDB never leaves one.
        refs = [u for u in row.get("health_check", ()) if u in hc_items]
        if len(refs) > 1:
            refs.sort(key=hc_key)
        items[uuid] = _lb_item(row, [_hc_item(hc_rows[u]) for u in refs])

    labels = _labels(lb_rows, items)
    lbs = []
    referenced_by: dict[str, list[str]] = {u: [] for u in hc_items}
    for uuid, item in items.items():
        label = labels[uuid]
        lbs.append({"label": label, **item})
        for hc in lb_rows[uuid].get("health_check", ()):
            if hc in referenced_by:
                referenced_by[hc].append(label)
    lbs.sort(key=lambda item: str(item["label"]))

    hcs = [{**hc_items[u], "referenced_by": sorted(refs)} for u, refs in referenced_by.items()]
    hcs.sort(key=_key)
    return labels, lbs, hcs


def _holders(reader: NbReader, table: str, labels: Mapping[str, str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for row in reader.rows(table).values():
        names = out.setdefault(str(row.get("name", "")), [])
        names.extend(labels[u] for u in row.get("load_balancer", ()) if u in labels)
    for names in out.values():
        names.sort()
    return out


def _nat_floating_ips(reader: NbReader) -> list[dict[str, Any]]:
    nats = []
    for row in reader.rows("NAT").values():
        ext = row.get("external_ids", {})
        if "neutron:fip_id" not in ext:
            continue
        nats.append(
            {
                "type": row.get("type", ""),
                "external_ip": row.get("external_ip", ""),
                "logical_ip": row.get("logical_ip", ""),
                "logical_port": row.get("logical_port"),
                "external_mac": row.get("external_mac"),
                "external_ids": dict(ext),
            }
        )
    # Two NATs of one FIP do not occur; the full dump as tie-break keeps the order total.
    nats.sort(key=lambda n: (n["external_ids"]["neutron:fip_id"], _key(n)))
    return nats


def canonical_dump(reader: NbReader) -> dict[str, Any]:
    """The canonical NB dump (conformance-format.md section 6) of everything ``reader`` sees.

    One pass over each table; the result shares no mutable object with the rows.
    """
    labels, lbs, hcs = _dump_lbs(reader)
    return {
        "Load_Balancer": lbs,
        "Load_Balancer_Health_Check": hcs,
        "Logical_Switch_load_balancers": _holders(reader, "Logical_Switch", labels),
        "Logical_Router_load_balancers": _holders(reader, "Logical_Router", labels),
        "NAT_floating_ips": _nat_floating_ips(reader),
    }
