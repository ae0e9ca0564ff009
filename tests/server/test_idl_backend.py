"""IdlBackend against real ``ovsdb-server`` processes, and its fast JSON parser.

Server-side facts are read from the server, not from the backend: rows with
``ovn-nbctl``, transactions as records of the database file (``ovsdb-tool
show-log``: one record per committed transaction), the operations sent from
the server's own jsonrpc debug log.
"""

from __future__ import annotations

import json
import re
import socket
import time
import uuid as uuidlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import ovs.db.idl
import ovs.json
import ovs.stream
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certs import make_certs
from conftest import ovn_or_skip, start_sandbox
from ovnlb_backends.base import BackendError, TryAgain
from ovnlb_backends.idl import READ_BYTES, SEND_BUFFER_BYTES, IdlBackend, jsonparser
from ovnlb_backends.idl.jsonparser import StdlibJsonParser, install_json_parser, json_parser_info
from ovnlb_backends.memory import MemoryBackend
from ovnlb_backends.sandbox import OvnNbCluster, OvnSandbox
from ovnlb_backends.service.replay import compare, load, replay
from ovnlb_core.dump import canonical_dump
from ovnlb_core.nb import SCHEMA
from ovnlb_core.plan import (
    Attachment,
    HealthCheckRow,
    LbRowSet,
    LoadBalancerRow,
    Plan,
    diff,
)
from ovnlb_core.rawops import RawOp, initial_ops, insert_uuid
from ovnlb_core.rows import lb_rowset
from paths import CONFORMANCE_DIR

CONFORMANCE = sorted((CONFORMANCE_DIR).glob("*.json"))

LB = "0b8f4c52-6d1e-4c3a-9f0e-5a7d2b1c0001"
LB_UDP = "0b8f4c52-6d1e-4c3a-9f0e-5a7d2b1c0002"
HC = "0b8f4c52-6d1e-4c3a-9f0e-5a7d2b1c0101"
HC_UDP = "0b8f4c52-6d1e-4c3a-9f0e-5a7d2b1c0102"
LB_NAME = "7d1c3e55-0000-4000-8000-00000000a001"
VIP = "10.0.0.10:80"


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


@pytest.fixture
def backend(nb_server: OvnSandbox) -> Iterator[IdlBackend]:
    """An IdlBackend on the fresh NB server, with a switch ``sw0`` and a router ``lr0``."""
    nb_server.nbctl("ls-add", "sw0", "--", "ls-add", "sw1", "--", "lr-add", "lr0")
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
        "external_ids": {"enabled": "True", "neutron:vip": "10.0.0.10"},
        "selection_fields": ("ip_dst", "ip_src"),
    }
    fields.update(kw)
    return LoadBalancerRow(uuid=uuid, **fields)


def nb_column(sb: OvnSandbox | OvnNbCluster, table: str, record: str, column: str) -> Any:
    """One column of one row as the server has it (``ovn-nbctl --format=json list``).

    Maps become dicts, sets sorted lists (a one-element set too), UUIDs strings.
    """
    out = json.loads(sb.nbctl("--format=json", f"--columns={column}", "list", table, record))
    [[value]] = out["data"]

    def atom(v: Any) -> Any:
        return v[1] if isinstance(v, list) and v[0] == "uuid" else v

    if isinstance(value, list) and value[0] == "map":
        return {atom(k): atom(v) for k, v in value[1]}
    if isinstance(value, list) and value[0] == "set":
        return sorted(atom(v) for v in value[1])
    value = atom(value)
    return [value] if SCHEMA[table][column].kind == "set" else value


def commit_desired(be: IdlBackend, desired: LbRowSet, attempts: int = 5) -> int:
    """The driver's loop: read, plan, commit with basis; retry on TryAgain. Returns tries."""
    for attempt in range(1, attempts + 1):
        actual = lb_rowset(be.reader(), LB_NAME)
        try:
            be.commit(diff(actual, desired), basis=actual)
        except TryAgain:
            continue
        return attempt
    raise AssertionError(f"no commit after {attempts} attempts")


def transact_requests(sb: OvnSandbox) -> list[list[Any]]:
    """The ``transact`` requests the NB server logged (needs jsonrpc debug logging)."""
    out = []
    for line in sb.nb_log.read_text().splitlines():
        m = re.search(r'received request, method="transact", params=(\[.*\]), id=', line)
        if m:
            out.append(json.loads(m.group(1)))
    return out


# ---------------------------------------------------------------------------
# The fast JSON path (no server needed)
# ---------------------------------------------------------------------------


