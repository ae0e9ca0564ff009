"""Reliability against real servers: leader failover in a RAFT cluster, concurrent writers, TLS.

OVSDB promises at-least-once writes: when the connection drops after the
server committed a transaction, the client sees TRY_AGAIN and cannot tell
whether it landed. ovnlb re-reads and re-plans, so a retry of a committed
request plans to nothing. These tests check the end state against the same
request history applied once, in order, to the in-memory backend.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from certs import make_certs
from conftest import ovn_or_skip, start_sandbox
from ovnlb_backends.base import BackendError, TryAgain
from ovnlb_backends.cli import demo
from ovnlb_backends.idl import IdlBackend
from ovnlb_backends.memory import MemoryBackend
from ovnlb_backends.sandbox import OvnNbCluster
from ovnlb_backends.service.driver import OvnLbDriver, handle
from ovnlb_core.dump import canonical_dump
from ovnlb_core.errors import OvnlbError
from paths import ROOT

Request = dict[str, Any]


def _uuid(kind: int, n: int) -> str:
    return f"{kind:08x}-0000-4000-8000-{n:012x}"


def lb_requests(lb_n: int) -> tuple[str, str, list[Request]]:
    """Create LB number ``lb_n`` with a TCP listener and a pool; returns (lb, pool, requests)."""
    lb, listener, pool = _uuid(0xA1, lb_n), _uuid(0xA2, lb_n), _uuid(0xA3, lb_n)
    reqs: list[Request] = [
        {
            "op": "lb_create",
            "loadbalancer": {
                "loadbalancer_id": lb,
                "vip_address": f"172.24.4.{100 + lb_n}",
                "vip_network_id": demo.NET,
                "vip_subnet_id": demo.VIP_SUBNET,
                "admin_state_up": True,
            },
        },
        {
            "op": "listener_create",
            "listener": {
                "listener_id": listener,
                "loadbalancer_id": lb,
                "protocol": "TCP",
                "protocol_port": 80,
                "admin_state_up": True,
            },
        },
        {
            "op": "pool_create",
            "pool": {
                "pool_id": pool,
                "loadbalancer_id": lb,
                "listener_id": listener,
                "protocol": "TCP",
                "lb_algorithm": "SOURCE_IP_PORT",
                "admin_state_up": True,
            },
        },
    ]
    return lb, pool, reqs


def member(pool: str, lb_n: int, n: int, admin: bool = True) -> dict[str, Any]:
    return {
        "member_id": _uuid(0xB0 + lb_n, n),
        "pool_id": pool,
        "address": f"10.10.10.{10 + n}",
        "protocol_port": 8000 + lb_n,
        "subnet_id": demo.MEMBER_SUBNET,
        "admin_state_up": admin,
    }


def request_stream(total: int, lbs: int = 10, seed: int = 7) -> list[Request]:
    """A deterministic mix: LB/listener/pool creates, member adds, deletes and updates."""
    rng = random.Random(seed)
    reqs: list[Request] = []
    pools: list[str] = []
    for n in range(lbs):
        _lb, pool, created = lb_requests(n)
        reqs += created
        pools.append(pool)
    live: dict[int, dict[int, dict[str, Any]]] = {n: {} for n in range(lbs)}
    while len(reqs) < total:
        n = rng.randrange(lbs)
        free = [i for i in range(200) if i not in live[n]]
        roll = rng.random()
        if roll < 0.55 or not live[n]:
            m = member(pools[n], n, rng.choice(free))
            live[n][int(m["member_id"][-12:], 16)] = m
            reqs.append({"op": "member_create", "member": m})
        elif roll < 0.8:
            i = rng.choice(sorted(live[n]))
            reqs.append({"op": "member_delete", "member": live[n].pop(i)})
        else:
            i = rng.choice(sorted(live[n]))
            old = live[n][i]
            new = {**old, "admin_state_up": not old["admin_state_up"]}
            live[n][i] = new
            reqs.append(
                {
                    "op": "member_update",
                    "old": old,
                    "new": {"admin_state_up": new["admin_state_up"]},
                }
            )
    return reqs


def expected_dump(reqs: list[Request]) -> dict[str, Any]:
    """The NB rows after each request applied exactly once, in order."""
    mem = MemoryBackend()
    mem.apply_raw(demo.topology_ops())
    d = OvnLbDriver(mem, demo.SUBNETS)
    for r in reqs:
        handle(d, r)
    return canonical_dump(mem.reader())


def server_dump(remote: str) -> dict[str, Any]:
    """What the server holds, through a fresh connection."""
    fresh = IdlBackend(remote, timeout=30)
    try:
        return canonical_dump(fresh.reader())
    finally:
        fresh.close()


@pytest.mark.ovn
def test_leader_failover_during_a_stream_of_1000_requests(tmp_path: Path) -> None:
    """Leader killed by pid mid-stream and restarted later: nothing lost, nothing doubled."""
    cluster = ovn_or_skip(lambda: OvnNbCluster(tmp_path / "cluster", size=3))
    try:
        cluster.wait_joined()
        reqs = request_stream(1000)
        be = IdlBackend(cluster.nb_remote, timeout=30, max_backoff=0.5)
        try:
            be.apply_raw(demo.topology_ops())
            d = OvnLbDriver(be, demo.SUBNETS)
            killed_at: float | None = None
            killed: int | None = None
            resumed_after: float | None = None
            errors: list[str] = []
            for i, r in enumerate(reqs):
                if i == 300:
                    killed = cluster.leader()
                    pid = cluster.pid(killed)
                    assert pid is not None
                    cluster.kill(killed)
                    killed_at = time.monotonic()
                if i == 600 and killed is not None:
                    cluster.restart(killed)
                for _attempt in range(5):
                    try:
                        handle(d, r)
                        break
                    except (BackendError, OvnlbError) as exc:
                        # A clear, typed error; the caller (Octavia) would retry.
                        errors.append(f"request {i} {r['op']}: {type(exc).__name__}: {exc}")
                        time.sleep(0.2)
                else:
                    pytest.fail(f"request {i} never succeeded: {errors[-5:]}")
                if killed_at is not None and resumed_after is None:
                    resumed_after = time.monotonic() - killed_at
            cluster.wait_joined(timeout=30)
        finally:
            be.close()
        print(f"\nresumed writing {resumed_after:.2f} s after the leader was killed; "
              f"{len(errors)} typed errors retried")  # fmt: skip
        assert server_dump(cluster.nb_remote) == expected_dump(reqs)
    finally:
        cluster.stop()


# -- the freeze: the new leader commits what the client thinks failed ------------------------


def freeze_requests() -> list[Request]:
    """One load balancer's life through every request type (demo topology)."""
    lb, listener, pool = _uuid(0xD1, 1), _uuid(0xD2, 1), _uuid(0xD3, 1)
    hm = _uuid(0xD4, 1)
    lb_obj = {
        "loadbalancer_id": lb,
        "vip_address": "172.24.4.150",
        "vip_network_id": demo.NET,
        "vip_subnet_id": demo.VIP_SUBNET,
        "admin_state_up": True,
    }
    li = {
        "listener_id": listener,
        "loadbalancer_id": lb,
        "protocol": "TCP",
        "protocol_port": 80,
        "admin_state_up": True,
    }
    p = {
        "pool_id": pool,
        "loadbalancer_id": lb,
        "listener_id": listener,
        "protocol": "TCP",
        "lb_algorithm": "SOURCE_IP_PORT",
        "admin_state_up": True,
    }
    # 10.10.10.10 has a port on the member network: monitored, mapped.
    m1 = {**member(pool, 0, 0), "address": "10.10.10.10"}
    m2 = member(pool, 0, 1)
    m3 = {**member(pool, 0, 2), "address": "10.10.10.10", "protocol_port": 9000}
    h = {
        "healthmonitor_id": hm,
        "pool_id": pool,
        "type": "TCP",
        "delay": 10,
        "timeout": 5,
        "max_retries": 3,
        "max_retries_down": 3,
        "admin_state_up": True,
    }
    health = {
        "ip": "10.10.10.10",
        "port": 9000,
        "protocol": "tcp",
        "logical_port": demo.MEMBER_PORT,
        "src_ip": "10.10.10.3",
        "status": "offline",
    }
    fip = {
        "floating_ip_address": "172.24.4.200",
        "port_id": demo.VIP_PORT,
        "fixed_ip_address": "172.24.4.150",
        "loadbalancer_id": lb,
        "vip_kind": "vip",
    }
    return [
        {"op": "lb_create", "loadbalancer": lb_obj},
        {"op": "lb_update", "old": lb_obj, "new": {"admin_state_up": False}},
        {"op": "listener_create", "listener": li},
        {"op": "listener_update", "old": li, "new": {"admin_state_up": False}},
        {"op": "pool_create", "pool": p},
        {"op": "pool_update", "old": p, "new": {"admin_state_up": False}},
        {"op": "member_create", "member": m1},
        {"op": "member_create", "member": m2},
        {"op": "member_update", "old": m2, "new": {"admin_state_up": False}},
        {"op": "hm_create", "healthmonitor": h},
        {"op": "hm_update", "old": h, "new": {"delay": 20}},
        # m1 replaced by another member at the same IP (issue 11), m2 kept.
        {"op": "member_batch_update", "pool_id": pool, "members": [m3, m2]},
        {"op": "member_health", "events": [{"type": "update", "row": health}]},
        {"op": "fip_associate", **fip},
        {"op": "fip_disassociate", **fip},
        {"op": "member_delete", "member": m2},
        {"op": "hm_delete", "healthmonitor": h},
        {"op": "listener_delete", "listener": li},
        {"op": "pool_create", "pool": {**p, "listener_id": None}},
        {"op": "pool_delete", "pool": {**p, "members": [m3], "healthmonitor": None}},
        {"op": "lb_failover", "loadbalancer_id": lb},
        {"op": "lb_delete", "loadbalancer": {**lb_obj, "listeners": [], "pools": []}},
    ]


