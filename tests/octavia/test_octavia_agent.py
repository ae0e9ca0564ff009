"""The provider agent: its catch-up of vanished Service_Monitor rows, its clean stop, options."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from oslo_config import cfg
from provider_cloud import Cloud, bind_port, make_cloud
from test_octavia_provider import HM, LB, MEMBER, _hm, _walk_to_member

from ovnlb_backends.service.watch import Watcher
from ovnlb_octavia import config
from ovnlb_octavia.agent import AgentWatcher, agent, operating_only

pytestmark = pytest.mark.ovn


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[Cloud]:
    yield from make_cloud(tmp_path)


def _member_status(c: Cloud) -> str | None:
    (row,) = c.lb_rows(LB)
    found: dict[str, str] = json.loads(row["external_ids"].get("neutron:member_status", "{}"))
    return found.get(MEMBER)


def _monitors(c: Cloud) -> list[Any]:
    out = c.sandbox.sbctl("--bare", "--columns=_uuid", "list", "Service_Monitor")
    return [x for x in out.split() if x]


def _wait(cond: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_catch_up_notices_a_service_monitor_deleted_while_no_agent_ran(cloud: Cloud) -> None:
    c = cloud
    _walk_to_member(c)
    c.provider.health_monitor_create(_hm())
    c.octavia.commit("healthmonitor", HM)
    c.idle()
    _wait(lambda: len(_monitors(c)) == 1)
    # The agent saw the monitor: the member is ONLINE.
    with AgentWatcher(c.sandbox.nb_remote, c.sandbox.sb_remote) as w:
        assert w.wait_for_lock(10)
        w.run_until(lambda: _member_status(c) == "ONLINE", 10)
    assert _member_status(c) == "ONLINE"
    # No agent runs; the VM's port goes, and ovn-northd deletes its Service_Monitor.
    c.sandbox.nbctl("lsp-del", c.vm_port)
    _wait(lambda: _monitors(c) == [])
    # The plain watcher's catch-up does not see it (the deletion event was missed)...
    with Watcher(c.sandbox.nb_remote, c.sandbox.sb_remote) as w:
        assert w.wait_for_lock(10)
        w.step(0.5)
    assert _member_status(c) == "ONLINE"
    # ...the agent's does, as the deletion event would have: NO_MONITOR, reported.
    reports: list[Any] = []
    with AgentWatcher(c.sandbox.nb_remote, c.sandbox.sb_remote, on_status=reports.append) as w:
        assert w.wait_for_lock(10)
        assert w.run_until(lambda: _member_status(c) == "NO_MONITOR", 10)
    members = [e for r in reports for e in r.get("members", ()) if e["id"] == MEMBER]
    assert members[-1]["operating_status"] == "NO_MONITOR"


def test_member_goes_error_then_back_online(cloud: Cloud) -> None:
    c = cloud
    _walk_to_member(c)
    c.provider.health_monitor_create(_hm())
    c.octavia.commit("healthmonitor", HM)
    c.idle()
    _wait(lambda: len(_monitors(c)) == 1)
    (sm,) = _monitors(c)
    reports: list[Any] = []

    def member_reports() -> list[str]:
        return [e["operating_status"] for r in reports for e in r.get("members", ())]

    with AgentWatcher(c.sandbox.nb_remote, c.sandbox.sb_remote, on_status=reports.append) as w:
        assert w.wait_for_lock(10)
        assert w.run_until(lambda: _member_status(c) == "ONLINE", 10)
        c.sandbox.sbctl("set", "Service_Monitor", sm, "status=offline")
        assert w.run_until(lambda: member_reports()[-1:] == ["ERROR"], 10)
        assert _member_status(c) == "ERROR"
        bind_port(c.sandbox.sbctl, c.vm_port)
        c.sandbox.sbctl("set", "Service_Monitor", sm, "status=online")
        assert w.run_until(lambda: member_reports()[-1:] == ["ONLINE"], 10)
        assert _member_status(c) == "ONLINE"
        # Each report is the LB's roll-up: one member, so the pool, listener and LB follow it.
        last = reports[-1]
        for kind in ("pools", "listeners", "loadbalancers"):
            assert [e["operating_status"] for e in last[kind]] == ["ONLINE"], kind
        # Settled: northd did not turn it back (the port is up), nothing more is reported.
        w.run_until(lambda: False, 1.0)
        assert member_reports()[-1] == "ONLINE"
        assert c.sandbox.sbctl("get", "Service_Monitor", sm, "status").strip() == "online"


def test_health_reports_carry_operating_statuses_only() -> None:
    payload = {
        "loadbalancers": [
            {"id": "a", "provisioning_status": "ACTIVE", "operating_status": "ERROR"}
        ],
        "members": [
            {"id": "m", "provisioning_status": "ACTIVE", "operating_status": "ERROR"},
            {"id": "gone", "provisioning_status": "DELETED"},
        ],
        "pools": [],
    }
    assert operating_only(payload) == {
        "loadbalancers": [{"id": "a", "operating_status": "ERROR"}],
        "members": [{"id": "m", "operating_status": "ERROR"}],
    }


def test_agent_runs_until_exit_event(cloud: Cloud) -> None:
    conf = config.register_opts()
    conf([], project="ovnlb-test")
    conf.set_override("nb_connection", [cloud.sandbox.nb_remote], "ovnlb")
    conf.set_override("sb_connection", [cloud.sandbox.sb_remote], "ovnlb")
    conf.set_override("ovsdb_connection_timeout", 5.0, "ovnlb")
    exit_event = threading.Event()
    thread = threading.Thread(target=agent, args=(exit_event,), daemon=True)
    try:
        thread.start()
        # It takes the lock once connected: then another watcher cannot get it.
        deadline = time.monotonic() + 20
        while True:
            with Watcher(cloud.sandbox.nb_remote, cloud.sandbox.sb_remote) as probe:
                if not probe.wait_for_lock(1):
                    break
            assert time.monotonic() < deadline, "the agent never took the lock"
            time.sleep(0.3)
        with Watcher(cloud.sandbox.nb_remote, cloud.sandbox.sb_remote) as other:
            assert not other.wait_for_lock(1)
            exit_event.set()
            thread.join(15)
            assert not thread.is_alive()
            # Stopped cleanly: its connection closed, the lock is free.
            assert other.wait_for_lock(10)
    finally:
        exit_event.set()
        thread.join(15)
        for opt in ("nb_connection", "sb_connection", "ovsdb_connection_timeout"):
            conf.clear_override(opt, "ovnlb")


def test_options_published_for_the_config_generator() -> None:
    import importlib.metadata as md

    (ep,) = [e for e in md.entry_points(group="oslo.config.opts") if e.name == "ovnlb"]
    groups = dict(ep.load()())
    names = {o.name for o in groups["ovnlb"]}
    assert {
        "nb_connection",
        "nb_private_key",
        "nb_certificate",
        "nb_ca_cert",
        "sb_connection",
        "sb_private_key",
        "sb_certificate",
        "sb_ca_cert",
        "ovsdb_connection_timeout",
    } <= names
    conf = cfg.ConfigOpts()
    config.register_opts(conf)
    config.register_opts(conf)  # twice is fine (Octavia builds a provider per request)
    conf([])
    assert conf.ovnlb.nb_connection == ["tcp:127.0.0.1:6641"]
    assert config.remote(["tcp:a:1", " tcp:b:2"]) == "tcp:a:1,tcp:b:2"
    for group, name in (
        ("octavia.api.drivers", "ovnlb_octavia.provider:OvnLbProviderDriver"),
        ("octavia.driver_agent.provider_agents", "ovnlb_octavia.agent:agent"),
    ):
        (found,) = [e for e in md.entry_points(group=group) if e.name == "ovnlb"]
        assert found.value == name
