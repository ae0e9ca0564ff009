"""Everything about running ovn-nbctl lives here: processes, the daemon, its socket.

:class:`NbctlProcess` runs one invocation as a subprocess (argv list, never a
shell) or as a ``run`` request on an ovn-nbctl daemon's unixctl socket (a
private daemon it starts, ``$OVN_NB_DAEMON``, or one started on first need
for an invocation too large for an argv), and stops what it started.
"""

from __future__ import annotations

import atexit
import json
import math
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from ovnlb_backends.base import BackendError
from ovnlb_backends.nbctl.cache import LookupCache
from ovnlb_backends.nbctl.syntax import Command
from ovnlb_backends.sandbox import stop_process

__all__ = ["ARG_LIMIT", "NbctlProcess"]

#: Longest single argv string passed to a process (Linux refuses strings over
#: MAX_ARG_STRLEN = 128 KiB with E2BIG); longer ones go through a daemon.
ARG_LIMIT: Final = 100 * 1024
#: Unix socket paths longer than this do not fit ``sockaddr_un.sun_path``.
_SUN_PATH_MAX: Final = 107
_RECV_SIZE: Final = 1 << 20


def _exec_total_limit() -> int:
    """A safe bound for argv plus environment: half of ``ARG_MAX`` (at most 1 MiB)."""
    try:
        arg_max = os.sysconf("SC_ARG_MAX")
    except (ValueError, OSError):
        arg_max = -1
    if arg_max <= 0:
        arg_max = 128 * 1024
    return min(arg_max // 2, 1 << 20)


def _fits_argv(argv: Sequence[str], env: Mapping[str, str]) -> bool:
    """True when ``argv`` with ``env`` can be passed to a process without E2BIG.

    Counts what the kernel copies: each string with its NUL, and a pointer
    per string.
    """
    total = 0
    for arg in argv:
        size = len(arg.encode("utf-8", "surrogateescape")) + 1
        if size > ARG_LIMIT:
            return False
        total += size + 8
    for k, v in env.items():
        total += len(k.encode("utf-8", "surrogateescape")) + len(
            v.encode("utf-8", "surrogateescape")
        )
        total += 2 + 8
    return total <= _exec_total_limit()


def _unixctl_path(path: str) -> str:
    """``path`` made absolute the way ovn-nbctl's client does (relative to the OVS rundir)."""
    if os.path.isabs(path):
        return path
    rundir = os.environ.get("OVS_RUNDIR") or "/var/run/openvswitch"
    return os.path.join(rundir, path)


def _connect_unix(sock: socket.socket, path: str) -> None:
    """Connect ``sock`` to ``path``, through ``/proc/self/fd`` when the path is too long."""
    if len(os.fsencode(path)) <= _SUN_PATH_MAX:
        sock.connect(path)
        return
    directory, name = os.path.split(path)
    fd = os.open(directory or ".", os.O_PATH | os.O_DIRECTORY)
    try:
        sock.connect(f"/proc/self/fd/{fd}/{name}")
    finally:
        os.close(fd)


class NbctlProcess:
    """Runs ovn-nbctl invocations for :class:`~ovnlb_backends.nbctl.NbctlBackend`.

    ``remote`` is the NB remote (``--db``); ``private_key`` / ``certificate``
    / ``ca_cert`` are PEM files for ``ssl:`` remotes (``-p``/``-c``/``-C``).
    ``timeout`` (seconds) bounds each invocation. ``daemon``: True starts a
    private ``ovn-nbctl`` daemon, None uses ``$OVN_NB_DAEMON`` when set, False
    runs ovn-nbctl directly, except invocations too large for an argv, which
    go through a private daemon started on first need (see the module
    docstring). ``check_basis=False`` skips the read that compares a commit's
    basis with the database.
    """

    def __init__(
        self,
        remote: str,
        *,
        nbctl: str = "ovn-nbctl",
        private_key: str | None = None,
        certificate: str | None = None,
        ca_cert: str | None = None,
        timeout: float = 30.0,
        daemon: bool | None = None,
        check_basis: bool = True,
    ) -> None:
        self.remote = remote
        self.nbctl = nbctl
        self.timeout = timeout
        self.check_basis = check_basis
        self._tls = [
            f"--{opt}={path}"
            for opt, path in (
                ("private-key", private_key),
                ("certificate", certificate),
                ("ca-cert", ca_cert),
            )
            if path
        ]
        self._txns = 0
        self._invocations = 0
        #: Where the readers found rows (UUID hints kept across requests, see :class:`LookupCache`).
        self.lookup_cache = LookupCache()
        self._daemon_dir: Path | None = None
        self._daemon_pid: int | None = None
        self.daemon_socket: str | None = None
        # The private daemon of a direct-mode backend, for oversized invocations.
        self._oversize_socket: str | None = None
        self._rpc_id = 0
        #: The connection kept open to the daemon for read-only requests.
        self._read_sock: socket.socket | None = None
        self._read_sock_path: str | None = None
        if daemon is None:
            self.daemon_socket = os.environ.get("OVN_NB_DAEMON") or None
        elif daemon:
            self.daemon_socket = self._start_daemon()

    # -- processes -------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        # Processes run directly (or detach as a daemon): never as a client
        # of a daemon, which this module talks to itself.
        return {
            k: v for k, v in os.environ.items() if k not in ("OVN_NBCTL_OPTIONS", "OVN_NB_DAEMON")
        }

    def _start_daemon(self) -> str:
        """Start a private daemon (stopped by :meth:`close`); its unixctl socket."""
        d = Path(tempfile.mkdtemp(prefix="ovnlb-nbctl-"))
        self._daemon_dir = d
        atexit.register(self.close)
        argv = [
            self.nbctl,
            f"--db={self.remote}",
            *self._tls,
            "--detach",
            "--no-chdir",
            f"--pidfile={d / 'nbctl.pid'}",
            f"--log-file={d / 'nbctl.log'}",
            f"--unixctl={d / 'nbctl.ctl'}",
        ]
        env = {**self._env(), "OVN_RUNDIR": str(d)}
        try:
            with open(d / "stderr", "wb") as err:
                # --detach returns once the daemon has connected to the
                # database (never, for an unreachable one: hence the timeout).
                proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, env=env)
            try:
                rc = proc.wait(timeout=self.timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                self._daemon_pid = self._read_pid()
                raise BackendError(
                    f"ovn-nbctl daemon did not connect to {self.remote} within {self.timeout} s"
                ) from None
            self._daemon_pid = self._read_pid()
            if rc != 0:
                msg = (d / "stderr").read_text(errors="replace").strip()
                raise BackendError(f"cannot start the ovn-nbctl daemon: {msg}")
        except OSError as exc:
            self.close()
            raise BackendError(f"cannot start {self.nbctl}: {exc}") from None
        except BaseException:
            self.close()
            raise
        return str(d / "nbctl.ctl")

    def _read_pid(self) -> int | None:
        assert self._daemon_dir is not None
        try:
            return int((self._daemon_dir / "nbctl.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    @property
    def daemon_pid(self) -> int | None:
        """PID of the daemon this backend started (None without one).

        That is the ``daemon=True`` daemon, or the one a direct-mode backend
        started for an oversized invocation.
        """
        return self._daemon_pid

    def close(self) -> None:
        """Stop the daemon this backend started (if any) and remove its folder; idempotent."""
        atexit.unregister(self.close)
        self._close_read_sock()
        pid, self._daemon_pid = self._daemon_pid, None
        if pid is not None:
            stop_process(pid, 5.0)
        if self._daemon_dir is not None:
            shutil.rmtree(self._daemon_dir, ignore_errors=True)
            self._daemon_dir = None
            self.daemon_socket = None
            self._oversize_socket = None

    def _argv(self, commands: Sequence[Command], *, json_output: bool) -> list[str]:
        argv = [
            self.nbctl,
            f"--timeout={max(1, math.ceil(self.timeout))}",
            f"--db={self.remote}",
            *self._tls,
        ]
        if json_output:
            argv.append("--format=json")
        for cmd in commands:
            # A leading "--" too: the first command may have options (--id=...).
            argv += ["--", *cmd]
        return argv

    def run(
        self, commands: Sequence[Command], *, json_output: bool = False, read_only: bool = False
    ) -> str:
        """Run one invocation; its stdout, or BackendError with ovn-nbctl's stderr.

        Through the daemon when there is one; directly otherwise, unless the
        argv would be too large for the kernel: then through a private daemon
        started now (see the module docstring). ``read_only`` commands share
        one kept connection to a daemon.
        """
        if self.daemon_socket:
            return self._run_in_daemon(
                self.daemon_socket, commands, json_output=json_output, read_only=read_only
            )
        argv = self._argv(commands, json_output=json_output)
        env = self._env()
        if not _fits_argv(argv, env):
            if self._oversize_socket is None:
                self._oversize_socket = self._start_daemon()
            return self._run_in_daemon(self._oversize_socket, commands, json_output=json_output)
        self._invocations += 1
        try:
            proc = subprocess.run(
                argv,
                capture_output=True,
                encoding="utf-8",
                env=env,
                timeout=self.timeout + 5,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise BackendError(
                f"ovn-nbctl gave no answer within {self.timeout} s (outcome unknown)"
            ) from None
        except (OSError, ValueError, UnicodeError) as exc:
            raise BackendError(f"cannot run {self.nbctl}: {exc}") from None
        if proc.returncode < 0:
            # --timeout makes ovn-nbctl kill itself with SIGALRM.
            raise BackendError(
                f"ovn-nbctl died of signal {-proc.returncode} "
                f"(timeout {self.timeout} s?; outcome unknown): {proc.stderr.strip()}"
            )
        if proc.returncode != 0:
            raise BackendError(f"ovn-nbctl failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc.stdout

    def _program(self) -> str:
        """The program name ovn-nbctl puts before its messages."""
        return os.path.basename(self.nbctl) or "ovn-nbctl"

    def _run_in_daemon(
        self,
        socket_path: str,
        commands: Sequence[Command],
        *,
        json_output: bool,
        read_only: bool = False,
    ) -> str:
        """One invocation as the daemon's unixctl ``run`` request; its output.

        The request is the one the stock client sends (see the module
        docstring), written by this module: no process and no argv, so no
        size limit. Errors read like the subprocess path's.
        """
        params = ["--format=json"] if json_output else []
        for cmd in commands:
            params += ["--", *cmd]
        self._rpc_id += 1
        rpc_id = self._rpc_id
        try:
            request = json.dumps(
                {"method": "run", "params": params, "id": rpc_id},
                ensure_ascii=True,
                separators=(",", ":"),
            ).encode("ascii")
        except (TypeError, ValueError) as exc:
            raise BackendError(f"cannot encode the ovn-nbctl daemon request: {exc}") from None
        self._invocations += 1
        prog = self._program()
        path = _unixctl_path(socket_path)
        deadline = time.monotonic() + self.timeout
        stage = "connecting"
        reply: Any = None
        try:
            if read_only:
                reply = self._read_request(socket_path, path, request, deadline)
            else:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                    self._connect(sock, socket_path, path)
                    stage = "sending the request"
                    sock.settimeout(max(0.001, deadline - time.monotonic()))
                    sock.sendall(request)
                    stage = "waiting for the reply"
                    reply = self._recv_reply(sock, deadline)
        except TimeoutError:
            raise BackendError(
                f"the ovn-nbctl daemon at {socket_path} gave no answer within "
                f"{self.timeout} s (while {stage}; outcome unknown)"
            ) from None
        except OSError as exc:
            raise BackendError(
                f"ovn-nbctl failed (1): {prog}: {socket_path}: transaction error "
                f"({exc.strerror or exc}; outcome unknown)"
            ) from None
        if not isinstance(reply, dict) or reply.get("id") != rpc_id:
            raise BackendError(f"unexpected reply from the ovn-nbctl daemon: {str(reply)[:200]!r}")
        error = reply.get("error")
        if error is not None:
            text = error if isinstance(error, str) else json.dumps(error)
            # The stock client prints "<prog>: <error>" and exits with 1.
            raise BackendError(f"ovn-nbctl failed (1): {f'{prog}: {text}'.strip()}")
        result = reply.get("result")
        if not isinstance(result, str):
            raise BackendError(f"unexpected reply from the ovn-nbctl daemon: {str(reply)[:200]!r}")
        return result

    def _connect(self, sock: socket.socket, socket_path: str, path: str) -> None:
        sock.settimeout(self.timeout)
        try:
            _connect_unix(sock, path)
        except OSError as exc:
            prog = self._program()
            raise BackendError(
                f"ovn-nbctl failed (1): {prog}: {socket_path}: could not connect to "
                f"{prog} daemon ({os.strerror(exc.errno) if exc.errno else exc}); "
                "unset OVN_NB_DAEMON to avoid using daemon"
            ) from None

    def _read_request(self, socket_path: str, path: str, request: bytes, deadline: float) -> Any:
        """Send a read-only request on the connection kept for reads; its reply.

        A request's reads are many small ones: one connection for all of them
        saves a connect per read. A read is safe to repeat, so a connection the
        daemon closed in between is replaced once.
        """
        for attempt in (0, 1):
            sock = self._read_sock
            if sock is None or self._read_sock_path != socket_path:
                self._close_read_sock()
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    self._connect(sock, socket_path, path)
                except BaseException:
                    sock.close()
                    raise
                self._read_sock, self._read_sock_path = sock, socket_path
            try:
                sock.settimeout(max(0.001, deadline - time.monotonic()))
                sock.sendall(request)
                return self._recv_reply(sock, deadline)
            except TimeoutError:
                self._close_read_sock()
                raise
            except OSError:
                self._close_read_sock()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _close_read_sock(self) -> None:
        sock, self._read_sock = self._read_sock, None
        if sock is not None:
            sock.close()

    @staticmethod
    def _recv_reply(sock: socket.socket, deadline: float) -> Any:
        """Read one JSON-RPC message (a JSON object, no framing) from ``sock``."""
        buf = bytearray()
        while True:
            sock.settimeout(max(0.001, deadline - time.monotonic()))
            chunk = sock.recv(_RECV_SIZE)
            if not chunk:
                raise OSError(0, "End of file" if buf else "connection closed")
            buf += chunk
            # A message ends with "}": only then can the buffer parse (a "}"
            # inside a string fails to parse, and we read on).
            if buf.rstrip().endswith(b"}"):
                try:
                    return json.loads(buf.decode("utf-8"))
                except UnicodeDecodeError as exc:
                    raise BackendError(
                        f"cannot decode the ovn-nbctl daemon's reply: {exc}"
                    ) from None
                except ValueError:
                    continue

    def invocation_count(self) -> int:
        """How many times ovn-nbctl was invoked (reads included).

        Processes run plus ``run`` requests sent to a daemon.
        """
        return self._invocations
