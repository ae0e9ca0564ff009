"""The real Octavia API and driver agent, run for the tests on 127.0.0.1 and unix sockets.

``octavia-driver-agent`` (status/stats/get sockets plus the ``ovnlb``
provider agent) and one or more ``octavia-api`` processes, from the
virtualenv that has ``octavia`` installed (``.venv-octavia``, made by
``scripts/setup.sh --with-octavia``; ``OVNLB_OCTAVIA_VENV`` overrides it):
sqlite database, ``auth_strategy = noauth``, noop network/compute/amphora
drivers, the ``ovnlb`` provider enabled (and optionally the reference
``ovn``), Neutron/Keystone at a local URL.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class OctaviaUnavailable(RuntimeError):
    """No virtualenv with Octavia installed."""


def octavia_venv() -> Path:
    """The virtualenv with ``octavia`` (raises :class:`OctaviaUnavailable` when missing)."""
    venv = Path(os.environ.get("OVNLB_OCTAVIA_VENV", ROOT / ".venv-octavia"))
    for tool in ("octavia-api", "octavia-driver-agent", "python"):
        if not (venv / "bin" / tool).exists():
            raise OctaviaUnavailable(
                f"{venv / 'bin' / tool} missing: run scripts/setup.sh --with-octavia"
            )
    return venv


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class OctaviaServices:
    """Config, database, driver agent and API processes in ``workdir`` (see the module doc)."""

    def __init__(
        self,
        workdir: Path,
        *,
        nb_remote: str,
        sb_remote: str,
        auth_url: str,
        providers: Sequence[str] = ("ovnlb",),
        api_count: int = 1,
        nb_timeout: float = 5.0,
        sockdir: Path | None = None,
    ) -> None:
        self.venv = octavia_venv()
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        # Unix socket paths are limited to 108 bytes: keep them short.
        # (The reference provider ignores [driver_agent] and uses /var/run/octavia: pass it.)
        self._own_sockdir = sockdir is None
        self.sockdir = sockdir or Path(tempfile.mkdtemp(prefix="oct-"))
        self.sockdir.mkdir(parents=True, exist_ok=True)
        self.db = workdir / "octavia.sqlite"
        self.conf = workdir / "octavia.conf"
        self.ports = [free_port() for _ in range(api_count)]
        self.agent: subprocess.Popen[bytes] | None = None
        self.apis: list[subprocess.Popen[bytes] | None] = [None] * api_count
        self._write_conf(nb_remote, sb_remote, auth_url, providers, nb_timeout)
        subprocess.run(
            [
                str(self.venv / "bin" / "python"),
                str(Path(__file__).with_name("octavia_db.py")),
                f"sqlite:///{self.db}",
            ],
            check=True,
            capture_output=True,
        )

    @property
    def url(self) -> str:
        """The first API's base URL."""
        return self.api_url(0)

    def api_url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.ports[index]}"

    def _write_conf(
        self,
        nb: str,
        sb: str,
        auth_url: str,
        providers: Sequence[str],
        nb_timeout: float,
    ) -> None:
        drivers = ",".join(f"{p}:{p} provider" for p in providers)
        auth = (
            "auth_type = password\n"
            f"auth_url = {auth_url}\n"
            "username = admin\npassword = secret\nproject_name = admin\n"
            "user_domain_name = Default\nproject_domain_name = Default\n"
            "region_name = RegionOne\nvalid_interfaces = public\n"
        )
        self.conf.write_text(
            "[DEFAULT]\n"
            "transport_url = fake://\n"
            "debug = true\n"
            "[api_settings]\n"
            "bind_host = 127.0.0.1\n"
            f"bind_port = {self.ports[0]}\n"
            "auth_strategy = noauth\n"
            f"enabled_provider_drivers = {drivers}\n"
            f"default_provider_driver = {providers[0]}\n"
            "[database]\n"
            f"connection = sqlite:///{self.db}\n"
            "pool_timeout =\n"
            "[controller_worker]\n"
            "network_driver = network_noop_driver\n"
            "compute_driver = compute_noop_driver\n"
            "amphora_driver = amphora_noop_driver\n"
            "[task_flow]\n"
            "jobboard_enabled = False\n"
            "[driver_agent]\n"
            f"status_socket_path = {self.sockdir}/status.sock\n"
            f"stats_socket_path = {self.sockdir}/stats.sock\n"
            f"get_socket_path = {self.sockdir}/get.sock\n"
            f"enabled_provider_agents = {','.join(providers)}\n"
            "[neutron]\n" + auth + "[service_auth]\n" + auth + "[ovnlb]\n"
            f"nb_connection = {nb}\n"
            f"sb_connection = {sb}\n"
            f"ovsdb_connection_timeout = {nb_timeout}\n"
            "octavia_commit_timeout = 20\n"
            "status_update_max_interval = 1\n"
            "[ovn]\n"
            f"ovn_nb_connection = {nb}\n"
            f"ovn_sb_connection = {sb}\n"
        )

    def _spawn(self, tool: str, log: str, extra: Sequence[str] = ()) -> subprocess.Popen[bytes]:
        out = open(self.workdir / log, "ab")  # noqa: SIM115 - kept open for the child's life
        return subprocess.Popen(
            [str(self.venv / "bin" / tool), "--config-file", str(self.conf), *extra],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start_agent(self, timeout: float = 60.0) -> None:
        """Start ``octavia-driver-agent`` and wait for its three sockets."""
        self.agent = self._spawn("octavia-driver-agent", "driver-agent.log")
        deadline = time.monotonic() + timeout
        names = ("status.sock", "stats.sock", "get.sock")
        while not all((self.sockdir / n).exists() for n in names):
            if self.agent.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("driver agent did not start:\n" + self.log("driver-agent.log"))
            time.sleep(0.1)

    def start_api(self, index: int = 0, timeout: float = 120.0) -> None:
        """Start ``octavia-api`` number ``index`` and wait until ``GET /`` answers."""
        extra: list[str] = []
        if index:
            # A later --config-file overrides the earlier: another port, same everything else.
            override = self.workdir / f"api-{index}.conf"
            override.write_text(f"[api_settings]\nbind_port = {self.ports[index]}\n")
            extra = ["--config-file", str(override)]
        proc = self._spawn("octavia-api", f"api-{index}.log", extra)
        self.apis[index] = proc
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(self.api_url(index) + "/", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"octavia-api {index} did not start:\n" + self.log(f"api-{index}.log")
                )
            time.sleep(0.2)

    def log(self, name: str, tail: int = 60) -> str:
        path = self.workdir / name
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-tail:])

    @staticmethod
    def _stop(proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM) -> None:
        """Signal the leader only, as an init system stopping the service's main process.

        The driver agent's SIGTERM handler sets its exit event and joins its
        children; signalling the whole group kills those children while they wait
        on that (multiprocessing) event, and the agent then hangs on its lock.
        Whatever is left once the leader is gone is killed.
        """
        if proc is None or proc.poll() is not None:
            return
        try:
            proc.send_signal(sig)
            proc.wait(15)
        except subprocess.TimeoutExpired:
            pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)

    def stop_agent(self, sig: int = signal.SIGTERM) -> None:
        self._stop(self.agent, sig)
        self.agent = None
        for n in ("status.sock", "stats.sock", "get.sock"):
            (self.sockdir / n).unlink(missing_ok=True)

    def stop(self) -> None:
        """Stop every process (APIs first) and remove the socket directory."""
        for i, proc in enumerate(self.apis):
            self._stop(proc)
            self.apis[i] = None
        self.stop_agent()
        if self._own_sockdir:
            shutil.rmtree(self.sockdir, ignore_errors=True)