@pytest.fixture
def restore_parser() -> Iterator[None]:
    """Put back the parser in use before the test (the server tests use the default)."""
    before = json_parser_info().split()[0]
    yield
    install_json_parser(before)


def pure_parser() -> Any:
    return jsonparser.ovs_python_parser(False)


def parse_stream(
    factory: Callable[[], Any], text: str, cuts: list[int], as_bytes: bool = False
) -> list[Any]:
    """Feed ``text`` in pieces the way ovs.jsonrpc.Connection.recv does; every message parsed.

    Stops after the first error, as the connection does (it closes on EPROTO).
    """
    points = sorted({c % (len(text) + 1) for c in cuts} | {len(text)})
    messages: list[Any] = []
    parser, buf, last = factory(), "", 0
    for point in points:
        buf += text[last:point]
        last = point
        while buf:
            consumed = parser.feed(buf)
            # The C parser counts bytes: jsonrpc slices the encoded input then.
            buf = buf.encode()[consumed:].decode() if as_bytes else buf[consumed:]
            if not parser.is_done():
                break
            messages.append(parser.finish())
            if isinstance(messages[-1], str):
                return messages
            parser = factory()
    return messages


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(["\u00e9", "\U0001f600", "a\\b", 'q"q', "\x00", "\x1f", "}]{["])
    # Runs of backslashes and quotes: escaped quotes, escaped backslashes before a
    # closing quote, either split anywhere by the cuts (the framing's two paths).
    | st.text(alphabet='\\"a]}', max_size=12)
)
json_docs = st.recursive(
    json_scalars,
    lambda kids: (
        st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=6), kids, max_size=4)
    ),
    max_leaves=20,
).map(lambda v: {"params": v})


@settings(max_examples=400, deadline=None)
@given(
    docs=st.lists(json_docs, min_size=1, max_size=3),
    ascii_only=st.booleans(),
    cuts=st.lists(st.integers(min_value=0), max_size=6),
)
def test_stdlib_parser_gives_what_the_ovs_parser_gives(
    docs: list[Any], ascii_only: bool, cuts: list[int]
) -> None:
    # ensure_ascii=True writes \uXXXX escapes, surrogate pairs included.
    text = " \n".join(json.dumps(d, ensure_ascii=ascii_only) for d in docs)
    expected = parse_stream(pure_parser, text, cuts)
    got = parse_stream(StdlibJsonParser, text, cuts)
    assert repr(got) == repr(expected)  # repr: 1 vs 1.0 and 0 vs -0.0 differ


@pytest.mark.parametrize(
    "text",
    [
        '{"n":[0,-0,-0.0,1.0,1.50e1,2000e-3,1e2,0.5,-9223372036854775808,'
        "9223372036854775807,9223372036854775808,-9223372036854775809,1e400,12345678901234567890]}",
        '{"s":"\\u00e9\\ud83d\\ude00\\/\\b\\f\\n\\r\\t\\"\\\\"}',
        '{"lone_trailing":"\\udc00"}',
        '{"lone_leading":"\\ud800x"}',
        '{"nul":"\\u0000"}',
        '{"ctl":"a\x01"}',
        '{"nan":NaN}',
        '{"kw":tru}',
        '"top-level string"',
        "[" * 1001 + "]" * 1001,
        '{"a":1,"a":2}',
        '{"unterminated":"abc',
        # Runs of escaped backslashes next to escaped and closing quotes.
        json.dumps({"s": '\\\\"\\', "t": "x\\", "u": '"\\"', "v": json.dumps({"k": '"'})}),
        # An escaped backslash closing a string, alone in its message (a cut between
        # its two backslashes leaves the closing quote right after the escaped one).
        json.dumps({"s": "a\\"}),
    ],
)
def test_stdlib_parser_edge_cases(text: str) -> None:
    single_cuts = [[i] for i in range(len(text))] if len(text) < 300 else []
    for cuts in ([], [1], [5, 6, 7], list(range(len(text))), *single_cuts):
        assert repr(parse_stream(StdlibJsonParser, text, cuts)) == repr(
            parse_stream(pure_parser, text, cuts)
        )
    # Unterminated input: both parsers report the same error from finish().
    if text.endswith("abc"):
        p, q = StdlibJsonParser(), pure_parser()
        p.feed(text), q.feed(text)
        assert p.finish() == q.finish()


