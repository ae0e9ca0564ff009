"""The ``ovnlb`` command as an operator runs it: a subprocess against a real NB ``ovsdb-server``.

One section per item of issue 14. Every test runs the installed console
script, checks the exit code and the one line it prints, and that NB is
unchanged (a refused or failed command) or consistent (a command that ran).
"""

from __future__ import annotations

import copy
import json
import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from certs import make_certs
from cli_support import (
    EXAMPLE,
    ROOT,
    clean_env,
    dump,
    error_line,
    many_lbs,
    ovnlb,
    popen,
    write_view,
)
from conftest import start_sandbox
from ovnlb_backends.idl import IdlBackend
from ovnlb_backends.sandbox import OvnSandbox
from sync_data.conformance_view import nb_batches, step

pytestmark = pytest.mark.ovn

DOC02 = json.loads((ROOT / "tests" / "conformance" / "02_multi_protocol.json").read_text())
EXPECTED = step(DOC02, 12)["expect"]["nb"]
LB1 = "e5aff8c0-9670-5640-9b24-c161517ad2b7"
VIEW = json.loads(EXAMPLE.read_text())
L_TCP, L_UDP = VIEW["listeners"][0]["id"], VIEW["listeners"][1]["id"]
P_TCP, P_UDP = VIEW["pools"][0]["id"], VIEW["pools"][1]["id"]


@pytest.fixture
def nb(nb_server: OvnSandbox) -> Iterator[str]:
    """An NB holding Neutron's rows of conformance file 02 up to step 12 (no load balancer)."""
    be = IdlBackend(nb_server.nb_remote, timeout=10)
    try:
        for batch in nb_batches(DOC02, 12):
            be.apply_raw(batch)
    finally:
        be.close()
    yield nb_server.nb_remote


def sync_ok(remote: str, view: Path | str = EXAMPLE, *extra: str) -> None:
    res = ovnlb("sync", "--from", str(view), "--remote", remote, *extra)
    assert res.returncode == 0, res.stderr


# -- 1. a partial view must not delete everything else ----------------------------------------


def test_a_partial_view_needs_an_explicit_flag_to_delete(
    nb_server: OvnSandbox, tmp_path: Path
) -> None:
    remote = nb_server.nb_remote
    full, doc = many_lbs(remote, tmp_path, 30)
    sync_ok(remote, full)
    # A truncated answer: one load balancer of 30 (29 deletions, limit 10% = 3).
    partial = copy.deepcopy(doc)
    partial["loadbalancers"] = doc["loadbalancers"][:1]
    view = write_view(tmp_path, "partial.json", partial)
    before = dump(remote)
    res = ovnlb("sync", "--from", str(view), "--remote", remote)
    assert res.returncode == 1
    # The view's other objects now belong to nothing: said once per kind.
    assert "29 listeners belong to no load balancer of the view (ignored): " in res.stderr
    res = ovnlb("sync", "--from", str(view), "--remote", remote, "--quiet")
    assert res.returncode == 1
    line = error_line(res.stderr)
    assert "would delete 29 of the 30 owned load balancers" in line
    assert "limit 3: 10% of the 30 owned" in line and "--allow-mass-delete" in line
    assert dump(remote) == before
    # A number on the command line is a limit too.
    res = ovnlb("sync", "--from", str(view), "--remote", remote, "--max-deletes", "28", "-q")
    assert res.returncode == 1 and "limit 28" in error_line(res.stderr)
    assert dump(remote) == before
    # Within 10%: two load balancers gone from Octavia are deleted without a flag.
    most = copy.deepcopy(doc)
    most["loadbalancers"] = doc["loadbalancers"][:28]
    res = ovnlb("sync", "--from", str(write_view(tmp_path, "most.json", most)), "--remote", remote)
    assert res.returncode == 0, res.stderr
    assert "delete 2;" in res.stdout
    # The explicit flag lets the partial view through.
    res = ovnlb("sync", "--from", str(view), "--remote", remote, "--allow-mass-delete")
    assert res.returncode == 0, res.stderr
    assert "delete 27;" in res.stdout
    names = {r["name"] for r in dump(remote)["Load_Balancer"]}
    assert names == {doc["loadbalancers"][0]["id"]}