def _freeze_and_kill_leader(cluster: OvnNbCluster, send: Any) -> None:
    """Pause both followers, send, SIGKILL the leader, resume the followers.

    The leader has the transaction in its log and has sent it to the (paused)
    followers' sockets; it dies before a majority answers, so the client sees
    the connection drop, while the followers, resumed, elect a leader that
    commits the entry. The client's retry must then find it already applied.
    """
    leader = cluster.leader()
    followers = [i for i in range(3) if i != leader]
    pids = [cluster.pid(i) for i in followers]
    assert all(pids)
    done = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        try:
            send()
        except BaseException as exc:  # reported by the main thread
            failure.append(exc)
        finally:
            done.set()

    for pid in pids:
        os.kill(pid, signal.SIGSTOP)  # type: ignore[arg-type]
    try:
        thread = threading.Thread(target=run)
        thread.start()
        # The transaction reaches the leader, which appends it and writes the append
        # entries to the followers' sockets (no majority: no reply).
        time.sleep(0.3)
        cluster.kill(leader)
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)  # type: ignore[arg-type]
    assert done.wait(60), "the request did not finish after the new election"
    thread.join()
    if failure:
        raise failure[0]
    cluster.restart(leader)
    cluster.wait_joined(timeout=30)


@pytest.mark.ovn
def test_freezing_the_followers_then_killing_the_leader_loses_and_doubles_nothing(
    tmp_path: Path,
) -> None:
    """Every request type sent while both followers are paused and the leader is killed:
    the end state equals the requests applied once each (no duplicated health checks,
    no mapping missing, nothing lost)."""
    cluster = ovn_or_skip(lambda: OvnNbCluster(tmp_path / "cluster", size=3))
    try:
        cluster.wait_joined()
        reqs = freeze_requests()
        be = IdlBackend(cluster.nb_remote, timeout=30, max_backoff=0.5)
        try:
            be.apply_raw(demo.topology_ops())
            d = OvnLbDriver(be, demo.SUBNETS)
            retried = [0]
            commit = be.commit

            def counting_commit(*args: Any, **kwargs: Any) -> Any:
                try:
                    return commit(*args, **kwargs)
                except (TryAgain, BackendError):
                    retried[0] += 1
                    raise

            be.commit = counting_commit  # type: ignore[method-assign]
            frozen: list[str] = []
            for r in reqs:
                if r["op"] == "lb_failover":
                    with pytest.raises(OvnlbError):
                        handle(d, r)
                    continue
                _freeze_and_kill_leader(cluster, lambda r=r: handle(d, r))
                frozen.append(r["op"])
                # The history so far, applied once each, is what the cluster holds.
                done = [x for x in reqs[: reqs.index(r) + 1] if x["op"] != "lb_failover"]
                assert canonical_dump(be.reader()) == expected_dump(done), r["op"]
        finally:
            be.close()
        print(f"\n{len(frozen)} requests sent into a frozen cluster; {retried[0]} commits "
              "had an unknown outcome and were retried")  # fmt: skip
        assert set(frozen) | {"lb_failover"} == {r["op"] for r in reqs}
        applied = [x for x in reqs if x["op"] != "lb_failover"]
        assert server_dump(cluster.nb_remote) == expected_dump(applied)
    finally:
        cluster.stop()


