"""Replay a conformance file (format ``ovnlb-conformance/1``) through a backend.

For each step: Neutron's NB writes (``nb_changes``), Octavia's view
(``octavia_changes``), the request through :class:`OvnLbDriver`, then
``nb_changes_after``; one JSON record per step with the canonical NB dump,
the status payloads and the error (if the request was refused).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ovnlb_backends.base import Backend
from ovnlb_backends.service.actions import lrp_row, router_interface_event
from ovnlb_backends.service.driver import OvnLbDriver, handle
from ovnlb_core import events as ev
from ovnlb_core.dump import canonical_dump
from ovnlb_core.errors import BackendError, NotFoundError, OvnlbError
from ovnlb_core.octavia import OctaviaView
from ovnlb_core.rawops import initial_ops
from ovnlb_core.topology import subnets_from_neutron

__all__ = [
    "FORMAT",
    "ROUTER_INTERFACE_OPS",
    "canon_status",
    "compare",
    "is_event",
    "load",
    "replay",
    "router_interface",
]

FORMAT = "ovnlb-conformance/1"


def load(path: str) -> dict[str, Any]:
    """Read a conformance file and check its format tag."""
    with open(path, encoding="utf-8") as f:
        doc: dict[str, Any] = json.load(f)
    if doc.get("format") != FORMAT:
        raise ValueError(f"{path}: not an {FORMAT} file")
    return doc


def replay(doc: Mapping[str, Any], backend: Backend) -> Iterator[dict[str, Any]]:
    """Yield the record of the initial load (index -1) and of every step."""
    backend.apply_raw(initial_ops(doc["nb_initial"]))
    yield {"index": -1, "nb": canonical_dump(backend.reader())}
    driver = OvnLbDriver(backend, subnets_from_neutron(doc["neutron"]["subnets"]), OctaviaView())
    for step in doc["steps"]:
        request = step["request"]
        # An NB event request: the agent receives the LRP row as it was before Neutron's
        # writes (delete) or as they left it (create).
        before = lrp_row(backend, request["logical_router_port"]) if is_event(request) else None
        if step.get("nb_changes"):
            backend.apply_raw(step["nb_changes"])
        driver.view.apply_changes(step.get("octavia_changes") or {})
        error: str | None = None
        statuses: list[Any] = []
        try:
            if is_event(request):
                statuses = router_interface(driver, request, before)
            else:
                statuses = handle(driver, request)
        except BackendError:  # a failing backend is not an expected request error
            raise
        except OvnlbError as exc:
            error = f"{type(exc).__name__}: {exc}"
        if step.get("nb_changes_after"):
            backend.apply_raw(step["nb_changes_after"])
        yield {
            "index": step["index"],
            "nb": canonical_dump(backend.reader()),
            "statuses": statuses,
            "error": error,
        }


ROUTER_INTERFACE_OPS = ("router_interface_add", "router_interface_remove")


def is_event(request: Mapping[str, Any]) -> bool:
    """True for a request that is an NB event the agent handles (router interfaces)."""
    return request.get("op") in ROUTER_INTERFACE_OPS


def router_interface(
    driver: OvnLbDriver,
    request: Mapping[str, Any],
    before: tuple[str, dict[str, Any]] | None,
) -> list[Any]:
    """``router_interface_add``/``_remove`` (conformance-format 5.3): the
    ``Logical_Router_Port`` create/delete event, through the watcher's event path."""
    name = request["logical_router_port"]
    if request["op"] == "router_interface_add":
        found = lrp_row(driver.backend, name)
        if found is None:
            raise NotFoundError("router interface", name, "no Logical_Router_Port of that name")
        change = ev.RowChange("Logical_Router_Port", found[0], None, found[1])
    else:
        if before is None:
            raise NotFoundError("router interface", name, "no Logical_Router_Port of that name")
        change = ev.RowChange("Logical_Router_Port", before[0], before[1], None)
    return router_interface_event(driver.backend, change, driver.subnets, driver.view)


def canon_status(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A status payload in the goldens' canonical form (conformance-format 6.2)."""
    out: dict[str, Any] = {}
    for key in sorted(payload):
        value = payload[key]
        if isinstance(value, list):
            value = sorted(
                (dict(sorted(x.items())) for x in value),
                key=lambda x: json.dumps(x, sort_keys=True),
            )
        out[key] = value
    return out


def compare(doc: Mapping[str, Any], records: Sequence[Mapping[str, Any]]) -> list[str]:
    """Differences between replay records and the file's expectations, outside excluded steps.

    A step is excluded when it carries ``known_bugs`` or comes after ``diverged_after``.
    """
    by_index = {r["index"]: r for r in records}
    problems: list[str] = []
    if -1 in by_index and by_index[-1]["nb"] != doc["expect_initial"]["nb"]:
        problems.append("initial: NB dump differs")
    div = doc.get("diverged_after")
    for step in doc["steps"]:
        i = step["index"]
        if step.get("known_bugs") or (div is not None and i > div):
            continue
        rec = by_index.get(i)
        exp = step["expect"]
        if rec is None:
            problems.append(f"step {i}: no record")
            continue
        if rec["nb"] != exp["nb"]:
            problems.append(f"step {i} ({step['request']['op']}): NB dump differs")
        got = [canon_status(s) for s in rec["statuses"]]
        if got != exp["statuses"]:
            problems.append(f"step {i} ({step['request']['op']}): statuses differ")
        if (exp.get("rejected") is not None) != (rec["error"] is not None):
            problems.append(
                f"step {i} ({step['request']['op']}): error {rec['error']!r}, "
                f"expected rejected={exp.get('rejected')!r}"
            )
    return problems