def test_streams_read_large_chunks_once_connected(backend: IdlBackend) -> None:
    """After a connection, an ovs stream asked for 4096 bytes asks its socket for READ_BYTES
    (ovs's JSON-RPC loop asks 4 KB); a read of 0 stays 0, and the wrapper is installed once."""
    seen: list[int] = []

    class Probe(ovs.stream.Stream):  # type: ignore[misc]
        def __init__(self) -> None:  # no socket: _recv below answers
            self.socket = None  # Stream.__del__ closes it when set

        def _recv(self, n: int) -> tuple[int, bytes]:
            seen.append(n)
            return 0, b""

    Probe().recv(4096)
    Probe().recv(0)
    Probe().recv(READ_BYTES * 2)
    assert seen == [READ_BYTES, 0, READ_BYTES * 2]
    other = IdlBackend(backend.remote, timeout=10)  # a second connection wraps nothing again
    other.close()
    seen.clear()
    Probe().recv(1)
    assert seen == [READ_BYTES]


def test_streams_send_with_a_large_buffer_once_connected(backend: IdlBackend) -> None:
    """After a connection, an ovs stream asks for a SEND_BUFFER_BYTES send buffer the first
    time it sends on a socket (again on a new socket), then sends as ovs does."""
    calls: list[tuple[str, Any]] = []

    class Sock:
        def setsockopt(self, level: int, name: int, value: int) -> None:
            calls.append(("setsockopt", (level, name, value)))

        def send(self, buf: bytes) -> int:
            calls.append(("send", buf))
            return len(buf)

        def close(self) -> None:
            pass

    class Probe(ovs.stream.Stream):  # type: ignore[misc]
        def __init__(self) -> None:
            self.socket = Sock()
            self.state = ovs.stream.Stream._Stream__S_CONNECTED

    probe = Probe()
    assert probe.send("ab") == 2
    assert probe.send(b"c") == 1
    sized = ("setsockopt", (socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES))
    assert calls == [sized, ("send", b"ab"), ("send", b"c")]
    calls.clear()
    probe.socket = Sock()  # a reconnect's new socket is sized again
    probe.send("d")
    assert calls == [sized, ("send", b"d")]
    # A real connection's socket got the buffer (the kernel caps it at wmem_max and
    # reports twice what it keeps).
    real = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    real.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
    expected = real.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
    real.close()
    other = IdlBackend(backend.remote, timeout=10)
    try:
        other.apply_raw([lb_insert("sized", "10.0.0.1:80")])
        stream = other._idl._session.rpc.stream
        assert stream.socket.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) == expected
    finally:
        other.close()


def test_from_string_uses_the_stdlib_parser(restore_parser: None) -> None:
    install_json_parser("stdlib")
    assert ovs.json.from_string('  {"a": [1, "\\u00e9"]}\n') == {"a": [1, "\u00e9"]}
    assert ovs.json.from_string('{"a": 1} x') == pure_parser_from_string('{"a": 1} x')
    assert ovs.json.from_string("") == pure_parser_from_string("")


def pure_parser_from_string(text: str) -> Any:
    p = jsonparser.ovs_python_parser(True)
    p.feed(text)
    return p.finish()


def big_update(members: int) -> str:
    backends = ",".join(f"10.{i // 62500}.{i // 250 % 250}.{i % 250}:8080" for i in range(members))
    pool = ",".join(f"member_{i:08x}-0000-4000-8000-{i:012x}_10.1.0.1:8080" for i in range(members))
    update = {"Load_Balancer": {LB: {"modify": {"vips": ["map", [[VIP, backends]]]}}}}
    update["Load_Balancer"][LB]["modify"]["external_ids"] = ["map", [["pool_x", pool]]]
    return json.dumps({"id": None, "method": "update3", "params": [None, LB, update]})


def test_json_parser_choices(restore_parser: None) -> None:
    text = big_update(2000)
    expected = json.loads(text)
    for mode in ("stdlib", "c", "python", "auto"):
        info = install_json_parser(mode)
        assert info == json_parser_info()
        if mode == "stdlib":
            assert info.startswith("stdlib")
        as_bytes = ovs.json.PARSER == ovs.json.PARSER_C
        assert parse_stream(ovs.json.Parser, text, list(range(0, len(text), 4096)), as_bytes) == [
            expected
        ]
    with pytest.raises(ValueError):
        install_json_parser("fast")


