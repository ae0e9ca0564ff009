"""NbctlBackend against real ``ovsdb-server`` processes.

Server-side facts are read independently of ovn-nbctl where it matters: rows
through the ovs Python IDL (:class:`IdlBackend`), transactions as records of
the database file (``ovsdb-tool show-log``), the operations sent from the
server's own jsonrpc debug log.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_idl_backend import transact_requests

from certs import make_certs
from conftest import ovn_or_skip, start_sandbox
from ovnlb_backends.base import BackendError, TryAgain
from ovnlb_backends.idl import IdlBackend
from ovnlb_backends.nbctl import NbctlBackend, quote_string
from ovnlb_backends.sandbox import OvnSandbox, SandboxUnavailable, pid_alive
from ovnlb_core.nb import SCHEMA
from ovnlb_core.plan import (
    Attachment,
    HealthCheckRow,
    LbRowSet,
    LoadBalancerRow,
    Plan,
    diff,
)
from ovnlb_core.rawops import initial_ops
from ovnlb_core.rows import lb_rowset
from paths import CONFORMANCE_DIR

CONFORMANCE = sorted((CONFORMANCE_DIR).glob("*.json"))

LB = "5e0c1a7d-3b2f-4c8e-9d6a-1f2e3d4c0001"
LB2 = "5e0c1a7d-3b2f-4c8e-9d6a-1f2e3d4c0002"
HC = "5e0c1a7d-3b2f-4c8e-9d6a-1f2e3d4c0101"
LB_NAME = "7d1c3e55-0000-4000-8000-00000000b001"
VIP = "10.0.0.10:80"

#: Strings that break naive quoting: ovn-nbctl's separators, JSON escapes,
#: things that parse as other types, shell metacharacters (no shell is used).
HOSTILE = [
    "",
    '"',
    "\\",
    '\\"',
    "a,b",
    "k:v",
    "a=b",
    "two words",
    " lead",
    "trail ",
    "line\nbreak",
    "tab\there",
    "{brace}",
    "[bracket]",
    "}]=,:",
    "true",
    "false",
    "12",
    "-3",
    "--",
    "--id=@x",
    "@name",
    "f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
    "\u00e9\u4e2d\U0001f600",
    "\x01\x1f\x7f",
    "$(touch x) `x` ';'",
    "[]",
    "{}",
]

hostile_text = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=16),
)
hostile_maps = st.dictionaries(hostile_text, hostile_text, max_size=4)


@pytest.fixture
def backend(nb_server: OvnSandbox) -> Iterator[NbctlBackend]:
    """A direct-mode NbctlBackend on the fresh NB server, with switches sw0, sw1, router lr0."""
    nb_server.nbctl("ls-add", "sw0", "--", "ls-add", "sw1", "--", "lr-add", "lr0")
    be = NbctlBackend(nb_server.nb_remote, timeout=10, daemon=False)
    try:
        yield be
    finally:
        be.close()


@pytest.fixture
def idl(nb_server: OvnSandbox, backend: NbctlBackend) -> Iterator[IdlBackend]:
    """An independent reader of the same server (the ovs Python IDL)."""
    be = IdlBackend(nb_server.nb_remote, timeout=10)
    try:
        yield be
    finally:
        be.close()


def lb_row(uuid: str = LB, **kw: Any) -> LoadBalancerRow:
    fields: dict[str, Any] = {
        "name": LB_NAME,
        "protocol": "tcp",
        "vips": {VIP: "10.0.1.5:8080,10.0.1.6:8080"},
        "external_ids": {"enabled": "True"},
        "selection_fields": ("ip_dst", "ip_src"),
    }
    fields.update(kw)
    return LoadBalancerRow(uuid=uuid, **fields)


def commit_desired(be: NbctlBackend, name: str, desired: LbRowSet) -> None:
    actual = lb_rowset(be.reader(), name)
    be.commit(diff(actual, desired), basis=actual)


def idl_rows(idl: IdlBackend, name: str, want: LbRowSet) -> LbRowSet:
    """The rows of ``name`` as the IDL sees them, once its replica has caught up with ``want``."""
    idl.wait_for(lambda: lb_rowset(idl.reader(), name) == want, timeout=5)
    return lb_rowset(idl.reader(), name)


def ours(requests: list[list[Any]]) -> list[list[dict[str, Any]]]:
    """Our transactions: their comment holds our --timeout (the sandbox's nbctl has none)."""
    found = []
    for params in requests:
        ops = params[1:]
        if any(o["op"] == "comment" and "--timeout=" in o["comment"] for o in ops):
            found.append([o for o in ops if o["op"] != "comment"])
    return found


# ---------------------------------------------------------------------------
# Quoting
# ---------------------------------------------------------------------------


def test_quote_string_is_a_json_string_and_refuses_what_ovsdb_cannot_hold() -> None:
    for s in HOSTILE:
        q = quote_string(s)
        assert q.startswith('"') and q.isascii() and json.loads(q) == s
    for bad in ("nul\x00", "\ud800", 5):
        with pytest.raises(BackendError):
            quote_string(bad)  # type: ignore[arg-type]


@pytest.mark.ovn
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=hostile_text,
    first=st.tuples(hostile_maps, hostile_maps, hostile_maps, hostile_text, hostile_maps),
    second=st.tuples(hostile_maps, hostile_maps, hostile_maps, hostile_text, hostile_maps),
)
def test_hostile_strings_round_trip_exactly(
    backend: NbctlBackend,
    idl: IdlBackend,
    name: str,
    first: tuple[dict[str, str], dict[str, str], dict[str, str], str, dict[str, str]],
    second: tuple[dict[str, str], dict[str, str], dict[str, str], str, dict[str, str]],
) -> None:
    """Inserted, then changed key by key (set and remove), then deleted: exact every time."""
    for vips, ext, mappings, hc_vip, hc_opts in (first, second):
        desired = LbRowSet(
            lbs={
                LB: lb_row(
                    name=name,
                    vips=vips,
                    external_ids=ext,
                    options=ext,
                    ip_port_mappings=mappings,
                    health_check=(HC,),
                )
            },
            health_checks={HC: HealthCheckRow(HC, hc_vip, hc_opts, ext)},
            switches={LB: frozenset({"sw0"})},
        )
        commit_desired(backend, name, desired)
        assert lb_rowset(backend.reader(), name) == desired
        assert idl_rows(idl, name, desired) == desired
    commit_desired(backend, name, LbRowSet())
    assert idl_rows(idl, name, LbRowSet()) == LbRowSet()
    assert backend.reader().rows("Load_Balancer_Health_Check") == {}


