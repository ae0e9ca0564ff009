"""The event model: everything about what an event asks for and how it is planned lives here.

A changed row (:class:`RowChange`) becomes :class:`LbAction` values, each a request
closure for one load balancer; :func:`plan_action` plans one against the rows read now,
through the pipeline every request takes. :func:`compose` and :func:`rows_fn` build
closures out of smaller ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal

import attrs

from ovnlb_core import requests as rq
from ovnlb_core.model import LoadBalancerState, ProtocolRow
from ovnlb_core.nb import NbReader, Row
from ovnlb_core.octavia import OctaviaView
from ovnlb_core.pipeline import RequestFn, plan_request_in
from ovnlb_core.plan import LbRowSet, NatUpdate, Plan
from ovnlb_core.status import Payload
from ovnlb_core.topology import Subnet, Topology

__all__ = [
    "ActionPlan",
    "Kind",
    "LbAction",
    "RowChange",
    "compose",
    "plan_action",
    "rows_fn",
]


Kind = Literal["router_interface", "vip_fip", "member_fip", "member_health", "catch_up"]


@attrs.frozen
class RowChange:
    """One changed row: ``old`` is None for a created row, ``new`` None for a deleted one."""

    table: str
    uuid: str
    old: Row | None
    new: Row | None

    @property
    def rows(self) -> list[Row]:
        """The old and the new value, whichever exist."""
        return [r for r in (self.old, self.new) if r is not None]


@attrs.frozen(eq=False)
class LbAction:
    """A request closure for one load balancer, caused by an event.

    ``report``: the statuses the closure returns are to be sent even when
    the rows do not change (a live Service_Monitor event; the reference
    reports every event that matched a member).
    """

    lb_id: str
    kind: Kind
    fn: RequestFn
    report: bool = False
    #: What the action is limited to (e.g. ``router|switch``); part of :func:`dedupe`'s key.
    scope: str = ""


@attrs.frozen
class ActionPlan:
    """What an action does to the rows read now: the basis, the plan and the outcome."""

    actual: LbRowSet
    plan: Plan
    outcome: rq.Outcome


def plan_action(
    reader: NbReader,
    action: LbAction,
    subnets: Mapping[str, Subnet] | None = None,
    view: OctaviaView | None = None,
) -> ActionPlan:
    """The plan of ``action`` against the rows ``reader`` shows (one transaction).

    The request pipeline of every request (:func:`ovnlb_core.pipeline.plan_request_in`);
    a load balancer gone meanwhile gets no rows written.
    """
    p = plan_request_in(reader, action.lb_id, action.fn, subnets, view, needs_rows=True)
    return ActionPlan(p.actual, p.plan, p.outcome)


def compose(*fns: RequestFn) -> RequestFn:
    """Run request closures one after the other on the same state; statuses and NATs add up."""

    def run(ctx: rq.Context, state: LoadBalancerState | None) -> rq.Outcome:
        statuses: list[Payload] = []
        nats: list[NatUpdate] = []
        for fn in fns:
            out = fn(ctx, state)
            state = out.state
            statuses += out.statuses
            nats += [n for n in out.nat_updates if n not in nats]
        return rq.Outcome(state, tuple(statuses), tuple(nats))

    return run


def rows_fn(fn: Callable[[ProtocolRow, Topology], ProtocolRow]) -> RequestFn:
    """A request closure applying ``fn`` to every row of the state."""

    def run(ctx: rq.Context, state: LoadBalancerState | None) -> rq.Outcome:
        if state is None:
            return rq.Outcome(state)
        for row in state.rows:
            new = fn(row, ctx.topology)
            if new is not row:
                state = state.replace(row, new)
        return rq.Outcome(state)

    return run
