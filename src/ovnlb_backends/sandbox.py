"""Private OVN databases (and optionally ovn-northd) started from Debian's OVN binaries.

:class:`OvnSandbox` creates ``nb.db`` (and ``sb.db``) in a folder and starts
``ovsdb-server`` (and ``ovn-northd``) as detached daemons the way the design
document's "Real components" section shows: ``--detach --no-chdir --pidfile
--log-file``, plus explicit ``--unixctl`` sockets because the default control
folder does not exist on a developer machine. Used by the test fixtures and
by ``ovnlb --sandbox``.

:class:`OvnNbCluster` starts a clustered (RAFT) NB database of several
members for failover tests.

Plain classes (no pytest): ``with OvnSandbox(path) as sb: ...`` or call
``stop()``; an ``atexit`` hook stops whatever is still running when the
interpreter exits. Processes are stopped by their pidfile's PID only.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Final, Self

from ovnlb_core.errors import SandboxError as SandboxError
from ovnlb_core.errors import SandboxUnavailable as SandboxUnavailable

__all__ = [
    "SCHEMA_DIRS",
    "OvnNbCluster",
    "OvnSandbox",
    "SandboxError",
    "SandboxUnavailable",
    "StopOnExit",
    "find_schema",
    "free_tcp_port",
    "missing_binaries",
    "pid_alive",
    "stop_process",
]

#: Where Debian (and a ``make install`` to /usr/local) put the OVN schemas.
SCHEMA_DIRS: Final = ("/usr/share/ovn", "/usr/local/share/ovn")

#: Longest socket path we use: ``sockaddr_un.sun_path`` holds 108 bytes on Linux.
_MAX_SOCKET_PATH: Final = 100

_RECORD_RE: Final = re.compile(r"^record (\d+):", re.MULTILINE)


def missing_binaries(with_northd: bool = False) -> list[str]:
    """Names of the programs a sandbox needs that are not on ``PATH``."""
    needed = ["ovsdb-tool", "ovsdb-server", "ovn-nbctl", "ovs-appctl"]
    if with_northd:
        needed += ["ovn-northd", "ovn-sbctl"]
    return [name for name in needed if shutil.which(name) is None]


def find_schema(name: str) -> Path:
    """Path of ``ovn-nb.ovsschema`` / ``ovn-sb.ovsschema`` (``$OVN_SCHEMA_DIR`` first)."""
    dirs = [os.environ["OVN_SCHEMA_DIR"]] if os.environ.get("OVN_SCHEMA_DIR") else []
    for d in [*dirs, *SCHEMA_DIRS]:
        path = Path(d) / name
        if path.is_file():
            return path
    raise SandboxUnavailable(f"{name} not found in {', '.join([*dirs, *SCHEMA_DIRS])}")


def pid_alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie counts as gone (no init reaps it in a container)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def stop_process(pid: int, timeout: float = 5.0) -> None:
    """SIGTERM ``pid``, wait up to ``timeout`` seconds for it to go, then SIGKILL it."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.01)
    if pid_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