def test_openstack_source_checks_the_admin_scope_before_deleting(
    nb: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("openstack", reason="openstacksdk is not installed")
    from fake_openstack import FakeOpenStack

    sync_ok(nb)  # LB1 is in NB; the project member's cloud below lists no load balancer
    other = copy.deepcopy(VIEW)
    other["loadbalancers"] = []
    before = dump(nb)
    with FakeOpenStack(other, roles=("member",)) as cloud:
        (tmp_path / "clouds.yaml").write_text(cloud.clouds_yaml("fake"))
        env = clean_env(OS_CLIENT_CONFIG_FILE=str(tmp_path / "clouds.yaml"))
        for var in ("OS_CLOUD", "OS_AUTH_URL", "OS_USERNAME", "OS_PASSWORD"):
            env.pop(var, None)
        args = ("--from", "openstack", "--os-cloud", "fake", "--remote", nb)
        res = ovnlb("sync", *args, "--allow-mass-delete", env=env)
        assert res.returncode == 1
        line = error_line(res.stderr)
        assert "are not admin" in line and "roles member" in line
        assert "Nothing was written" in line
        assert dump(nb) == before
        # plan says so too, as a warning next to the deletion it lists.
        res = ovnlb("plan", *args, env=env)
        assert res.returncode == 2
        assert "warning:" in res.stderr and "not admin" in res.stderr
        assert f"load balancer {LB1}: delete" in res.stdout
        # --keep-orphans never deletes: no scope needed.
        res = ovnlb("sync", *args, "--keep-orphans", env=env)
        assert res.returncode == 0, res.stderr
        assert dump(nb) == before


# -- 2. NB outage: bounded time, a report, exit 1 -----------------------------------------------


def test_sync_stops_when_nb_stops_answering_and_a_rerun_finishes(
    nb_server: OvnSandbox, tmp_path: Path
) -> None:
    remote = nb_server.nb_remote
    view, _ = many_lbs(remote, tmp_path, 200)
    pid = nb_server.nb_pid
    assert pid is not None
    proc = popen(
        "sync", "--from", str(view), "--remote", remote, "--timeout", "3",
        "--progress-interval", "0",
    )  # fmt: skip
    assert proc.stderr is not None and proc.stdout is not None
    stopped_at = None
    try:
        for line in proc.stderr:
            if line.startswith("sync: 10/"):
                os.kill(pid, signal.SIGSTOP)  # NB hangs: no answer, connection open
                stopped_at = time.monotonic()
                break
        rest = proc.stderr.read()
        out = proc.stdout.read()
        proc.wait(60)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert stopped_at is not None
    waited = time.monotonic() - stopped_at
    assert proc.returncode == 1
    # Bounded: about --timeout, not 3 s per remaining load balancer (190 x 3 s).
    assert waited < 30, waited
    report = [x for x in rest.splitlines() if not x.startswith("sync: ")]
    assert report[-1].startswith("ovnlb sync: error: stopped: no answer from the NB database")
    m = re.search(r"(\d+) load balancers changed, (\d+) failed, (\d+) not attempted", report[-1])
    assert m is not None
    changed, failed, left = map(int, m.groups())
    assert changed >= 10 and failed == 1 and changed + failed + left == 200
    assert "sync: create" in out
    # NB is back: the rerun finishes the job, and a third run has nothing to do.
    res = ovnlb("sync", "--from", str(view), "--remote", remote)
    assert res.returncode == 0, res.stderr
    res = ovnlb("sync", "--from", str(view), "--remote", remote)
    assert res.returncode == 0 and "0 transactions" in res.stdout
    assert len({r["name"] for r in dump(remote)["Load_Balancer"]}) == 200


def test_progress_lines_without_a_terminal_and_the_time_of_the_whole_run(
    nb_server: OvnSandbox, tmp_path: Path
) -> None:
    remote = nb_server.nb_remote
    view, _ = many_lbs(remote, tmp_path, 20)
    pid = nb_server.nb_pid
    assert pid is not None
    # NB answers only after 2 s: the connection is part of the run, so of its time.
    os.kill(pid, signal.SIGSTOP)
    try:
        proc = popen("sync", "--from", str(view), "--remote", remote, "--progress-interval", "0")
        time.sleep(3.0)
    finally:
        os.kill(pid, signal.SIGCONT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    lines = err.splitlines()
    assert len(lines) == 20 and "\r" not in err
    assert lines[0].startswith("sync: 1/20 load balancers (1 changed")
    assert lines[-1].startswith("sync: 20/20 load balancers (20 changed, 0 in sync, 0 failed)")
    seconds = float(re.search(r"transactions in ([\d.]+) s", out).group(1))  # type: ignore[union-attr]
    assert seconds >= 2.0


# -- 3. inconsistent views: a per-LB error, nothing written --------------------------------------


def _bad_views() -> list[tuple[str, Any, str]]:
    cases: list[tuple[str, Any, str]] = []
    v = copy.deepcopy(VIEW)
    v["listeners"][0]["default_pool_id"] = P_UDP  # TCP listener -> UDP pool
    cases.append(("tcp-listener-udp-pool", v, f"listener {L_TCP} (TCP) uses pool {P_UDP} (UDP)"))
    v = copy.deepcopy(VIEW)
    v["listeners"][1]["protocol"], v["listeners"][1]["protocol_port"] = "TCP", 80
    cases.append(("same-protocol-and-port", v, f"listeners {L_TCP} and {L_UDP} both use TCP:80"))
    v = copy.deepcopy(VIEW)
    twin = copy.deepcopy(v["loadbalancers"][0])
    twin["vip_address"] = "10.0.0.99"
    v["loadbalancers"].append(twin)
    cases.append(("duplicated-lb-id", v, "listed twice with different contents"))
    v = copy.deepcopy(VIEW)
    v["members"][P_TCP][0]["subnet_id"] = "11111111-1111-4111-8111-111111111111"
    cases.append(
        ("member-subnet-unknown", v, "subnet 11111111-1111-4111-8111-111111111111 is not in")
    )
    v = copy.deepcopy(VIEW)
    v["listeners"] = v["listeners"][1:]  # the LB still names the TCP listener
    cases.append(("dangling-listener", v, f"listener {L_TCP} is listed but not in 'listeners'"))
    v = copy.deepcopy(VIEW)
    v["pools"] = v["pools"][1:]
    cases.append(("dangling-pool", v, f"pool {P_TCP} is listed but not in 'pools'"))
    return cases


@pytest.mark.parametrize(("name", "doc", "message"), _bad_views(), ids=lambda x: str(x)[:24])
def test_inconsistent_views_are_a_per_lb_error_and_write_nothing(
    nb: str, tmp_path: Path, name: str, doc: Any, message: str
) -> None:
    view = write_view(tmp_path, f"{name}.json", doc)
    before = dump(nb)
    res = ovnlb("sync", "--from", str(view), "--remote", nb)
    assert res.returncode == 1
    assert f"ERROR {LB1}: " in res.stderr and message in res.stderr, res.stderr
    assert "Traceback" not in res.stderr
    assert "0 transactions" in res.stdout
    assert dump(nb) == before
    res = ovnlb("plan", "--from", str(view), "--remote", nb, "-f", "json")
    assert res.returncode == 1
    (lb,) = json.loads(res.stdout)["load_balancers"]
    assert lb["action"] == "error" and message in lb["error"]


def test_inconsistent_view_of_an_lb_in_nb_leaves_its_rows(nb: str, tmp_path: Path) -> None:
    sync_ok(nb)
    before = dump(nb)
    assert before["Load_Balancer"] == EXPECTED["Load_Balancer"]
    for name, doc, message in _bad_views():
        res = ovnlb(
            "sync", "--from", str(write_view(tmp_path, f"{name}.json", doc)), "--remote", nb
        )
        assert res.returncode == 1 and message in res.stderr, (name, res.stderr)
        assert dump(nb) == before, name


def test_a_misspelled_top_level_key_is_refused(nb: str, tmp_path: Path) -> None:
    sync_ok(nb)
    before = dump(nb)
    doc = copy.deepcopy(VIEW)
    doc["loadbalancer"] = doc.pop("loadbalancers")
    view = write_view(tmp_path, "typo.json", doc)
    for argv in (["sync", "--allow-mass-delete"], ["plan"]):
        res = ovnlb(*argv, "--from", str(view), "--remote", nb)
        assert res.returncode == 1
        line = error_line(res.stderr)
        assert "unknown top-level key 'loadbalancer' (did you mean 'loadbalancers'?)" in line
        assert str(view) in line
    assert dump(nb) == before


def test_harmless_oddities_are_warnings_and_check_says_warning(nb: str, tmp_path: Path) -> None:
    sync_ok(nb)
    doc = copy.deepcopy(VIEW)
    doc["loadbalancers"].append(copy.deepcopy(doc["loadbalancers"][0]))  # same contents twice
    view = write_view(tmp_path, "twice.json", doc)
    res = ovnlb("check", "--from", str(view), "--remote", nb)
    assert res.returncode == 1  # WARNING
    assert f"loadbalancer {LB1} is listed twice (same contents; once used)" in res.stderr
    assert "(WARNING, 1 view warnings)" in res.stdout
    res = ovnlb("check", "--from", str(view), "--remote", nb, "--quiet")
    assert res.returncode == 1 and res.stderr == ""


# -- 4. exit codes --------------------------------------------------------------------------------


def test_exit_codes(nb: str, tmp_path: Path) -> None:
    src = str(EXAMPLE)
    # Usage errors: 64, one line (2 means drift).
    res = ovnlb("plan", "--remote", nb)
    assert res.returncode == 64
    assert error_line(res.stderr).startswith("ovnlb plan: error: the following arguments")
    res = ovnlb("frobnicate")
    assert res.returncode == 64 and "invalid choice" in error_line(res.stderr)
    res = ovnlb("show", "--remote", nb, "-f", "json", "-c", "nope")
    assert res.returncode == 64 and "unknown column 'nope'" in error_line(res.stderr)
    # check: CRITICAL on drift, OK in sync, UNKNOWN when it cannot tell.
    res = ovnlb("check", "--from", src, "--remote", nb)
    assert res.returncode == 2 and "(CRITICAL)" in res.stdout
    # sync --dry-run with drift exits as plan does; nothing written.
    before = dump(nb)
    res = ovnlb("sync", "--from", src, "--remote", nb, "--dry-run")
    assert res.returncode == 2 and "would create 1" in res.stdout
    assert dump(nb) == before
    sync_ok(nb)
    res = ovnlb("check", "--from", src, "--remote", nb)
    assert res.returncode == 0 and "(OK)" in res.stdout
    res = ovnlb("sync", "--from", src, "--remote", nb, "--dry-run")
    assert res.returncode == 0
    res = ovnlb("check", "--from", src, "--remote", "unix:" + str(tmp_path / "none.sock"))
    assert res.returncode == 3
    assert "No such file or directory" in error_line(res.stderr)
    res = ovnlb("check", "--from", str(tmp_path / "none.json"), "--remote", nb)
    assert res.returncode == 3 and "none.json" in error_line(res.stderr)


# -- 5. one line instead of a traceback ----------------------------------------------------------


def test_tls_problems_are_one_line(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    pki.mkdir()
    client = make_certs(pki)
    rogue_dir = tmp_path / "rogue"
    rogue_dir.mkdir()
    rogue = make_certs(rogue_dir)
    server = (str(pki / "server.key"), str(pki / "server.pem"), str(pki / "ca.pem"))
    sb = start_sandbox(tmp_path / "ovn", ssl=server)
    try:
        remote = sb.nb_ssl_remote
        assert remote
        tls = ["--private-key", client["key"], "--certificate", client["cert"]]
        res = ovnlb("show", "--remote", remote, *tls, "--ca-cert", str(tmp_path / "nope.pem"))
        assert res.returncode == 1
        assert error_line(res.stderr) == (
            f"ovnlb show: error: --ca-cert {tmp_path / 'nope.pem'}: No such file or directory"
        )
        os.chmod(client["key"], 0)
        if os.geteuid() != 0:  # root reads anything
            res = ovnlb("show", "--remote", remote, *tls, "--ca-cert", client["ca"])
            assert "Permission denied" in error_line(res.stderr) and client["key"] in res.stderr
        os.chmod(client["key"], 0o600)
        res = ovnlb("show", "--remote", remote)
        assert res.returncode == 1
        assert "an ssl: remote needs --private-key, --certificate, --ca-cert" in error_line(
            res.stderr
        )
        # The server's certificate is not signed by the CA given.
        res = ovnlb("show", "--remote", remote, *tls, "--ca-cert", rogue["ca"])
        assert res.returncode == 1
        assert "certificate problem" in error_line(res.stderr)
        # The server does not trust the client's certificate.
        res = ovnlb(
            "show", "--remote", remote, "--private-key", rogue["key"],
            "--certificate", rogue["cert"], "--ca-cert", client["ca"],
        )  # fmt: skip
        assert res.returncode == 1
        assert "certificate problem" in error_line(res.stderr)
        # And the right files work.
        res = ovnlb("show", "--remote", remote, *tls, "--ca-cert", client["ca"])
        assert res.returncode == 0, res.stderr
    finally:
        sb.stop()


def test_watch_connection_errors_are_one_line(ovn_northd: OvnSandbox, tmp_path: Path) -> None:
    sock = "unix:" + str(tmp_path / "none.sock")
    res = ovnlb("watch", "--remote", sock, "--sb-remote", ovn_northd.sb_remote, "--once")
    assert res.returncode == 1
    assert error_line(res.stderr).startswith("ovnlb watch: error: cannot read the OVN_Northbound")
    res = ovnlb(
        "watch", "--remote", ovn_northd.nb_remote, "--sb-remote", sock, "--once", "--timeout", "2"
    )
    assert res.returncode == 1
    assert error_line(res.stderr).startswith("ovnlb watch: error: cannot read the OVN_Southbound")
    res = ovnlb("watch", "--once")
    assert res.returncode == 64 and "$OVN_NB_DB" in error_line(res.stderr)
    # The ovn-nbctl/ovn-sbctl variables name the databases.
    env = clean_env(OVN_NB_DB=ovn_northd.nb_remote, OVN_SB_DB=ovn_northd.sb_remote)
    res = ovnlb("watch", "--once", env=env)
    assert res.returncode == 0 and res.stderr == ""


def test_watch_ctrl_c_is_130(ovn_northd: OvnSandbox) -> None:
    proc = popen(
        "watch", "--remote", ovn_northd.nb_remote, "--sb-remote", ovn_northd.sb_remote, "-v"
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        if "holding lock ovnlb_watch" in line:
            break
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert rest.splitlines()[-1] == "ovnlb watch: interrupted" and "Traceback" not in rest


def test_replay_and_view_file_problems_are_one_line(nb: str, tmp_path: Path) -> None:
    res = ovnlb("replay", str(tmp_path / "none.json"))
    assert res.returncode == 1
    assert error_line(res.stderr).endswith("none.json: No such file or directory")
    # --debug adds the traceback, the one line stays last.
    res = ovnlb("replay", str(tmp_path / "none.json"), "--debug")
    assert res.returncode == 1 and res.stderr.startswith("Traceback")
    assert res.stderr.splitlines()[-1].endswith("none.json: No such file or directory")
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "ovnlb-conformance/1", ')
    res = ovnlb("replay", str(broken))
    assert res.returncode == 1 and "broken.json: not JSON" in error_line(res.stderr)
    half = tmp_path / "half.json"
    half.write_text('{"format": "ovnlb-conformance/1", "steps": []}')
    res = ovnlb("replay", str(half))
    assert res.returncode == 1 and "half.json: malformed conformance file" in error_line(res.stderr)
    latin = tmp_path / "latin1.json"
    latin.write_bytes(EXAMPLE.read_bytes().replace(b'"lb1"', b'"lb\xe9"'))
    before = dump(nb)
    res = ovnlb("sync", "--from", str(latin), "--remote", nb)
    assert res.returncode == 1 and "latin1.json: not UTF-8 text" in error_line(res.stderr)
    assert dump(nb) == before


def test_ctrl_c_before_the_first_transaction(nb_server: OvnSandbox) -> None:
    pid = nb_server.nb_pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # the connection waits: the user gives up
    try:
        proc = popen("sync", "--from", str(EXAMPLE), "--remote", nb_server.nb_remote)
        time.sleep(1.5)
        proc.send_signal(signal.SIGINT)
        err = proc.communicate(timeout=30)[1]
    finally:
        os.kill(pid, signal.SIGCONT)
    assert proc.returncode == 130
    assert error_line(err) == "ovnlb sync: interrupted"
    assert dump(nb_server.nb_remote)["Load_Balancer"] == []


def test_broken_pipe_is_one_line(nb: str) -> None:
    # `ovnlb plan ... | head -1` where head has exited: the reader is gone before the
    # output is written (closing our end at once makes that certain: pipes can be large).
    proc = popen("plan", "--from", str(EXAMPLE), "--remote", nb, "-f", "json")
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read()
    proc.wait(60)
    assert proc.returncode == 1
    assert error_line(err) == "ovnlb plan: error: output closed early (broken pipe)"


# -- 6. contradictory options ---------------------------------------------------------------------


def test_contradictory_options_are_refused(nb: str) -> None:
    before = dump(nb)
    res = ovnlb("sync", "--from", str(EXAMPLE), "--backend", "memory", "--remote", nb)
    assert res.returncode == 64
    assert "--backend memory writes to an in-memory database only" in error_line(res.stderr)
    res = ovnlb("demo", "--backend", "memory", "--sandbox")
    assert res.returncode == 64 and "--sandbox" in error_line(res.stderr)
    assert dump(nb) == before


def test_demo_sandbox_really_uses_a_sandbox() -> None:
    memory = ovnlb("demo")
    res = ovnlb("demo", "--sandbox", "-v")
    assert res.returncode == 0, res.stderr
    assert re.search(r"connecting to unix:\S*ovnlb-sandbox-\S*nb\.sock \(idl backend\)", res.stderr)
    assert res.stdout == memory.stdout


def test_demo_against_a_real_nb_is_rerunnable(nb: str) -> None:
    from ovnlb_backends.cli import demo

    before = dump(nb)
    memory = ovnlb("demo").stdout
    for _ in range(2):
        res = ovnlb("demo", "--remote", nb)
        assert res.returncode == 0, res.stderr
        assert res.stdout == memory
        assert dump(nb) == before  # it removed what it made
    # When its rows are there already (someone else's), it refuses and touches nothing.
    be = IdlBackend(nb, timeout=10)
    try:
        be.apply_raw(demo.topology_ops())
    finally:
        be.close()
    during = dump(nb)
    res = ovnlb("demo", "--remote", nb)
    assert res.returncode == 1
    assert "already holds the demo's rows" in error_line(res.stderr)
    assert dump(nb) == during


# -- 7. logging -----------------------------------------------------------------------------------


def test_every_command_takes_the_logging_options() -> None:
    from ovnlb_backends.cli import build_parser

    parser = build_parser()
    required = {
        "plan": ["--from", "x"],
        "sync": ["--from", "x"],
        "check": ["--from", "x"],
        "replay": ["x"],
    }
    commands = ("plan", "sync", "check", "show", "watch", "replay", "demo", "doctor", "version")
    for cmd in commands:
        for flag in ("-v", "--debug", "--quiet", "-q"):
            args = parser.parse_args([cmd, *required.get(cmd, []), flag])
            assert args.command == cmd
    # And the real command accepts them.
    res = ovnlb("version", "--quiet")
    assert res.returncode == 0 and res.stdout.startswith("ovnlb ")


def test_sync_verbose_and_quiet(nb: str) -> None:
    res = ovnlb("sync", "--from", str(EXAMPLE), "--remote", nb, "-v")
    assert res.returncode == 0
    assert f"ovnlb: INFO: {EXAMPLE}: 1 load balancers, 2 subnets" in res.stderr
    assert f"ovnlb: INFO: connecting to {nb} (idl backend)" in res.stderr
    res = ovnlb("sync", "--from", str(EXAMPLE), "--remote", nb, "--quiet")
    assert res.returncode == 0 and res.stderr == ""


def test_watch_verbose_logs_what_it_changed(ovn_northd: OvnSandbox) -> None:
    from test_watch import setup_world

    doc01 = json.loads((ROOT / "tests" / "conformance" / "01_full_sequence.json").read_text())
    backend, _driver = setup_world(ovn_northd, doc01, 5)
    lb = doc01["steps"][0]["request"]["loadbalancer"]["loadbalancer_id"]
    try:
        backend.apply_raw(doc01["steps"][6]["nb_changes"])  # the VIP port's floating IP
    finally:
        backend.close()
    args = ("--remote", ovn_northd.nb_remote, "--sb-remote", ovn_northd.sb_remote, "--once")
    res = ovnlb("watch", *args, "-v")
    assert res.returncode == 0, res.stderr
    assert re.search(rf"ovnlb: INFO: \S+: load balancer {lb} updated", res.stderr), res.stderr
    rows = [r for r in dump(ovn_northd.nb_remote)["Load_Balancer"] if r["name"] == lb]
    assert rows and all(r["external_ids"]["neutron:vip_fip"] == "172.24.4.100" for r in rows)
    # Nothing left to do: -v says nothing was updated.
    res = ovnlb("watch", *args, "-v")
    assert res.returncode == 0 and "updated" not in res.stderr


# -- 8. conventions -------------------------------------------------------------------------------


def test_output_formats_and_columns(nb: str) -> None:
    sync_ok(nb)
    res = ovnlb("show", "--remote", nb, "-f", "value", "-c", "id", "-c", "vip_address")
    assert (res.returncode, res.stdout) == (0, f"{LB1} 10.0.0.3\n")
    res = ovnlb("show", "--remote", nb, "-f", "json", "-c", "id", "-c", "listeners")
    assert json.loads(res.stdout) == [{"id": LB1, "listeners": 3}]
    res = ovnlb("show", "--remote", nb, "--json")  # the old spelling: the full document
    assert json.loads(res.stdout)["loadbalancers"][0]["id"] == LB1
    res = ovnlb("show", "--remote", nb, "-f", "table", "-c", "id", "-c", "members")
    assert res.stdout.splitlines() == [
        "+--------------------------------------+---------+",
        "| id                                   | members |",
        "+--------------------------------------+---------+",
        f"| {LB1} | 5       |",
        "+--------------------------------------+---------+",
    ]
    res = ovnlb("show", "--remote", nb, "-f", "yaml")
    assert res.returncode == 0
    assert res.stdout.startswith("loadbalancers:\n  - id: ")
    assert f'"{LB1}"' in res.stdout or f"id: {LB1}" in res.stdout
    yaml = pytest.importorskip("yaml", reason="PyYAML (only to read the output back)")
    assert yaml.safe_load(res.stdout) == json.loads(ovnlb("show", "--remote", nb, "--json").stdout)
    res = ovnlb("check", "--from", str(EXAMPLE), "--remote", nb, "-f", "value", "-c", "id")
    assert (res.returncode, res.stdout) == (0, "")


def test_version_and_the_ovn_environment_variables(nb: str) -> None:
    res = ovnlb("--version")
    assert res.returncode == 0 and re.fullmatch(r"ovnlb \d+\.\d+\.\S+\n", res.stdout)
    env = clean_env(OVN_NB_DB=nb)
    res = ovnlb("sync", "--from", str(EXAMPLE), env=env)
    assert res.returncode == 0, res.stderr
    assert dump(nb)["Load_Balancer"] == EXPECTED["Load_Balancer"]
    # --db as ovn-nbctl spells it; it wins over the variable.
    env = clean_env(OVN_NB_DB="unix:/nonexistent")
    res = ovnlb("show", "--db", nb, "-f", "value", "-c", "id", env=env)
    assert (res.returncode, res.stdout) == (0, f"{LB1}\n")


def test_show_by_id_prefix_vip_and_name(nb: str) -> None:
    sync_ok(nb)
    for key in (LB1, LB1[:8], "10.0.0.3"):
        res = ovnlb("show", key, "--remote", nb, "-f", "value", "-c", "id")
        assert (res.returncode, res.stdout) == (0, f"{LB1}\n"), key
    res = ovnlb("show", "lb1", "--remote", nb)
    assert res.returncode == 1
    assert "give --from to look them up" in error_line(res.stderr)
    res = ovnlb("show", "lb1", "--from", str(EXAMPLE), "--remote", nb, "-f", "value", "-c", "id")
    assert (res.returncode, res.stdout) == (0, f"{LB1}\n")


def test_doctor(nb: str, tmp_path: Path) -> None:
    res = ovnlb("doctor", "--remote", nb, "-f", "json")
    assert res.returncode == 0, res.stderr
    facts = json.loads(res.stdout)
    # The sandbox's server runs the installed schema file.
    schema = json.loads(server_schema_text())
    assert facts["nb schema version"] == schema["version"]
    assert facts["nb connection"].startswith("ok (")
    assert facts["ovsdb-server"].startswith("ovsdb-server (Open vSwitch)")
    assert facts["ovn-nbctl"].startswith("ovn-nbctl ")
    res = ovnlb("doctor", "--remote", "unix:" + str(tmp_path / "none.sock"))
    assert res.returncode == 1
    assert "ovnlb doctor: error: NB connection failed: " in res.stderr
    assert "Traceback" not in res.stderr


def server_schema_text() -> str:
    from ovnlb_backends.sandbox import find_schema

    return find_schema("ovn-nb.ovsschema").read_text()


def test_plan_prints_health_checks_as_json_and_the_columns_of_deleted_rows(
    nb: str, tmp_path: Path
) -> None:
    res = ovnlb("plan", "--from", str(EXAMPLE), "--remote", nb)
    hcs = [x for x in res.stdout.splitlines() if x.startswith("  + health check ")]
    assert hcs
    for line in hcs:
        hc = json.loads(line[len("  + health check ") :])
        assert set(hc) == {"uuid", "vip", "options", "external_ids"}
    sync_ok(nb)
    empty = copy.deepcopy(VIEW)
    empty["loadbalancers"] = []
    res = ovnlb("plan", "--from", str(write_view(tmp_path, "empty.json", empty)), "--remote", nb)
    assert res.returncode == 2
    out = res.stdout
    assert f"load balancer {LB1}: delete" in out
    assert f"  - row {LB1}/udp (" in out
    assert "      vips[10.0.0.3:53] = " in out
    assert '      external_ids[neutron:vip] = "10.0.0.3"' in out
    deleted_hcs = [x for x in out.splitlines() if x.startswith("  - health check ")]
    assert sorted(json.loads(x[len("  - health check ") :])["vip"] for x in deleted_hcs) == sorted(
        h["vip"] for h in EXPECTED["Load_Balancer_Health_Check"]
    )