# ---------------------------------------------------------------------------
# One invocation, one transaction
# ---------------------------------------------------------------------------


@pytest.mark.ovn
def test_one_plan_is_one_invocation_and_one_transaction(
    nb_server: OvnSandbox, backend: NbctlBackend, idl: IdlBackend
) -> None:
    old = lb_row(uuid=LB2, protocol="udp", vips={"10.0.0.10:53": "x:53"})
    commit_desired(backend, LB_NAME, LbRowSet(lbs={LB2: old}, switches={LB2: frozenset({"sw1"})}))
    desired = LbRowSet(
        lbs={LB: lb_row(health_check=(HC,))},
        health_checks={HC: HealthCheckRow(uuid=HC, vip=VIP, options={"timeout": "2"})},
        switches={LB: frozenset({"sw0", "sw1"})},
        routers={LB: frozenset({"lr0"})},
    )
    actual = lb_rowset(backend.reader(), LB_NAME)
    plan = diff(actual, desired)
    assert plan.lb_inserts and plan.lb_deletes and plan.hc_inserts and len(plan.attach) == 3
    records, sent, runs = (
        nb_server.nb_log_records(),
        backend.transaction_count(),
        backend.invocation_count(),
    )
    backend.commit(plan)
    assert nb_server.nb_log_records() == records + 1
    assert backend.transaction_count() == sent + 1
    assert backend.invocation_count() == runs + 1
    # The rows carry the plan's UUIDs (the IDL reads them independently).
    assert idl_rows(idl, LB_NAME, desired) == desired
    # With a basis: one read to check it, one write.
    runs = backend.invocation_count()
    again = attrs.evolve(desired, lbs={LB: lb_row(health_check=(HC,), options={"k": "v"})})
    commit_desired(backend, LB_NAME, again)
    # lb_rowset's two targeted reads (the rows by name; their health checks and
    # holders), the basis check, the write.
    assert backend.invocation_count() == runs + 4
    assert nb_server.nb_log_records() == records + 2
    # An empty plan runs nothing at all.
    runs, sent = backend.invocation_count(), backend.transaction_count()
    backend.commit(Plan(), basis=again)
    backend.apply_raw([])
    assert (backend.invocation_count(), backend.transaction_count()) == (runs, sent)
    assert nb_server.nb_log_records() == records + 2


