"""Sync actions: everything about what a sync does to each load balancer lives here (one
:class:`SyncAction` per load balancer, one transaction each; :func:`plan_all` plans them
all from one read view).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum

import attrs

from ovnlb_core import requests as rq
from ovnlb_core.errors import OvnlbError, RowParseError
from ovnlb_core.model import LoadBalancerState
from ovnlb_core.nb import NbReader
from ovnlb_core.octavia import Pool
from ovnlb_core.pipeline import plan_request
from ovnlb_core.plan import (
    LbRowSet,
    Plan,
    diff,
)
from ovnlb_core.sync.desired import desired_state, harmonize
from ovnlb_core.sync.ingest import DesiredLb
from ovnlb_core.sync.ownership import orphan_names, rowset
from ovnlb_core.topology import Subnet, Topology

__all__ = [
    "ActionKind",
    "SyncAction",
    "delete_action",
    "plan_all",
    "sync_action",
]


class ActionKind(StrEnum):
    """What a sync does to one load balancer."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    IN_SYNC = "in-sync"
    ERROR = "error"


@attrs.frozen
class SyncAction:
    """The change one load balancer needs (one transaction)."""

    lb_id: str
    kind: ActionKind
    plan: Plan = attrs.field(factory=Plan)
    actual: LbRowSet = attrs.field(factory=LbRowSet)
    desired: LbRowSet = attrs.field(factory=LbRowSet)
    #: Malformed values found in the rows (the plan rewrites or removes them).
    issues: tuple[str, ...] = ()
    error: str | None = None

    @property
    def drift(self) -> bool:
        """True when NB differs from Octavia's view for this load balancer."""
        return self.kind in (ActionKind.CREATE, ActionKind.UPDATE, ActionKind.DELETE)


def sync_action(lb: DesiredLb, actual: LbRowSet, topology: Topology) -> SyncAction:
    """The action that makes ``actual`` (this LB's rows) match Octavia's ``lb``.

    The request pipeline of every request (:func:`ovnlb_core.pipeline.plan_request`)
    with, as the request, "Octavia's view of this load balancer, harmonised with
    the rows" (:func:`desired_state`, :func:`harmonize`).
    """
    if lb.problems:
        return SyncAction(lb.id, ActionKind.ERROR, actual=actual, error="; ".join(lb.problems))
    issues: list[RowParseError] = []

    def request(ctx: rq.Context, current: LoadBalancerState | None) -> rq.Outcome:
        fresh, nats = desired_state(lb, ctx)
        pools = [Pool.from_dict(p) for p in lb.data.get("pools") or ()]
        timeouts = {
            p.id: str(p.session_persistence.timeout)
            if p.session_persistence is not None and p.session_persistence.timeout
            else None
            for p in pools
        }
        return rq.Outcome(harmonize(fresh, current, timeouts, ctx.topology), (), tuple(nats))

    try:
        p = plan_request(rq.Context(topology, lb.view()), lb.id, actual, request, issues=issues)
    except OvnlbError as exc:
        texts = tuple(str(i) for i in issues)
        return SyncAction(lb.id, ActionKind.ERROR, actual=actual, issues=texts, error=str(exc))
    texts = tuple(str(i) for i in issues)
    if p.plan.is_empty():
        kind = ActionKind.IN_SYNC
    else:
        kind = ActionKind.UPDATE if actual.lbs else ActionKind.CREATE
    return SyncAction(lb.id, kind, p.plan, p.actual, p.desired, texts)


def delete_action(name: str, actual: LbRowSet) -> SyncAction:
    """The action that removes an orphan's (owned) rows."""
    plan = diff(actual, LbRowSet())
    kind = ActionKind.DELETE if not plan.is_empty() else ActionKind.IN_SYNC
    return SyncAction(name, kind, plan, actual, LbRowSet())


def plan_all(
    lbs: Sequence[DesiredLb],
    reader: NbReader,
    subnets: Mapping[str, Subnet],
    *,
    delete_orphans: bool = True,
) -> list[SyncAction]:
    """Every action, from one read view: Octavia's load balancers in order, then orphans."""
    topology = Topology(reader, subnets)
    out = [sync_action(lb, rowset(reader, lb.id), topology) for lb in lbs]
    if delete_orphans:
        for name in orphan_names(reader, (lb.id for lb in lbs)):
            out.append(delete_action(name, rowset(reader, name, owned_only=True)))
    return out
