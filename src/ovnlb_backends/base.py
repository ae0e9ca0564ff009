"""The small protocol every ovnlb backend implements, and the one retry loop.

A backend reads NB rows (in the canonical form of :mod:`ovnlb_core.nb`) and
applies a :class:`~ovnlb_core.plan.Plan` as **one** OVSDB transaction. It
holds no translation logic: the in-memory fake, the ovs IDL and ovn-nbctl
backends pass one shared conformance suite.

:func:`commit_with_retry` is the only place a plan is committed: read fresh
rows, plan (:func:`ovnlb_core.pipeline.plan_request`), commit with the rows
read as basis; on :class:`TryAgain` back off with jitter and plan again; after
``max_attempts`` raise :class:`RetriesExhausted`. The driver, the event
application (watcher, replayer, provider agent) and sync all go through it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from ovnlb_core.errors import BackendError as BackendError
from ovnlb_core.errors import RetriesExhausted as RetriesExhausted
from ovnlb_core.errors import TryAgain as TryAgain
from ovnlb_core.plan import LbRowSet, Plan
from ovnlb_core.rawops import RawOp
from ovnlb_core.topology import TopologyReader


class Reader(TopologyReader, Protocol):
    """What a backend's read view answers, every lookup through an index.

    The lookups of :class:`~ovnlb_core.nb.NbReader` (``rows``, ``by_name``,
    ``referrers``, ``load_balancers_with_external_id``,
    ``load_balancers_with_mapping``) and of
    :class:`~ovnlb_core.topology.TopologyReader` (``row``,
    ``switch_ports_of_type``, ``switch_ports_with_address``,
    ``rows_with_external_id``). Each backend keeps its
    indexes up to date as rows change (the memory backend in its commits,
    the IDL from its replica's change notifications) or, for ovn-nbctl,
    asks the server a targeted ``find``/``get``: the cost of an answer is
    the rows it returns, whatever the number of ports, switches, routers,
    NATs and load balancers it does not return. A request reads through
    these and never through ``rows(table)`` of a large table.
    """


class Backend(Protocol):
    """Read NB rows; apply plans atomically."""

    def reader(self) -> Reader:
        """A consistent read view of the NB rows (valid until the next commit)."""
        ...

    def commit(self, plan: Plan, basis: LbRowSet | None = None) -> None:
        """Apply ``plan`` in one transaction.

        ``basis`` is what the plan was computed from; a backend that can
        (the IDL) verifies it so that concurrent writers cannot lose updates,
        and raises :class:`TryAgain` when it changed. An empty plan sends
        nothing.
        """
        ...

    def apply_raw(self, ops: Sequence[RawOp]) -> None:
        """Apply Neutron-style raw row operations (conformance ``nb_changes``), one transaction."""
        ...

    def transaction_count(self) -> int:
        """How many write transactions this backend has sent (for tests and benchmarks)."""
        ...

    def connected(self) -> bool:
        """True while NB is in reach (a backend that cannot tell says True)."""
        ...

    def schema_version(self) -> str | None:
        """The NB schema version the server announced; None when this backend cannot tell."""
        ...

    def close(self) -> None:
        """Release connections and processes."""
        ...


class Attempt(Protocol):
    """What one pass of planning gives the retry loop: a plan and the rows it came from."""

    @property
    def plan(self) -> Plan: ...

    @property
    def actual(self) -> LbRowSet: ...


A = TypeVar("A", bound=Attempt)

#: The first retry waits up to this long (seconds), doubling per attempt up to
#: :data:`MAX_BACKOFF`: randomised backoff keeps two writers of one row from
#: failing each other forever.
BACKOFF = 0.005
MAX_BACKOFF = 0.25


def commit_with_retry(
    backend: Backend,
    plan: Callable[[Reader], A],
    *,
    what: str,
    max_attempts: int = 10,
    backoff: float = BACKOFF,
    before: Callable[[int], None] | None = None,
) -> tuple[A, int]:
    """Plan on fresh rows and commit, until a commit goes through; (the attempt, its number).

    ``plan(reader)`` runs on a new read view at every attempt; its ``plan`` is
    committed with its ``actual`` as basis (an empty plan sends nothing).
    ``before(n)`` is called before attempt ``n`` (1-based) and may raise to stop
    (the watcher's lock, sync's NB-loss policy). A :class:`TryAgain` from the
    commit sleeps a random time (up to ``backoff * 2**n``, at most
    :data:`MAX_BACKOFF`) and tries again; other errors propagate. After
    ``max_attempts`` tries :class:`RetriesExhausted` names ``what``.
    """
    for attempt in range(1, max_attempts + 1):
        if attempt > 1:
            time.sleep(random.uniform(0, min(MAX_BACKOFF, backoff * 2 ** (attempt - 1))))
        if before is not None:
            before(attempt)
        planned = plan(backend.reader())
        try:
            backend.commit(planned.plan, basis=planned.actual)
        except TryAgain:
            continue
        return planned, attempt
    raise RetriesExhausted(f"gave up after {max_attempts} attempts: {what}")


def describe(backend: Any) -> str:
    """A short human-readable name of a backend."""
    return type(backend).__name__