@pytest.mark.ovn
def test_map_keys_are_set_by_mutation_and_concurrent_keys_survive(
    nb_server: OvnSandbox, backend: NbctlBackend
) -> None:
    before = lb_row(
        vips={VIP: "10.0.1.5:8080", "10.0.0.10:443": "10.0.1.5:8443", "10.0.0.10:22": "x:22"},
        external_ids={"enabled": "True", "keep": "me"},
    )
    commit_desired(backend, LB_NAME, LbRowSet(lbs={LB: before}))
    nb_server.nb_appctl("vlog/set", "jsonrpc:file:dbg")

    # Only keys set: a mutate (delete key + insert), no whole-column update, no wait.
    actual = lb_rowset(backend.reader(), LB_NAME)
    setting = lb_row(
        vips={**before.vips, VIP: "10.0.1.5:8080,10.0.1.7:8080"},
        external_ids={**before.external_ids, "new": "1"},
    )
    # Another writer changes other keys and columns of the row after our read.
    nb_server.nbctl("set", "Load_Balancer", LB, "options:hairpin_snat_ip=1.2.3.4")
    nb_server.nbctl("set", "Load_Balancer", LB, "external_ids:other=x")
    backend.commit(diff(actual, LbRowSet(lbs={LB: setting})))
    [ops] = ours(transact_requests(nb_server))
    assert {o["op"] for o in ops} == {"mutate"}
    [mutate] = ops
    inserted = {m[0]: dict(m[2][1]) for m in mutate["mutations"] if m[1] == "insert"}
    assert inserted == {"vips": {VIP: "10.0.1.5:8080,10.0.1.7:8080"}, "external_ids": {"new": "1"}}
    row = backend.reader().rows("Load_Balancer")[LB]
    assert row["options"] == {"hairpin_snat_ip": "1.2.3.4"}
    assert row["external_ids"] == {"enabled": "True", "keep": "me", "new": "1", "other": "x"}

    # Keys removed: ovn-nbctl 3.1 rewrites the column, guarded by a wait on its
    # own fresh read, so a key another client added after our read survives.
    actual = lb_rowset(backend.reader(), LB_NAME)
    removing = attrs.evolve(actual.lbs[LB], vips={VIP: "10.0.1.5:8080"})
    nb_server.nbctl("set", "Load_Balancer", LB, 'vips:"10.0.0.99:80"="10.0.1.9:80"')
    backend.commit(diff(actual, LbRowSet(lbs={LB: removing})))
    last = ours(transact_requests(nb_server))[-1]
    # (documents ovn-nbctl's behaviour: the removal is a guarded whole-column write)
    [wait] = [o for o in last if o["op"] == "wait"]
    [update] = [o for o in last if o["op"] == "update"]
    assert wait["columns"] == ["vips"] and list(update["row"]) == ["vips"]
    assert backend.reader().rows("Load_Balancer")[LB]["vips"] == {
        VIP: "10.0.1.5:8080",
        "10.0.0.99:80": "10.0.1.9:80",
    }


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


@pytest.mark.ovn
def test_bad_values_fail_before_or_at_ovn_nbctl_and_write_nothing(
    nb_server: OvnSandbox, backend: NbctlBackend
) -> None:
    records, runs = nb_server.nb_log_records(), backend.invocation_count()
    for bad in (
        lb_row(vips={VIP: 8080}),
        lb_row(name="nul\x00"),
        lb_row(external_ids={"k": "\udc80"}),
        lb_row(uuid="not-a-uuid"),
    ):
        with pytest.raises(BackendError):
            backend.commit(Plan(lb_inserts=(bad,)))
    with pytest.raises(BackendError):
        backend.commit(Plan(attach=(Attachment("Logical_Switch", "--", LB),)))
    assert backend.invocation_count() == runs  # refused before running anything
    # ovn-nbctl's own checks: enum constraint, missing switch, missing LB row.
    with pytest.raises(BackendError, match="constraint violation") as exc:
        backend.commit(Plan(lb_inserts=(lb_row(protocol="http"),)))
    assert not isinstance(exc.value, TryAgain)
    with pytest.raises(BackendError, match="nope") as exc:
        backend.commit(
            Plan(lb_inserts=(lb_row(),), attach=(Attachment("Logical_Switch", "nope", LB),))
        )
    assert not isinstance(exc.value, TryAgain)
    with pytest.raises(BackendError, match="not found") as exc:
        backend.commit(Plan(attach=(Attachment("Logical_Switch", "sw0", LB),)))
    assert not isinstance(exc.value, TryAgain)
    with pytest.raises(BackendError, match="no Load_Balancer row named"):
        backend.apply_raw([{"op": "delete", "table": "Load_Balancer", "name": "ghost"}])
    assert backend.transaction_count() == 0
    assert nb_server.nb_log_records() == records


