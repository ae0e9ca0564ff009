"""Plan and apply a sync of Octavia's view into the NB database through a backend.

:func:`plan_sync` computes every load balancer's :class:`~ovnlb_core.sync.SyncAction`
from one read view. :func:`run_sync` applies them one load balancer at a
time, **one transaction per load balancer**: read its rows, plan, commit
with the rows read as basis; on :class:`~ovnlb_backends.base.TryAgain`
(a concurrent writer, a reconnect) it re-reads and re-plans, so a
transaction that did commit plans to nothing the second time. Interrupting
a run leaves every load balancer either done or untouched; rerunning it
finishes the job.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

import attrs

from ovnlb_backends.base import Backend, BackendError, TryAgain
from ovnlb_core.errors import SyncRefused
from ovnlb_core.sync import (
    ActionKind,
    DesiredLb,
    SyncAction,
    delete_action,
    orphan_names,
    plan_all,
    rowset,
    sync_action,
)
from ovnlb_core.topology import Subnet, Topology

__all__ = ["LbResult", "SyncRefused", "SyncReport", "plan_sync", "run_sync"]


#: Called after each load balancer: (done, total, result).
Progress = Callable[[int, int, "LbResult"], None]


@attrs.frozen
class LbResult:
    """What happened to one load balancer."""

    action: SyncAction
    applied: bool = False
    attempts: int = 0
    error: str | None = None

    @property
    def lb_id(self) -> str:
        """The load balancer id."""
        return self.action.lb_id


@attrs.define
class SyncReport:
    """The outcome of a sync run."""

    results: list[LbResult] = attrs.field(factory=list)
    transactions: int = 0
    seconds: float = 0.0
    interrupted: bool = False
    dry_run: bool = False

    def counts(self) -> dict[str, int]:
        """How many load balancers per action kind (errors include failed commits)."""
        out = {k.value: 0 for k in ActionKind}
        for r in self.results:
            kind = ActionKind.ERROR if r.error else r.action.kind
            out[kind.value] += 1
        return out

    @property
    def ok(self) -> bool:
        """No load balancer failed and the run was not interrupted."""
        return not self.interrupted and not any(r.error for r in self.results)


def plan_sync(
    backend: Backend,
    lbs: Sequence[DesiredLb],
    subnets: Mapping[str, Subnet],
    *,
    delete_orphans: bool = True,
) -> list[SyncAction]:
    """Every load balancer's action, from one read view (nothing is written)."""
    return plan_all(lbs, backend.reader(), subnets, delete_orphans=delete_orphans)


def _one(
    backend: Backend,
    lb: DesiredLb | None,
    name: str,
    subnets: Mapping[str, Subnet],
    max_attempts: int,
) -> LbResult:
    action: SyncAction | None = None
    for attempt in range(1, max_attempts + 1):
        reader = backend.reader()
        if lb is None:
            action = delete_action(name, rowset(reader, name, owned_only=True))
        else:
            action = sync_action(lb, rowset(reader, name), Topology(reader, subnets))
        if action.kind in (ActionKind.IN_SYNC, ActionKind.ERROR):
            return LbResult(action, False, attempt, action.error)
        try:
            backend.commit(action.plan, basis=action.actual)
        except TryAgain:
            continue
        except BackendError as exc:
            return LbResult(action, False, attempt, f"{type(exc).__name__}: {exc}")
        return LbResult(action, True, attempt)
    assert action is not None
    return LbResult(action, False, max_attempts, f"gave up after {max_attempts} attempts")


def run_sync(
    backend: Backend,
    lbs: Sequence[DesiredLb],
    subnets: Mapping[str, Subnet],
    *,
    dry_run: bool = False,
    delete_orphans: bool = True,
    max_attempts: int = 10,
    progress: Progress | None = None,
    max_deletes: int | None = None,
) -> SyncReport:
    """Make NB match Octavia's view, one transaction per load balancer.

    With ``dry_run`` nothing is written: the report holds the planned actions.
    A :class:`KeyboardInterrupt` stops after the current load balancer and
    returns the partial report with ``interrupted`` set. ``max_deletes`` bounds
    how many orphan load balancers may be deleted: a source that came back
    empty or truncated must not wipe the NB database, so more raises
    :class:`SyncRefused` before anything is written.
    """
    start = time.monotonic()
    txns_before = backend.transaction_count()
    report = SyncReport(dry_run=dry_run)
    if dry_run:
        for action in plan_sync(backend, lbs, subnets, delete_orphans=delete_orphans):
            report.results.append(LbResult(action, error=action.error))
        report.seconds = time.monotonic() - start
        return report
    work: list[tuple[DesiredLb | None, str]] = [(lb, lb.id) for lb in lbs]
    if delete_orphans:
        orphans = orphan_names(backend.reader(), (lb.id for lb in lbs))
        if max_deletes is not None and len(orphans) > max_deletes:
            raise SyncRefused(
                f"sync would delete {len(orphans)} load balancers Octavia does not list "
                f"(limit {max_deletes}); check the source, or raise --max-deletes"
            )
        work += [(None, n) for n in orphans]
    try:
        for i, (lb, name) in enumerate(work, 1):
            result = _one(backend, lb, name, subnets, max_attempts)
            report.results.append(result)
            if progress is not None:
                progress(i, len(work), result)
    except KeyboardInterrupt:
        report.interrupted = True
    report.transactions = backend.transaction_count() - txns_before
    report.seconds = time.monotonic() - start
    return report
