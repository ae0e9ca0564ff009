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
from typing import Any, Protocol

from ovnlb_backends.base import Backend
from ovnlb_core.status import Payload
from ovnlb_core.translate import RowCache
from ovnlb_octavia.neutron import Network, NeutronSubnets

log = logging.getLogger(__name__)


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


class Runtime:
    """The per-process state (see the module docstring).

    ``backend_factory`` opens the NB backend (called in the NB thread, again
    after a failure); ``network`` is the Neutron seam; ``sink_factory``
    builds the status sink (in the status thread: ``DriverLibrary()`` waits
    for the agent's sockets).
    """

    def __init__(
        self,
        backend_factory: Callable[[], Backend],
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
        self._backend: Backend | None = None
        self._sink: StatusSink | None = None
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

    def backend(self) -> Backend:
        """The NB backend (NB thread only); opened on first use and after :meth:`drop_backend`."""
        if self._backend is None:
            self._backend = self.backend_factory()
        return self._backend

    def drop_backend(self) -> None:
        """Forget a broken connection (NB thread only): the next request reconnects."""
        if self._backend is not None:
            try:
                self._backend.close()
            except Exception:
                log.exception("closing the NB backend")
            self._backend = None

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` in the NB thread and wait for its result (or exception)."""
        return self._nb.submit(fn).result()

    def submit(self, fn: Callable[[], None]) -> concurrent.futures.Future[None]:
        """Queue ``fn`` for the NB thread; exceptions are logged, never lost silently."""

        def guarded() -> None:
            try:
                fn()
            except Exception:
                log.exception("provider request failed")

        return self._nb.submit(guarded)

    def wait_in_background(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` (a wait for Octavia's commit, then :meth:`submit`) off the NB thread."""

        def guarded() -> None:
            try:
                fn()
            except Exception:
                log.exception("waiting for Octavia failed")

        future = self._waits.submit(guarded)
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
        if self._sink is None:
            self._sink = self.sink_factory()
        return self._sink

    def drop_sink(self) -> None:
        """Forget the status sink (its agent went away); the next use builds a new one."""
        self._sink = None

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
                self._sink = None if not hasattr(e, "status_record") else self._sink
                time.sleep(delay)
                delay = min(self.push_max_interval, delay * 2)
        self.failed_pushes += 1
        log.error("status report lost after %d attempts: %s", self.push_attempts, payload)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until every queued request ran and every report was pushed (for tests)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending_waits:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        self._nb.submit(lambda: None).result(timeout)
        with self._idle:
            while self._unpushed:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

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
