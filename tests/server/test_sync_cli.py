"""``ovnlb plan | sync | check | show`` against a real ``ovsdb-server``.

The NB holds Neutron's rows of conformance file 02_multi_protocol up to step
12; examples/octavia-view.json is Octavia's view at that step, so the rows
a sync writes must be the recorded ones of step 12.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ovnlb_backends.cli import backend_kind, build_parser, main
from ovnlb_backends.idl import IdlBackend
from ovnlb_backends.sandbox import OvnSandbox
from ovnlb_core.dump import canonical_dump
from ovnlb_core.plan import LbUpdate, MapDelta, Plan
from paths import ROOT
from sync_data.conformance_view import nb_batches, step

ROOT = ROOT
EXAMPLE = ROOT / "examples" / "octavia-view.json"
DOC02 = json.loads((ROOT / "tests" / "conformance" / "02_multi_protocol.json").read_text())
EXPECTED = step(DOC02, 12)["expect"]["nb"]
LB1 = "e5aff8c0-9670-5640-9b24-c161517ad2b7"
NET_PRIVATE = "neutron-81a2323d-585e-5d09-b469-affb041ee6a7"
M_UDP_1 = "d3679504-31cf-53b5-933c-332b37c48450"

pytestmark = pytest.mark.ovn


@pytest.fixture
def nb(nb_server: OvnSandbox) -> Iterator[str]:
    """The remote of an NB holding Neutron's rows of 02 up to step 12."""
    be = IdlBackend(nb_server.nb_remote, timeout=10)
    try:
        for batch in nb_batches(DOC02, 12):
            be.apply_raw(batch)
    finally:
        be.close()
    yield nb_server.nb_remote


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def dump(remote: str) -> dict[str, Any]:
    be = IdlBackend(remote, timeout=10)
    try:
        return canonical_dump(be.reader())
    finally:
        be.close()


def corrupt_ls_refs(remote: str) -> None:
    be = IdlBackend(remote, timeout=10)
    try:
        (uuid,) = [
            u for u, r in be.reader().by_name("Load_Balancer", LB1) if r["protocol"] == "tcp"
        ]
        be.commit(
            Plan(
                lb_updates=(
                    LbUpdate(
                        uuid, protocol="tcp", external_ids=MapDelta({"ls_refs": '{"' + NET_PRIVATE})
                    ),
                )
            )
        )
    finally:
        be.close()


def test_subcommands_are_registered() -> None:
    parser = build_parser()
    for argv in (
        ["plan", "--from", "x.json", "--remote", "unix:/x"],
        ["sync", "--from", "openstack", "--os-cloud", "c", "--remote", "unix:/x", "--dry-run"],
        ["check", "--from", "x.json", "--remote", "unix:/x", "--json"],
        ["show", LB1, "--remote", "unix:/x", "--json"],
    ):
        args = parser.parse_args(argv)
        assert backend_kind(args) == "idl" and args.remote == "unix:/x"


def test_plan_sync_check_exit_codes(nb: str, capsys: pytest.CaptureFixture[str]) -> None:
    src = str(EXAMPLE)
    # Drift: the load balancer is missing.
    code, out, _ = run(capsys, "plan", "--from", src, "--remote", nb)
    assert code == 2
    assert f"load balancer {LB1}: create" in out
    for proto in ("tcp", "udp", "sctp"):
        assert f"+ row {LB1}/{proto}" in out
    assert "plan: 1 to create, 0 to update, 0 to delete, 0 in sync, 0 errors" in out
    code, out, _ = run(capsys, "check", "--from", src, "--remote", nb)
    assert code == 2 and re.fullmatch(rf"CREATE  {LB1} \(\d+ changes\)", out.splitlines()[1])
    assert out.startswith("check: DRIFT: 1 load balancers; 1 to create, ")
    assert out.splitlines()[0].endswith("(CRITICAL)")

    # --dry-run writes nothing.
    before = dump(nb)
    code, out, _ = run(capsys, "sync", "--from", src, "--remote", nb, "--dry-run")
    assert code == 2 and "would create 1" in out
    assert dump(nb) == before

    code, out, _ = run(capsys, "sync", "--from", src, "--remote", nb)
    assert code == 0
    assert "sync: create 1, update 0, delete 0; 0 in sync, 0 errors; 1 transactions" in out
    assert dump(nb) == EXPECTED

    # In sync.
    code, out, _ = run(capsys, "plan", "--from", src, "--remote", nb)
    assert (code, out) == (0, "plan: 0 to create, 0 to update, 0 to delete, 1 in sync, 0 errors\n")
    code, out, _ = run(capsys, "check", "--from", src, "--remote", nb)
    assert code == 0 and "check: IN-SYNC: 1 load balancers" in out
    code, out, _ = run(capsys, "sync", "--from", src, "--remote", nb)
    assert code == 0 and "0 transactions" in out

    # Drift again: a malformed value is reported and would be repaired.
    corrupt_ls_refs(nb)
    code, out, _ = run(capsys, "check", "--from", src, "--remote", nb)
    assert code == 2
    assert f"UPDATE  {LB1} (1 changes)" in out
    assert "malformed:" in out and "ls_refs" in out
    code, out, _ = run(capsys, "plan", "--from", src, "--remote", nb)
    assert code == 2
    recorded = next(r for r in EXPECTED["Load_Balancer"] if r["protocol"] == "tcp")
    want = recorded["external_ids"]["ls_refs"]
    broken = json.dumps('{"' + NET_PRIVATE)
    assert f"external_ids[ls_refs]: {broken} -> {json.dumps(want)}" in out


