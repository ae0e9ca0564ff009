"""Ownership: everything about which ``Load_Balancer`` rows a sync reads and may
delete lives here.

A ``Load_Balancer`` row belongs to the
Octavia provider when its ``name`` is a UUID (the Octavia id, spec 1.1), its
``external_ids`` hold ``neutron:vip``, ``neutron:vip_port_id`` and
``enabled`` (written at the creation of every provider row and never
removed, spec 1.2) and no ``neutron:device_owner`` (never written by the
provider; ``port_forwarding_plugin`` marks Neutron's port-forwarding rows).
Rows of a name Octavia does not know are deleted only when owned. Rows with
``neutron:device_owner=port_forwarding_plugin`` are never read as part of
any load balancer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ovnlb_core.formats import KEY_ENABLED, KEY_VIP, KEY_VIP_PORT, is_uuid
from ovnlb_core.nb import NbReader
from ovnlb_core.plan import (
    LbRowSet,
)
from ovnlb_core.rows import lb_rowset

__all__ = [
    "DRIVER_KEYS",
    "KEY_DEVICE_OWNER",
    "PORT_FORWARDING",
    "is_owned",
    "is_port_forwarding",
    "orphan_names",
    "rowset",
]


KEY_DEVICE_OWNER = "neutron:device_owner"


PORT_FORWARDING = "port_forwarding_plugin"


#: external_ids keys every provider row gets at creation and never loses (spec 1.2).
DRIVER_KEYS = (KEY_VIP, KEY_VIP_PORT, KEY_ENABLED)


def is_port_forwarding(external_ids: Mapping[str, str]) -> bool:
    """True for a row of Neutron's port-forwarding plugin (never touched by a sync)."""
    return external_ids.get(KEY_DEVICE_OWNER) == PORT_FORWARDING


def is_owned(name: str, external_ids: Mapping[str, str]) -> bool:
    """True when the row is the Octavia provider's (see the module docstring)."""
    return (
        is_uuid(name)
        and all(k in external_ids for k in DRIVER_KEYS)
        and KEY_DEVICE_OWNER not in external_ids
    )


def _only(rows: LbRowSet, keep: Iterable[str]) -> LbRowSet:
    keep = set(keep)
    if keep == set(rows.lbs):
        return rows
    lbs = {u: r for u, r in rows.lbs.items() if u in keep}
    hcs_used = {h for r in lbs.values() for h in r.health_check}
    return LbRowSet(
        lbs=lbs,
        health_checks={u: h for u, h in rows.health_checks.items() if u in hcs_used},
        switches={u: s for u, s in rows.switches.items() if u in keep},
        routers={u: s for u, s in rows.routers.items() if u in keep},
    )


def rowset(reader: NbReader, name: str, *, owned_only: bool = False) -> LbRowSet:
    """The rows of load balancer ``name``, without port-forwarding rows (or only owned rows)."""
    rows = lb_rowset(reader, name)
    keep = [
        u
        for u, r in rows.lbs.items()
        if not is_port_forwarding(r.external_ids)
        and (not owned_only or is_owned(r.name, r.external_ids))
    ]
    return _only(rows, keep)


def orphan_names(reader: NbReader, known: Iterable[str]) -> list[str]:
    """Names of owned load balancers Octavia does not know, sorted."""
    known = set(known)
    out: set[str] = set()
    for row in reader.rows("Load_Balancer").values():
        name = str(row.get("name", ""))
        if name not in known and is_owned(name, row.get("external_ids", {})):
            out.add(name)
    return sorted(out)
