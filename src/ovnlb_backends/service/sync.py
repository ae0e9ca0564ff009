"""Plan and apply a sync of Octavia's view into the NB database through a backend.

:func:`plan_sync` computes every load balancer's :class:`~ovnlb_core.sync.SyncAction`
from one read view. :func:`run_sync` applies them one load balancer at a
time, **one transaction per load balancer**, through the retry loop every
request takes (:func:`~ovnlb_backends.base.commit_with_retry`): read its
rows, plan, commit with the rows read as basis; on
:class:`~ovnlb_backends.base.TryAgain` (a concurrent writer, a reconnect)
back off, re-read and re-plan, so a transaction that did commit plans to
nothing the second time. Interrupting
a run leaves every load balancer either done or untouched; rerunning it
finishes the job.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence

import attrs

from ovnlb_backends.base import Backend, BackendError, Reader, commit_with_retry
from ovnlb_core.errors import RetriesExhausted, SyncRefused
from ovnlb_core.pipeline import RequestTopology
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
from ovnlb_core.topology import Subnet

__all__ = [
    "LbResult",
    "SyncRefused",
    "SyncReport",
    "deletion_limit",
    "plan_sync",
    "run_sync",
]


#: Called after each load balancer: (done, total, result).
Progress = Callable[[int, int, "LbResult"], None]


@attrs.frozen
class LbResult:
    """What happened to one load balancer."""

    action: SyncAction
    applied: bool = False
    attempts: int = 0
    error: str | None = None
    #: The error came from the NB database (not from Octavia's view).
    nb_failure: bool = False

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
    #: Why the run stopped before the end (the NB database was lost), or None.
    stopped: str | None = None
    #: Load balancers not attempted because the run stopped or was interrupted.
    not_attempted: list[str] = attrs.field(factory=list)

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
        return (
            not self.interrupted and self.stopped is None and not any(r.error for r in self.results)
        )


def plan_sync(
    backend: Backend,
    lbs: Sequence[DesiredLb],
    subnets: Mapping[str, Subnet],
    *,
    delete_orphans: bool = True,
) -> list[SyncAction]:
    """Every load balancer's action, from one read view (nothing is written)."""
    return plan_all(lbs, backend.reader(), subnets, delete_orphans=delete_orphans)


class _NbWatch:
    """How long the NB database has been out of reach (backends that can tell)."""

    def __init__(self, backend: Backend, give_up_after: float | None) -> None:
        self.probe = backend.connected
        self.give_up_after = give_up_after
        self.lost_since: float | None = None

    def lost_for(self) -> float:
        """Seconds since the connection was found down (0 while it is up)."""
        if self.probe():
            self.lost_since = None
            return 0.0
        now = time.monotonic()
        if self.lost_since is None:
            self.lost_since = now
        return now - self.lost_since

    def expired(self) -> bool:
        """The NB database was out of reach longer than allowed."""
        return self.give_up_after is not None and self.lost_for() >= self.give_up_after


def _one(
    backend: Backend,
    lb: DesiredLb | None,
    name: str,
    subnets: Mapping[str, Subnet],
    max_attempts: int,
    watch: _NbWatch | None = None,
) -> LbResult:
    last: list[SyncAction] = []  # the action of the latest attempt, for the failure results
    tries = [0]
    lost = BackendError("NB database out of reach")

    def before(attempt: int) -> None:
        tries[0] = attempt
        if watch is not None and attempt > 1 and watch.expired():
            raise lost

    def plan(reader: Reader) -> SyncAction:
        last.clear()  # a read that fails leaves no action: run_sync reports it
        if lb is None:
            action = delete_action(name, rowset(reader, name, owned_only=True))
        else:
            action = sync_action(lb, rowset(reader, name), RequestTopology(reader, subnets))
        last[:] = [action]
        return action

    try:
        action, attempt = commit_with_retry(
            backend, plan, what=f"load balancer {name}", max_attempts=max_attempts, before=before
        )
    except RetriesExhausted as exc:
        return LbResult(last[0], False, max_attempts, str(exc), nb_failure=True)
    except BackendError as exc:
        if exc is lost:
            return LbResult(last[0], False, tries[0], str(exc), nb_failure=True)
        if not last:
            raise
        return LbResult(last[0], False, tries[0], f"{type(exc).__name__}: {exc}", nb_failure=True)
    if action.kind in (ActionKind.IN_SYNC, ActionKind.ERROR):
        return LbResult(action, False, attempt, action.error)
    return LbResult(action, True, attempt)