# -- two writers on one load balancer --------------------------------------------------------

HM_MEMBERS = 10


def hm_port(n: int) -> str:
    return _uuid(0xC1, n)


def _health_topology() -> list[Any]:
    """The walkthrough's topology plus ports for the health-checked members."""
    ops = demo.topology_ops()
    ports = []
    for n in range(HM_MEMBERS):
        lsp = {
            "_name": hm_port(n),
            "name": hm_port(n),
            "addresses": [f"fa:16:3e:00:01:{n:02x} 10.10.10.{100 + n}"],
            "external_ids": {"neutron:cidrs": f"10.10.10.{100 + n}/24"},
        }
        ops.append({"op": "insert", "table": "Logical_Switch_Port", "row": lsp})
        ports.append(hm_port(n))
    ops.append(
        {
            "op": "update",
            "table": "Logical_Switch",
            "name": f"neutron-{demo.MEMBER_NET}",
            "columns": {"ports": [demo.RI_MEMBER, demo.MEMBER_PORT, demo.HM_PORT, *ports]},
        }
    )
    return ops


def _setup_requests() -> tuple[str, list[Request]]:
    _lb, pool, reqs = lb_requests(0)
    for n in range(HM_MEMBERS):
        m = member(pool, 0, 90 + n)
        m["address"] = f"10.10.10.{100 + n}"
        reqs.append({"op": "member_create", "member": m})
    reqs.append(
        {
            "op": "hm_create",
            "healthmonitor": {
                "healthmonitor_id": _uuid(0xD1, 0),
                "pool_id": pool,
                "type": "TCP",
                "delay": 5,
                "timeout": 3,
                "max_retries": 3,
                "admin_state_up": True,
            },
        }
    )
    return pool, reqs