def test_default_json_parser_is_fast(restore_parser: None) -> None:
    """A 1 MB update (one row, 13.5k members) parses in well under a second by default."""
    install_json_parser()
    assert not json_parser_info().startswith("python")
    text = big_update(13500)
    assert len(text) > 1_000_000
    as_bytes = ovs.json.PARSER == ovs.json.PARSER_C
    start = time.perf_counter()
    result = parse_stream(ovs.json.Parser, text, list(range(0, len(text), 4096)), as_bytes)
    elapsed = time.perf_counter() - start
    assert result == [json.loads(text)]
    assert elapsed < 0.5, f"{json_parser_info()}: {elapsed:.3f} s"  # pure Python: ~11 s


# ---------------------------------------------------------------------------
# Conformance data: the IDL replica equals the memory backend, row by row
# ---------------------------------------------------------------------------


def assert_same_rows(be: IdlBackend, mem: MemoryBackend) -> None:
    idl_reader, mem_reader = be.reader(), mem.reader()
    assert canonical_dump(idl_reader) == canonical_dump(mem_reader)
    # Raw inserts carry deterministic UUIDs (persist_uuid), so rows match by UUID.
    for table in SCHEMA:
        got = {u: dict(r) for u, r in idl_reader.rows(table).items()}
        want = {u: {c: mem_reader.rows(table)[u][c] for c in SCHEMA[table]} for u in got}
        assert set(got) == set(mem_reader.rows(table)), table
        assert got == json.loads(json.dumps(want)) or got == want, table


@pytest.mark.ovn
@pytest.mark.parametrize("path", CONFORMANCE, ids=lambda p: p.stem)
def test_conformance_raw_ops_match_memory_backend(path: Path, nb_server: OvnSandbox) -> None:
    doc = json.loads(path.read_text())
    be, mem = IdlBackend(nb_server.nb_remote, timeout=10), MemoryBackend()
    try:
        ops = initial_ops(doc["nb_initial"])
        be.apply_raw(ops)
        mem.apply_raw(ops)
        assert canonical_dump(be.reader()) == doc["expect_initial"]["nb"]
        assert_same_rows(be, mem)
        for step in doc["steps"]:
            for key in ("nb_changes", "nb_changes_after"):
                if step.get(key):
                    be.apply_raw(step[key])
                    mem.apply_raw(step[key])
                    assert_same_rows(be, mem)
    finally:
        be.close()


@pytest.mark.ovn
@pytest.mark.parametrize("path", CONFORMANCE, ids=lambda p: p.stem)
def test_conformance_replay_on_real_ovsdb(path: Path, nb_server: OvnSandbox) -> None:
    """The whole driver path (read, parse, translate, plan, commit) through the IDL."""
    doc = load(str(path))
    be = IdlBackend(nb_server.nb_remote, timeout=10)
    try:
        records = list(replay(doc, be))
        assert compare(doc, records) == []
        # One record in the database file per transaction the backend sent.
        assert nb_server.nb_log_records() == 1 + be.transaction_count()
    finally:
        be.close()


# ---------------------------------------------------------------------------
# commit()
# ---------------------------------------------------------------------------


@pytest.mark.ovn
def test_insert_lb_with_health_check_attached_to_switch(
    nb_server: OvnSandbox, backend: IdlBackend
) -> None:
    desired = LbRowSet(
        lbs={LB: lb_row(health_check=(HC,))},
        health_checks={HC: HealthCheckRow(uuid=HC, vip=VIP, options={"interval": "5"})},
        switches={LB: frozenset({"sw0"})},
        routers={LB: frozenset({"lr0"})},
    )
    records = nb_server.nb_log_records()
    assert commit_desired(backend, desired) == 1
    assert nb_server.nb_log_records() == records + 1
    assert backend.transaction_count() == 1
    # The server holds the plan's own UUIDs (persist_uuid), not UUIDs of its choosing.
    assert nb_column(nb_server, "Load_Balancer", LB, "name") == LB_NAME
    assert nb_column(nb_server, "Load_Balancer", LB, "health_check") == [HC]
    assert nb_column(nb_server, "Load_Balancer_Health_Check", HC, "vip") == VIP
    assert nb_column(nb_server, "Logical_Switch", "sw0", "load_balancer") == [LB]
    assert nb_column(nb_server, "Logical_Switch", "sw1", "load_balancer") == []
    assert nb_column(nb_server, "Logical_Router", "lr0", "load_balancer") == [LB]
    # The replica shows the commit at once, and the same request again is a no-op.
    assert lb_rowset(backend.reader(), LB_NAME) == desired
    assert diff(lb_rowset(backend.reader(), LB_NAME), desired).is_empty()
    assert commit_desired(backend, desired) == 1
    assert nb_server.nb_log_records() == records + 1