def test_plan_json_shape(nb: str, capsys: pytest.CaptureFixture[str]) -> None:
    src = str(EXAMPLE)
    assert run(capsys, "sync", "--from", src, "--remote", nb)[0] == 0
    corrupt_ls_refs(nb)
    code, out, _ = run(capsys, "plan", "--from", src, "--remote", nb, "--json")
    assert code == 2
    doc = json.loads(out)
    assert doc["status"] == "drift"
    assert doc["summary"] == {"create": 0, "update": 1, "delete": 0, "in-sync": 0, "error": 0}
    (lb,) = doc["load_balancers"]
    assert set(lb) == {
        "id",
        "action",
        "error",
        "issues",
        "rows",
        "health_checks",
        "attachments",
        "nat_updates",
    }
    assert (lb["id"], lb["action"], lb["error"]) == (LB1, "update", None)
    assert len(lb["issues"]) == 1 and "ls_refs" in lb["issues"][0]
    assert lb["rows"]["created"] == [] and lb["rows"]["deleted"] == []
    (row,) = lb["rows"]["updated"]
    assert row["label"] == f"{LB1}/tcp"
    assert row["external_ids"] == [
        {
            "key": "ls_refs",
            "old": '{"' + NET_PRIVATE,
            "new": next(r for r in EXPECTED["Load_Balancer"] if r["protocol"] == "tcp")[
                "external_ids"
            ]["ls_refs"],
        }
    ]
    assert lb["attachments"] == {"attach": [], "detach": []}

    code, out, _ = run(capsys, "check", "--from", src, "--remote", nb, "--json")
    check = json.loads(out)
    assert code == 2 and check["status"] == "drift"
    assert check["load_balancers"] == [
        {"id": LB1, "action": "update", "error": None, "issues": lb["issues"], "changes": 1}
    ]

    code, out, _ = run(capsys, "sync", "--from", src, "--remote", nb, "--json")
    summary = json.loads(out)
    assert code == 0
    assert summary["summary"]["update"] == 1 and summary["transactions"] == 1
    assert dump(nb) == EXPECTED


def test_errors_exit_1(nb: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "plan", "--from", str(tmp_path / "none.json"), "--remote", nb)
    assert code == 1 and "none.json" in err
    view = json.loads(EXAMPLE.read_text())
    view["listeners"][0]["protocol"] = "HTTP"  # refused by the OVN provider (spec 7)
    bad = tmp_path / "http.json"
    bad.write_text(json.dumps(view))
    code, out, _ = run(capsys, "plan", "--from", str(bad), "--remote", nb, "--json")
    assert code == 1
    doc = json.loads(out)
    assert doc["status"] == "error"
    assert "HTTP" in doc["load_balancers"][0]["error"]
    code, out, err = run(capsys, "sync", "--from", str(bad), "--remote", nb)
    assert code == 1 and "HTTP" in err
    # check cannot answer: UNKNOWN (3) for monitoring systems.
    code, _, err = run(
        capsys, "check", "--from", str(EXAMPLE), "--remote", "unix:/nonexistent", "--backend", "idl"
    )
    assert code == 3 and "error" in err


def test_show(nb: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "sync", "--from", str(EXAMPLE), "--remote", nb)[0] == 0
    code, out, _ = run(capsys, "show", "--remote", nb, "--json")
    assert code == 0
    (lb,) = json.loads(out)["loadbalancers"]
    view = json.loads(EXAMPLE.read_text())
    assert lb["id"] == LB1 and lb["vip_address"] == "10.0.0.3" and lb["admin_state_up"]
    assert {
        (li["id"], li["protocol"], li["protocol_port"], li["default_pool_id"])
        for li in lb["listeners"]
    } == {
        (li["id"], li["protocol"], li["protocol_port"], li["default_pool_id"])
        for li in view["listeners"]
    }
    pools = {p["id"]: p for p in lb["pools"]}
    for pid, members in view["members"].items():
        assert [m["id"] for m in pools[pid]["members"]] == [m["id"] for m in members]
    # The UDP pool has the health monitor: its members were ONLINE at step 12 (spec 1.9).
    udp = next(p for p in lb["pools"] if p["protocol"] == "UDP")
    assert udp["healthmonitor_id"] == view["healthmonitors"][0]["id"]
    assert {m["operating_status"] for m in udp["members"]} == {"ONLINE"}
    (hm,) = lb["healthmonitors"]
    assert (hm["delay"], hm["timeout"], hm["max_retries"], hm["max_retries_down"]) == (
        view["healthmonitors"][0]["delay"],
        view["healthmonitors"][0]["timeout"],
        view["healthmonitors"][0]["max_retries"],
        view["healthmonitors"][0]["max_retries_down"],
    )
    assert {r["protocol"] for r in lb["rows"]} == {"tcp", "udp", "sctp"}

    code, out, _ = run(capsys, "show", LB1, "--remote", nb)
    assert code == 0
    assert out.startswith(f"{LB1}  vip 10.0.0.3  up")
    assert M_UDP_1 in out and "ONLINE" in out
    code, _, err = run(capsys, "show", "00000000-0000-4000-8000-000000000000", "--remote", nb)
    assert code == 1 and "no Load_Balancer row" in err
