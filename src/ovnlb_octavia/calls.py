"""One Octavia call in two steps: everything about validating, waiting and applying lives here.

1. **In the API request** (before Octavia commits its transaction): the
   request is run against the current NB rows without writing (a dry run in
   the process's NB thread). A refusal raises octavia-lib's exception
   (:func:`octavia_error`), so the API answers 501, 409 or 500 and rolls
   back: nothing is written anywhere and nothing is left PENDING.
2. **After Octavia committed** (queued to the NB thread): wait until Octavia
   shows a created object (:meth:`Calls.committed`), run the call's
   ``before`` hook (Neutron ports), apply the request to NB in one
   transaction, run its ``after`` hook (clean-up, best effort) and queue one
   status report. Any failure reports the call's ``on_error`` payload.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import attrs
from octavia_lib.api.drivers import exceptions as lib_exc

from ovnlb_backends.base import Backend, BackendError, Reader
from ovnlb_backends.service.driver import OvnLbDriver
from ovnlb_core import errors
from ovnlb_core import octavia as oc
from ovnlb_core import requests as rq
from ovnlb_core.plan import LbRowSet, Plan
from ovnlb_core.status import Payload
from ovnlb_octavia import neutron as nt
from ovnlb_octavia.ports import Ports
from ovnlb_octavia.reports import last_wins, only_members
from ovnlb_octavia.runtime import Replica, Runtime, StatusSink

log = logging.getLogger(__name__)

__all__ = ["Call", "Calls", "DryRun", "RunFn", "fault", "octavia_error"]

#: What a call does with the driver: the request, returning its status payloads.
RunFn = Callable[[OvnLbDriver], list[Payload]]


class DryRun:
    """A backend that reads through and writes nothing (validation in the API request)."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner

    def reader(self) -> Reader:
        """The real backend's reader."""
        return self.inner.reader()

    def commit(self, plan: Plan, basis: LbRowSet | None = None) -> None:
        """Nothing is sent."""

    def apply_raw(self, ops: Sequence[Any]) -> None:
        """Nothing is sent."""

    def transaction_count(self) -> int:
        """None sent."""
        return 0

    def connected(self) -> bool:
        """The real backend's."""
        return self.inner.connected()

    def schema_version(self) -> str | None:
        """The real backend's."""
        return self.inner.schema_version()

    def close(self) -> None:
        """The real backend stays open."""


def fault(cls: Any, message: str) -> Exception:
    """An octavia-lib exception with ``message`` for the user and the operator."""
    err: Exception = cls(user_fault_string=message, operator_fault_string=message)
    return err


def octavia_error(e: BaseException) -> Exception:
    """The octavia-lib exception for an ovnlb failure (what the API answers)."""
    if isinstance(e, errors.UnsupportedOptionError):
        return fault(lib_exc.UnsupportedOptionError, f"OVN provider (ovnlb): {e}")
    if isinstance(e, nt.NeutronConflict):
        return fault(lib_exc.Conflict, f"Neutron: {e}")
    if isinstance(e, errors.ValidationError):
        return fault(lib_exc.DriverError, f"ovnlb refused the request: {e}")
    if isinstance(e, BackendError):
        return fault(lib_exc.DriverError, f"OVN Northbound database unavailable: {e}")
    if isinstance(e, nt.NeutronError):
        return fault(lib_exc.DriverError, f"Neutron: {e}")
    return fault(lib_exc.DriverError, f"ovnlb: {type(e).__name__}: {e}")


@attrs.frozen
class Call:
    """One Octavia call as the two steps take it.

    ``lb_of`` names the load balancer (from the request or NB); ``on_error``
    builds the report after a failure (given the LB when known); ``created``
    (kind, id) makes step 2 wait until Octavia shows the object; ``before``
    and ``after`` are the Neutron side effects around the NB transaction;
    ``members`` limits the report's member entries to the request's own.
    """

    lb_of: Callable[[Replica], str]
    run: RunFn
    on_error: Callable[[str | None], Payload]
    created: tuple[str, str] | None = None
    before: Callable[[Replica, str], None] | None = None
    after: Callable[[Replica], None] | None = None
    vip_subnet: str | None = None
    members: frozenset[str] | None = None


