"""One conformance suite for every backend: memory, the ovs IDL and ovn-nbctl.

Each test runs once per backend, the real ones on a fresh ``ovsdb-server``.
The in-memory backend is the reference: the real backends must give the
same NB dumps, statuses and errors after every conformance step, and the
same rows for the same plans.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings

from ovnlb_backends.base import Backend, TryAgain
from ovnlb_backends.memory import MemoryBackend
from ovnlb_backends.sandbox import OvnSandbox
from ovnlb_backends.service.replay import compare, load, replay
from ovnlb_core.nb import SCHEMA
from ovnlb_core.plan import LbRowSet, LoadBalancerRow, Plan, apply, diff
from ovnlb_core.rawops import RawOp, initial_ops
from ovnlb_core.rows import lb_rowset
from paths import CONFORMANCE_DIR
from strategies import row_sets

CONFORMANCE = sorted((CONFORMANCE_DIR).glob("*.json"))
BACKENDS = ["memory", "idl", "nbctl"]

LB_UUIDS = [f"00000000-0000-4000-8000-00000000000{i}" for i in range(4)]
HC_UUIDS = [f"00000000-0000-4000-9000-00000000000{i}" for i in range(4)]


@attrs.define
class Subject:
    """A backend under test and, for the real ones, its server."""

    kind: str
    backend: Backend
    server: OvnSandbox | None

    def records(self) -> int:
        """Committed transactions in the server's database file (memory: its own count)."""
        if self.server is None:
            return self.backend.transaction_count()
        return self.server.nb_log_records()


@pytest.fixture(params=BACKENDS)
def subject(request: pytest.FixtureRequest) -> Iterator[Subject]:
    """A fresh backend of each kind (idl and nbctl on a fresh NB server)."""
    kind = request.param
    server: OvnSandbox | None = None
    backend: Any
    if kind == "memory":
        backend = MemoryBackend()
    else:
        server = request.getfixturevalue("nb_server")
        # Every ovn-nbctl run creates NB_Global in a database without one:
        # create it now so that record counts below are the backend's own.
        server.nbctl("list", "NB_Global")
        if kind == "idl":
            from ovnlb_backends.idl import IdlBackend

            backend = IdlBackend(server.nb_remote, timeout=10)
        else:
            from ovnlb_backends.nbctl import NbctlBackend

            backend = NbctlBackend(server.nb_remote, timeout=10, daemon=False)
    try:
        yield Subject(kind, backend, server)
    finally:
        backend.close()


def all_rows(backend: Backend) -> dict[str, dict[str, dict[str, Any]]]:
    reader = backend.reader()
    return {t: {u: dict(r) for u, r in reader.rows(t).items()} for t in SCHEMA}


# ---------------------------------------------------------------------------
# Conformance files
# ---------------------------------------------------------------------------


@pytest.mark.ovn
@pytest.mark.parametrize("path", CONFORMANCE, ids=lambda p: p.stem)
def test_conformance_replay(subject: Subject, path: Path) -> None:
    """The file's expectations hold, and every record equals the memory backend's."""
    doc = load(str(path))
    before = subject.records()
    records = list(replay(doc, subject.backend))
    assert compare(doc, records) == []
    reference = list(replay(doc, MemoryBackend()))
    assert [r["index"] for r in records] == [r["index"] for r in reference]
    for got, want in zip(records, reference, strict=True):
        # The canonical dump, statuses and error after every step, known bugs included.
        assert got == want, f"step {got['index']}"
    # One record in the database file per transaction the backend reports.
    assert subject.records() == before + subject.backend.transaction_count()


@pytest.mark.ovn
@pytest.mark.parametrize("path", CONFORMANCE, ids=lambda p: p.stem)
def test_raw_ops_give_the_memory_backend_rows(subject: Subject, path: Path) -> None:
    """Neutron's raw writes give the same rows, UUIDs and canonical values as the reference."""
    doc = load(str(path))
    mem = MemoryBackend()
    batches: list[list[RawOp]] = [initial_ops(doc["nb_initial"])]
    for step in doc["steps"]:
        batches += [step[k] for k in ("nb_changes", "nb_changes_after") if step.get(k)]
    for ops in batches:
        subject.backend.apply_raw(ops)
        mem.apply_raw(ops)
        assert all_rows(subject.backend) == all_rows(mem)


# ---------------------------------------------------------------------------
# Plans (the property of test_properties.py, through each backend)
# ---------------------------------------------------------------------------

HOLDER_NAMES = {"Logical_Switch": ["ls1", "ls2", "ls3"], "Logical_Router": ["lr1", "lr2"]}
HOLDERS: list[RawOp] = [
    {"op": "insert", "table": table, "row": {"_name": name, "name": name}}
    for table, names in HOLDER_NAMES.items()
    for name in names
]


@pytest.mark.ovn
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(a=row_sets(LB_UUIDS, HC_UUIDS), b=row_sets(LB_UUIDS, HC_UUIDS))
def test_committed_plans_give_the_desired_rows(subject: Subject, a: LbRowSet, b: LbRowSet) -> None:
    be = subject.backend
    if not be.reader().by_name("Logical_Switch", "ls1"):
        be.apply_raw(HOLDERS)
    # The backend is shared by the examples: start from whatever is there,
    # go to a, then to b, then clean up.
    for desired in (a, b, LbRowSet()):
        actual = lb_rowset(be.reader(), "lb")
        plan = diff(actual, desired)
        sent = be.transaction_count()
        be.commit(plan, basis=actual)
        assert be.transaction_count() == sent + (0 if plan.is_empty() else 1)
        got = lb_rowset(be.reader(), "lb")
        assert got == desired
        assert apply(actual, plan) == got
    assert be.reader().rows("Load_Balancer_Health_Check") == {}


@pytest.mark.ovn
def test_stale_basis_is_try_again_and_writes_nothing(subject: Subject) -> None:
    be = subject.backend
    be.apply_raw(HOLDERS)
    lb = LoadBalancerRow(uuid=LB_UUIDS[0], name="lb", protocol="tcp", vips={"10.0.0.1:80": "x"})
    first = LbRowSet(lbs={lb.uuid: lb}, switches={lb.uuid: frozenset({"ls1"})})
    be.commit(diff(LbRowSet(), first))
    actual = lb_rowset(be.reader(), "lb")
    assert actual == first
    # Another writer (Neutron-style raw write) changes the row after our read.
    be.apply_raw(
        [{"op": "update", "table": "Load_Balancer", "name": "lb", "columns": {"vips": {"a": "b"}}}]
    )
    records, sent = subject.records(), be.transaction_count()
    desired = attrs.evolve(first, lbs={lb.uuid: attrs.evolve(lb, options={"k": "v"})})
    with pytest.raises(TryAgain):
        be.commit(diff(actual, desired), basis=actual)
    assert (subject.records(), be.transaction_count()) == (records, sent)
    # Re-read, re-plan: the other writer's change is kept.
    fresh = lb_rowset(be.reader(), "lb")
    merged = attrs.evolve(lb, vips={"a": "b"}, options={"k": "v"})
    desired = attrs.evolve(desired, lbs={lb.uuid: merged})
    be.commit(diff(fresh, desired), basis=fresh)
    assert lb_rowset(be.reader(), "lb") == desired
    # An empty plan sends nothing.
    records, sent = subject.records(), be.transaction_count()
    be.commit(Plan(), basis=desired)
    assert (subject.records(), be.transaction_count()) == (records, sent)
