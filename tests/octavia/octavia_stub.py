"""What the provider sees of Octavia in provider-level tests: a status sink with commit visibility.

The real driver agent is exercised end to end in ``test_octavia_e2e.py``;
here :class:`OctaviaRecorder` stands in for its sockets: it records every
status report and answers ``get_*`` only for objects "committed" by the
test (Octavia's API transaction), so the provider's wait for the commit can
be tested.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from ovnlb_core.status import Payload


class OctaviaRecorder:
    """Status reports received; objects Octavia has committed (``commit``)."""

    def __init__(self, *, fail_first: int = 0) -> None:
        self.lock = threading.Lock()
        self.reports: list[Payload] = []
        self.objects: dict[str, dict[str, Mapping[str, Any]]] = {
            k: {} for k in ("loadbalancer", "listener", "pool", "member", "healthmonitor")
        }
        #: The first N pushes raise (as UpdateStatusError does while Octavia has not committed).
        self.fail_first = fail_first
        self.attempts = 0

    def commit(self, kind: str, oid: str, **fields: Any) -> None:
        with self.lock:
            self.objects[kind][oid] = {f"{kind}_id": oid, **fields}

    def update_loadbalancer_status(self, status: Payload) -> None:
        from octavia_lib.api.drivers import exceptions as lib_exc

        with self.lock:
            self.attempts += 1
            if self.attempts <= self.fail_first:
                raise lib_exc.UpdateStatusError(fault_string="not committed yet")
            self.reports.append(status)

    def _get(self, kind: str, oid: str) -> Any:
        with self.lock:
            return self.objects[kind].get(oid)

    def get_loadbalancer(self, loadbalancer_id: str) -> Any:
        return self._get("loadbalancer", loadbalancer_id)

    def get_listener(self, listener_id: str) -> Any:
        return self._get("listener", listener_id)

    def get_pool(self, pool_id: str) -> Any:
        return self._get("pool", pool_id)

    def get_member(self, member_id: str) -> Any:
        return self._get("member", member_id)

    def get_healthmonitor(self, healthmonitor_id: str) -> Any:
        return self._get("healthmonitor", healthmonitor_id)

    def statuses(self, kind: str) -> dict[str, dict[str, Any]]:
        """The last reported entry per object of ``kind`` (``loadbalancers``, ``members``...)."""
        out: dict[str, dict[str, Any]] = {}
        with self.lock:
            for r in self.reports:
                for e in r.get(kind, ()):
                    out[e["id"]] = {**out.get(e["id"], {}), **e}
        return out