class Calls:
    """Takes :class:`Call` values through the two steps on one :class:`Runtime`."""

    def __init__(self, runtime: Runtime, ports: Ports) -> None:
        self.runtime = runtime
        self.ports = ports

    def driver(
        self, backend: Backend, lb_id: str | None, vip_subnet: str | None = None
    ) -> OvnLbDriver:
        """An :class:`OvnLbDriver` on ``backend`` that knows the LB's VIP subnet."""
        rt = self.runtime
        view = oc.OctaviaView()
        if lb_id is not None:
            subnet = vip_subnet or self.ports.vip_subnet(backend, lb_id)
            if subnet:
                rt.subnets.fetch([subnet])
                view.loadbalancers[lb_id] = {"loadbalancer_id": lb_id, "vip_subnet_id": subnet}
        return OvnLbDriver(backend, rt.subnets, view, cache=rt.cache)

    def submit(self, call: Call) -> None:
        """Step 1 now (raising octavia-lib's exception), step 2 queued."""
        rt = self.runtime

        def validate() -> None:
            backend = rt.backend()
            lb_id = call.lb_of(backend)
            call.run(self.driver(DryRun(backend), lb_id, call.vip_subnet))

        try:
            rt.call(validate)
        except (errors.OvnlbError, BackendError, nt.NeutronError) as e:
            raise octavia_error(e) from e

        if call.created is None:
            rt.submit(lambda: self._apply(call))
            return
        kind, oid = call.created

        def wait_then_apply() -> None:
            if self.committed(kind, oid):
                rt.submit(lambda: self._apply(call))
            else:
                log.warning(
                    "%s %s never appeared in Octavia (request rolled back?): not applied",
                    kind,
                    oid,
                )

        # Waiting happens off the NB thread: a rolled-back create must not stall the others.
        rt.wait_in_background(wait_then_apply)

    def _apply(self, call: Call) -> None:
        """Step 2, in the NB thread."""
        rt = self.runtime
        lb_id: str | None = None
        try:
            backend = rt.backend()
            lb_id = call.lb_of(backend)
            if call.before is not None:
                call.before(backend, lb_id)
            statuses = call.run(self.driver(backend, lb_id, call.vip_subnet))
            if call.after is not None:
                try:
                    call.after(backend)
                except Exception:
                    # Port clean-up is best effort: the request itself succeeded.
                    log.exception("clean-up after the request failed")
            # One report per request: Octavia applies members, pools and listeners
            # before the load balancer, so the LB leaves PENDING_UPDATE last.
            report = last_wins(rq.merge_payloads(statuses))
            if call.members is not None:
                report = only_members(report, call.members)
            rt.push(report)
        except Exception:
            log.exception("request failed; reporting its objects ERROR")
            rt.push(call.on_error(lb_id))

    def committed(self, kind: str, oid: str) -> bool:
        """Wait until Octavia's database shows ``oid`` (its API transaction committed).

        Only answers count towards ``commit_timeout``: while the driver agent
        cannot be asked (restarting), the wait goes on, so a committed create
        is never dropped because the agent was briefly away.
        """
        rt = self.runtime
        deadline = time.monotonic() + rt.commit_timeout
        delay = 0.02
        while True:
            try:
                if _octavia_object(rt.sink(), kind, oid):
                    return True
            except Exception as e:
                log.warning("asking Octavia for %s %s: %s", kind, oid, e)
                rt.drop_sink()
                deadline = max(deadline, time.monotonic() + rt.commit_timeout)
            if time.monotonic() >= deadline:
                return False
            time.sleep(delay)
            delay = min(0.5, delay * 2)


def _octavia_object(sink: StatusSink, kind: str, oid: str) -> Any:
    """Octavia's provider dict of object ``oid`` of ``kind``, or None while it does not exist."""
    getters: dict[str, Callable[[str], Any]] = {
        "loadbalancer": sink.get_loadbalancer,
        "listener": sink.get_listener,
        "pool": sink.get_pool,
        "member": sink.get_member,
        "healthmonitor": sink.get_healthmonitor,
    }
    return getters[kind](oid)