@pytest.mark.ovn
def test_retried_and_stale_commits_are_try_again(
    nb_server: OvnSandbox, backend: NbctlBackend
) -> None:
    desired = LbRowSet(
        lbs={LB: lb_row(health_check=(HC,))},
        health_checks={HC: HealthCheckRow(uuid=HC, vip=VIP)},
        switches={LB: frozenset({"sw0"})},
    )
    actual = lb_rowset(backend.reader(), LB_NAME)
    plan = diff(actual, desired)
    backend.commit(plan, basis=actual)
    records, sent = nb_server.nb_log_records(), backend.transaction_count()
    # "Outcome unknown" -> the same plan again: the server refuses the duplicate UUIDs.
    with pytest.raises(TryAgain, match="duplicate uuid"):
        backend.commit(plan)
    assert diff(lb_rowset(backend.reader(), LB_NAME), desired).is_empty()

    # Another client changes a row after our read: the basis check catches it.
    actual = lb_rowset(backend.reader(), LB_NAME)
    nb_server.nbctl("set", "Load_Balancer", LB, 'vips:"10.0.0.99:80"="10.0.1.9:80"')
    change = attrs.evolve(
        desired, lbs={LB: lb_row(health_check=(HC,), vips={VIP: "10.0.1.5:8080"})}
    )
    with pytest.raises(TryAgain, match="changed since it was read"):
        backend.commit(diff(actual, change), basis=actual)
    # ... and a changed attachment too.
    actual = lb_rowset(backend.reader(), LB_NAME)
    nb_server.nbctl("ls-lb-add", "sw1", LB)
    with pytest.raises(TryAgain, match="attachments"):
        backend.commit(diff(actual, change), basis=actual)
    assert (nb_server.nb_log_records(), backend.transaction_count()) == (records + 2, sent)

    # A row deleted by someone else: the update fails with "no row" -> TryAgain.
    actual = lb_rowset(backend.reader(), LB_NAME)
    nb_server.nbctl("lb-del", LB)
    with pytest.raises(TryAgain, match="is gone"):
        backend.commit(diff(actual, change))
    assert backend.transaction_count() == sent


def test_unreachable_remote_and_missing_binary_are_backend_errors(tmp_path: Path) -> None:
    def need_nbctl() -> None:
        if shutil.which("ovn-nbctl") is None:
            raise SandboxUnavailable("ovn-nbctl not found")

    ovn_or_skip(need_nbctl)
    be = NbctlBackend(f"unix:{tmp_path}/nothing.sock", timeout=2, daemon=False)
    # reader() reads nothing yet (every lookup is a targeted read): the first lookup fails.
    with pytest.raises(BackendError, match="database connection failed"):
        be.reader().by_name("Load_Balancer", "lb")
    missing = NbctlBackend("unix:/x", nbctl=str(tmp_path / "no-such-nbctl"), daemon=False)
    with pytest.raises(BackendError, match="cannot run"):
        missing.reader().rows("Load_Balancer").get("0" * 8 + "-0000-4000-8000-" + "0" * 12)


# ---------------------------------------------------------------------------
# Reading: the canonical form, the same as the IDL's
# ---------------------------------------------------------------------------


