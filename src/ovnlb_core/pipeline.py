"""Everything about turning a request into a plan lives here: the one request pipeline.

Every change ovnlb makes to a load balancer, whoever asks for it (an Octavia
request through the driver, an NB/SB event through the watcher or the
replayer, a sync against Octavia's view), takes the same path::

    actual  = lb_rowset(reader, lb_id)          rows.py: the LB's rows, read by index
    state   = parse(lb_id, actual)              parse.py: rows -> model
    outcome = fn(Context(topology, view), state)    requests/ / events.py / sync.py
    desired = translate(outcome.state)          translate.py: model -> rows
    desired, actual += the NAT columns the outcome clears
    plan    = diff(actual, desired)             plan.py: the minimal change

:func:`plan_request` is that path; the backends' retry loop
(:func:`ovnlb_backends.base.commit_with_retry`) commits ``plan`` with
``actual`` as its basis and, when the rows changed meanwhile, calls it again
on fresh rows. NAT changes (member floating IPs centralised, spec 6.4) go
through the same :class:`~ovnlb_core.plan.LbRowSet` / :func:`~ovnlb_core.plan.diff`
representation: the NAT rows the outcome names are read into ``actual`` (so
the commit verifies them too) and their cleared form into ``desired``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from ovnlb_core import requests as rq
from ovnlb_core.errors import RowParseError
from ovnlb_core.model import LoadBalancerState
from ovnlb_core.nb import NbReader
from ovnlb_core.octavia import OctaviaView
from ovnlb_core.parse import parse
from ovnlb_core.plan import LbRowSet, NatColumns, NatUpdate, Plan, diff
from ovnlb_core.rows import lb_rowset
from ovnlb_core.topology import Subnet, Topology
from ovnlb_core.translate import RowCache, translate

__all__ = [
    "Planned",
    "RequestFn",
    "RequestTopology",
    "plan_request",
    "plan_request_in",
    "request_context",
]

#: A request: (what it may consult, the load balancer's state or None) -> outcome.
RequestFn = Callable[[rq.Context, LoadBalancerState | None], rq.Outcome]

_NO_VALUE: Any = object()


@attrs.frozen
class RequestTopology(Topology):
    """A :class:`Topology` that remembers its answers for the duration of one request.

    A request reads one unchanging view (the backend changes only in
    ``commit``), so every answer stays right while it runs; a batch of 10k
    members then asks each topology question once, not 10k times. Lists are
    returned as fresh copies.
    """

    _memo: dict[tuple[Any, ...], Any] = attrs.field(factory=dict, init=False, eq=False)

    def _cached(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        value = self._memo.get(key, _NO_VALUE)
        if value is _NO_VALUE:
            value = self._memo[key] = compute()
        return list(value) if isinstance(value, list) else value

    def switch(self, ls_name: str) -> tuple[str, Any] | None:
        return self._cached(("switch", ls_name), lambda: Topology.switch(self, ls_name))  # type: ignore[no-any-return]

    def routers_of_subnet(self, ls_name: str, cidr: str) -> list[str]:
        return self._cached(  # type: ignore[no-any-return]
            ("routers_of_subnet", ls_name, cidr),
            lambda: Topology.routers_of_subnet(self, ls_name, cidr),
        )

    def router_exists(self, lr_name: str) -> bool:
        return self._cached(  # type: ignore[no-any-return]
            ("router_exists", lr_name), lambda: Topology.router_exists(self, lr_name)
        )

    def switches_of_router(self, lr_name: str, ip_version: int) -> list[str]:
        return self._cached(  # type: ignore[no-any-return]
            ("switches_of_router", lr_name, ip_version),
            lambda: Topology.switches_of_router(self, lr_name, ip_version),
        )

    def hm_source_ip(self, subnet_id: str) -> str | None:
        return self._cached(  # type: ignore[no-any-return]
            ("hm_source_ip", subnet_id), lambda: Topology.hm_source_ip(self, subnet_id)
        )

    # member_port and nats_of_port are index lookups of the reader (O(rows returned)):
    # nothing to remember.


def request_context(
    reader: NbReader,
    subnets: Mapping[str, Subnet] | None = None,
    view: OctaviaView | None = None,
) -> rq.Context:
    """What a request may consult while ``reader``'s view stays unchanged."""
    topology = RequestTopology(reader, dict(subnets or {}))
    return rq.Context(topology, view if view is not None else OctaviaView())