@pytest.mark.ovn
def test_map_changes_are_per_key_mutations(nb_server: OvnSandbox, backend: IdlBackend) -> None:
    before = lb_row(
        vips={VIP: "10.0.1.5:8080", "10.0.0.10:443": "10.0.1.5:8443", "10.0.0.10:22": "x:22"},
        external_ids={"enabled": "True", "keep": "me"},
    )
    commit_desired(backend, LbRowSet(lbs={LB: before}))
    nb_server.nb_appctl("vlog/set", "jsonrpc:file:dbg")
    actual = lb_rowset(backend.reader(), LB_NAME)

    def changed(rows: LbRowSet) -> LbRowSet:
        vips = {VIP: "10.0.1.5:8080,10.0.1.7:8080", "10.0.0.10:443": "10.0.1.5:8443"}
        ext = {"enabled": "True", "keep": "me", "new": "1"}
        return LbRowSet(lbs={LB: attrs.evolve(rows.lbs[LB], vips=vips, external_ids=ext)})

    # Another writer changes other columns and keys of the same row meanwhile: the plan
    # made before that is refused by the server (the row's version moved), nothing lost.
    nb_server.nbctl("set", "Load_Balancer", LB, "options:hairpin_snat_ip=1.2.3.4")
    nb_server.nbctl("set", "Load_Balancer", LB, "ip_port_mappings:10.0.1.5=p1:10.0.0.2")
    with pytest.raises(TryAgain):
        backend.commit(diff(actual, changed(actual)), basis=actual)
    fresh = lb_rowset(backend.reader(), LB_NAME)
    backend.commit(diff(fresh, changed(fresh)), basis=fresh)

    vips = nb_column(nb_server, "Load_Balancer", LB, "vips")
    assert vips == {VIP: "10.0.1.5:8080,10.0.1.7:8080", "10.0.0.10:443": "10.0.1.5:8443"}
    ext = nb_column(nb_server, "Load_Balancer", LB, "external_ids")
    assert ext == {"enabled": "True", "keep": "me", "new": "1"}
    assert nb_column(nb_server, "Load_Balancer", LB, "options") == {"hairpin_snat_ip": "1.2.3.4"}
    assert nb_column(nb_server, "Load_Balancer", LB, "ip_port_mappings") == {
        "10.0.1.5": "p1:10.0.0.2"
    }
    # On the wire: a wait on the row's _version (36 bytes, not the old maps), then
    # mutations by key; no whole-map update. (ovn-nbctl's writes above never wait.)
    ours = [ops for ops in transact_requests(nb_server) if any(o["op"] == "wait" for o in ops[1:])]
    assert len(ours) == 2  # the refused attempt and the one that landed
    ops = ours[-1][1:]
    assert {o["op"] for o in ops} == {"wait", "mutate"}
    wait = next(o for o in ops if o["op"] == "wait")
    assert wait["columns"] == ["_version"]
    assert wait["rows"] == [{"_version": ["uuid", wait["rows"][0]["_version"][1]]}]
    mutations = next(o for o in ops if o["op"] == "mutate")["mutations"]
    # setkey sends "delete key" + "insert key=value" (insert never overwrites a key).
    deleted = {m[0]: sorted(m[2][1]) for m in mutations if m[1] == "delete"}
    inserted = {m[0]: dict(m[2][1]) for m in mutations if m[1] == "insert"}
    assert deleted == {"vips": sorted(["10.0.0.10:22", VIP]), "external_ids": ["new"]}
    assert inserted == {"vips": {VIP: "10.0.1.5:8080,10.0.1.7:8080"}, "external_ids": {"new": "1"}}


@pytest.mark.ovn
def test_untrusted_versions_fall_back_to_column_verify(
    nb_server: OvnSandbox, backend: IdlBackend
) -> None:
    """After a reconnect a row's _version may be another cluster member's: verify columns."""
    commit_desired(backend, LbRowSet(lbs={LB: lb_row()}))
    nb_server.nb_appctl("vlog/set", "jsonrpc:file:dbg")
    backend._idl.version_trusted.clear()  # as restart_fsm does on a reconnect
    actual = lb_rowset(backend.reader(), LB_NAME)
    desired = LbRowSet(lbs={LB: lb_row(vips={VIP: "10.0.1.9:8080"})})
    backend.commit(diff(actual, desired), basis=actual)
    (ops,) = [o for o in transact_requests(nb_server) if any(x["op"] == "wait" for x in o[1:])]
    wait = next(o for o in ops[1:] if o["op"] == "wait")
    assert wait["columns"] == ["vips"]
    # The update for our own write makes the row's version trusted again.
    assert uuidlib.UUID(LB) in backend._idl.version_trusted