def _member_writer_requests(pool: str) -> list[Request]:
    adds = [{"op": "member_create", "member": member(pool, 0, n)} for n in range(30)]
    dels = [{"op": "member_delete", "member": member(pool, 0, n)} for n in range(0, 30, 3)]
    return adds + dels


def _health_writer_requests() -> list[Request]:
    out: list[Request] = []
    for rnd in range(3):
        for n in range(HM_MEMBERS):
            # Last round: even members offline, odd online.
            status = "offline" if (rnd + n) % 2 == 0 else "online"
            row = {
                "ip": f"10.10.10.{100 + n}",
                "port": 8000,
                "protocol": "tcp",
                "logical_port": hm_port(n),
                "src_ip": "10.10.10.3",
                "status": status,
            }
            out.append({"op": "member_health", "events": [{"type": "update", "row": row}]})
    return out


def _writer(remote: str, reqs: list[Request], start: Any, result: Any) -> None:
    """Child process: send ``reqs`` through its own IDL connection."""
    be = IdlBackend(remote, timeout=30)
    tries = 0
    try:
        d = OvnLbDriver(be, demo.SUBNETS)
        start.wait(30)
        for r in reqs:
            handle(d, r)
        tries = be.transaction_count()
    finally:
        be.close()
    result.put((len(reqs), tries))