@attrs.frozen
class Planned:
    """One pass of the pipeline: basis, parsed state, outcome, rows wanted, plan.

    ``actual`` is the basis to commit ``plan`` with (it holds the NAT columns
    the plan clears, so that a concurrent change to them is detected too).
    """

    actual: LbRowSet
    state: LoadBalancerState | None
    outcome: rq.Outcome
    desired: LbRowSet
    plan: Plan


def _nat_halves(
    topology: Topology, updates: tuple[NatUpdate, ...]
) -> tuple[dict[str, NatColumns], dict[str, NatColumns]]:
    """The NAT columns the updates name as they are now and as the updates leave them."""
    now: dict[str, NatColumns] = {}
    wanted: dict[str, NatColumns] = {}
    for upd in updates:
        row = topology.index.row("NAT", upd.uuid)
        if row is None:  # gone since the request read it: nothing to clear
            continue
        cur = now.get(upd.uuid) or NatColumns(
            upd.uuid, row.get("logical_port"), row.get("external_mac")
        )
        prev = wanted.get(upd.uuid, cur)
        now[upd.uuid] = cur
        wanted[upd.uuid] = NatColumns(
            upd.uuid,
            None if upd.clear_logical_port else prev.logical_port,
            None if upd.clear_external_mac else prev.external_mac,
        )
    return now, wanted


def plan_request(
    ctx: rq.Context,
    lb_id: str,
    actual: LbRowSet,
    fn: RequestFn,
    *,
    cache: RowCache | None = None,
    issues: list[RowParseError] | None = None,
    needs_rows: bool = False,
) -> Planned:
    """Run ``fn`` on the state of ``actual`` (load balancer ``lb_id``'s rows) and plan the change.

    ``ctx.topology`` must read the same view as ``actual`` came from.
    ``needs_rows``: an event's action, whose load balancer may have gone
    meanwhile: with no rows, nothing is written (the outcome's statuses are
    kept). ``issues`` collects malformed values instead of raising
    (:func:`~ovnlb_core.parse.parse`). ``cache`` speeds up parse and
    translate without changing their results.
    """
    state = parse(lb_id, actual, issues, cache=cache) if actual.lbs else None
    if cache is not None and ctx.cache is None:
        ctx = attrs.evolve(ctx, cache=cache)
    outcome = fn(ctx, state)
    if state is None and needs_rows:
        return Planned(actual, state, outcome, actual, Plan())
    desired = translate(outcome.state, cache=cache) if outcome.state is not None else LbRowSet()
    if outcome.nat_updates:
        now, wanted = _nat_halves(ctx.topology, outcome.nat_updates)
        actual = attrs.evolve(actual, nats={**actual.nats, **now})
        desired = attrs.evolve(desired, nats=wanted)
    return Planned(actual, state, outcome, desired, diff(actual, desired))


def plan_request_in(
    reader: NbReader,
    lb_id: str,
    fn: RequestFn,
    subnets: Mapping[str, Subnet] | None = None,
    view: OctaviaView | None = None,
    *,
    cache: RowCache | None = None,
    needs_rows: bool = False,
) -> Planned:
    """:func:`plan_request` on the rows of ``lb_id`` that ``reader`` shows now."""
    return plan_request(
        request_context(reader, subnets, view),
        lb_id,
        lb_rowset(reader, lb_id),
        fn,
        cache=cache,
        needs_rows=needs_rows,
    )
