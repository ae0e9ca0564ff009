"""Everything the backends share about plan rows lives here.

How a planned ``Load_Balancer`` / ``Load_Balancer_Health_Check`` row maps to
NB columns (:func:`lb_columns`, :func:`hc_columns`), and the basis check every
backend runs before a commit (:func:`check_basis`): the rows, attachments and
NAT columns a plan was computed from must still be what the backend reads,
else :class:`~ovnlb_backends.base.TryAgain`. Each backend supplies only how it
reads a row and a load balancer's holders.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ovnlb_core.errors import TryAgain
from ovnlb_core.plan import HealthCheckRow, LbRowSet, LoadBalancerRow, NatColumns

__all__ = ["bucket", "check_basis", "hc_columns", "lb_columns", "rekey"]


def lb_columns(row: LoadBalancerRow) -> dict[str, Any]:
    """The NB columns of a planned ``Load_Balancer`` row."""
    return {
        "name": row.name,
        "protocol": row.protocol,
        "vips": row.vips,
        "external_ids": row.external_ids,
        "selection_fields": row.selection_fields,
        "options": row.options,
        "ip_port_mappings": row.ip_port_mappings,
        "health_check": row.health_check,
    }


def hc_columns(row: HealthCheckRow) -> dict[str, Any]:
    """The NB columns of a planned ``Load_Balancer_Health_Check`` row."""
    return {"vip": row.vip, "options": row.options, "external_ids": row.external_ids}


def check_basis(
    basis: LbRowSet,
    row: Callable[[str, str], Mapping[str, Any] | None],
    holders: Callable[[str, str], set[str]],
) -> None:
    """Raise :class:`TryAgain` when what a backend reads now differs from ``basis``.

    ``row(table, uuid)`` is the canonical row (None when gone);
    ``holders(table, lb_uuid)`` the names of the ``Logical_Switch`` /
    ``Logical_Router`` rows whose ``load_balancer`` holds ``lb_uuid``.
    """
    for u, lb in basis.lbs.items():
        now = row("Load_Balancer", u)
        if now is None or LoadBalancerRow(uuid=u, **now) != lb:
            raise TryAgain(f"Load_Balancer row {u} changed since it was read")
    for u, hc in basis.health_checks.items():
        hnow = row("Load_Balancer_Health_Check", u)
        if hnow is None or HealthCheckRow(uuid=u, **hnow) != hc:
            raise TryAgain(f"Load_Balancer_Health_Check row {u} changed since it was read")
    for table, attached in (
        ("Logical_Switch", basis.switches),
        ("Logical_Router", basis.routers),
    ):
        for u in sorted(set(basis.lbs) | set(attached)):
            if holders(table, u) != set(attached.get(u, frozenset())):
                raise TryAgain(f"{table} attachments of {u} changed since they were read")
    for u, nat in basis.nats.items():
        nnow = row("NAT", u)
        if nnow is None or NatColumns(u, nnow["logical_port"], nnow["external_mac"]) != nat:
            raise TryAgain(f"NAT row {u} changed since it was read")


def bucket(index: dict[Any, set[Any]], key: Any, member: Any, add: bool) -> None:
    """Add ``member`` to (or take it out of) ``index[key]``; an emptied bucket goes."""
    if add:
        index.setdefault(key, set()).add(member)
        return
    holders = index.get(key)
    if holders is not None:
        holders.discard(member)
        if not holders:
            del index[key]


def rekey(
    index: dict[Any, set[Any]], keys_of: dict[Any, set[Any]], member: Any, keys: set[Any]
) -> None:
    """Move ``member`` in ``index`` from its keys in ``keys_of`` to ``keys`` (and record them)."""
    old = keys_of.get(member, set())
    for key in old - keys:
        bucket(index, key, member, add=False)
    for key in keys - old:
        bucket(index, key, member, add=True)
    if keys:
        keys_of[member] = keys
    else:
        keys_of.pop(member, None)