@pytest.mark.ovn
def test_one_plan_is_one_transaction(nb_server: OvnSandbox, backend: IdlBackend) -> None:
    old = lb_row(uuid=LB_UDP, protocol="udp", vips={"10.0.0.10:53": "10.0.1.5:53"})
    commit_desired(backend, LbRowSet(lbs={LB_UDP: old}, switches={LB_UDP: frozenset({"sw1"})}))
    records, sent = nb_server.nb_log_records(), backend.transaction_count()
    desired = LbRowSet(
        lbs={LB: lb_row(health_check=(HC,))},
        health_checks={HC: HealthCheckRow(uuid=HC, vip=VIP, options={"timeout": "2"})},
        switches={LB: frozenset({"sw0", "sw1"})},
        routers={LB: frozenset({"lr0"})},
    )
    actual = lb_rowset(backend.reader(), LB_NAME)
    plan = diff(actual, desired)
    assert plan.lb_inserts and plan.lb_deletes and plan.hc_inserts and len(plan.attach) == 3
    backend.commit(plan, basis=actual)
    assert nb_server.nb_log_records() == records + 1
    assert backend.transaction_count() == sent + 1
    assert nb_server.nbctl("--bare", "--columns=_uuid", "list", "Load_Balancer").split() == [LB]
    assert nb_column(nb_server, "Logical_Switch", "sw1", "load_balancer") == [LB]
    # An empty plan sends nothing.
    backend.commit(Plan(), basis=lb_rowset(backend.reader(), LB_NAME))
    assert backend.transaction_count() == sent + 1


@pytest.mark.ovn
def test_concurrent_change_of_a_verified_column_is_try_again(
    nb_server: OvnSandbox, backend: IdlBackend
) -> None:
    commit_desired(backend, LbRowSet(lbs={LB: lb_row()}))
    actual = lb_rowset(backend.reader(), LB_NAME)
    desired = LbRowSet(lbs={LB: lb_row(vips={VIP: "10.0.1.5:8080"})})
    # Between our read and our commit another client adds a VIP to the same map.
    nb_server.nbctl("set", "Load_Balancer", LB, 'vips:"10.0.0.99:80"="10.0.1.9:80"')
    records, sent = nb_server.nb_log_records(), backend.transaction_count()
    with pytest.raises(TryAgain):
        backend.commit(diff(actual, desired), basis=actual)
    assert backend.transaction_count() == sent + 1  # sent, and refused by the server
    assert nb_server.nb_log_records() == records
    # The replica has resynced: a re-read shows the other write, the re-plan keeps it.
    fresh = lb_rowset(backend.reader(), LB_NAME)
    assert "10.0.0.99:80" in fresh.lbs[LB].vips
    desired_again = LbRowSet(
        lbs={LB: lb_row(vips={VIP: "10.0.1.5:8080", "10.0.0.99:80": "10.0.1.9:80"})}
    )
    backend.commit(diff(fresh, desired_again), basis=fresh)
    assert nb_column(nb_server, "Load_Balancer", LB, "vips") == {
        VIP: "10.0.1.5:8080",
        "10.0.0.99:80": "10.0.1.9:80",
    }
    # A stale basis is refused before anything is sent.
    sent = backend.transaction_count()
    with pytest.raises(TryAgain):
        backend.commit(diff(actual, desired), basis=actual)
    assert backend.transaction_count() == sent


@pytest.mark.ovn
def test_retry_of_a_committed_plan_is_a_no_op(nb_server: OvnSandbox, backend: IdlBackend) -> None:
    desired = LbRowSet(
        lbs={LB: lb_row(health_check=(HC,))},
        health_checks={HC: HealthCheckRow(uuid=HC, vip=VIP)},
        switches={LB: frozenset({"sw0"})},
    )
    actual = lb_rowset(backend.reader(), LB_NAME)
    plan = diff(actual, desired)
    backend.commit(plan, basis=actual)
    records, sent = nb_server.nb_log_records(), backend.transaction_count()
    # "Outcome unknown" -> the caller re-applies the same plan: refused, nothing written.
    with pytest.raises(TryAgain):
        backend.commit(plan, basis=actual)
    with pytest.raises(TryAgain):  # even without a basis: the inserted rows exist
        backend.commit(plan)
    # Re-read and re-plan: nothing left to do.
    assert diff(lb_rowset(backend.reader(), LB_NAME), desired).is_empty()
    assert commit_desired(backend, desired) == 1
    assert (nb_server.nb_log_records(), backend.transaction_count()) == (records, sent)