class StopOnExit:
    """A context manager that calls ``stop()`` on exit."""

    def stop(self) -> None:
        """Release what the object holds; idempotent."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def free_tcp_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (small race, fine for tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Daemon:
    """One detached daemon: its pidfile, log file and unixctl socket."""

    def __init__(self, name: str, rundir: Path, sockdir: Path) -> None:
        self.name = name
        self.pidfile = rundir / f"{name}.pid"
        self.logfile = rundir / f"{name}.log"
        self.ctl = sockdir / f"{name}.ctl"
        self.pid: int | None = None
        self.argv: list[str] = []

    def start(self, argv: Sequence[str]) -> None:
        self.argv = list(argv)
        # --detach returns once the daemon is initialised (sockets listening),
        # so no polling for the socket is needed afterwards.
        cmd = [
            *argv[:1],
            "--detach",
            "--no-chdir",
            f"--pidfile={self.pidfile}",
            f"--log-file={self.logfile}",
            f"--unixctl={self.ctl}",
            *argv[1:],
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
        if proc.returncode != 0:
            log = self.logfile.read_text() if self.logfile.exists() else ""
            raise SandboxError(
                f"{self.name}: {' '.join(cmd)} exited {proc.returncode}: "
                f"{proc.stderr.strip()}\n{log[-2000:]}"
            )
        self.pid = int(self.pidfile.read_text().strip())

    def stop(self, timeout: float = 5.0) -> None:
        pid, self.pid = self.pid, None
        if pid is not None:
            stop_process(pid, timeout)

    def kill(self) -> None:
        """SIGKILL (a crash, as a test of reconnects wants it); no clean shutdown."""
        pid, self.pid = self.pid, None
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 5
            while pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.01)


class OvnSandbox(StopOnExit):
    """A private NB (and optionally SB + ovn-northd) in ``directory``.

    ``nb_remote`` / ``sb_remote`` are ``unix:`` remotes; with ``tcp=True`` the
    NB server also listens on ``nb_tcp_remote`` (``tcp:127.0.0.1:PORT``).
    ``ssl`` = ``(private_key, certificate, ca_cert)`` paths adds an
    ``nb_ssl_remote`` (``ssl:127.0.0.1:PORT``).
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        with_sb: bool = False,
        with_northd: bool = False,
        tcp: bool = False,
        ssl: tuple[str, str, str] | None = None,
    ) -> None:
        with_sb = with_sb or with_northd
        missing = missing_binaries(with_northd)
        if missing:
            raise SandboxUnavailable(
                "OVN binaries not found: "
                + ", ".join(missing)
                + " (apt-get install ovn-central ovn-common openvswitch-common)"
            )
        self.directory = Path(directory).resolve()
        self.directory.mkdir(parents=True, exist_ok=True)
        # Unix socket paths are limited to 108 bytes; pytest's tmp_path can be longer.
        self._own_sockdir: Path | None = None
        if len(str(self.directory / "northd.ctl")) > _MAX_SOCKET_PATH:
            self._own_sockdir = Path(tempfile.mkdtemp(prefix="ovnlb-"))
        sockdir = self._own_sockdir or self.directory
        self.nb_db = self.directory / "nb.db"
        self.sb_db = self.directory / "sb.db"
        self.nb_socket = sockdir / "nb.sock"
        self.sb_socket = sockdir / "sb.sock"
        self.nb_remote = f"unix:{self.nb_socket}"
        self.sb_remote = f"unix:{self.sb_socket}"
        self.nb_tcp_remote: str | None = None
        self.nb_ssl_remote: str | None = None
        self._nb = _Daemon("nb", self.directory, sockdir)
        self._sb = _Daemon("sb", self.directory, sockdir) if with_sb else None
        self._northd = _Daemon("northd", self.directory, sockdir) if with_northd else None
        self._stopped = False
        atexit.register(self.stop)
        try:
            self._start(tcp, ssl)
        except BaseException:
            self.stop()
            raise

    # -- lifecycle ---------------------------------------------------------

    def _start(self, tcp: bool, ssl: tuple[str, str, str] | None) -> None:
        nb_schema = find_schema("ovn-nb.ovsschema")
        self._create_db(self.nb_db, nb_schema)
        nb_args = ["ovsdb-server", f"--remote=punix:{self.nb_socket}"]
        if tcp:
            port = free_tcp_port()
            nb_args.append(f"--remote=ptcp:{port}:127.0.0.1")
            self.nb_tcp_remote = f"tcp:127.0.0.1:{port}"
        if ssl is not None:
            key, cert, ca = ssl
            port = free_tcp_port()
            nb_args += [
                f"--private-key={key}",
                f"--certificate={cert}",
                f"--ca-cert={ca}",
                f"--remote=pssl:{port}:127.0.0.1",
            ]
            self.nb_ssl_remote = f"ssl:127.0.0.1:{port}"
        self._nb.start([*nb_args, str(self.nb_db)])
        if self._sb is not None:
            self._create_db(self.sb_db, find_schema("ovn-sb.ovsschema"))
            self._sb.start(["ovsdb-server", f"--remote=punix:{self.sb_socket}", str(self.sb_db)])
        if self._northd is not None:
            self._northd.start(
                [
                    "ovn-northd",
                    f"--ovnnb-db={self.nb_remote}",
                    f"--ovnsb-db={self.sb_remote}",
                ]
            )

    @staticmethod
    def _create_db(path: Path, schema: Path) -> None:
        if path.exists():
            path.unlink()
        proc = subprocess.run(
            ["ovsdb-tool", "create", str(path), str(schema)],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise SandboxError(f"ovsdb-tool create {path}: {proc.stderr.strip()}")

    def stop(self) -> None:
        """Stop every daemon (northd first); idempotent, never raises for a dead process."""
        if self._stopped:
            return
        self._stopped = True
        atexit.unregister(self.stop)
        for daemon in (self._northd, self._sb, self._nb):
            if daemon is not None:
                daemon.stop()
        if self._own_sockdir is not None:
            shutil.rmtree(self._own_sockdir, ignore_errors=True)

    def kill_nb(self) -> None:
        """SIGKILL the NB server (a crash, for tests of reconnect handling)."""
        self._nb.kill()

    def restart_nb(self) -> None:
        """SIGKILL the NB server and start it again on the same database and sockets."""
        self._nb.kill()
        self._nb.start(self._nb.argv)

    # -- helpers -----------------------------------------------------------

    @property
    def nb_pid(self) -> int | None:
        """PID of the NB ``ovsdb-server`` (None once stopped)."""
        return self._nb.pid

    @property
    def nb_log(self) -> Path:
        """The NB server's log file."""
        return self._nb.logfile

    def nbctl(self, *args: str, timeout: float = 30.0) -> str:
        """Run ``ovn-nbctl --db=<nb_remote> ARGS`` and return its stdout."""
        return self._ctl("ovn-nbctl", self.nb_remote, args, timeout)

    def sbctl(self, *args: str, timeout: float = 30.0) -> str:
        """Run ``ovn-sbctl --db=<sb_remote> ARGS`` and return its stdout."""
        if self._sb is None:
            raise SandboxError("sandbox started without an SB database")
        return self._ctl("ovn-sbctl", self.sb_remote, args, timeout)

    @staticmethod
    def _ctl(prog: str, remote: str, args: Sequence[str], timeout: float) -> str:
        proc = subprocess.run(
            [prog, f"--db={remote}", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if proc.returncode != 0:
            raise SandboxError(f"{prog} {' '.join(args)}: {proc.stderr.strip()}")
        return proc.stdout

    def nb_appctl(self, *args: str) -> str:
        """Run ``ovs-appctl -t <nb unixctl socket> ARGS`` (e.g. ``vlog/set jsonrpc:file:dbg``)."""
        proc = subprocess.run(
            ["ovs-appctl", "-t", str(self._nb.ctl), *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if proc.returncode != 0:
            raise SandboxError(f"ovs-appctl {' '.join(args)}: {proc.stderr.strip()}")
        return proc.stdout

    def nb_log_records(self) -> int:
        """Number of records in ``nb.db`` (schema + one per committed write transaction).

        ``ovsdb-server`` appends exactly one record per transaction that
        changed something, so the difference of two readings counts
        transactions on the server side (until the server compacts the file,
        which it does only once the log has grown large).
        """
        proc = subprocess.run(
            ["ovsdb-tool", "show-log", str(self.nb_db)],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise SandboxError(f"ovsdb-tool show-log: {proc.stderr.strip()}")
        return len(_RECORD_RE.findall(proc.stdout))


class OvnNbCluster(StopOnExit):
    """A clustered (RAFT) NB database of ``size`` ``ovsdb-server`` processes in ``directory``.

    ``nb_remote`` is the comma-separated list of the members' unix sockets,
    as a client of a real OVN deployment gets it. Members talk RAFT over
    ``tcp:127.0.0.1`` ports. :meth:`leader` finds the current leader,
    :meth:`kill` crashes a member (for failover tests).
    """

    def __init__(self, directory: str | os.PathLike[str], *, size: int = 3) -> None:
        missing = missing_binaries()
        if missing:
            raise SandboxUnavailable("OVN binaries not found: " + ", ".join(missing))
        self.directory = Path(directory).resolve()
        self.directory.mkdir(parents=True, exist_ok=True)
        self._own_sockdir: Path | None = None
        if len(str(self.directory / f"nb{size}.ctl")) > _MAX_SOCKET_PATH:
            self._own_sockdir = Path(tempfile.mkdtemp(prefix="ovnlb-"))
        sockdir = self._own_sockdir or self.directory
        self.sockets = [sockdir / f"nb{i}.sock" for i in range(1, size + 1)]
        self.nb_remote = ",".join(f"unix:{s}" for s in self.sockets)
        self._members = [_Daemon(f"nb{i}", self.directory, sockdir) for i in range(1, size + 1)]
        self._stopped = False
        atexit.register(self.stop)
        try:
            self._start(size)
        except BaseException:
            self.stop()
            raise

    def _start(self, size: int) -> None:
        schema = find_schema("ovn-nb.ovsschema")
        addrs = [f"tcp:127.0.0.1:{free_tcp_port()}" for _ in range(size)]
        dbs = [self.directory / f"nb{i}.db" for i in range(1, size + 1)]
        cmds = [["ovsdb-tool", "create-cluster", str(dbs[0]), str(schema), addrs[0]]]
        cmds += [
            ["ovsdb-tool", "join-cluster", str(db), "OVN_Northbound", addr, addrs[0]]
            for db, addr in zip(dbs[1:], addrs[1:], strict=True)
        ]
        for cmd in cmds:
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                raise SandboxError(f"{' '.join(cmd)}: {proc.stderr.strip()}")
        for member, sock, db in zip(self._members, self.sockets, dbs, strict=True):
            member.start(["ovsdb-server", f"--remote=punix:{sock}", str(db)])

    def status(self, index: int) -> str:
        """``cluster/status OVN_Northbound`` of member ``index`` (0-based)."""
        proc = subprocess.run(
            ["ovs-appctl", "-t", str(self._members[index].ctl), "cluster/status", "OVN_Northbound"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        return proc.stdout if proc.returncode == 0 else ""

    def leader(self, timeout: float = 15.0) -> int:
        """Index of the running member that is leader (waits for an election)."""
        deadline = time.monotonic() + timeout
        while True:
            for i, member in enumerate(self._members):
                if member.pid is not None and "Role: leader" in self.status(i):
                    return i
            if time.monotonic() > deadline:
                raise SandboxError("no cluster leader")
            time.sleep(0.05)

    def wait_joined(self, timeout: float = 15.0) -> None:
        """Wait until every running member has joined the cluster."""
        deadline = time.monotonic() + timeout
        for i, member in enumerate(self._members):
            while member.pid is not None and "Status: cluster member" not in self.status(i):
                if time.monotonic() > deadline:
                    raise SandboxError(f"member {i} did not join the cluster")
                time.sleep(0.05)

    def kill(self, index: int) -> None:
        """SIGKILL member ``index`` (0-based)."""
        self._members[index].kill()

    def pid(self, index: int) -> int | None:
        """Process id of member ``index`` (None while it is down)."""
        return self._members[index].pid

    def restart(self, index: int) -> None:
        """Start member ``index`` again on its database file (after :meth:`kill`)."""
        member = self._members[index]
        if member.pid is None:
            member.start(member.argv)

    def nbctl(self, *args: str, timeout: float = 30.0) -> str:
        """``ovn-nbctl`` against the cluster (it talks to the leader)."""
        return OvnSandbox._ctl("ovn-nbctl", self.nb_remote, args, timeout)

    def stop(self) -> None:
        """Stop every member; idempotent."""
        if self._stopped:
            return
        self._stopped = True
        atexit.unregister(self.stop)
        for member in self._members:
            member.stop()
        if self._own_sockdir is not None:
            shutil.rmtree(self._own_sockdir, ignore_errors=True)
