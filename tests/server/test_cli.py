"""The ``ovnlb`` command in-process (``cli.main``): replay and demo on every backend.

Sandboxes started by ``--sandbox`` are recorded (a subclass of OvnSandbox put
in its module's place) to prove that their processes and temporary folder
are gone when the command returns.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from certs import make_certs
from conftest import ovn_or_skip
from ovnlb_backends import sandbox as sandbox_mod
from ovnlb_backends.cli import build_parser, demo, main, open_backend
from ovnlb_backends.cli.output import UsageError
from ovnlb_backends.sandbox import OvnSandbox
from paths import CONFORMANCE_DIR

CONFORMANCE = sorted((CONFORMANCE_DIR).glob("*.json"))
FILE = str(CONFORMANCE[0])


@attrs.define
class Started:
    """A sandbox the command started: its daemons' PIDs and what SB showed before it stopped."""

    sandbox: OvnSandbox
    pids: list[int]
    sb_load_balancers: str | None = None


def alive(pid: int) -> bool:
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


@pytest.fixture
def sandboxes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Started]]:
    """Record the sandboxes ``--sandbox`` starts; temporary folders go to a private folder."""
    started: list[Started] = []

    class Recording(OvnSandbox):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            daemons = (self._nb, self._sb, self._northd)
            pids = [d.pid for d in daemons if d is not None and d.pid is not None]
            started.append(Started(self, pids))

        def stop(self) -> None:
            record = next((s for s in started if s.sandbox is self), None)
            if record is not None and self._northd is not None and self._northd.pid is not None:
                # northd copies NB load balancers into SB: wait for the demo's.
                deadline = time.monotonic() + 10
                while True:
                    out = self.sbctl("--bare", "--columns=name", "list", "Load_Balancer")
                    if demo.LB in out or time.monotonic() > deadline:
                        break
                    time.sleep(0.05)
                record.sb_load_balancers = out
            super().stop()

    # A short folder: the sandbox's socket paths must stay below 108 bytes.
    tmp = Path(tempfile.mkdtemp(prefix="ovnlb-cli-", dir="/tmp"))
    monkeypatch.setattr(sandbox_mod, "OvnSandbox", Recording)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    try:
        yield started
        assert list(tmp.iterdir()) == [], "the sandbox left files behind"
        for s in started:
            assert s.pids and not any(alive(p) for p in s.pids), "sandbox processes still run"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(argv: list[str]) -> int:
    """``main(argv)``; a missing OVN installation skips (or fails, in CI) the test."""
    return ovn_or_skip(lambda: main(argv))


def test_replay_check_memory(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["replay", FILE, "--check", "--backend", "memory"]) == 0
    assert "PASS" in capsys.readouterr().err
    # A wrong expectation is reported and fails the command.
    doc = json.loads(Path(FILE).read_text())
    doc["steps"][0]["expect"]["statuses"] = []
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    assert main(["replay", str(bad), "--check", "--backend", "memory"]) == 1
    err = capsys.readouterr().err
    assert "FAIL" in err and "statuses differ" in err


@pytest.mark.ovn
@pytest.mark.parametrize("kind", ["idl", "nbctl"])
def test_replay_check_in_a_sandbox(
    kind: str, sandboxes: list[Started], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["replay", FILE, "--check", "--backend", kind, "--sandbox"]) == 0
    assert "PASS" in capsys.readouterr().err
    assert len(sandboxes) == 1 and len(sandboxes[0].pids) == 1  # NB only


@pytest.mark.ovn
def test_replay_check_against_a_remote(
    nb_server: OvnSandbox, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        run(["replay", FILE, "--check", "--backend", "idl", "--remote", nb_server.nb_remote]) == 0
    )
    assert "PASS" in capsys.readouterr().err
    # The rows are in that server, which the command left running.
    assert nb_server.nbctl("--bare", "--columns=name", "list", "Load_Balancer").strip()


@pytest.mark.ovn
def test_replay_output_is_the_same_on_every_backend(
    sandboxes: list[Started], capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = []
    for kind in ("memory", "idl", "nbctl"):
        extra = ["--sandbox"] if kind != "memory" else []
        assert run(["replay", FILE, "--backend", kind, *extra]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0].count("\n") == len(json.loads(Path(FILE).read_text())["steps"]) + 1
    assert outputs[1] == outputs[0] and outputs[2] == outputs[0]


@pytest.mark.ovn
def test_demo_in_a_sandbox_prints_what_memory_prints(
    sandboxes: list[Started], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--backend", "memory"]) == 0
    expected = capsys.readouterr().out
    assert demo.LB in expected
    assert run(["demo", "--backend", "idl", "--sandbox"]) == 0
    assert capsys.readouterr().out == expected
    # --northd: SB and ovn-northd too; northd turned the rows into SB load balancers.
    assert run(["demo", "--backend", "nbctl", "--sandbox", "--northd"]) == 0
    assert capsys.readouterr().out == expected
    idl_run, northd_run = sandboxes
    assert len(idl_run.pids) == 1 and len(northd_run.pids) == 3
    assert northd_run.sb_load_balancers is not None
    assert demo.LB in northd_run.sb_load_balancers


@attrs.define
class FakeBackend:
    remote: str
    kwargs: dict[str, Any]
    closed: bool = False

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize(
    ("kind", "module", "cls", "names"),
    [
        ("idl", "ovnlb_backends.idl", "IdlBackend", ("ssl_key", "ssl_cert", "ssl_ca")),
        (
            "nbctl",
            "ovnlb_backends.nbctl",
            "NbctlBackend",
            ("private_key", "certificate", "ca_cert"),
        ),
    ],
)
def test_tls_options_reach_the_backend(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    kind: str,
    module: str,
    cls: str,
    names: tuple[str, ...],
) -> None:
    made: list[FakeBackend] = []
    pki = make_certs(tmp_path)

    def fake(remote: str, **kwargs: Any) -> FakeBackend:
        made.append(FakeBackend(remote, kwargs))
        return made[-1]

    monkeypatch.setattr(f"{module}.{cls}", fake)
    tls = ["--private-key", pki["key"], "--certificate", pki["cert"], "--ca-cert", pki["ca"]]
    # Nothing listens on port 1: the TLS probe cannot connect and leaves it to the backend.
    args = build_parser().parse_args(
        ["demo", "--backend", kind, "--remote", "ssl:127.0.0.1:1", *tls]
    )
    with open_backend(args) as backend:
        assert backend is made[0]  # type: ignore[comparison-overlap]
    [fb] = made
    assert fb.remote == "ssl:127.0.0.1:1" and fb.closed
    assert {k: fb.kwargs[k] for k in names} == dict(zip(names, tls[1::2], strict=True))


def test_a_real_backend_needs_a_remote_or_a_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OVN_NB_DB", raising=False)
    args = argparse.Namespace(backend="nbctl", remote=None, sandbox=False)
    with pytest.raises(UsageError, match="needs an NB remote"), open_backend(args):
        pass