@pytest.mark.ovn
def test_insert_with_persisted_uuid_is_refused_by_the_server_the_second_time(
    nb_server: OvnSandbox, backend: IdlBackend
) -> None:
    other = IdlBackend(nb_server.nb_remote, timeout=10)
    try:
        desired = LbRowSet(lbs={LB: lb_row()}, switches={LB: frozenset({"sw0"})})
        actual = lb_rowset(backend.reader(), LB_NAME)
        plan = diff(actual, desired)
        other.commit(plan, basis=actual)  # another client commits the same plan first
        records = nb_server.nb_log_records()
        # This replica has not seen it: the insert reaches the server, which refuses
        # the duplicate UUID; that is a TryAgain, and the re-plan is empty.
        with pytest.raises(TryAgain, match="duplicate uuid"):
            backend.commit(plan, basis=actual)
        assert nb_server.nb_log_records() == records
        assert diff(lb_rowset(backend.reader(), LB_NAME), desired).is_empty()
        assert nb_server.nbctl("--bare", "--columns=_uuid", "list", "Load_Balancer").split() == [LB]
    finally:
        other.close()


@pytest.mark.ovn
def test_reconnect_with_transaction_in_flight(nb_server: OvnSandbox, backend: IdlBackend) -> None:
    commit_desired(backend, LbRowSet(lbs={LB: lb_row()}))
    desired = LbRowSet(lbs={LB: lb_row(vips={VIP: "10.0.1.5:8080,10.0.1.9:8080"})})
    nb_server.restart_nb()  # crash: the backend's connection is dead, it does not know yet
    assert commit_desired(backend, desired) >= 2  # TryAgain (after resync), then success
    assert backend.connected()
    assert nb_column(nb_server, "Load_Balancer", LB, "vips") == dict(desired.lbs[LB].vips)
    # The indexes were rebuilt from the resynced replica.
    assert [u for u, _ in backend.reader().by_name("Load_Balancer", LB_NAME)] == [LB]


@pytest.mark.ovn
def test_bad_values_are_refused_before_sending(nb_server: OvnSandbox, backend: IdlBackend) -> None:
    records = nb_server.nb_log_records()
    for bad in (
        lb_row(protocol="http"),  # enum constraint; the IDL would log and drop it
        lb_row(vips={VIP: 8080}),
        lb_row(selection_fields=("ip_dst", "bogus")),
    ):
        with pytest.raises(BackendError):
            backend.commit(Plan(lb_inserts=(bad,)))
    with pytest.raises(BackendError, match="no Logical_Switch row named"):
        backend.commit(
            Plan(lb_inserts=(lb_row(),), attach=(Attachment("Logical_Switch", "nope", LB),))
        )
    assert backend.transaction_count() == 0
    assert nb_server.nb_log_records() == records


# ---------------------------------------------------------------------------
# reading, apply_raw, remotes
# ---------------------------------------------------------------------------


def lb_insert(name: str, vip: str) -> RawOp:
    return {
        "op": "insert",
        "table": "Load_Balancer",
        "row": {"_name": name, "name": name, "vips": {vip: "10.0.1.5:80"}},
    }


@pytest.mark.ovn
def test_reader_is_lazy_and_indexed(nb_server: OvnSandbox, backend: IdlBackend) -> None:
    backend.apply_raw([lb_insert(f"lb-{i}", f"10.0.0.{i}:80") for i in range(200)])
    cache = backend._idl.canon["Load_Balancer"]  # white box: converted rows
    cache.clear()
    reader = backend.reader()
    [(uuid, row)] = reader.by_name("Load_Balancer", "lb-7")
    assert uuid == insert_uuid("Load_Balancer", "lb-7")
    assert row["vips"] == {"10.0.0.7:80": "10.0.1.5:80"}
    assert list(cache) == [__import__("uuid").UUID(uuid)]  # one row converted, not 200
    assert reader.referrers("Logical_Switch", "load_balancer", uuid) == []
    # Changes made by other clients keep the indexes right.
    nb_server.nbctl("ls-lb-add", "sw0", uuid, "--", "set", "Load_Balancer", uuid, "name=renamed")
    nb_server.nbctl("lb-del", "lb-8")
    assert backend.wait_for(
        lambda: bool(backend.reader().by_name("Load_Balancer", "renamed")), timeout=5
    )
    reader = backend.reader()
    assert reader.by_name("Load_Balancer", "lb-7") == []
    assert reader.by_name("Load_Balancer", "lb-8") == []
    assert reader.rows("Load_Balancer")[uuid]["name"] == "renamed"
    [(_sw, sw)] = reader.referrers("Logical_Switch", "load_balancer", uuid)
    assert sw["name"] == "sw0" and sw["load_balancer"] == (uuid,)
    assert len(reader.rows("Load_Balancer")) == 199


