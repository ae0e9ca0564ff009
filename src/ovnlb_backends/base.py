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
from ovnlb_core.nb import Row
from ovnlb_core.plan import LbRowSet, Plan
from ovnlb_core.rawops import RawOp
from ovnlb_core.topology import TopologyReader


class Reader(TopologyReader, Protocol):
    """What a backend's read view answers, every lookup through an index.

    On top of :class:`~ovnlb_core.nb.NbReader` (``rows``, ``by_name``), the
    lookups of :class:`~ovnlb_core.topology.TopologyReader` (``row``,
    ``referrers``, ``switch_ports_of_type``, ``switch_ports_with_address``,
    ``rows_with_external_id``) and the two below. Each backend keeps its
    indexes up to date as rows change (the memory backend in its commits,
    the IDL from its replica's change notifications) or, for ovn-nbctl,
    asks the server a targeted ``find``/``get``: the cost of an answer is
    the rows it returns, whatever the number of ports, switches, routers,
    NATs and load balancers it does not return. A request reads through
    these and never through ``rows(table)`` of a large table.
    """

    def load_balancers_with_external_id(self, keys: Sequence[str]) -> list[tuple[str, Row]]:
        """``Load_Balancer`` rows whose external_ids has one of ``keys`` (by index for
        ``pool_<id>`` keys), in table order."""
        ...

    def load_balancers_with_mapping(self, key: str, value: str) -> list[tuple[str, Row]]:
        """``Load_Balancer`` rows with ``ip_port_mappings[key] == value``, in table order."""
        ...


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

    def close(self) -> None:
        """Release connections and processes."""
        ...


def describe(backend: Any) -> str:
    """A short human-readable name of a backend."""
    return type(backend).__name__
