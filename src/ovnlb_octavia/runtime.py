"""What one process shares between provider objects: the NB connection and two worker threads.

Octavia builds a provider object per API request, runs several API worker
processes (forks) and serves requests from threads. The ovs IDL is not
thread-safe, so each process has exactly one :class:`Runtime`: one NB
connection, used only by its **NB thread** (validation dry-runs from API
threads, then the writes, in arrival order), and one **status thread** that
pushes reports to the driver agent, retrying ``UpdateStatusError`` and a
missing or restarting agent with exponential back-off. A fork gets a fresh
runtime (threads and sockets do not survive ``fork``).
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from ovnlb_backends.base import Backend
from ovnlb_core.status import Payload
from ovnlb_core.translate import RowCache
from ovnlb_octavia.neutron import Network, NeutronSubnets

__all__ = [
    "Lazy",
    "Replica",
    "Runtime",
    "StatusSink",
    "process_runtime",
    "set_process_runtime",
]

log = logging.getLogger(__name__)

T = TypeVar("T")


class Replica(Backend, Protocol):
    """The provider's NB backend: a :class:`Backend` on a replica that can be waited on
    (:class:`~ovnlb_backends.idl.IdlBackend`)."""

    def wait_for(self, done: Callable[[], bool], timeout: float | None = None) -> bool:
        """Process NB updates until ``done()`` holds (False after ``timeout`` seconds)."""
        ...


class StatusSink(Protocol):
    """Where status reports go: octavia-lib's ``DriverLibrary`` (or a test's recorder)."""

    def update_loadbalancer_status(self, status: Payload) -> None:
        """Apply one report in Octavia's database."""
        ...

    def get_loadbalancer(self, loadbalancer_id: str) -> Any:
        """Octavia's provider dict of the object, or None while it does not exist."""
        ...

    def get_listener(self, listener_id: str) -> Any:
        """As :meth:`get_loadbalancer`."""
        ...

    def get_pool(self, pool_id: str) -> Any:
        """As :meth:`get_loadbalancer`."""
        ...

    def get_member(self, member_id: str) -> Any:
        """As :meth:`get_loadbalancer`."""
        ...

    def get_healthmonitor(self, healthmonitor_id: str) -> Any:
        """As :meth:`get_loadbalancer`."""
        ...


class Lazy(Generic[T]):
    """A value built on first use, and built again after :meth:`drop` (a connection, a client)."""

    def __init__(self, make: Callable[[], T], close: Callable[[T], None] | None = None) -> None:
        self.make = make
        self.close = close
        self.value: T | None = None

    def get(self) -> T:
        """The value, built now when there is none."""
        if self.value is None:
            self.value = self.make()
        return self.value

    def drop(self) -> None:
        """Forget the value (closing it, failures logged); the next :meth:`get` builds a new one."""
        value, self.value = self.value, None
        if value is not None and self.close is not None:
            try:
                self.close(value)
            except Exception:
                log.exception("closing %r", value)


def _guarded(fn: Callable[[], None], failure: str) -> Callable[[], None]:
    """``fn`` with its exceptions logged as ``failure`` (a worker thread must not lose them)."""

    def run() -> None:
        try:
            fn()
        except Exception:
            log.exception(failure)

    return run