@pytest.mark.ovn
def test_concurrent_writers_lose_no_update(tmp_path: Path) -> None:
    """Member adds/deletes from one process, health changes from another, on one LB."""
    sb = start_sandbox(tmp_path / "ovn")
    try:
        pool, setup = _setup_requests()
        be = IdlBackend(sb.nb_remote, timeout=30)
        try:
            be.apply_raw(_health_topology())
            d = OvnLbDriver(be, demo.SUBNETS)
            for r in setup:
                handle(d, r)
        finally:
            be.close()
        a, b = _member_writer_requests(pool), _health_writer_requests()
        ctx = multiprocessing.get_context("spawn")
        start, result = ctx.Event(), ctx.Queue()
        procs = [ctx.Process(target=_writer, args=(sb.nb_remote, w, start, result)) for w in (a, b)]
        for p in procs:
            p.start()
        time.sleep(1.0)  # both connected and replicated before they race
        start.set()
        for p in procs:
            p.join(120)
            assert p.exitcode == 0
        counts = dict(result.get(timeout=5) for _ in procs)
        # Transactions sent, retries included; every member request changes the rows (some
        # health events do not: a member already ONLINE).
        print(f"\ntransactions sent per writer (requests: count): {counts}")
        assert counts[len(a)] >= len(a)

        mem = MemoryBackend()
        mem.apply_raw(_health_topology())
        md = OvnLbDriver(mem, demo.SUBNETS)
        for r in setup + a + b:
            handle(md, r)
        expected = canonical_dump(mem.reader())
        # Sanity of the expectation itself: the health writer's last round is there.
        (row,) = expected["Load_Balancer"]
        status = json.loads(row["external_ids"]["neutron:member_status"])
        assert [status[_uuid(0xB0, 90 + n)] for n in range(HM_MEMBERS)] == [
            "ERROR" if n % 2 == 0 else "ONLINE" for n in range(HM_MEMBERS)
        ]
        assert server_dump(sb.nb_remote) == expected
    finally:
        sb.stop()


# -- TLS ---------------------------------------------------------------------------------------


@pytest.fixture
def tls_sandbox(tmp_path: Path) -> Iterator[tuple[Any, dict[str, str], Path]]:
    pki = tmp_path / "pki"
    pki.mkdir()
    client = make_certs(pki)
    server = (str(pki / "server.key"), str(pki / "server.pem"), str(pki / "ca.pem"))
    sb = start_sandbox(tmp_path / "ovn", ssl=server)
    try:
        yield sb, client, pki
    finally:
        sb.stop()


def _other_ca(d: Path) -> dict[str, str]:
    """A second CA and a client certificate signed by it (unknown to the server)."""
    d.mkdir()
    return make_certs(d)


def _tls_child(remote: str, key: str, cert: str, ca: str, out: Any) -> None:
    # ovs keeps TLS files process-wide, so each client identity gets its own process.
    try:
        be = IdlBackend(remote, timeout=3, ssl_key=key, ssl_cert=cert, ssl_ca=ca)
    except BackendError as exc:
        out.put(f"refused: {exc}")
        return
    out.put(f"connected: {len(be.reader().rows('Logical_Switch'))} switches")
    be.close()