@pytest.mark.ovn
def test_apply_raw_refuses_to_delete_a_referenced_non_root_row(
    nb_server: OvnSandbox, backend: IdlBackend
) -> None:
    ops: list[RawOp] = [
        {"op": "insert", "table": "Logical_Switch_Port", "row": {"_name": "p1", "name": "p1"}},
        {"op": "update", "table": "Logical_Switch", "name": "sw0", "columns": {"ports": ["p1"]}},
    ]
    backend.apply_raw(ops)
    delete: list[RawOp] = [{"op": "delete", "table": "Logical_Switch_Port", "name": "p1"}]
    if hasattr(ovs.db.idl.Transaction, "add_op"):  # ovs >= 3.2 can send the explicit delete
        with pytest.raises(BackendError, match="referential integrity"):
            backend.apply_raw(delete)
    # Deleting it together with the reference works (the memory backend agrees).
    backend.apply_raw(
        [
            *delete,
            {"op": "update", "table": "Logical_Switch", "name": "sw0", "columns": {"ports": []}},
        ]
    )
    assert backend.reader().by_name("Logical_Switch_Port", "p1") == []


@pytest.mark.ovn
def test_cluster_leader_failover(tmp_path: Path) -> None:
    """Comma-separated members, leader only; the leader crashes; the change lands once."""
    cluster = ovn_or_skip(lambda: OvnNbCluster(tmp_path / "cluster", size=3))
    try:
        cluster.wait_joined()
        cluster.nbctl("ls-add", "sw0")
        be = IdlBackend(cluster.nb_remote, timeout=30)
        try:
            commit_desired(be, LbRowSet(lbs={LB: lb_row()}, switches={LB: frozenset({"sw0"})}))
            cluster.kill(cluster.leader())
            desired = LbRowSet(
                lbs={LB: lb_row(vips={VIP: "10.0.1.5:8080,10.0.1.9:8080"})},
                switches={LB: frozenset({"sw0"})},
            )
            assert commit_desired(be, desired, attempts=10) >= 2  # TryAgain, then the new leader
            uuids = cluster.nbctl("--bare", "--columns=_uuid", "list", "Load_Balancer").split()
            assert uuids == [LB]
            assert nb_column(cluster, "Load_Balancer", LB, "vips") == dict(desired.lbs[LB].vips)
        finally:
            be.close()
    finally:
        cluster.stop()


@pytest.mark.ovn
def test_tcp_and_ssl_remotes(tmp_path: Path) -> None:
    certs = tmp_path / "pki"
    certs.mkdir()
    client = make_certs(certs)
    server_pki = (str(certs / "server.key"), str(certs / "server.pem"), str(certs / "ca.pem"))
    sb = start_sandbox(tmp_path / "ovn", tcp=True, ssl=server_pki)
    try:
        sb.nbctl("ls-add", "sw0")
        assert sb.nb_tcp_remote and sb.nb_ssl_remote
        tcp = IdlBackend(sb.nb_tcp_remote, timeout=10)
        ssl = IdlBackend(
            sb.nb_ssl_remote,
            timeout=10,
            ssl_key=client["key"],
            ssl_cert=client["cert"],
            ssl_ca=client["ca"],
        )
        try:
            ssl.commit(
                Plan(lb_inserts=(lb_row(),), attach=(Attachment("Logical_Switch", "sw0", LB),))
            )
            assert tcp.wait_for(lambda: bool(tcp.reader().by_name("Load_Balancer", LB_NAME)), 5)
            assert [u for u, _ in tcp.reader().referrers("Logical_Switch", "load_balancer", LB)]
        finally:
            tcp.close()
            ssl.close()
    finally:
        sb.stop()


def test_unreachable_remote_is_a_backend_error(tmp_path: Path) -> None:
    start = time.monotonic()
    with pytest.raises(BackendError):
        IdlBackend(f"unix:{tmp_path}/nothing.sock", timeout=1)
    assert time.monotonic() - start < 5