@pytest.mark.ovn
def test_reader_rows_equal_the_idl_rows(
    nb_server: OvnSandbox, backend: NbctlBackend, idl: IdlBackend
) -> None:
    doc = json.loads(CONFORMANCE[0].read_text())
    backend.apply_raw(initial_ops(doc["nb_initial"]))
    commit_desired(
        backend,
        LB_NAME,
        LbRowSet(
            lbs={LB: lb_row(health_check=(HC,))},
            health_checks={HC: HealthCheckRow(HC, VIP, {"interval": "5"})},
            switches={LB: frozenset({"sw0", "sw1"})},
            routers={LB: frozenset({"lr0"})},
        ),
    )
    idl.wait_for(lambda: LB in idl.reader().rows("Load_Balancer"), timeout=5)
    got, want = backend.reader(), idl.reader()
    assert got.rows("Logical_Switch_Port")  # the file's rows are there
    for table in SCHEMA:
        assert {u: dict(r) for u, r in got.rows(table).items()} == {
            u: dict(r) for u, r in want.rows(table).items()
        }, table
    for table, column in (("Logical_Switch", "load_balancer"), ("Logical_Router", "load_balancer")):
        assert got.referrers(table, column, LB) == want.referrers(table, column, LB)
    assert got.by_name("Load_Balancer", LB_NAME) == want.by_name("Load_Balancer", LB_NAME)
    assert got.by_name("Load_Balancer", "ghost") == []


# ---------------------------------------------------------------------------
# Daemon mode
# ---------------------------------------------------------------------------