def _connect_in_child(remote: str, key: str, cert: str, ca: str) -> str:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    p = ctx.Process(target=_tls_child, args=(remote, key, cert, ca, out))
    p.start()
    p.join(60)
    return str(out.get(timeout=5))


@pytest.mark.ovn
def test_tls_client_certificates(tls_sandbox: tuple[Any, dict[str, str], Path]) -> None:
    sb, client, pki = tls_sandbox
    sb.nbctl("ls-add", "sw0")
    remote = sb.nb_ssl_remote
    assert remote
    ok = _connect_in_child(remote, client["key"], client["cert"], client["ca"])
    assert ok == "connected: 1 switches"
    rogue = _other_ca(pki / "rogue")
    # A certificate from a CA the server does not trust is refused.
    refused = _connect_in_child(remote, rogue["key"], rogue["cert"], client["ca"])
    assert refused.startswith("refused:")


# -- sync while the server restarts ----------------------------------------------------------


def _bench_sync() -> Any:
    import importlib.util

    path = ROOT / "benchmarks" / "bench_sync.py"
    spec = importlib.util.spec_from_file_location("bench_sync", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.ovn
def test_sync_survives_a_server_restart_and_rerun_converges(tmp_path: Path) -> None:
    from ovnlb_backends.service.sync import run_sync
    from ovnlb_core.rawops import initial_ops
    from ovnlb_core.sync import view_from_api

    bench = _bench_sync()
    lbs, subnets = view_from_api(bench.octavia_view(120, 5))
    sb = start_sandbox(tmp_path / "ovn")
    try:
        be = IdlBackend(sb.nb_remote, timeout=30, max_backoff=0.5)
        try:
            be.apply_raw(initial_ops(bench.topology()))

            def restart_once(done: int, _total: int, _result: Any) -> None:
                if done == 40:
                    sb.restart_nb()

            first = run_sync(be, lbs, subnets, progress=restart_once)
            # Each load balancer either landed or failed with a typed backend error (no crash,
            # no exception out of run_sync).
            assert len(first.results) == len(lbs)
            failed = [r.error for r in first.results if not r.applied]
            assert all(e and e.startswith(("BackendError", "gave up")) for e in failed), failed
            print(f"\nfirst sync: {first.counts()}, errors: {failed[:3]}")
            second = run_sync(be, lbs, subnets)
            assert second.ok
            third = run_sync(be, lbs, subnets)
            assert third.transactions == 0
            assert third.counts()["in-sync"] == len(lbs)
        finally:
            be.close()
        mem = MemoryBackend()
        mem.apply_raw(initial_ops(bench.topology()))
        run_sync(mem, lbs, subnets)
        assert server_dump(sb.nb_remote) == canonical_dump(mem.reader())
    finally:
        sb.stop()


@pytest.mark.ovn
def test_sync_refuses_to_wipe_nb_on_an_empty_source(tmp_path: Path) -> None:
    from ovnlb_backends.service.sync import SyncRefused, run_sync
    from ovnlb_core.rawops import initial_ops
    from ovnlb_core.sync import view_from_api

    bench = _bench_sync()
    lbs, subnets = view_from_api(bench.octavia_view(3, 1))
    mem = MemoryBackend()
    mem.apply_raw(initial_ops(bench.topology()))
    run_sync(mem, lbs, subnets)
    before = (canonical_dump(mem.reader()), mem.transaction_count())
    with pytest.raises(SyncRefused):
        run_sync(mem, [], subnets, max_deletes=0)
    with pytest.raises(SyncRefused):
        run_sync(mem, lbs[:1], subnets, max_deletes=1)
    assert (canonical_dump(mem.reader()), mem.transaction_count()) == before
    report = run_sync(mem, lbs[:1], subnets, max_deletes=2)
    assert report.counts()["delete"] == 2