def deletion_limit(
    owned: int,
    listed: int,
    *,
    max_deletes: int | None = None,
    max_delete_share: float | None = None,
) -> int | None:
    """How many owned load balancers a sync may delete without an explicit go-ahead.

    ``max_deletes`` when given; else 0 when the source listed none (an empty
    answer is far more often an outage or a wrong filter than an empty
    cloud); else ``max_delete_share`` of the ``owned`` ones (at least 1);
    else no limit.
    """
    if max_deletes is not None:
        return max_deletes
    if listed == 0:
        return 0
    if max_delete_share is not None:
        return max(1, math.floor(owned * max_delete_share))
    return None


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
    max_delete_share: float | None = None,
    allow_mass_delete: bool = False,
    give_up_after: float | None = None,
    max_nb_failures: int = 3,
) -> SyncReport:
    """Make NB match Octavia's view, one transaction per load balancer.

    With ``dry_run`` nothing is written: the report holds the planned actions.
    A :class:`KeyboardInterrupt` stops after the current load balancer and
    returns the partial report with ``interrupted`` set. ``max_deletes`` bounds
    how many orphan load balancers may be deleted: a source that came back
    empty or truncated must not wipe the NB database, so more raises
    :class:`SyncRefused` before anything is written; ``max_delete_share``
    (a fraction of the owned load balancers in NB) does the same when
    ``max_deletes`` is not given (:func:`deletion_limit`);
    ``allow_mass_delete`` lifts both.

    Connection loss: the run stops (``stopped`` set, the rest listed in
    ``not_attempted``) once a load balancer failed after the NB database
    gave no answer for ``give_up_after`` seconds (it is down or hung; pass
    the backend's timeout), or after ``max_nb_failures`` load balancers in
    a row failed on the NB side, instead of spending the full backend
    timeout on every remaining load balancer.
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
        reader = backend.reader()
        orphans = orphan_names(reader, (lb.id for lb in lbs))
        owned = len(orphan_names(reader, ()))
        limit = deletion_limit(
            owned, len(lbs), max_deletes=max_deletes, max_delete_share=max_delete_share
        )
        if not allow_mass_delete and limit is not None and len(orphans) > limit:
            why = (
                f"limit {limit}"
                if max_deletes is not None or not lbs or max_delete_share is None
                else f"limit {limit}: {max_delete_share:.0%} of the {owned} owned"
            )
            raise SyncRefused(
                f"sync would delete {len(orphans)} of the {owned} owned load balancers in NB, "
                f"which Octavia's view does not list ({why}); nothing was written. Is the view "
                "complete (all projects, no filter, not truncated)? --allow-mass-delete or "
                "--max-deletes N to go ahead"
            )
        work += [(None, n) for n in orphans]
    watch = _NbWatch(backend, give_up_after)
    failures_in_a_row = 0
    done = 0
    try:
        for i, (lb, name) in enumerate(work, 1):
            began = time.monotonic()
            try:
                result = _one(backend, lb, name, subnets, max_attempts, watch)
            except BackendError as exc:  # reading failed (nbctl, a lost replica)
                result = LbResult(
                    SyncAction(name, ActionKind.ERROR),
                    error=f"{type(exc).__name__}: {exc}",
                    nb_failure=True,
                )
            report.results.append(result)
            done = i
            if progress is not None:
                progress(i, len(work), result)
            failures_in_a_row = failures_in_a_row + 1 if result.nb_failure else 0
            if not result.nb_failure:
                continue
            # A failure that took the whole timeout means NB did not answer for that
            # long (down, or hung): the next load balancer would wait as long again.
            waited = time.monotonic() - began
            if give_up_after is not None and (watch.expired() or waited >= give_up_after):
                report.stopped = f"no answer from the NB database for {waited:.0f} s"
                break
            if failures_in_a_row >= max_nb_failures:
                report.stopped = (
                    f"{failures_in_a_row} load balancers in a row failed on the NB side"
                )
                break
    except KeyboardInterrupt:
        report.interrupted = True
    report.not_attempted = [name for _, name in work[done:]]
    try:
        report.transactions = backend.transaction_count() - txns_before
    except BackendError:  # pragma: no cover - counts are local in every backend
        report.transactions = 0
    report.seconds = time.monotonic() - start
    return report