@pytest.mark.ovn
def test_daemon_mode(nb_server: OvnSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    nb_server.nbctl("ls-add", "sw0")
    be = NbctlBackend(nb_server.nb_remote, timeout=10, daemon=True)
    try:
        pid, socket = be.daemon_pid, be.daemon_socket
        assert pid is not None and pid_alive(pid) and socket and os.path.exists(socket)
        # Commands go through the daemon: the remote is not used any more.
        be.remote = "unix:/nonexistent/nb.sock"
        records = nb_server.nb_log_records()
        desired = LbRowSet(lbs={LB: lb_row(name='d"aemon')}, switches={LB: frozenset({"sw0"})})
        commit_desired(be, 'd"aemon', desired)
        assert lb_rowset(be.reader(), 'd"aemon') == desired
        assert nb_server.nb_log_records() == records + 1 == records + be.transaction_count()

        # OVN_NB_DAEMON (daemon=None) is used the same way by another backend ...
        monkeypatch.setenv("OVN_NB_DAEMON", socket)
        other = NbctlBackend("unix:/nonexistent/nb.sock", timeout=10)
        assert other.daemon_socket == socket and other.daemon_pid is None
        assert lb_rowset(other.reader(), 'd"aemon') == desired
        other.close()  # not its daemon: still running
        assert pid_alive(pid)
        # ... and ignored with daemon=False.
        monkeypatch.setenv("OVN_NB_DAEMON", "/nonexistent/nbctl.ctl")
        direct = NbctlBackend(nb_server.nb_remote, timeout=10, daemon=False)
        assert lb_rowset(direct.reader(), 'd"aemon') == desired
        with pytest.raises(BackendError, match="could not connect"):
            NbctlBackend(nb_server.nb_remote, timeout=10).reader().by_name("Load_Balancer", "x")
    finally:
        be.close()
    assert not pid_alive(pid)
    assert not os.path.exists(socket) and not os.path.exists(os.path.dirname(socket))
    be.close()  # idempotent


@pytest.mark.ovn
def test_daemon_that_cannot_connect_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    def need_nbctl() -> None:
        if shutil.which("ovn-nbctl") is None:
            raise SandboxUnavailable("ovn-nbctl not found")

    ovn_or_skip(need_nbctl)
    # A short private temp folder (socket paths are limited): the daemon's
    # folder is made in it and must be gone afterwards.
    tmp = Path(tempfile.mkdtemp(prefix="nbt-", dir="/tmp"))
    try:
        with monkeypatch.context() as m:
            m.setattr(tempfile, "tempdir", str(tmp))
            with pytest.raises(BackendError, match="did not connect"):
                NbctlBackend(f"unix:{tmp}/nothing.sock", timeout=1, daemon=True)
        assert list(tmp.iterdir()) == []
        leftovers = [
            p.name
            for p in Path("/proc").iterdir()
            if p.name.isdigit() and pid_alive(int(p.name)) and str(tmp) in _cmdline(p)
        ]
        assert leftovers == []
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _cmdline(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


# ---------------------------------------------------------------------------
# TLS
# ---------------------------------------------------------------------------


@pytest.mark.ovn
def test_ssl_remote_direct_and_daemon(tmp_path: Path) -> None:
    certs = tmp_path / "pki"
    certs.mkdir()
    client = make_certs(certs)
    server_pki = (str(certs / "server.key"), str(certs / "server.pem"), str(certs / "ca.pem"))
    sb = start_sandbox(tmp_path / "ovn", ssl=server_pki)
    try:
        sb.nbctl("ls-add", "sw0")
        assert sb.nb_ssl_remote
        tls: dict[str, Any] = {
            "private_key": client["key"],
            "certificate": client["cert"],
            "ca_cert": client["ca"],
        }
        with pytest.raises(BackendError):  # the server wants a client certificate
            NbctlBackend(sb.nb_ssl_remote, timeout=3, daemon=False).reader().by_name(
                "Load_Balancer", "x"
            )
        direct = NbctlBackend(sb.nb_ssl_remote, timeout=10, daemon=False, **tls)
        attach = Attachment("Logical_Switch", "sw0", LB)
        direct.commit(Plan(lb_inserts=(lb_row(),), attach=(attach,)))
        daemon = NbctlBackend(sb.nb_ssl_remote, timeout=10, daemon=True, **tls)
        try:
            assert lb_rowset(daemon.reader(), LB_NAME).switches == {LB: frozenset({"sw0"})}
        finally:
            daemon.close()
    finally:
        sb.stop()


def test_argv_is_never_a_shell_string(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []

    def fake_run(argv: Any, **kw: Any) -> subprocess.CompletedProcess[str]:
        seen.append((argv, kw))
        return subprocess.CompletedProcess(argv, 0, "", "")

    monkeypatch.setattr(subprocess, "run", fake_run)
    monkeypatch.setenv("OVN_NBCTL_OPTIONS", "--format=table")
    tls: dict[str, Any] = {"private_key": "k.pem", "certificate": "c.pem", "ca_cert": "ca.pem"}
    be = NbctlBackend("unix:/x.sock", daemon=False, timeout=2.5, **tls)
    be.commit(Plan(lb_inserts=(lb_row(name="a b; rm -rf /"),)))
    [(argv, kw)] = seen
    assert isinstance(argv, list) and not kw.get("shell")
    assert argv[:6] == [
        "ovn-nbctl",
        "--timeout=3",
        "--db=unix:/x.sock",
        "--private-key=k.pem",
        "--certificate=c.pem",
        "--ca-cert=ca.pem",
    ]
    assert 'name="a b; rm -rf /"' in argv
    assert "OVN_NBCTL_OPTIONS" not in kw["env"]


# ---------------------------------------------------------------------------
# Large values: the daemon's unixctl "run" request, sent without a process
# ---------------------------------------------------------------------------

#: ~1.2 MB of text with every character ovn-nbctl's syntax or JSON escapes.
BIG = ("".join(HOSTILE) * 8000)[:1_200_000]


def big_row(uuid: str, name: str, tag: str) -> LoadBalancerRow:
    return lb_row(
        uuid=uuid,
        name=name,
        vips={VIP: f"{tag}{BIG}"},
        external_ids={"enabled": "True", f"pool_{tag}": f"{BIG}{tag}"},
    )


@pytest.fixture
def argv_sizes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The longest argv string of every process run (subprocess.run), recorded."""
    sizes: list[int] = []
    real_run = subprocess.run

    def recording_run(argv: Any, *args: Any, **kw: Any) -> Any:
        sizes.append(max(len(a.encode()) for a in argv))
        return real_run(argv, *args, **kw)

    monkeypatch.setattr(subprocess, "run", recording_run)
    return sizes


@pytest.mark.ovn
def test_megabyte_values_commit_direct_and_through_the_daemon(
    nb_server: OvnSandbox, backend: NbctlBackend, idl: IdlBackend, argv_sizes: list[int]
) -> None:
    assert len(BIG) == 1_200_000 and len(quote_string(BIG)) > 1_200_000
    daemon = NbctlBackend(nb_server.nb_remote, timeout=10, daemon=True)
    try:
        for be, uuid, name in ((backend, LB, "direct"), (daemon, LB2, "daemon")):
            desired = LbRowSet(
                lbs={uuid: big_row(uuid, name, "a")}, switches={uuid: frozenset({"sw0"})}
            )
            records, sent = nb_server.nb_log_records(), be.transaction_count()
            commit_desired(be, name, desired)
            assert nb_server.nb_log_records() == records + 1
            assert be.transaction_count() == sent + 1
            assert idl_rows(idl, name, desired) == desired  # exact, read independently
            assert lb_rowset(be.reader(), name) == desired
            # A key of the big maps changed, one removed: one more record.
            changed = LbRowSet(
                lbs={uuid: big_row(uuid, name, "b")}, switches={uuid: frozenset({"sw0"})}
            )
            commit_desired(be, name, changed)
            assert nb_server.nb_log_records() == records + 2
            assert idl_rows(idl, name, changed) == changed
        # The direct backend started its private daemon for the big writes only.
        assert backend.daemon_pid is not None and backend.daemon_socket is None
    finally:
        daemon.close()
    # No process ever got an argument near the kernel's limit.
    assert argv_sizes and max(argv_sizes) < 100 * 1024


@pytest.mark.ovn
def test_daemon_errors_read_like_the_subprocess_errors(
    nb_server: OvnSandbox, backend: NbctlBackend
) -> None:
    daemon = NbctlBackend(nb_server.nb_remote, timeout=10, daemon=True)
    try:
        assert daemon.daemon_socket
        failing = [
            (Plan(lb_deletes=(LB,)), TryAgain, "is gone"),
            (Plan(lb_inserts=(lb_row(protocol="http"),)), BackendError, "constraint violation"),
            (
                Plan(lb_inserts=(lb_row(),), attach=(Attachment("Logical_Switch", "nope", LB),)),
                BackendError,
                "nope",
            ),
        ]
        for plan, kind, match in failing:
            texts = []
            for be in (backend, daemon):
                with pytest.raises(kind, match=match) as exc:
                    be.commit(plan)
                assert type(exc.value) is kind
                texts.append(str(exc.value))
            assert texts[0] == texts[1]
        # A retried insert: "duplicate uuid" -> TryAgain through the daemon too.
        daemon.commit(Plan(lb_inserts=(lb_row(),)))
        with pytest.raises(TryAgain, match="duplicate uuid"):
            daemon.commit(Plan(lb_inserts=(lb_row(),)))
        # The same text as the stock client's through the same daemon ...
        env = {**os.environ, "OVN_NB_DAEMON": daemon.daemon_socket}
        env.pop("OVN_NBCTL_OPTIONS", None)
        stock = subprocess.run(
            ["ovn-nbctl", "--", "destroy", "Load_Balancer", LB2],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert stock.returncode == 1
        with pytest.raises(TryAgain) as exc:
            daemon.commit(Plan(lb_deletes=(LB2,)))
        assert str(exc.value).endswith(f"ovn-nbctl failed (1): {stock.stderr.strip()}")
        # ... and an oversized direct invocation that fails reads like a small one.
        with pytest.raises(BackendError, match="constraint violation") as big_exc:
            backend.commit(
                Plan(lb_inserts=(attrs.evolve(big_row(LB2, "big", "a"), protocol="http"),))
            )
        with pytest.raises(BackendError, match="constraint violation") as small_exc:
            backend.commit(Plan(lb_inserts=(lb_row(uuid=LB2, protocol="http"),)))
        assert backend.daemon_pid is not None  # the big one went through a daemon
        assert str(big_exc.value) == str(small_exc.value)
    finally:
        daemon.close()


@pytest.mark.ovn
def test_private_daemon_of_a_direct_backend_is_started_lazily_and_stopped_by_close(
    nb_server: OvnSandbox, backend: NbctlBackend, idl: IdlBackend
) -> None:
    commit_desired(backend, LB_NAME, LbRowSet(lbs={LB: lb_row()}))
    assert backend.daemon_pid is None  # small invocations: no daemon
    value = "v" * 200_000
    desired = LbRowSet(lbs={LB: lb_row(external_ids={"enabled": "True", "big": value})})
    commit_desired(backend, LB_NAME, desired)
    pid = backend.daemon_pid
    assert pid is not None and pid_alive(pid)
    assert idl_rows(idl, LB_NAME, desired) == desired
    [daemon_dir] = [
        p for p in Path(tempfile.gettempdir()).glob("ovnlb-nbctl-*") if str(pid) in _pidfile(p)
    ]
    backend.close()
    assert not pid_alive(pid) and not daemon_dir.exists() and backend.daemon_pid is None
    backend.close()  # idempotent
    # Still usable: small invocations run directly, a big one starts a new daemon.
    assert lb_rowset(backend.reader(), LB_NAME) == desired
    assert backend.daemon_pid is None
    again = LbRowSet(lbs={LB: lb_row(external_ids={"enabled": "True", "big": value + "!"})})
    commit_desired(backend, LB_NAME, again)
    assert backend.daemon_pid not in (None, pid)
    assert idl_rows(idl, LB_NAME, again) == again


def _pidfile(folder: Path) -> str:
    try:
        return (folder / "nbctl.pid").read_text().strip()
    except OSError:
        return ""


@pytest.mark.ovn
def test_member_add_into_a_pool_of_10000_equals_the_memory_backend(
    nb_server: OvnSandbox,
) -> None:
    from ovnlb_backends.cli import demo
    from ovnlb_backends.memory import MemoryBackend
    from ovnlb_backends.service.driver import OvnLbDriver
    from ovnlb_core.dump import canonical_dump
    from ovnlb_core.topology import Subnet

    # The demo topology with the member subnet widened to a /8 (as benchmarks/run.py).
    topology = json.loads(json.dumps(demo.topology_ops()).replace("10.10.10.1/24", "10.0.0.1/8"))
    subnets = {
        **demo.SUBNETS,
        demo.MEMBER_SUBNET: Subnet(demo.MEMBER_SUBNET, demo.MEMBER_NET, "10.0.0.0/8"),
    }

    def member(i: int) -> dict[str, Any]:
        return {
            "member_id": f"00000000-0000-4000-8000-{i:012d}",
            "pool_id": demo.POOL,
            "address": f"10.{1 + (i >> 16)}.{(i >> 8) & 255}.{i & 255}",
            "protocol_port": 8080,
            "subnet_id": demo.MEMBER_SUBNET,
            "admin_state_up": True,
        }

    nbctl = NbctlBackend(nb_server.nb_remote, timeout=30, daemon=False)
    try:
        dumps = []
        for be in (MemoryBackend(), nbctl):
            be.apply_raw(topology)
            driver = OvnLbDriver(be, subnets)
            for _title, step in demo.steps()[:3]:
                step(driver)
            driver.member_batch_update(demo.POOL, [member(i) for i in range(10_000)])
            records = nb_server.nb_log_records()
            driver.member_create(member(10_000))
            if be is nbctl:
                assert nb_server.nb_log_records() == records + 1
            dumps.append(canonical_dump(be.reader()))
        assert dumps[0] == dumps[1]
        [lb] = [r for r in nbctl.reader().rows("Load_Balancer").values() if r["vips"]]
        assert max(len(v) for v in lb["vips"].values()) > 128 * 1024  # E2BIG-sized
        assert nbctl.daemon_pid is not None
    finally:
        nbctl.close()


def test_unixctl_request_shape_reply_parsing_and_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Against a fake daemon socket: the request, a reply cut inside a string, no reply."""
    import socket
    import threading

    sock_path = tmp_path / "fake.ctl"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(sock_path))
    server.listen()
    requests: list[Any] = []
    text = 'out}put "}"\n\u00e9'

    def serve() -> None:
        for answer in (True, False):
            conn, _ = server.accept()
            with conn:
                buf = b""
                while not buf.endswith(b"}"):
                    buf += conn.recv(65536)
                request = json.loads(buf)
                requests.append(request)
                if answer:
                    reply = json.dumps(
                        {"id": request["id"], "result": text, "error": None}, ensure_ascii=False
                    ).encode()
                    cut = reply.index(b"}") + 1  # the first part ends with a "}" in a string
                    conn.sendall(reply[:cut])
                    time.sleep(0.05)  # two reads
                    conn.sendall(reply[cut:])
                else:
                    conn.recv(1)  # until the client gives up

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        # A relative OVN_NB_DAEMON is relative to the OVS rundir, like ovn-nbctl's.
        monkeypatch.setenv("OVS_RUNDIR", str(tmp_path))
        monkeypatch.setenv("OVN_NB_DAEMON", "fake.ctl")
        be = NbctlBackend("unix:/nonexistent", timeout=0.5)
        cmds = [["--id=x", "create", "Load_Balancer", 'name="a b"'], ["list", "NAT"]]
        assert be.run(cmds, json_output=True) == text
        with pytest.raises(BackendError, match=r"gave no answer within 0\.5 s"):
            be.run([["list", "NAT"]])
        assert be.invocation_count() == 2
    finally:
        thread.join(5)
        server.close()
    assert requests[0] == {
        "method": "run",
        "params": ["--format=json", "--", *cmds[0], "--", *cmds[1]],
        "id": requests[0]["id"],
    }
    assert requests[1]["params"] == ["--", "list", "NAT"]
