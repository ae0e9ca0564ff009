"""Every public conformance file replays exactly on the in-memory backend."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ovnlb_backends.memory import MemoryBackend
from ovnlb_backends.service.replay import compare, load, replay
from paths import TESTS

HERE = TESTS
FILES = sorted((HERE / "conformance").glob("*.json"))
CHECKER = HERE.parent.parent / "shared" / "tools" / "check_conformance.py"


def test_conformance_files_present() -> None:
    assert len(FILES) >= 6


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_replay_matches_expectations(path: Path, tmp_path: Path) -> None:
    doc = load(str(path))
    records = list(replay(doc, MemoryBackend()))
    assert compare(doc, records) == []
    if CHECKER.exists():
        # The shared checker is an independent reading of the same format.
        out = tmp_path / "out.jsonl"
        out.write_text("".join(json.dumps(r) + "\n" for r in records))
        result = subprocess.run(
            [sys.executable, str(CHECKER), str(path), str(out), "-q"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_compare_detects_a_single_changed_value() -> None:
    doc = load(str(FILES[0]))
    records = list(replay(doc, MemoryBackend()))
    step = next(r for r in records if r["index"] == 3)
    lb = step["nb"]["Load_Balancer"][0]
    lb["vips"] = {k: v + ",10.9.9.9:1" for k, v in lb["vips"].items()} or {"x": "y"}
    assert compare(doc, records) != []


def test_cli_replay_check(capsys: pytest.CaptureFixture[str]) -> None:
    from ovnlb_backends.cli import main

    assert main(["replay", str(FILES[0]), "--check"]) == 0
    assert "PASS" in capsys.readouterr().err
