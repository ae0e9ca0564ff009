"""Running the real ``ovnlb`` console script as a subprocess, and views to feed it."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from ovnlb_backends.idl import IdlBackend
from ovnlb_core.dump import canonical_dump
from ovnlb_core.rawops import initial_ops

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "octavia-view.json"
_SCRIPT = Path(sys.executable).parent / "ovnlb"
#: The installed console script (what an operator runs), else the module.
OVNLB = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "ovnlb_backends.cli"]


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without OVN_NB_DB/OVN_SB_DB (unless given) and without a terminal."""
    env = {k: v for k, v in os.environ.items() if k not in ("OVN_NB_DB", "OVN_SB_DB")}
    env.update(extra)
    return env


def ovnlb(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``ovnlb ARGS`` to completion (stdout and stderr captured: not a terminal)."""
    return subprocess.run(
        [*OVNLB, *args],
        capture_output=True,
        text=True,
        env=env if env is not None else clean_env(),
        timeout=timeout,
        check=False,
    )


def _default_sigint() -> None:
    # A shell starts background jobs with SIGINT ignored, and Python then installs no
    # KeyboardInterrupt handler: give the child the terminal's default, as a user has.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def popen(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start ``ovnlb ARGS`` with stdout and stderr as pipes (SIGINT at its default)."""
    return subprocess.Popen(
        [*OVNLB, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env if env is not None else clean_env(),
        preexec_fn=_default_sigint,
    )


def error_line(stderr: str) -> str:
    """The one line of an error report; fails when there is more, or a traceback."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


def dump(remote: str) -> dict[str, Any]:
    """The canonical NB dump (to prove a command wrote nothing, or the right thing)."""
    be = IdlBackend(remote, timeout=10)
    try:
        return canonical_dump(be.reader())
    finally:
        be.close()


def bench_sync() -> Any:
    """benchmarks/bench_sync.py (its generated views of many load balancers)."""
    path = ROOT / "benchmarks" / "bench_sync.py"
    spec = importlib.util.spec_from_file_location("bench_sync", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def many_lbs(remote: str, directory: Path, n: int, members: int = 2) -> tuple[Path, dict[str, Any]]:
    """NB gets the topology of the generated view of ``n`` load balancers; the view's file."""
    bench = bench_sync()
    be = IdlBackend(remote, timeout=10)
    try:
        be.apply_raw(initial_ops(bench.topology()))
    finally:
        be.close()
    doc: dict[str, Any] = bench.octavia_view(n, members)
    path = directory / f"view-{n}.json"
    path.write_text(json.dumps(doc))
    return path, doc


def write_view(directory: Path, name: str, doc: Any) -> Path:
    """``doc`` as a JSON file."""
    path = directory / name
    path.write_text(json.dumps(doc))
    return path
