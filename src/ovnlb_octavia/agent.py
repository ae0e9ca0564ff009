"""The ``octavia.driver_agent.provider_agents`` entry point ``ovnlb``: :func:`agent`.

``octavia-driver-agent`` runs ``agent(exit_event)`` in its own process (and
restarts it about a second after it raises). The agent hosts the NB/SB
:class:`~ovnlb_backends.service.watch.Watcher`: router interfaces, floating IPs and
``Service_Monitor`` health, acted on by whichever agent holds the OVSDB lock
``ovnlb_watch`` (one actor per cluster however many driver agents run).
Member statuses go to Octavia through the driver agent's status socket,
asynchronously and retried, as operating statuses only (see
:func:`operating_only`).

Catch-up (on start, on getting the lock, after a reconnection) does what the
watcher does, plus what it cannot see from events: a member whose status
came from a ``Service_Monitor`` row that was deleted while no agent ran is
set to NO_MONITOR, as the deletion event would have done.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ovnlb_backends.base import BackendError
from ovnlb_backends.service.watch import Watcher
from ovnlb_core import events as ev
from ovnlb_core.formats import mapping_key, parse_mapping_value
from ovnlb_core.nb import NbReader
from ovnlb_core.parse import parse
from ovnlb_core.rows import lb_names, lb_rowset
from ovnlb_core.status import Payload

__all__ = [
    "AgentWatcher",
    "agent",
    "operating_only",
    "run_agent",
    "vanished_monitor_events",
]

log = logging.getLogger(__name__)

#: Member statuses that only a Service_Monitor row gives (spec 4.4).
_MONITORED = ("ONLINE", "ERROR")


def vanished_monitor_events(
    reader: NbReader, monitors: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """``member_health`` delete events for members whose status names a monitor SB lacks.

    A member's status is ONLINE or ERROR only from a ``Service_Monitor`` row
    (ip, port, protocol, logical_port); when no such row exists any more,
    the row was deleted unseen.
    """
    present = {
        (
            str(m.get("ip")),
            int(m.get("port") or 0),
            str(m.get("protocol") or "tcp"),
            m.get("logical_port"),
        )
        for m in monitors
    }
    out: list[dict[str, Any]] = []
    for name in lb_names(reader):
        actual = lb_rowset(reader, name)
        if not actual.lbs:
            continue
        try:
            state = parse(name, actual)
        except Exception:
            log.exception("load balancer %s: unreadable rows", name)
            continue
        for row in state.rows:
            if not row.ip_port_mappings or row.protocol is None:
                continue
            statuses = row.statuses()
            for _pool, m in row.all_members():
                if statuses.get(m.id) not in _MONITORED:
                    continue
                mapping = row.ip_port_mappings.get(mapping_key(m.address))
                if not mapping:
                    continue
                lsp, src = parse_mapping_value(mapping)
                if (m.address, m.port, row.protocol, lsp) in present:
                    continue
                out.append(
                    {
                        "type": "delete",
                        "row": {
                            "ip": m.address,
                            "port": m.port,
                            "protocol": row.protocol,
                            "logical_port": lsp,
                            "src_ip": src,
                            "status": None,
                        },
                    }
                )
    return out


def operating_only(payload: Payload) -> Payload:
    """A health report without provisioning statuses.

    The reference sends ``provisioning_status: ACTIVE`` with every health
    roll-up; arriving while a request is in flight that sets the load
    balancer ACTIVE under Octavia's PENDING_UPDATE, which then lets the next
    request in before the first one finished. Health changes only the
    operating status.
    """
    out: Payload = {}
    for kind, entries in payload.items():
        kept = [
            {k: v for k, v in e.items() if k != "provisioning_status"}
            for e in entries
            if "operating_status" in e
        ]
        if kept:
            out[kind] = kept
    return out


class AgentWatcher(Watcher):
    """The watcher with the agent's extra catch-up (see the module docstring)."""

    def catch_up(self) -> None:
        """The watcher's catch-up, then members whose Service_Monitor vanished unseen."""
        super().catch_up()
        reader = self.backend.reader()
        actions: list[ev.LbAction] = []
        for event in vanished_monitor_events(reader, self.service_monitors()):
            actions += ev.member_health_actions(reader, event, report=False)
        self._apply_all(actions)


def run_agent(
    exit_event: threading.Event,
    make_watcher: Callable[[], Watcher],
    *,
    tick: float = 0.5,
    retry: float = 2.0,
) -> None:
    """Watch until ``exit_event`` is set; reconnect (after ``retry`` s) when NB/SB fail."""
    while not exit_event.is_set():
        try:
            with make_watcher() as watcher:
                while not exit_event.is_set():
                    watcher.step(tick)
        except BackendError:
            log.exception("NB/SB connection failed; retrying in %s s", retry)
            exit_event.wait(retry)


def agent(exit_event: threading.Event) -> None:
    """The provider agent: ``[ovnlb]`` NB/SB, status reports to ``[driver_agent]``'s socket."""
    from oslo_config import cfg

    from ovnlb_octavia import config
    from ovnlb_octavia.neutron import NeutronSubnets, sdk_network
    from ovnlb_octavia.reports import driver_library
    from ovnlb_octavia.runtime import Runtime
    from ovnlb_octavia.wiring import LazyNetwork

    conf = config.register_opts()
    opts = conf.ovnlb

    def no_backend() -> Any:
        raise BackendError("the agent's runtime only pushes statuses")

    network = LazyNetwork(lambda: sdk_network(conf))
    runtime = Runtime(
        no_backend,
        network,
        lambda: driver_library(cfg.CONF),
        push_attempts=opts.status_update_attempts,
        push_max_interval=opts.status_update_max_interval,
    )
    sb_key = opts.sb_private_key or None

    def make_watcher() -> Watcher:
        return AgentWatcher(
            config.remote(opts.nb_connection),
            config.remote(opts.sb_connection),
            on_status=lambda p: runtime.push(operating_only(p)),
            subnets=NeutronSubnets(network),
            timeout=opts.ovsdb_connection_timeout,
            ssl_key=opts.nb_private_key or sb_key,
            ssl_cert=opts.nb_certificate or opts.sb_certificate or None,
            ssl_ca=opts.nb_ca_cert or opts.sb_ca_cert or None,
        )

    log.info("ovnlb provider agent starting")
    try:
        run_agent(exit_event, make_watcher)
    finally:
        runtime.wait_idle(5.0)
        runtime.close()
        log.info("ovnlb provider agent stopped")
