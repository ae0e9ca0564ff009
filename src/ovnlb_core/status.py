"""Octavia status reports: the operating-status roll-up of a row (spec 4.5).

Deviation from the reference (docs/compat.md, B36): a pool is not reported
OFFLINE merely because its row holds no member statuses at all.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from typing import Any

from ovnlb_core.formats import is_disabled
from ovnlb_core.model import PoolState, ProtocolRow
from ovnlb_core.octavia import OctaviaView

__all__ = [
    "ACTIVE",
    "DELETED",
    "ERROR",
    "Payload",
    "entry",
    "rollup",
]


Payload = dict[str, list[dict[str, Any]]]

ACTIVE = "ACTIVE"
DELETED = "DELETED"
ERROR = "ERROR"


def entry(
    oid: str, provisioning: str | None = ACTIVE, operating: str | None = None
) -> dict[str, Any]:
    """One status entry (keys only for what is given)."""
    out: dict[str, Any] = {"id": oid}
    if provisioning is not None:
        out["provisioning_status"] = provisioning
    if operating is not None:
        out["operating_status"] = operating
    return out


def _worst(values: list[str]) -> str:
    if "ERROR" in values:
        return "ERROR"
    if "DEGRADED" in values:
        return "DEGRADED"
    return "ONLINE"


_MEMBER_ID = operator.attrgetter("id")


def _admin(view: OctaviaView, kind: str, oid: str, enabled: bool) -> bool:
    """The object's admin state: Octavia's view when it knows, else the row's."""
    admin = view.admin(kind, oid)
    return enabled if admin is None else bool(admin)


def rollup(
    lb_name: str,
    row: ProtocolRow,
    view: OctaviaView,
    *,
    statuses: Mapping[str, str] | None = None,
    members: bool = True,
    pools: Sequence[PoolState] | None = None,
) -> Payload:
    """The roll-up of one row: every member status, every pool, listener, and the LB.

    ``statuses``: ``row.statuses()`` when the caller has it already. ``members=False``
    leaves ``members`` an empty list, for callers that replace it (member delete and
    update): the keys and their order are the same either way. ``pools``: the row's
    pools when a caller's draft changed them (``RowDraft.pools()``), else ``row.pools``.

    One pass over the statuses for the member entries (only when ``members``); a pool's
    members are looked at only when some member of the row is ``ERROR``, and then
    counted at C speed.
    """
    if statuses is None:
        statuses = row.statuses()
    member_entries: list[dict[str, Any]] = []
    if members:
        if None in statuses.values():  # not from a parsed row: entry() drops a None status
            member_entries = [entry(mid, ACTIVE, st) for mid, st in statuses.items()]
        else:
            member_entries = [
                {"id": mid, "provisioning_status": ACTIVE, "operating_status": st}
                for mid, st in statuses.items()
            ]
    any_error: bool | None = None
    pool_entries = []
    pool_status: dict[str, str] = {}
    for p in row.pools if pools is None else pools:
        if not _admin(view, "pools", p.id, p.enabled):
            st = "OFFLINE"
        else:
            if any_error is None:
                any_error = "ERROR" in statuses.values()
            # A member without a stored status counts as ONLINE: only stored ERRORs count.
            errors = (
                list(map(statuses.get, map(_MEMBER_ID, p.members))).count("ERROR")
                if any_error
                else 0
            )
            if p.members and errors == len(p.members):
                st = "ERROR"
            elif errors:
                st = "DEGRADED"
            else:
                st = "ONLINE"
        pool_status[p.id] = st
        pool_entries.append(entry(p.id, ACTIVE, st))
    listeners = []
    listener_status = []
    for li in row.listeners:
        if not _admin(view, "listeners", li.id, li.enabled):
            st = "OFFLINE"
        else:
            refs = [pool_status.get(li.pool_id, "ONLINE")] if li.pool_id else []
            st = _worst(refs)
        listener_status.append(st)
        listeners.append(entry(li.id, ACTIVE, st))
    lb_admin = view.admin("loadbalancers", lb_name)
    if lb_admin is None:
        lb_admin = not is_disabled(row.enabled)
    lb_st = "OFFLINE" if not lb_admin else _worst(listener_status)
    return {
        "loadbalancers": [entry(lb_name, ACTIVE, lb_st)],
        "listeners": listeners,
        "pools": pool_entries,
        "members": member_entries,
    }
