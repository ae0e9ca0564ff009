"""Apply event actions (:class:`ovnlb_core.events.LbAction`) to a backend.

An action is a request closure like the driver's: it goes through the same
pipeline (:func:`ovnlb_core.events.plan_action`, i.e.
:func:`ovnlb_core.pipeline.plan_request`) and the same retry loop
(:func:`ovnlb_backends.base.commit_with_retry`). The watcher (``ovnlb watch``),
the provider agent and the conformance replayer use it, so an NB change has
one effect whichever of them sees it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from ovnlb_backends.base import BACKOFF, Backend, BackendError, Reader, commit_with_retry
from ovnlb_core import events as ev
from ovnlb_core.octavia import OctaviaView
from ovnlb_core.status import Payload
from ovnlb_core.topology import Subnet

__all__ = ["ActionResult", "apply_action", "router_interface_event"]


@attrs.frozen
class ActionResult:
    """One applied action: whether it changed rows, and the statuses to send."""

    changed: bool
    statuses: tuple[Payload, ...]


def apply_action(
    backend: Backend,
    action: ev.LbAction,
    subnets: Mapping[str, Subnet] | None = None,
    view: OctaviaView | None = None,
    *,
    max_attempts: int = 10,
    backoff: float = BACKOFF,
    may_write: Callable[[], bool] | None = None,
) -> ActionResult:
    """Apply ``action`` in one transaction (re-read and re-planned on TRY_AGAIN).

    ``may_write`` is asked before each attempt (the watcher's lock); when it says
    no, :class:`BackendError` is raised and nothing is written. The statuses are
    those of the outcome when rows changed or the action always reports. After
    ``max_attempts``: :class:`~ovnlb_core.errors.RetriesExhausted`.
    """

    def check(_attempt: int) -> None:
        if may_write is not None and not may_write():
            raise BackendError("lost the lock")

    def plan(reader: Reader) -> ev.ActionPlan:
        return ev.plan_action(reader, action, subnets, view)

    ap, _ = commit_with_retry(
        backend,
        plan,
        what=f"{action.kind} for load balancer {action.lb_id}",
        max_attempts=max_attempts,
        backoff=backoff,
        before=check,
    )
    changed = not ap.plan.is_empty()
    statuses = tuple(ap.outcome.statuses) if (changed or action.report) else ()
    return ActionResult(changed, statuses)


def router_interface_event(
    backend: Backend,
    change: ev.RowChange,
    subnets: Mapping[str, Subnet] | None = None,
    view: OctaviaView | None = None,
) -> list[Payload]:
    """A ``Logical_Router_Port`` created or deleted (the driver agent's event, spec 3.6):
    every action :func:`ovnlb_core.events.nb_actions` derives, applied in order."""
    out: list[Payload] = []
    actions = ev.dedupe(ev.nb_actions(backend.reader(), change))
    for action in actions:
        out += apply_action(backend, action, subnets, view).statuses
    return out


def lrp_row(backend: Backend, name: str) -> tuple[str, dict[str, Any]] | None:
    """The ``Logical_Router_Port`` named ``name`` (UUID and canonical row), if any."""
    found = backend.reader().by_name("Logical_Router_Port", name)
    if not found:
        return None
    uuid, row = found[0]
    return uuid, dict(row)
