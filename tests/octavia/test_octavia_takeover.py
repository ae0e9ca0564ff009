"""Taking over load balancers the reference provider created (docs/octavia.md).

For every public conformance file: the first half of its steps is replayed
with the plain driver and checked byte for byte against the rows the
reference wrote (so NB then holds exactly the reference's rows); from there
the operator has switched the provider to ``ovnlb``, and the remaining
requests go through :class:`OvnLbProviderDriver` (Neutron answers from the
same NB), each checked against the reference's rows for that step.
Floating-IP and health events are the agent's: they go through the driver,
as the agent's watcher applies them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from local_neutron import LocalNeutron
from octavia_lib.api.drivers import exceptions as lib_exc
from octavia_stub import OctaviaRecorder

from conftest import start_sandbox
from ovnlb_backends.idl import IdlBackend
from ovnlb_backends.service.actions import lrp_row
from ovnlb_backends.service.driver import OvnLbDriver, handle
from ovnlb_backends.service.replay import compare, is_event, load, replay, router_interface
from ovnlb_core.dump import canonical_dump
from ovnlb_core.octavia import OctaviaView
from ovnlb_core.topology import subnets_from_neutron
from ovnlb_octavia.provider import OvnLbProviderDriver
from ovnlb_octavia.runtime import Runtime

pytestmark = pytest.mark.ovn

FILES = sorted((Path(__file__).parents[1] / "conformance").glob("*.json"))

_KIND = {
    "lb": ("loadbalancer", "loadbalancer"),
    "listener": ("listener", "listener"),
    "pool": ("pool", "pool"),
    "member": ("member", "member"),
    "hm": ("healthmonitor", "healthmonitor"),
}
_METHOD = {"lb": "loadbalancer", "hm": "health_monitor"}


def _provider_call(p: OvnLbProviderDriver, octavia: OctaviaRecorder, req: dict[str, Any]) -> bool:
    """Send a conformance request to the provider as Octavia would; False if not a provider op."""
    op = req["op"]
    if op == "member_batch_update":
        for m in req["members"]:
            octavia.commit("member", m["member_id"])
        p.member_batch_update(req["pool_id"], req["members"])
        return True
    kind, _, action = op.rpartition("_")
    if kind not in _KIND or action not in ("create", "update", "delete"):
        return False
    key, field = _KIND[kind]
    method: Callable[..., Any] = getattr(p, f"{_METHOD.get(kind, kind)}_{action}")
    if action == "update":
        method(req["old"], req["new"])
    elif action == "delete" and kind == "lb":
        method(req[key], bool(req.get("cascade")))
    else:
        obj = req[key]
        if action == "create":
            octavia.commit(key, obj[f"{field}_id"])
        method(obj)
    return True


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_switch_to_ovnlb_midway_keeps_the_reference_rows(tmp_path: Path, path: Path) -> None:
    doc = load(str(path))
    steps = doc["steps"]
    half = len(steps) // 2
    sandbox = start_sandbox(tmp_path / "ovn")
    writer = IdlBackend(sandbox.nb_remote, timeout=10)
    runtime: Runtime | None = None
    try:
        # The reference's era: rows equal to what it wrote, step by step.
        first = {**doc, "steps": steps[:half]}
        records = list(replay(first, writer))
        assert compare(first, records) == []

        neutron = LocalNeutron(sandbox.nbctl)
        neutron.adopt(doc["neutron"], writer.reader().rows("Logical_Switch_Port"))
        octavia = OctaviaRecorder()
        runtime = Runtime(
            lambda: IdlBackend(sandbox.nb_remote, timeout=10),
            neutron,
            lambda: octavia,
            push_attempts=3,
            push_max_interval=0.05,
            commit_timeout=5.0,
        )
        provider = OvnLbProviderDriver(runtime)
        agent_driver = OvnLbDriver(
            writer, subnets_from_neutron(doc["neutron"]["subnets"]), OctaviaView()
        )
        div = doc.get("diverged_after")
        for step in steps[half:]:
            req = step["request"]
            # A router-interface event (the agent's): the LRP as it was before Neutron's writes.
            before = lrp_row(writer, req["logical_router_port"]) if is_event(req) else None
            if step.get("nb_changes"):
                writer.apply_raw(step["nb_changes"])
                neutron.adopt({}, writer.reader().rows("Logical_Switch_Port"))
            agent_driver.view.apply_changes(step.get("octavia_changes") or {})
            rejected = step["expect"].get("rejected") is not None
            if rejected:
                # The API answers with the provider's refusal; Octavia rolls back.
                with pytest.raises((lib_exc.UnsupportedOptionError, lib_exc.DriverError)):
                    _provider_call(provider, octavia, req)
                by_provider = True
            else:
                by_provider = _provider_call(provider, octavia, req)
                if not by_provider and is_event(req):
                    router_interface(agent_driver, req, before)
                elif not by_provider:
                    handle(agent_driver, req)
            assert runtime.wait_idle(30)
            after = step.get("nb_changes_after") or []
            if by_provider:
                # Neutron's writes that followed the reference's port deletions: ovnlb
                # deleted the same ports through Neutron, which removed their LSPs.
                writer.wait_for(lambda: False, 0.3)
                for op in after:
                    if op["op"] == "delete" and op["table"] == "Logical_Switch_Port":
                        assert writer.reader().by_name("Logical_Switch_Port", op["name"]) == []
            elif after:
                writer.apply_raw(after)
            if step.get("known_bugs") or (div is not None and step["index"] > div):
                continue
            writer.wait_for(lambda: False, 0.3)  # take in the provider's commit
            assert canonical_dump(writer.reader()) == step["expect"]["nb"], (
                f"step {step['index']} {req['op']}"
            )
        assert runtime.failed_pushes == 0
    finally:
        if runtime is not None:
            runtime.close()
        writer.close()
        sandbox.stop()
