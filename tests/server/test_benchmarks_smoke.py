"""The benchmark code still runs (quick mode, tiny N). No timing is asserted."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from conftest import ovn_or_skip
from paths import ROOT

RUN_PY = ROOT / "benchmarks" / "run.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ovnlb_bench_run", RUN_PY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_quick_benchmark_writes_a_report(tmp_path: Path) -> None:
    run = _load()
    out = tmp_path / "RESULTS.md"
    png = tmp_path / "member_add.png"
    args = ["--quick", "--sizes", "20,40", "--adds", "1", "--rounds", "2", "--sync-lbs", "4"]
    res = ovn_or_skip(lambda: run.main([*args, "--out", str(out), "--plot", str(png)]))
    text = out.read_text()
    for heading in (
        "## Machine",
        "## Core",
        "## The floor",
        "## One member add",
        "## Member batch update",
        "## Targets of issue #12",
        "## First request after connecting",
        "## Big NB",
        "## Sync",
        "## Profile",
    ):
        assert heading in text
    # One transaction per request, whatever the backend.
    for n in (20, 40):
        for kind in res["kinds"]:
            assert res["backends"][n][kind]["add"]["txn"] == 1
            assert res["backends"][n][kind]["batch_empty"]["txn"] == 1
        assert res["backends"][n]["idl"]["add"]["records"] == 1
    # Both NBs of the comparison were measured, per backend; both syncs ended in sync.
    assert set(res["big"]["kinds"]) == {"idl", "nbctl"}
    for figures in res["sync"].values():
        assert figures["second_sync_transactions"] == 0
        assert figures["second_sync_in_sync"] == 4