class Runtime:
    """The per-process state (see the module docstring).

    ``backend_factory`` opens the NB backend (called in the NB thread, again
    after a failure); ``network`` is the Neutron seam; ``sink_factory``
    builds the status sink (in the status thread: ``DriverLibrary()`` waits
    for the agent's sockets).
    """

    def __init__(
        self,
        backend_factory: Callable[[], Replica],
        network: Network,
        sink_factory: Callable[[], StatusSink],
        *,
        push_attempts: int = 15,
        push_max_interval: float = 8.0,
        commit_timeout: float = 60.0,
    ) -> None:
        self.pid = os.getpid()
        self.backend_factory = backend_factory
        self.network = network
        self.subnets = NeutronSubnets(network)
        self.sink_factory = sink_factory
        self.push_attempts = push_attempts
        self.push_max_interval = push_max_interval
        self.commit_timeout = commit_timeout
        self.cache = RowCache()
        #: LB id -> its VIP subnet (never changes; saves a Neutron call per request).
        self.vip_subnets: dict[str, str | None] = {}
        self._backend: Lazy[Replica] = Lazy(backend_factory, lambda b: b.close())
        self._sink: Lazy[StatusSink] = Lazy(sink_factory)
        self._nb = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="ovnlb-nb")
        self._waits = concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="ovnlb-wait")
        self._pending_waits: set[concurrent.futures.Future[None]] = set()
        self._pushes: queue.Queue[Payload | None] = queue.Queue()
        self._idle = threading.Condition()
        self._unpushed = 0
        self.pushed: int = 0
        self.failed_pushes: int = 0
        self._pusher = threading.Thread(target=self._push_loop, name="ovnlb-status", daemon=True)
        self._pusher.start()

    # -- NB thread ---------------------------------------------------------------------

    def backend(self) -> Replica:
        """The NB backend (NB thread only); opened on first use and after :meth:`drop_backend`."""
        return self._backend.get()

    def drop_backend(self) -> None:
        """Forget a broken connection (NB thread only): the next request reconnects."""
        self._backend.drop()

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` in the NB thread and wait for its result (or exception)."""
        return self._nb.submit(fn).result()

    def submit(self, fn: Callable[[], None]) -> concurrent.futures.Future[None]:
        """Queue ``fn`` for the NB thread; exceptions are logged, never lost silently."""
        return self._nb.submit(_guarded(fn, "provider request failed"))

    def wait_in_background(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` (a wait for Octavia's commit, then :meth:`submit`) off the NB thread."""
        future = self._waits.submit(_guarded(fn, "waiting for Octavia failed"))
        with self._idle:
            self._pending_waits.add(future)
        future.add_done_callback(self._wait_done)

    def _wait_done(self, future: concurrent.futures.Future[None]) -> None:
        with self._idle:
            self._pending_waits.discard(future)
            self._idle.notify_all()

    # -- status thread -----------------------------------------------------------------

    def sink(self) -> StatusSink:
        """The status sink (built on first use)."""
        return self._sink.get()

    def drop_sink(self) -> None:
        """Forget the status sink (its agent went away); the next use builds a new one."""
        self._sink.drop()

    def push(self, payload: Payload) -> None:
        """Queue a report for the driver agent (asynchronous; order kept)."""
        if not any(payload.values()):
            return
        with self._idle:
            self._unpushed += 1
        self._pushes.put(payload)

    def _push_loop(self) -> None:
        while True:
            payload = self._pushes.get()
            if payload is None:
                return
            try:
                self._push_one(payload)
            finally:
                with self._idle:
                    self._unpushed -= 1
                    self._idle.notify_all()

    def _push_one(self, payload: Payload) -> None:
        delay = 0.05
        for attempt in range(1, self.push_attempts + 1):
            try:
                log.debug("status report: %s", payload)
                self.sink().update_loadbalancer_status(payload)
                self.pushed += 1
                return
            except Exception as e:
                # UpdateStatusError (Octavia has not committed yet, or its DB is busy),
                # or the agent's socket is missing while it restarts: both pass.
                log.warning("status push attempt %d failed: %s", attempt, e)
                if not hasattr(e, "status_record"):
                    self.drop_sink()
                time.sleep(delay)
                delay = min(self.push_max_interval, delay * 2)
        self.failed_pushes += 1
        log.error("status report lost after %d attempts: %s", self.push_attempts, payload)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until every queued request ran and every report was pushed (for tests)."""
        deadline = time.monotonic() + timeout

        def until(done: Callable[[], bool]) -> bool:
            with self._idle:
                return self._idle.wait_for(done, max(0.0, deadline - time.monotonic()))

        if not until(lambda: not self._pending_waits):
            return False
        self._nb.submit(lambda: None).result(timeout)
        return until(lambda: not self._unpushed)

    def close(self) -> None:
        """Stop both threads and close the NB connection."""
        self._waits.shutdown(wait=True, cancel_futures=True)
        self._nb.submit(self.drop_backend)
        self._nb.shutdown(wait=True)
        self._pushes.put(None)
        self._pusher.join(10)


_lock = threading.Lock()
_runtime: Runtime | None = None


def process_runtime(make: Callable[[], Runtime]) -> Runtime:
    """This process's runtime, built with ``make`` once (and again in a forked child)."""
    global _runtime
    with _lock:
        if _runtime is None or _runtime.pid != os.getpid():
            _runtime = make()
        return _runtime


def set_process_runtime(runtime: Runtime | None) -> None:
    """Install (or clear) this process's runtime: tests and embedders choose their own."""
    global _runtime
    with _lock:
        _runtime = runtime
