"""The small protocol every ovnlb backend implements.

A backend reads NB rows (in the canonical form of :mod:`ovnlb_core.nb`) and
applies a :class:`~ovnlb_core.plan.Plan` as **one** OVSDB transaction. It
holds no translation logic: the in-memory fake, the ovs IDL and ovn-nbctl
backends pass one shared conformance suite.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from ovnlb_core.errors import BackendError as BackendError
from ovnlb_core.errors import TryAgain as TryAgain
from ovnlb_core.nb import NbReader
from ovnlb_core.plan import LbRowSet, Plan
from ovnlb_core.rawops import RawOp


class Backend(Protocol):
    """Read NB rows; apply plans atomically."""

    def reader(self) -> NbReader:
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

    def close(self) -> None:
        """Release connections and processes."""
        ...


def describe(backend: Any) -> str:
    """A short human-readable name of a backend."""
    return type(backend).__name__
