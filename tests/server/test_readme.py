"""The README's library example runs as written (in memory, and against a real NB)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ovnlb_backends.sandbox import OvnSandbox
from paths import ROOT

README = ROOT / "README.md"


def snippet() -> str:
    """The first ```python block of the README's "Using it" section."""
    text = README.read_text()
    section = text[text.index("## Using it") :]
    m = re.search(r"```python\n(.*?)```", section, re.S)
    assert m is not None, "no python block in 'Using it'"
    return m.group(1)


def run(code: str, tmp_path: Path) -> list[str]:
    path = tmp_path / "snippet.py"
    path.write_text(code)
    res = subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert res.returncode == 0, res.stderr
    return res.stdout.splitlines()


def check_output(lines: list[str]) -> None:
    statuses, row = lines
    (payload,) = ast.literal_eval(statuses)
    # member_create: the member NO_MONITOR (no health monitor), its parents ACTIVE (spec 4).
    assert payload["members"] == [
        {
            "id": "adf55e70-3d50-4e62-99fd-dd77eababb1c",
            "provisioning_status": "ACTIVE",
            "operating_status": "NO_MONITOR",
        }
    ]
    assert {p["provisioning_status"] for p in payload["loadbalancers"]} == {"ACTIVE"}
    # One tcp row; its vips map VIP:port to member:port (spec 1.3).
    assert row == "tcp {'10.0.0.3:80': '10.0.0.10:8080'}"


def test_readme_example_runs_as_written(tmp_path: Path) -> None:
    check_output(run(snippet(), tmp_path))


@pytest.mark.ovn
def test_readme_example_against_a_real_nb(nb_server: OvnSandbox, tmp_path: Path) -> None:
    code = snippet()
    assert "backend = MemoryBackend()" in code
    code = code.replace(
        "backend = MemoryBackend()",
        f"from ovnlb_backends.idl import IdlBackend\nbackend = IdlBackend({nb_server.nb_remote!r})",
    )
    check_output(run(code, tmp_path))
    lbs = nb_server.nbctl("--bare", "--columns=name", "list", "Load_Balancer").split()
    assert lbs == ["94e7c431-912b-496c-a247-d52875d44ac7"]
