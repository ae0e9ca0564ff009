"""ovnlb at scale (issue #7), measured side by side with the raw OVSDB floor.

Usage::

    python benchmarks/run.py            # default run (N = 1k, 10k, 50k; 10k load balancers)
    python benchmarks/run.py --quick    # smoke run with small N
    python benchmarks/run.py --full     # also the slow 1% batch at 50k
    nox -s bench                        # the default run (arguments after -- are passed on)

Writes ``benchmarks/RESULTS.md`` and ``benchmarks/member_add.png``. Every
figure of a request through ovnlb is also given as a ratio to the floor
measured in the same run: one OVSDB transaction that writes only the
changed keys, sent without ovnlb (see :func:`floor_bench`). Also: the cost
of a request on one load balancer among 10 and among 10k, per backend
(:func:`many_lbs_bench`), and ``ovnlb sync`` of 1000 load balancers
(``bench_sync.py``, :func:`sync_bench`).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import gc
import importlib.util
import io
import json
import os
import platform
import pstats
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid as uuidlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

try:
    import ovnlb_core  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import attrs
import ovs.db.idl
import ovs.poller
import ovs.stream
import ovs.version

from ovnlb_backends import demo
from ovnlb_backends import idl as idl_mod
from ovnlb_backends.driver import OvnLbDriver
from ovnlb_backends.memory import MemoryBackend
from ovnlb_backends.sandbox import OvnSandbox, find_schema
from ovnlb_core.model import ListenerState, LoadBalancerState, MemberEntry, PoolState, ProtocolRow
from ovnlb_core.nb import SCHEMA
from ovnlb_core.parse import parse
from ovnlb_core.plan import diff
from ovnlb_core.rawops import RowInsert, resolve
from ovnlb_core.topology import Subnet
from ovnlb_core.translate import RowCache, translate

HERE = Path(__file__).resolve().parent
LB = demo.LB
POOL = demo.POOL
SUBNET = demo.MEMBER_SUBNET
MEMBER_CIDR = "10.0.0.0/16"  # the realistic topology's /16 (REAL_CIDR)
BENCH_NS = uuidlib.UUID("3f0c8e2a-6b1d-4c7e-9a52-12a0c0ffee12")
SUBNETS = {
    **demo.SUBNETS,
    SUBNET: Subnet(SUBNET, demo.MEMBER_NET, MEMBER_CIDR),
}
#: The reference driver on this kind of machine (issue #7): pool size -> ms per member add.
REFERENCE_ADD_MS = {1000: 960.0, 3000: 5500.0}
REFERENCE_OTHER = [
    ("build a 1000-member pool one member at a time", "~470 s"),
    ("one member batch update of 1000 members", "~235 s"),
]

# ---------------------------------------------------------------------------
# Measuring helpers
# ---------------------------------------------------------------------------

_WIRE = [0]
_ORIG_SEND = ovs.stream.Stream.send


def _counting_send(self: Any, buf: Any) -> Any:
    n = _ORIG_SEND(self, buf)
    if isinstance(n, int) and n > 0:
        _WIRE[0] += n
    return n


ovs.stream.Stream.send = _counting_send  # bytes the ovs library puts on the wire


def wire_bytes() -> int:
    """Bytes sent so far through ``ovs.stream.Stream.send`` (IDL clients, this process)."""
    return _WIRE[0]


def best_ms(fn: Callable[[], object], repeat: int = 5) -> float:
    """Best wall time of ``repeat`` runs, in ms."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best * 1000


def member(i: int, pool_id: str = POOL) -> dict[str, Any]:
    """Octavia member ``i`` of the benchmark pool."""
    return {
        "member_id": f"00000000-0000-4000-8000-{i:012d}",
        "pool_id": pool_id,
        "address": member_ip(i),
        "protocol_port": 8080,
        "subnet_id": SUBNET,
        "admin_state_up": True,
    }


def topology_ops() -> list[Any]:
    """The walkthrough's networks, the member subnet widened to a /8."""
    text = json.dumps(demo.topology_ops()).replace("10.10.10.1/24", "10.0.0.1/8")
    return list(json.loads(text))


def setup_lb(driver: OvnLbDriver) -> None:
    """Load balancer, TCP listener and pool (the walkthrough's first three steps)."""
    for _title, step in demo.steps()[:3]:
        step(driver)


def state_with(n: int, name: str = LB, pool_id: str = POOL) -> LoadBalancerState:
    """One TCP row, one listener, one pool of ``n`` members (pure model)."""
    members = tuple(
        MemberEntry(m["member_id"], m["address"], 8080, SUBNET) for m in map(member, range(n))
    )
    row = ProtocolRow(
        uuid="11111111-1111-4111-8111-111111111111",
        protocol="tcp",
        vip="172.24.4.9",
        vip_port_id=demo.VIP_PORT,
        listeners=(ListenerState("21e77cde-854f-4c3e-bd8c-9536ae0443bc", 80, pool_id),),
        pools=(PoolState(pool_id, True, members),),
        member_status=tuple((m.id, "NO_MONITOR") for m in members),
    )
    return LoadBalancerState(name, (row,))


def with_extra_member(state: LoadBalancerState, i: int) -> LoadBalancerState:
    """``state`` with member ``i`` appended to its pool (and its status)."""
    row = state.rows[0]
    m = member(i)
    e = MemberEntry(m["member_id"], m["address"], 8080, SUBNET)
    pool = attrs.evolve(row.pools[0], members=(*row.pools[0].members, e))
    status = (*(row.member_status or ()), (e.id, "NO_MONITOR"))
    return state.replace(row, attrs.evolve(row, pools=(pool,), member_status=status))


class RawClient:
    """A bare JSON-RPC client on the NB unix socket (no ovs library, no replica)."""

    def __init__(self, sock_path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(str(sock_path))
        self.buf = b""
        self.decoder = json.JSONDecoder()
        self.next_id = 0
        self.sent = 0

    def call(self, method: str, params: list[Any]) -> Any:
        """Send one request, return its result (raises on an error reply)."""
        self.next_id += 1
        data = json.dumps({"method": method, "params": params, "id": self.next_id}).encode()
        self.sock.sendall(data)
        self.sent += len(data)
        while True:
            text = self.buf.decode()
            try:
                msg, end = self.decoder.raw_decode(text)
            except ValueError:
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    raise RuntimeError("connection closed") from None
                self.buf += chunk
                continue
            self.buf = text[end:].lstrip().encode()
            if msg.get("id") != self.next_id:
                continue  # echo or notification
            if msg.get("error"):
                raise RuntimeError(f"{method}: {msg['error']}")
            return msg["result"]

    def transact(self, *ops: Any) -> Any:
        """One ``transact``; raises when an operation failed."""
        result = self.call("transact", ["OVN_Northbound", *ops])
        for r in result:
            if r and "error" in r:
                raise RuntimeError(f"transact: {r}")
        return result

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()


def _map(d: dict[str, str]) -> list[Any]:
    return ["map", [[k, v] for k, v in d.items()]]


def insert_lb_rows(client: RawClient, states: list[LoadBalancerState], switch: str | None) -> None:
    """Insert the translated rows of ``states`` (and attach them to ``switch``) in one txn."""
    ops: list[Any] = []
    for i, state in enumerate(states):
        for row in translate(state).lbs.values():
            name = f"lb{i}_{len(ops)}"
            ops.append(
                {
                    "op": "insert",
                    "table": "Load_Balancer",
                    "uuid-name": name,
                    "row": {
                        "name": row.name,
                        "protocol": row.protocol or ["set", []],
                        "vips": _map(dict(row.vips)),
                        "external_ids": _map(dict(row.external_ids)),
                        "selection_fields": ["set", list(row.selection_fields)],
                    },
                }
            )
            if switch is not None:
                ops.append(
                    {
                        "op": "mutate",
                        "table": "Logical_Switch",
                        "where": [["name", "==", switch]],
                        "mutations": [["load_balancer", "insert", ["named-uuid", name]]],
                    }
                )
    client.transact(*ops)


# ---------------------------------------------------------------------------
# The realistic topology (issue #12)
# ---------------------------------------------------------------------------

#: The member subnet of the realistic topology: a /16 holding the N VM ports.
REAL_CIDR = "10.0.0.0/16"
GATEWAY_NET = "7a0e5c1d-0000-4000-8000-00000000e0e0"  # the provider network behind the gateway
PROJECT = demo.PROJECT


def _uid(*parts: object) -> str:
    return str(uuidlib.uuid5(BENCH_NS, "/".join(map(str, parts))))


def member_ip(i: int) -> str:
    """The address of VM port ``i`` (and of member ``i``) in the /16."""
    j = i + 10
    return f"10.0.{j >> 8}.{j & 255}"


def _vm_port(name: str, net: str, mac_seed: int, ip: str, prefix: int) -> dict[str, Any]:
    mac = f"fa:16:3e:{(mac_seed >> 16) & 255:02x}:{(mac_seed >> 8) & 255:02x}:{mac_seed & 255:02x}"
    return {
        "_name": name,
        "name": name,
        "addresses": [f"{mac} {ip}"],
        "port_security": [f"{mac} {ip}"],
        "enabled": True,
        "up": True,
        "external_ids": {
            "neutron:cidrs": f"{ip}/{prefix}",
            "neutron:device_id": _uid("vm", name),
            "neutron:device_owner": "compute:nova",
            "neutron:network_name": f"neutron-{net}",
            "neutron:port_name": "",
            "neutron:project_id": PROJECT,
            "neutron:revision_number": "3",
        },
    }


def _router_iface(port: str, net: str, cidr: str, router: str) -> list[tuple[str, dict[str, Any]]]:
    lsp = {
        "_name": port,
        "name": port,
        "type": "router",
        "addresses": ["router"],
        "options": {"router-port": f"lrp-{port}"},
        "external_ids": {
            "neutron:cidrs": cidr,
            "neutron:device_id": router,
            "neutron:device_owner": "network:router_interface",
            "neutron:network_name": f"neutron-{net}",
            "neutron:port_name": "",
            "neutron:project_id": PROJECT,
        },
    }
    lrp = {
        "_name": f"lrp-{port}",
        "name": f"lrp-{port}",
        "mac": "fa:16:3e:aa:00:01",
        "networks": [cidr],
        "external_ids": {
            "neutron:network_name": f"neutron-{net}",
            "neutron:router_name": router,
            "neutron:is_ext_gw": "False",
        },
    }
    return [("Logical_Switch_Port", lsp), ("Logical_Router_Port", lrp)]


@attrs.frozen
class Shape:
    """How big the realistic NB is (besides the member switch's N VM ports)."""

    other_ports: int = 0  # VM ports on the other switches
    switches: int = 4  # switches besides the member and VIP networks (one is the provider net)
    routers: int = 2  # routers besides the LB's router
    other_lbs: int = 20  # load balancers of 10 members on the other networks
    fip_every: int = 10  # one floating IP (NAT row) per this many VM ports

    def label(self, n: int) -> str:
        ports = n + self.other_ports
        return (
            f"{ports} ports, {self.switches + 2} switches, {self.routers + 1} routers, "
            f"{self.other_lbs} other LBs"
        )


SMALL = Shape()
#: The issue's big NB: 50,000 ports / 500 switches / 100 routers / 10,000 other LBs.
BIG = Shape(other_ports=50000, switches=498, routers=99, other_lbs=10000)


def realistic_ops(n: int, shape: Shape = SMALL) -> list[Any]:
    """Raw operations (``ovnlb_core.rawops``) of the realistic topology.

    The walkthrough's networks and router, the member subnet widened to a /16
    holding ``n`` VM ports (port ``i`` has member ``i``'s address, plus a
    margin for the adds), the router's gateway port on a provider network
    (gateway chassis, SNAT), a floating IP per ``fip_every`` ports, and
    ``shape``'s other switches (each a /24 behind one of the other routers,
    with its share of ``other_ports``).
    """
    text = json.dumps(demo.topology_ops()).replace("10.10.10.1/24", "10.0.0.1/16")
    ops: list[Any] = json.loads(text)
    rows: list[tuple[str, dict[str, Any]]] = []
    member_ports = [demo.RI_MEMBER, demo.MEMBER_PORT, demo.HM_PORT]
    for i in range(n + 64):
        name = _uid("port", i)
        rows.append(("Logical_Switch_Port", _vm_port(name, demo.MEMBER_NET, i, member_ip(i), 16)))
        member_ports.append(name)
    # The LB's router gets a gateway port on the provider network.
    gw_port = _uid("gw-port")
    rows += _router_iface(gw_port, GATEWAY_NET, "172.16.0.10/16", f"neutron-{demo.ROUTER}")
    gw_lrp = rows[-1][1]
    gw_lrp["gateway_chassis"] = [f"lrp-{gw_port}_chassis-1"]
    gw_lrp["external_ids"]["neutron:is_ext_gw"] = "True"
    rows[-2][1]["external_ids"]["neutron:device_owner"] = "network:router_gateway"
    rows.append(
        (
            "Gateway_Chassis",
            {
                "_name": f"lrp-{gw_port}_chassis-1",
                "name": f"lrp-{gw_port}_chassis-1",
                "chassis_name": "chassis-1",
                "priority": 1,
            },
        )
    )
    provider_ports = [gw_port]
    routers = {
        f"neutron-{demo.ROUTER}": [f"lrp-{demo.RI_VIP}", f"lrp-{demo.RI_MEMBER}", f"lrp-{gw_port}"]
    }
    nats: dict[str, list[str]] = {f"neutron-{demo.ROUTER}": []}
    other_routers = [f"neutron-{_uid('router', r)}" for r in range(shape.routers)]
    for lr in other_routers:
        routers[lr] = []
        nats[lr] = []
    # Floating IPs of the member network's VM ports (NAT rows on the LB's router).
    for i in range(0, n + 64, shape.fip_every):
        fip = _uid("fip", i)
        port = _uid("port", i)
        rows.append(("NAT", _nat(fip, port, member_ip(i), i)))
        nats[f"neutron-{demo.ROUTER}"].append(f"nat-{fip}")
    switches: list[tuple[str, list[str]]] = []
    per_switch = shape.other_ports // max(1, shape.switches - 1)
    k = 0
    for s in range(shape.switches - 1):
        net = _uid("net", s)
        lr = other_routers[s % len(other_routers)] if other_routers else f"neutron-{demo.ROUTER}"
        ri = _uid("ri", s)
        rows += _router_iface(ri, net, f"192.168.{s % 250}.1/24", lr)
        routers[lr].append(f"lrp-{ri}")
        ports = [ri]
        for j in range(per_switch):
            name = _uid("oport", s, j)
            ip = f"192.168.{s % 250}.{10 + j % 240}" if j < 240 else f"192.169.{j >> 8}.{j & 255}"
            rows.append(("Logical_Switch_Port", _vm_port(name, net, (1 << 20) + k, ip, 24)))
            ports.append(name)
            if j % shape.fip_every == 0:
                fip = _uid("ofip", s, j)
                rows.append(("NAT", _nat(fip, name, ip, (1 << 20) + k)))
                nats[lr].append(f"nat-{fip}")
            k += 1
        switches.append((f"neutron-{net}", ports))
    rows.append(
        (
            "Logical_Switch",
            {
                "_name": f"neutron-{GATEWAY_NET}",
                "name": f"neutron-{GATEWAY_NET}",
                "ports": provider_ports,
                "external_ids": {"neutron:provnet-physical-network": "physnet1"},
            },
        )
    )
    for name, ports in switches:
        rows.append(("Logical_Switch", {"_name": name, "name": name, "ports": ports}))
    for lr, lrps in routers.items():
        if lr == f"neutron-{demo.ROUTER}":
            continue
        rows.append(("Logical_Router", {"_name": lr, "name": lr, "ports": lrps, "nat": nats[lr]}))
    out: list[Any] = []
    for op in ops:
        row = op["row"]
        if op["table"] == "Logical_Switch" and row["name"] == f"neutron-{demo.MEMBER_NET}":
            row["ports"] = member_ports
        if op["table"] == "Logical_Router":
            row["ports"] = routers[row["name"]]
            row["nat"] = nats[row["name"]]
        out.append(op)
    return [{"op": "insert", "table": t, "row": r} for t, r in rows] + out


def _nat(fip: str, port: str, ip: str, seed: int) -> dict[str, Any]:
    return {
        "_name": f"nat-{fip}",
        "type": "dnat_and_snat",
        "external_ip": f"172.16.{(seed >> 8) & 255}.{seed & 255}",
        "logical_ip": ip,
        "external_ids": {
            "neutron:fip_id": fip,
            "neutron:fip_port_id": port,
            "neutron:fip_external_mac": "fa:16:3e:bb:00:01",
            "neutron:router_name": "",
        },
    }


def other_lbs(shape: Shape) -> list[tuple[LoadBalancerState, str, str]]:
    """``shape.other_lbs`` load balancers of 10 members, each with its switch and router.

    Spread over the other networks (the VIP and members on one of them), as
    the reference attaches them; without other networks, on the VIP network.
    """
    out = []
    nets = max(0, shape.switches - 1)
    for j in range(shape.other_lbs):
        state = state_with(
            10, f"aaaaaaaa-0000-4000-8000-{j:012d}", f"bbbbbbbb-0000-4000-8000-{j:012d}"
        )
        if nets:
            s = j % nets
            ls = f"neutron-{_uid('net', s)}"
            lr = f"neutron-{_uid('router', s % max(1, shape.routers))}" if shape.routers else ""
        else:
            ls, lr = f"neutron-{demo.NET}", f"neutron-{demo.ROUTER}"
        out.append((state, ls, lr))
    return out


def _ovsdb_value(spec: Any, value: Any) -> Any:
    def atom(v: Any) -> Any:
        return ["uuid", v] if spec.atom == "uuid" else v

    if spec.kind == "map":
        return ["map", [[k, v] for k, v in value.items()]]
    if spec.kind == "set":
        return ["set", [atom(v) for v in value]]
    if spec.kind == "optional":
        return ["set", []] if value is None else atom(value)
    return atom(value)


def transact_ops(ops: list[Any]) -> list[Any]:
    """Raw operations as OVSDB ``insert`` operations (UUIDs as ``rawops`` gives them)."""
    out = []
    for op in resolve(MemoryBackend().reader(), ops):
        assert isinstance(op, RowInsert)
        spec = SCHEMA[op.table]
        row = {c: _ovsdb_value(spec[c], v) for c, v in op.columns.items()}
        out.append({"op": "insert", "table": op.table, "uuid": op.uuid, "row": row})
    return out


def load_realistic(sb: OvnSandbox, n: int, shape: Shape, with_lbs: bool = True) -> None:
    """The realistic topology (and ``shape``'s other LBs) into ``sb``, by bare ``transact``."""
    client = RawClient(sb.nb_socket)
    try:
        client.transact(*transact_ops(realistic_ops(n, shape)))
        if with_lbs:
            lbs = other_lbs(shape)
            for k in range(0, len(lbs), 1000):
                insert_lb_rows_at(client, lbs[k : k + 1000])
    finally:
        client.close()


def insert_lb_rows_at(client: RawClient, lbs: list[tuple[LoadBalancerState, str, str]]) -> None:
    """Insert the translated rows of each state, attached to its switch and router."""
    ops: list[Any] = []
    for i, (state, ls, lr) in enumerate(lbs):
        for row in translate(state).lbs.values():
            name = f"lb{i}_{len(ops)}"
            ops.append(
                {
                    "op": "insert",
                    "table": "Load_Balancer",
                    "uuid-name": name,
                    "row": {
                        "name": row.name,
                        "protocol": row.protocol or ["set", []],
                        "vips": _map(dict(row.vips)),
                        "external_ids": _map(dict(row.external_ids)),
                        "selection_fields": ["set", list(row.selection_fields)],
                    },
                }
            )
            for table, holder in (("Logical_Switch", ls), ("Logical_Router", lr)):
                if holder:
                    ops.append(
                        {
                            "op": "mutate",
                            "table": table,
                            "where": [["name", "==", holder]],
                            "mutations": [["load_balancer", "insert", ["named-uuid", name]]],
                        }
                    )
    client.transact(*ops)


@contextlib.contextmanager
def sandbox() -> Iterator[OvnSandbox]:
    """A private NB ovsdb-server in a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="ovnlb-bench-") as d, OvnSandbox(d) as sb:
        yield sb


def db_size(sb: OvnSandbox) -> int:
    """Size of nb.db (grows by one record per committed transaction)."""
    return sb.nb_db.stat().st_size


# ---------------------------------------------------------------------------
# Backends
# ---------------------------------------------------------------------------


def nbctl_backend_class() -> Any:
    """``ovnlb_backends.nbctl.NbctlBackend`` when it exists (written concurrently), else None."""
    try:
        from ovnlb_backends.nbctl import NbctlBackend  # type: ignore[import-not-found,unused-ignore]
    except Exception:
        return None
    return NbctlBackend


@attrs.define
class Env:
    """A backend (with its server when it has one) and a driver, topology in place."""

    kind: str
    backend: Any
    driver: OvnLbDriver
    sb: OvnSandbox | None = None
    stack: contextlib.ExitStack = attrs.field(factory=contextlib.ExitStack)

    @classmethod
    def open(cls, kind: str) -> Env:
        stack = contextlib.ExitStack()
        sb = None
        if kind == "memory":
            backend: Any = MemoryBackend()
        else:
            sb = stack.enter_context(sandbox())
            if kind == "idl":
                backend = idl_mod.IdlBackend(sb.nb_remote)
            else:
                backend = nbctl_backend_class()(sb.nb_remote)
            stack.callback(backend.close)
        backend.apply_raw(topology_ops())
        return cls(kind, backend, OvnLbDriver(backend, SUBNETS), sb, stack)

    def close(self) -> None:
        self.stack.close()

    def counters(self) -> dict[str, float]:
        """Transactions (client and server side), nb.db bytes, wire bytes."""
        count = getattr(self.backend, "transaction_count", None)
        out: dict[str, float] = {
            "txn": float(count()) if count is not None else float("nan"),
            "wire": float(wire_bytes()),
        }
        if self.sb is not None:
            out["records"] = float(self.sb.nb_log_records())
            out["db"] = float(db_size(self.sb))
        return out

    def measure(self, fn: Callable[[], object]) -> dict[str, float]:
        """Run ``fn`` once: ms, and the deltas of :meth:`counters`."""
        before = self.counters()
        t0 = time.perf_counter()
        fn()
        ms = (time.perf_counter() - t0) * 1000
        after = self.counters()
        out = {k: after[k] - before[k] for k in before}
        out["ms"] = ms
        if self.kind != "idl":
            out.pop("wire", None)  # only the ovs library's sends are counted
        return out


def median_of(samples: list[dict[str, float]]) -> dict[str, float]:
    """Median per key."""
    return {k: statistics.median(s[k] for s in samples) for k in samples[0]}


def backend_bench(kind: str, n: int, adds: int, one_percent: bool) -> dict[str, Any]:
    """Batch of ``n`` from empty, then member adds, then a batch changing 1% of the pool."""
    env = Env.open(kind)
    try:
        setup_lb(env.driver)
        res: dict[str, Any] = {}
        res["batch_empty"] = env.measure(
            lambda: env.driver.member_batch_update(POOL, [member(i) for i in range(n)])
        )
        env.driver.member_create(member(n))  # warm-up (caches as a long-running driver has them)
        nxt = n + 1
        samples = []
        for _ in range(adds):
            samples.append(env.measure(functools.partial(env.driver.member_create, member(nxt))))
            nxt += 1
        res["add"] = median_of(samples)
        if kind == "idl":
            cold = OvnLbDriver(env.backend, SUBNETS, cache=RowCache(0))
            samples = []
            for _ in range(max(1, adds // 2)):
                samples.append(env.measure(functools.partial(cold.member_create, member(nxt))))
                nxt += 1
            res["add_nocache"] = median_of(samples)
        if one_percent:
            k = max(1, n // 100)
            current = list(range(nxt))
            wanted = [member(i) for i in current[k:]] + [member(nxt + j) for j in range(k)]
            res["batch_1pct"] = env.measure(lambda: env.driver.member_batch_update(POOL, wanted))
            live = current[k:] + [nxt + j for j in range(k)]
        else:
            live = list(range(nxt))
        # Member update (admin down: the member goes OFFLINE, leaves vips) and member delete,
        # on members spread over the pool.
        step = max(1, len(live) // (2 * adds + 1))
        picks = live[step::step][: 2 * adds]
        samples = []
        for i in picks[:adds]:
            m = member(i)
            upd = functools.partial(env.driver.member_update, m, {**m, "admin_state_up": False})
            samples.append(env.measure(upd))
        res["update"] = median_of(samples)
        samples = []
        for i in picks[adds:]:
            samples.append(env.measure(functools.partial(env.driver.member_delete, member(i))))
        res["delete"] = median_of(samples)
        return res
    finally:
        env.close()


def profile_member_add(n: int) -> str:
    """cProfile of one member add on a pool of ``n`` through the IDL (after a warm-up)."""
    env = Env.open("idl")
    try:
        setup_lb(env.driver)
        env.driver.member_batch_update(POOL, [member(i) for i in range(n)])
        env.driver.member_create(member(n))
        env.driver.member_create(member(n + 1))
        prof = cProfile.Profile()
        prof.enable()
        env.driver.member_create(member(n + 2))
        prof.disable()
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(22)
        lines = [ln for ln in out.getvalue().splitlines() if ln.strip()]
        return "\n".join(ln.replace(str(HERE.parent) + "/", "") for ln in lines)
    finally:
        env.close()


# ---------------------------------------------------------------------------
# The floor
# ---------------------------------------------------------------------------


def _plain_idl(remote: str) -> Any:
    helper = ovs.db.idl.SchemaHelper(location=str(find_schema("ovn-nb.ovsschema")))
    helper.register_table("Load_Balancer")
    idl = ovs.db.idl.Idl(remote, helper)
    deadline = time.monotonic() + 30
    while not (idl.has_ever_connected() and idl.state == idl.IDL_S_MONITORING):
        idl.run()
        if time.monotonic() > deadline:
            raise RuntimeError("plain IDL: no replica")
        poller = ovs.poller.Poller()
        idl.wait(poller)
        poller.timer_wait(100)
        poller.block()
    idl.run()
    return idl


def _await_update(idl: Any, seqno: int) -> None:
    """Let the plain IDL take in the update of a write made by someone else."""
    deadline = time.monotonic() + 30
    while idl.change_seqno == seqno and time.monotonic() < deadline:
        idl.run()
        poller = ovs.poller.Poller()
        idl.wait(poller)
        poller.timer_wait(100)
        poller.block()


def floor_bench(n: int, adds: int) -> dict[str, dict[str, float]]:
    """The raw floor for one member add on a pool of ``n``, without ovnlb.

    The row holds ovnlb's exact strings for ``n`` members; each write appends
    one member. Variants (each ``adds`` times, median):

    * ``idl``: plain ovs IDL, ``setkey`` of ``pool_<id>`` and the ``vips`` key
      (the issue's floor: the two strings the row format forces);
    * ``raw``: the same two mutations as a bare JSON-RPC ``transact``;
    * ``idl+status``: also ``neutron:member_status`` (a member add changes it);
    * ``idl+status+verify``: and ``verify`` of both columns, which is what a
      writer safe against lost updates sends when it checks columns (the IDL
      backend checks the row's ``_version`` instead, 36 bytes: its transaction
      content is ``idl+status``'s).
    """
    state = state_with(n)
    out: dict[str, dict[str, float]] = {}
    with sandbox() as sb:
        client = RawClient(sb.nb_socket)
        insert_lb_rows(client, [state], None)
        idl = _plain_idl(sb.nb_remote)
        (lb_row,) = idl.tables["Load_Balancer"].rows.values()
        uuid = str(lb_row.uuid)
        i = n
        cur = state
        variants = ["idl", "raw", "idl+status", "idl+status+verify"]
        samples: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
        for _ in range(adds):
            for variant in variants:
                cur = with_extra_member(cur, i)
                i += 1
                row = translate(cur).lbs[cur.rows[0].uuid]
                pool_key = f"pool_{POOL}"
                (vip_key,) = row.vips
                changed = {pool_key: row.external_ids[pool_key]}
                if "status" in variant:
                    changed["neutron:member_status"] = row.external_ids["neutron:member_status"]
                vips = {vip_key: row.vips[vip_key]}
                db0, w0 = db_size(sb), wire_bytes()
                seqno = idl.change_seqno
                t0 = time.perf_counter()
                if variant == "raw":
                    sent0 = client.sent
                    client.transact(
                        {
                            "op": "mutate",
                            "table": "Load_Balancer",
                            "where": [["_uuid", "==", ["uuid", uuid]]],
                            "mutations": [
                                ["external_ids", "delete", ["set", list(changed)]],
                                ["external_ids", "insert", _map(changed)],
                                ["vips", "delete", ["set", list(vips)]],
                                ["vips", "insert", _map(vips)],
                            ],
                        }
                    )
                    wire = client.sent - sent0
                    ms = (time.perf_counter() - t0) * 1000
                    _await_update(idl, seqno)
                else:
                    txn = ovs.db.idl.Transaction(idl)
                    target = idl.tables["Load_Balancer"].rows[lb_row.uuid]
                    if "verify" in variant:
                        target.verify("external_ids")
                        target.verify("vips")
                    for k, v in changed.items():
                        target.setkey("external_ids", k, v)
                    for k, v in vips.items():
                        target.setkey("vips", k, v)
                    status = txn.commit_block()
                    if status != ovs.db.idl.Transaction.SUCCESS:
                        raise RuntimeError(f"floor transaction: {status} {txn.get_error()}")
                    wire = wire_bytes() - w0
                    ms = (time.perf_counter() - t0) * 1000
                samples[variant].append({"ms": ms, "wire": wire, "db": db_size(sb) - db0})
        idl.close()
        client.close()
    for variant in variants:
        out[variant] = median_of(samples[variant])
    return out


# ---------------------------------------------------------------------------
# Many load balancers
# ---------------------------------------------------------------------------


#: The backends of the many-LB case, in the order they run: label -> backend kind.
MANY_KINDS = {
    "memory": "memory",
    "idl": "idl",
    "nbctl": "nbctl",  # direct mode (daemon=False): one ovn-nbctl process per invocation
    "nbctl daemon": "nbctl daemon",  # daemon=True: a private long-running ovn-nbctl
}


def _other_lbs(count: int) -> list[LoadBalancerState]:
    """The ``count - 1`` other load balancers of 10 members (one TCP row each)."""
    return [
        state_with(10, f"aaaaaaaa-0000-4000-8000-{j:012d}", f"bbbbbbbb-0000-4000-8000-{j:012d}")
        for j in range(count - 1)
    ]


def _fill_memory(backend: MemoryBackend, states: list[LoadBalancerState], switch: str) -> None:
    """The memory backend's equivalent of :func:`insert_lb_rows`: ovnlb's rows, one txn each 1000.

    The same translated columns, inserted with raw operations, and the VIP
    switch's ``load_balancer`` set extended with them.
    """
    for k in range(0, len(states), 1000):
        reader = backend.reader()
        ((_sw_uuid, sw),) = reader.by_name("Logical_Switch", switch)
        lb_rows = reader.rows("Load_Balancer")
        attached = [str(lb_rows[u]["name"]) for u in sw.get("load_balancer", ())]
        ops: list[Any] = []
        for state in states[k : k + 1000]:
            for row in translate(state).lbs.values():
                ops.append(
                    {
                        "op": "insert",
                        "table": "Load_Balancer",
                        "row": {
                            "_name": row.name,
                            "name": row.name,
                            "protocol": row.protocol,
                            "vips": dict(row.vips),
                            "external_ids": dict(row.external_ids),
                            "selection_fields": list(row.selection_fields),
                        },
                    }
                )
                attached.append(row.name)
        ops.append(
            {
                "op": "update",
                "table": "Logical_Switch",
                "name": switch,
                "columns": {"load_balancer": attached},
            }
        )
        backend.apply_raw(ops)


def _open_many(kind: str, sb: OvnSandbox | None) -> Any:
    """A fresh backend of ``kind`` on the filled server (``sb``)."""
    if kind == "idl":
        assert sb is not None
        return idl_mod.IdlBackend(sb.nb_remote)
    cls = nbctl_backend_class()
    assert sb is not None and cls is not None
    return cls(sb.nb_remote, daemon=kind == "nbctl daemon", timeout=120.0)


def _many_samples(
    driver: OvnLbDriver, backend: Any, first: int, samples: int, budget_s: float, min_samples: int
) -> dict[str, Any]:
    """Member adds on the target pool: warm-up, then up to ``samples`` timed ones (median).

    Stops early once ``budget_s`` is spent and ``min_samples`` are taken.
    """
    gc.collect()  # garbage of the setup (and of earlier backends) collected before timing
    driver.member_create(member(first))  # warm-up
    invocations = getattr(backend, "invocation_count", None)
    inv0 = invocations() if invocations is not None else 0
    times: list[float] = []
    t_start = time.perf_counter()
    for k in range(samples):
        t0 = time.perf_counter()
        driver.member_create(member(first + 1 + k))
        times.append((time.perf_counter() - t0) * 1000)
        if len(times) >= min_samples and time.perf_counter() - t_start > budget_s:
            break
    out: dict[str, Any] = {
        "add_ms": statistics.median(times),
        "samples": len(times),
        "min_ms": min(times),
        "max_ms": max(times),
    }
    if invocations is not None:
        out["invocations"] = (invocations() - inv0) / len(times)
    # Back to 10 members (not timed), so that every backend measures the same pool.
    driver.member_batch_update(POOL, [member(i) for i in range(10)])
    return out


def many_lbs_bench(
    count: int, kinds: list[str], samples: int, nbctl_budget_s: float, memory: bool
) -> dict[str, Any]:
    """A member add on one LB (10 members) with ``count`` LBs of 10 members in NB, per backend.

    The server backends share one ``ovsdb-server``, filled once: the target
    load balancer through ovnlb, the ``count - 1`` others by raw ``transact``
    (ovnlb's translated rows, attached to the VIP switch). Each backend then
    connects afresh (timed: ``connect_s``), with a fresh driver, which finds
    the pool's load balancer in NB. The memory backend gets the same rows
    through raw operations. ``memory``: tracemalloc and ru_maxrss of the IDL
    backend's initial sync.
    """
    res: dict[str, Any] = {"count": count, "kinds": {}}
    switch = f"neutron-{demo.NET}"
    others = _other_lbs(count)
    first = 100  # member numbers of the adds; each backend takes the next block
    if "memory" in kinds:
        mem = MemoryBackend()
        mem.apply_raw(topology_ops())
        driver = OvnLbDriver(mem, SUBNETS)
        setup_lb(driver)
        driver.member_batch_update(POOL, [member(i) for i in range(10)])
        t0 = time.perf_counter()
        _fill_memory(mem, others, switch)
        fill_s = time.perf_counter() - t0
        driver = OvnLbDriver(mem, SUBNETS)
        r = _many_samples(driver, mem, first, samples, float("inf"), samples)
        res["kinds"]["memory"] = {**r, "fill_s": fill_s}
        first += samples + 1
        del mem, driver  # not alive while the server backends are timed
    server_kinds = [k for k in kinds if k != "memory"]
    if not server_kinds:
        return res
    with sandbox() as sb:
        setup_backend = idl_mod.IdlBackend(sb.nb_remote)
        setup_backend.apply_raw(topology_ops())
        driver = OvnLbDriver(setup_backend, SUBNETS)
        setup_lb(driver)
        driver.member_batch_update(POOL, [member(i) for i in range(10)])
        setup_backend.close()
        client = RawClient(sb.nb_socket)
        t0 = time.perf_counter()
        for k in range(0, len(others), 1000):
            insert_lb_rows(client, others[k : k + 1000], switch)
        res["fill_s"] = time.perf_counter() - t0
        client.close()
        for kind in server_kinds:
            r = {}
            track = memory and kind == "idl"
            if track:
                tracemalloc.start()
            t0 = time.perf_counter()
            backend = _open_many(kind, sb)
            r["connect_s"] = time.perf_counter() - t0
            try:
                if track:
                    size, peak = tracemalloc.get_traced_memory()
                    r["tracemalloc_peak_mb"] = peak / 2**20
                    r["tracemalloc_now_mb"] = size / 2**20
                    tracemalloc.stop()
                    for _u, _r in backend.reader().rows("Load_Balancer").items():
                        pass  # every row converted to canonical form, as a full sync would
                    r["ru_maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                driver = OvnLbDriver(backend, SUBNETS)
                if kind == "idl":
                    r.update(_many_samples(driver, backend, first, samples, float("inf"), samples))
                else:
                    min_samples = min(samples, 9)
                    r.update(
                        _many_samples(driver, backend, first, samples, nbctl_budget_s, min_samples)
                    )
            finally:
                backend.close()
            first += samples + 1
            res["kinds"][kind] = r
    return res


def _filled_server(stack: contextlib.ExitStack, others: list[LoadBalancerState]) -> OvnSandbox:
    """A server holding the target LB (10 members, through ovnlb) and ``others`` (raw)."""
    sb = stack.enter_context(sandbox())
    setup_backend = idl_mod.IdlBackend(sb.nb_remote)
    setup_backend.apply_raw(topology_ops())
    driver = OvnLbDriver(setup_backend, SUBNETS)
    setup_lb(driver)
    driver.member_batch_update(POOL, [member(i) for i in range(10)])
    setup_backend.close()
    client = RawClient(sb.nb_socket)
    for k in range(0, len(others), 1000):
        insert_lb_rows(client, others[k : k + 1000], f"neutron-{demo.NET}")
    client.close()
    return sb


def many_lbs_interleaved(small: int, big: int, samples: int) -> dict[str, Any]:
    """The IDL many-LB comparison with both databases live, requests alternated.

    A ~1 ms request's median drifts between runs by more than the 20% the
    target allows; alternating the two cases request by request (order
    shuffled per round, seeded) puts both under the same machine conditions.
    """
    import random

    rng = random.Random(7)
    with contextlib.ExitStack() as stack:
        drivers = {}
        for count in (small, big):
            sb = _filled_server(stack, _other_lbs(count))
            backend = idl_mod.IdlBackend(sb.nb_remote)
            stack.callback(backend.close)
            drivers[count] = OvnLbDriver(backend, SUBNETS)
            drivers[count].member_create(member(100))  # warm-up
        gc.collect()
        times: dict[int, list[float]] = {small: [], big: []}
        for k in range(samples):
            order = [small, big]
            rng.shuffle(order)
            for count in order:
                t0 = time.perf_counter()
                drivers[count].member_create(member(101 + k))
                times[count].append((time.perf_counter() - t0) * 1000)
    few, many = statistics.median(times[small]), statistics.median(times[big])
    return {"small": small, "big": big, "samples": samples, "few_ms": few, "many_ms": many}


def sync_bench(n_lbs: int, n_members: int) -> dict[str, Any]:
    """``bench_sync.run``: sync of ``n_lbs`` x ``n_members`` into an empty NB, then a no-op."""
    spec = importlib.util.spec_from_file_location("ovnlb_bench_sync", HERE / "bench_sync.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    figures: dict[str, Any] = module.run(n_lbs=n_lbs, n_members=n_members)
    return figures


# ---------------------------------------------------------------------------
# Core
# ---------------------------------------------------------------------------


def core_bench(n: int) -> dict[str, float]:
    """translate / parse / plan of one LB with ``n`` members; full and incremental paths."""
    state = state_with(n)
    rows = translate(state)
    bigger_state = with_extra_member(state, n)
    bigger = translate(bigger_state)
    repeat = 5 if n <= 10000 else 3
    out = {
        "translate": best_ms(lambda: translate(state), repeat),
        "parse": best_ms(lambda: parse(LB, rows), repeat),
        "plan": best_ms(lambda: diff(rows, bigger), repeat),
    }

    cache = RowCache()
    times = []
    for _ in range(repeat):
        cache.clear()
        translate(state, cache=cache)
        t0 = time.perf_counter()
        translate(bigger_state, cache=cache)
        times.append((time.perf_counter() - t0) * 1000)
    out["translate_incr"] = min(times)
    times = []
    for _ in range(repeat):
        cache.clear()
        parse(LB, rows, cache=cache)
        t0 = time.perf_counter()
        parse(LB, rows, cache=cache)
        times.append((time.perf_counter() - t0) * 1000)
    out["parse_cached"] = min(times)
    return out


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------


def machine() -> dict[str, str]:
    """CPU, cores, Python, OVS, JSON parser."""
    cpu = platform.processor() or "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    try:
        ovs_version = subprocess.run(
            ["ovsdb-server", "--version"], capture_output=True, text=True, check=False
        ).stdout.splitlines()[0]
    except (OSError, IndexError):
        ovs_version = "?"
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "ovsdb-server": ovs_version,
        "ovs python library": str(ovs.version.VERSION),
        "json parser": idl_mod.json_parser_info(),
    }


def fmt_bytes(n: float | None) -> str:
    """Human bytes."""
    if n is None:
        return "-"
    for unit, size in (("MB", 2**20), ("KB", 2**10)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n:.0f} B"


def ratio(x: float | None, floor: float | None) -> str:
    """``x`` as a multiple of ``floor``."""
    if x is None or not floor:
        return "-"
    return f"{x / floor:.1f}x"


def plot(path: Path, sizes: list[int], results: dict[str, Any]) -> bool:
    """ms per member add against pool size, log axes; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(7.5, 5))
    for kind in results["kinds"]:
        runs = [(n, results["backends"][n][kind]) for n in sizes]
        pts = [(n, r["add"]["ms"]) for n, r in runs if "add" in r]
        if not pts:
            continue
        ax.plot(*zip(*pts, strict=True), "o-", label=f"ovnlb, {kind} backend")
    for variant, style in (("idl", "k--"), ("raw", "k:"), ("idl+status", "k-.")):
        pts = [(n, results["floor"][n][variant]["ms"]) for n in sizes]
        ax.plot(*zip(*pts, strict=True), style, label=f"floor: {variant}")
    ref = sorted(REFERENCE_ADD_MS.items())
    ax.plot(*zip(*ref, strict=True), "rs-", label="reference driver (issue #7)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("members in the pool")
    ax.set_ylabel("ms per member add")
    ax.set_title("One member add (lower is better)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


#: The previous run's IDL figures (ms), before requests.py and status.py were made O(changed).
PREVIOUS_IDL_MS = {
    (1000, "add"): 9.94,
    (10000, "add"): 75.41,
    (50000, "add"): 663.68,
    (1000, "batch_1pct"): 215.0,
    (10000, "batch_1pct"): 24929.0,
}
PREVIOUS_LABELS = {"add": "member add", "batch_1pct": "batch, 1% changed"}

KNOWN_LIMITS = [
    "- The floor of the issue writes 2 values. A member add in this row format must also "
    "rewrite `neutron:member_status` (+50% bytes: floor `idl+status`). The IDL backend "
    "guards against lost updates with a 36-byte `verify` of the row's `_version`, so its "
    "transaction content equals floor `idl+status`; a writer that `verify`s the columns "
    "sends the old values too (floor `idl+status+verify`, 2x the bytes; the IDL backend "
    "falls back to that only while a row's `_version` is not known). Against the 2-value "
    "floor a ratio near 1.5x is therefore what the row format costs.",
    "- The member requests (`requests`, `status.rollup`) now cost O(members changed) plus a "
    "few single passes at C speed over the row: one status dict, one rebuild of the row, "
    "and, for a member create, the roll-up's member entries (spec 5.3: that report lists "
    "every member of the row, so it is O(N) by definition; ~2 ms at 10k). About 3.5 ms of "
    "Python per member add at 10k (it was ~15 ms), a 1% batch at 10k in well under a second "
    "(it was ~25 s: the status dict and the row were rebuilt once per member). Member "
    "delete and update reports replace `members`, so their roll-up does not build them.",
    "- `translate`'s RowCache splices member changes anywhere in the pool (appends, status "
    "changes and deletes in the middle, OFFLINE members leaving `vips`): what remains per "
    "request is C-speed joins and slice comparisons over the pool's strings (~2 ms for a "
    "member update or delete at 10k; ~7 ms before the splice covered the middle).",
    "- JSON parser: these figures use the parser a fresh install gets (`auto`: ovs's C "
    "extension when built, else `StdlibJsonParser`; see 'Machine'). On a 1.5 MB update "
    "(a 10k-member pool value and its status) the stdlib parser takes ~9 ms against ~6 ms "
    "for Debian's compiled `ovs._json` (`OVNLB_JSON_PARSER=c`); the pure-Python ovs parser "
    "takes seconds.",
    "- The pure core's `Topology.member_port` / `routers_of_subnet` scan every port of the "
    "member's switch per question. Through the driver, `_RequestTopology` answers each "
    "question once per request and indexes a switch's ports by address, so a batch of "
    "distinct members costs one scan per switch, not one per member.",
]


def targets(res: dict[str, Any]) -> list[str]:
    """The issue's targets, met or missed, from this run's figures."""
    out = []
    n = 10000 if 10000 in res["sizes"] else max(res["sizes"])
    add = res["backends"][n]["idl"]["add"]["ms"]
    fl = res["floor"][n]
    r1 = add / fl["idl"]["ms"]
    r3 = add / fl["idl+status"]["ms"]
    out.append(
        f"- member add on a {n}-member pool through IDL at most 2x the raw floor: "
        f"{r1:.1f}x the issue's floor ({'met' if r1 <= 2 else 'missed'}); "
        f"{r3:.1f}x the like-for-like floor idl+status "
        f"({'met' if r3 <= 2 else 'missed'}). See 'Known limits'."
    )
    b = res["backends"][n]["idl"]["batch_empty"]
    ok = b["ms"] < 1000 and b["txn"] == 1
    out.append(
        f"- member batch update of {n} from empty: {b['txn']:.0f} transaction, "
        f"{b['ms']:.0f} ms end to end ({'met' if ok else 'missed'}: one transaction, < 1 s)."
    )
    t = res["core"][n]["translate"]
    out.append(
        f"- translate of a {n}-member LB: {t:.1f} ms full, "
        f"{res['core'][n]['translate_incr']:.1f} ms incremental "
        f"({'met' if t < 20 else 'missed'}: < 20 ms)."
    )
    out += many_targets(res)
    return out


def _many_ratio(res: dict[str, Any], kind: str) -> tuple[float, float, float] | None:
    """(ms with few LBs, ms with many LBs, ratio) of one backend, None if not measured."""
    small, big = res["many"]
    a, b = small["kinds"].get(kind), big["kinds"].get(kind)
    if a is None or b is None:
        return None
    return a["add_ms"], b["add_ms"], b["add_ms"] / a["add_ms"]


#: Why a backend's request cost grows with the number of load balancers (report text).
MANY_WHY = {
    "memory": "each commit copies the `Load_Balancer` table's dict ({count} entries) "
    "once, copy on write of the snapshot a reader holds (`_Txn.publish`), about 0.1 ms at "
    "10k rows",
    "nbctl": "in direct mode (the default) every invocation is a new ovn-nbctl process "
    "that loads the tables its commands touch from the server, every Load_Balancer row "
    "included, and a request takes {inv:.0f} invocations (the fresh driver's pool lookup "
    "and the request's read, each a `list` of every table, the basis check, the write): "
    "the cost is linear in the number of load balancers, as the module docstring says",
    "nbctl daemon": "the daemon keeps its replica, so nothing is loaded from the server, "
    "but `NbctlBackend.reader()` asks it to `list` every table: per read the daemon "
    "formats every load balancer as JSON and this process parses them all ({inv:.0f} "
    "invocations per request, two of them full reads): still linear in the number of "
    "load balancers",
}


#: The reference's sync, from its behaviour spec (reference-behavior.md, section 9): none.
REFERENCE_SYNC: str | None = None


def sync_section(sync: dict[str, Any]) -> list[str]:
    """The "Sync (ovnlb sync)" section, from ``bench_sync.run``'s figures."""
    n, m = sync["load_balancers"], sync["members_per_lb"]
    w = ["## Sync (ovnlb sync)\n"]
    w.append(
        f"`benchmarks/bench_sync.py` (`run(n_lbs={n}, n_members={m})`): `run_sync` through "
        f"the IDL backend of {n} load balancers of {m} members (one TCP listener and one pool "
        "each, members on one subnet) into an empty NB (a private `ovsdb-server` holding only "
        "the Neutron switch, its router interface and the router), then the same sync again, "
        "which must find nothing to do. Transactions: `SyncReport.transactions` (the "
        "backend's client-side count)."
    )
    w.append("")
    w.append("| sync | seconds | transactions | ms per LB | load balancers |")
    w.append("|---|---:|---:|---:|---|")
    w.append(
        f"| first (empty NB) | {sync['first_sync_s']:.2f} | {sync['first_sync_transactions']} "
        f"| {sync['first_sync_ms_per_lb']:.2f} | {sync['first_sync_created']} created |"
    )
    w.append(
        f"| second (no-op) | {sync['second_sync_s']:.2f} "
        f"| {sync['second_sync_transactions']} | {sync['second_sync_ms_per_lb']:.2f} "
        f"| {sync['second_sync_in_sync']} in sync |"
    )
    w.append("")
    w.append(f"NB holds {sync['nb_load_balancer_rows']} `Load_Balancer` rows after the first sync.")
    w.append("")
    if REFERENCE_SYNC is None:
        w.append(
            "Reference driver: none recorded. Section 9 of the reference's behaviour spec "
            "(`reference-behavior.md`: transactions per operation, complexity) gives no time "
            "and no transaction count for the reference's sync (`octavia-ovn-db-sync-util`)."
        )
    else:
        w.append(f"Reference driver: {REFERENCE_SYNC}")
    w.append("")
    return w


def _times(q: float) -> str:
    """A ratio: two decimals below 10x, none above."""
    return f"{q:.2f}x" if q < 10 else f"{q:.0f}x"


def many_targets(res: dict[str, Any]) -> list[str]:
    """The many-LB target of issue #7, per backend."""
    small, big = res["many"]
    out = [
        f"- request cost on one LB (member add), {small['count']} vs {big['count']} LBs in "
        "NB, target flat within 20%:"
    ]
    for kind in res["many_kinds"]:
        r = _many_ratio(res, kind)
        if r is None:
            out.append(f"  - {kind}: not measured.")
            continue
        few, many, q = r
        line = f"  - {kind}: {_times(q)}" + (
            f" ({few:.2f} ms -> {many:.2f} ms; {'met' if q <= 1.2 else 'missed'})"
        )
        why = MANY_WHY.get(kind)
        if q > 1.2 and why is not None:
            inv = big["kinds"][kind].get("invocations", float("nan"))
            line += ": " + why.format(inv=inv, count=big["count"])
        if kind in ("memory", "idl"):
            line += (
                "; in this run only: a request of about 1 ms, whose ratio moves from run to "
                "run (see 'Many load balancers')"
            )
        out.append(line + ".")
    inter = res.get("many_interleaved")
    if inter:
        q = inter["many_ms"] / inter["few_ms"]
        out.append(
            f"  - idl, interleaved (both databases live, {inter['samples']} requests each, "
            f"alternated): {inter['few_ms']:.2f} ms -> {inter['many_ms']:.2f} ms, "
            f"{_times(q)} ({'met' if q <= 1.2 else 'missed'}); the side-by-side figure."
        )
    return out


def write_report(
    out: Path, png: Path | None, argv: list[str], info: dict[str, str], res: dict[str, Any]
) -> None:
    """RESULTS.md."""
    sizes = res["sizes"]
    kinds = res["kinds"]
    w: list[str] = []
    w.append("# ovnlb at scale: benchmark results (issue #7)\n")
    w.append(
        "Generated by `" + " ".join(["python", "benchmarks/run.py", *argv]) + "` "
        "(`nox -s bench` runs the default mode; `--full` adds the 1% batch at 50k) in "
        f"{res['total_s']:.0f} s.\n"
    )
    if res["load_start"][0] < 1.0:
        w.append(
            f"Taken on an otherwise idle machine ({os.cpu_count()} cores; load average "
            f"{res['load_start'][0]:.2f} when the run started, {res['load_end'][0]:.2f} when it "
            "ended, the benchmark's own processes included). Ratios measured side by side in "
            "one run are still the figures to compare across machines.\n"
        )
    else:
        w.append(
            f"**The machine was busy when these figures were taken (load average "
            f"{res['load_start'][0]:.2f} at start on {os.cpu_count()} cores): absolute times "
            "are noisy. Ratios measured side by side in one run are the figures to trust.**\n"
        )
    w.append("## Machine\n")
    w += [f"- {k}: {v}" for k, v in info.items()]
    w.append("")
    w.append("## How things are measured\n")
    w.append(
        "- Every backend runs against a private real `ovsdb-server` (`OvnSandbox`), except "
        "`memory`.\n"
        "- ms: wall time of the whole request (`OvnLbDriver`: read, parse, request, "
        "translate, plan, commit, and for the IDL the server's reply and update), median of "
        f"{res['adds']} requests after one warm-up request.\n"
        "- transactions: client side `backend.transaction_count()` and server side "
        "(records appended to nb.db, `OvnSandbox.nb_log_records`).\n"
        "- wire: bytes the ovs library sent on the socket (`ovs.stream.Stream.send` wrapped), "
        "client to server only; for the raw floor, the bytes of the JSON-RPC request. "
        "db: growth of nb.db, i.e. the size of the transaction record the server wrote.\n"
        "- floor: one OVSDB transaction on a row holding ovnlb's exact strings for the same "
        "N, sent without ovnlb, appending one member: `idl` = plain ovs IDL "
        "`setkey` of `pool_<id>` and the `vips` key (the issue's floor); `raw` = the same two "
        "mutations in a bare JSON-RPC `transact` on the unix socket (no replica to update); "
        "`idl+status` adds `neutron:member_status` (a member add must change it; with the "
        "IDL backend's 36-byte `verify` of the row's `_version`, this is ovnlb's transaction "
        "content, the like-for-like floor); `idl+status+verify` also `verify`s both columns "
        "(the full old values go on the wire: what a writer that cannot lose concurrent "
        "updates sends when it checks columns). Measured in the same run, interleaved.\n"
    )
    w.append("## Core: translate, parse, plan of one load balancer (ms, best of 3-5)\n")
    w.append(
        "| members | translate | translate, +1 member, warm cache | parse | parse, cached "
        "| plan (+1 member) |"
    )
    w.append("|---:|---:|---:|---:|---:|---:|")
    for n in sizes:
        c = res["core"][n]
        w.append(
            f"| {n} | {c['translate']:.1f} | {c['translate_incr']:.2f} | {c['parse']:.1f} "
            f"| {c['parse_cached']:.2f} | {c['plan']:.2f} |"
        )
    w.append("")
    w.append("## The floor (same run)\n")
    w.append("| members | variant | ms | wire | db |")
    w.append("|---:|---|---:|---:|---:|")
    for n in sizes:
        for variant, f in res["floor"][n].items():
            w.append(
                f"| {n} | {variant} | {f['ms']:.1f} | {fmt_bytes(f['wire'])} "
                f"| {fmt_bytes(f['db'])} |"
            )
    w.append("")
    w.append("## One member add into a pool of N\n")
    w.append(
        "ratio = ms / floor `idl` (the issue's floor) and / floor `idl+status` "
        "(same transaction content as ovnlb)."
    )
    w.append("")
    w.append(
        "| members | backend | ms | x floor idl | x floor idl+status | txn/request "
        "(client/server) | wire | db |"
    )
    w.append("|---:|---|---:|---:|---:|---|---:|---:|")
    for n in sizes:
        fl = res["floor"][n]
        for kind in kinds:
            r = res["backends"][n].get(kind)
            if r is None or "error" in r:
                why = "not available" if r is None else f"failed: {r['error']}"
                w.append(f"| {n} | {kind} | {why.replace('|', '/')} | | | | | |")
                continue
            for label, key in ((kind, "add"), (f"{kind}, no RowCache", "add_nocache")):
                a = r.get(key)
                if a is None:
                    continue
                rec = f"{a['records']:.0f}" if "records" in a else "-"
                w.append(
                    f"| {n} | {label} | {a['ms']:.2f} | {ratio(a['ms'], fl['idl']['ms'])} "
                    f"| {ratio(a['ms'], fl['idl+status']['ms'])} "
                    f"| {a['txn']:.0f} / {rec} | {fmt_bytes(a.get('wire'))} "
                    f"| {fmt_bytes(a.get('db'))} |"
                )
    if "nbctl" not in kinds:
        w.append("\nnbctl backend: not available (`ovnlb_backends.nbctl` not importable).")
    w.append("")
    w.append("Reference driver (issue #7, same kind of machine): ")
    w += [f"- one member add into a pool of {n}: {ms:.0f} ms" for n, ms in REFERENCE_ADD_MS.items()]
    w += [f"- {what}: {fig}" for what, fig in REFERENCE_OTHER]
    w.append("")
    if png is not None:
        w.append(f"![ms per member add against pool size]({png.name})\n")
    w.append("## Member batch update\n")
    w.append(
        "`member_batch_update` with N members into an empty pool, and with 1% of the "
        "members replaced (1% deleted, 1% created, the rest kept) on a pool of N. "
        "Ratio to the floor `idl` at the same N (one write of the changed keys)."
    )
    w.append("")
    w.append("| members | case | backend | ms | x floor idl | txn (client/server) | wire | db |")
    w.append("|---:|---|---|---:|---:|---|---:|---:|")
    for n in sizes:
        fl = res["floor"][n]["idl"]["ms"]
        for case, key in (("from empty", "batch_empty"), ("1% changed", "batch_1pct")):
            for kind in kinds:
                r = (res["backends"][n].get(kind) or {}).get(key)  # None: failed or not run
                if r is None:
                    continue
                rec = f"{r['records']:.0f}" if "records" in r else "-"
                w.append(
                    f"| {n} | {case} | {kind} | {r['ms']:.0f} | {ratio(r['ms'], fl)} "
                    f"| {r['txn']:.0f} / {rec} | {fmt_bytes(r.get('wire'))} "
                    f"| {fmt_bytes(r.get('db'))} |"
                )
    skipped = res.get("batch_1pct_skipped")
    if skipped:
        w.append(f"\n1% case not run for N = {', '.join(map(str, skipped))} (`--full` runs it).")
    w.append("")
    w.append("## Member update and member delete\n")
    w.append(
        f"Median of {res['adds']} requests (nbctl: fewer) on members spread over a pool of "
        "about N: `member_update` setting `admin_state_up` false (the member goes OFFLINE "
        "and leaves `vips`), then `member_delete`. Ratio to the floor `idl+status` (one "
        "member's worth of change to the same three strings)."
    )
    w.append("")
    w.append("| members | request | backend | ms | x floor idl+status | txn (client/server) |")
    w.append("|---:|---|---|---:|---:|---|")
    for n in sizes:
        fl = res["floor"][n]["idl+status"]["ms"]
        for case, key in (("update", "update"), ("delete", "delete")):
            for kind in kinds:
                r = (res["backends"][n].get(kind) or {}).get(key)
                if r is None:
                    continue
                rec = f"{r['records']:.0f}" if "records" in r else "-"
                w.append(
                    f"| {n} | {case} | {kind} | {r['ms']:.2f} | {ratio(r['ms'], fl)} "
                    f"| {r['txn']:.0f} / {rec} |"
                )
    w.append("")
    w.append("## Before and after the O(changed) member paths\n")
    w.append(
        "IDL backend, ms. Before: `benchmarks/RESULTS.md` of the previous run (same script, "
        "shared machine, load average 1.48 at start), when `requests` rebuilt the member "
        "status dict and the row once per member and built every member's text per add. "
        "After: this run."
    )
    w.append("")
    w.append("| members | request | before | after | x floor idl (after) |")
    w.append("|---:|---|---:|---:|---:|")
    for (n, what), before in PREVIOUS_IDL_MS.items():
        r = (res["backends"].get(n, {}).get("idl") or {}).get(what)
        if r is None:
            continue
        fl = res["floor"][n]["idl"]["ms"]
        w.append(
            f"| {n} | {PREVIOUS_LABELS[what]} | {before:.1f} | {r['ms']:.1f} "
            f"| {ratio(r['ms'], fl)} |"
        )
    w.append("")
    w.append("## Many load balancers\n")
    m_small, m_big = res["many"]
    w.append(
        "A member add on one load balancer (10 members) with K load balancers of 10 members "
        "each in NB, all attached to the VIP switch. The other K - 1 rows are inserted by a "
        "raw `transact` of ovnlb's translated rows (byte-identical to ovnlb's; for `memory`, "
        "the same columns through raw operations). The server backends share one "
        "`ovsdb-server`; each connects afresh and drives a fresh `OvnLbDriver`, which finds "
        "the pool's load balancer in NB (`find_lb_of_pool`: an index for the IDL backend, "
        "a scan for the others). ms: median of the samples after one warm-up request "
        f"(up to {res['many_adds']}; the nbctl backends stop after "
        f"{res['many_nbctl_budget_s']:.0f} s of samples, with at least 9, or all of them "
        "if fewer). Between backends the pool is set back to its 10 members. `nbctl` is "
        "`NbctlBackend(daemon=False)` (direct mode, the default: one ovn-nbctl process per "
        "invocation); `nbctl daemon` is `NbctlBackend(daemon=True)` (one private "
        "long-running ovn-nbctl, spoken to over its unixctl socket)."
    )
    w.append("")
    w.append(
        "| backend | load balancers | ms per member add | samples | min / max ms "
        "| ovn-nbctl invocations per request | ratio to "
        f"{m_small['count']} LBs |"
    )
    w.append("|---|---:|---:|---:|---|---:|---:|")
    for kind in res["many_kinds"]:
        few = m_small["kinds"].get(kind)
        for m in (m_small, m_big):
            r = m["kinds"].get(kind)
            if r is None:
                w.append(f"| {kind} | {m['count']} | not measured | | | | |")
                continue
            inv = f"{r['invocations']:.0f}" if "invocations" in r else "-"
            q = f"{r['add_ms'] / few['add_ms']:.2f}" if few else "-"
            w.append(
                f"| {kind} | {m['count']} | {r['add_ms']:.2f} | {r['samples']} "
                f"| {r['min_ms']:.2f} / {r['max_ms']:.2f} | {inv} | {q} |"
            )
    w.append("")
    for kind in res["many_kinds"]:
        cost = _many_ratio(res, kind)
        reason = MANY_WHY.get(kind)
        if cost is not None and cost[2] > 1.2 and reason is not None:
            calls = m_big["kinds"][kind].get("invocations", float("nan"))
            w.append(
                f"- {kind}: {_times(cost[2])} with {m_big['count']} LBs: "
                + reason.format(inv=calls, count=m_big["count"])
                + "."
            )
    w.append(
        "- The memory and IDL requests take about 1 ms, and their medians, the 10-LB "
        "case's included, move from run to run by a good part of the target's 20%: one "
        "run's ratio for these two does not settle met or missed (the previous report of "
        "this script had idl at 1.20x). The nbctl ratios are of another order."
    )
    inter = res.get("many_interleaved")
    if inter:
        w.append(
            f"- Interleaved, IDL: both servers ({inter['small']} and {inter['big']} load "
            f"balancers) live at once, one request on each per round in shuffled order, "
            f"{inter['samples']} rounds: median {inter['few_ms']:.2f} ms vs "
            f"{inter['many_ms']:.2f} ms, ratio {inter['many_ms'] / inter['few_ms']:.2f}. "
            "Alternating puts both cases under the same machine conditions, so this is the "
            "figure to judge the target by."
        )
    idl_big = m_big["kinds"].get("idl", {})
    w.append(
        f"- IDL backend with {m_big['count']} load balancers: initial sync "
        f"{idl_big.get('connect_s', 0):.1f} s; tracemalloc peak during connect and sync "
        f"{idl_big.get('tracemalloc_peak_mb', 0):.0f} MB (held afterwards: "
        f"{idl_big.get('tracemalloc_now_mb', 0):.0f} MB); process ru_maxrss after converting "
        f"every row to canonical form {idl_big.get('ru_maxrss_mb', 0):.0f} MB (the whole "
        "benchmark process, the earlier large-pool runs included)."
    )
    daemon_big = m_big["kinds"].get("nbctl daemon")
    if daemon_big is not None:
        w.append(
            f"- nbctl daemon with {m_big['count']} load balancers: the daemon starts and "
            f"loads its replica in {daemon_big['connect_s']:.1f} s."
        )
    mem_big = m_big["kinds"].get("memory")
    if mem_big is not None:
        w.append(
            f"- memory backend: the other {m_big['count'] - 1} load balancers loaded "
            f"through raw operations in {mem_big['fill_s']:.1f} s."
        )
    w.append("")
    w += sync_section(res["sync"])
    w.append("## Targets of issue #7\n")
    w += targets(res)
    w.append("")
    w.append("## Known limits\n")
    w += KNOWN_LIMITS
    w.append("")
    w.append("## Profile: one member add, IDL backend, pool of " + str(res["profile_n"]) + "\n")
    w.append("```")
    w.append(res["profile"])
    w.append("```\n")
    out.write_text("\n".join(w) + "\n")


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run everything, write the report; returns the raw results."""
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small N (smoke run)")
    ap.add_argument("--full", action="store_true", help="also the slow 1%% batch at 50k")
    ap.add_argument("--sizes", help="comma-separated pool sizes (overrides the mode's)")
    ap.add_argument("--lbs", type=int, help="load balancers in the many-LB case")
    ap.add_argument("--adds", type=int, help="member adds per measurement")
    ap.add_argument("--sync-lbs", type=int, help="load balancers of the sync benchmark")
    ap.add_argument("--sync-members", type=int, help="members per load balancer in the sync")
    ap.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    ap.add_argument("--plot", type=Path, default=HERE / "member_add.png")
    ap.add_argument("--json-parser", default=os.environ.get("OVNLB_JSON_PARSER", "auto"))
    args = ap.parse_args(argv)
    started = time.perf_counter()
    load_start = os.getloadavg()
    idl_mod.install_json_parser(args.json_parser)
    sizes = (
        [int(s) for s in args.sizes.split(",")]
        if args.sizes
        else ([100, 1000] if args.quick else [1000, 10000, 50000])
    )
    lbs = args.lbs or (200 if args.quick else 10000)
    adds = args.adds or (3 if args.quick else 7)
    kinds = ["memory", "idl"] + (["nbctl"] if nbctl_backend_class() is not None else [])
    res: dict[str, Any] = {"sizes": sizes, "kinds": kinds, "adds": adds}
    res["core"] = {}
    res["floor"] = {}
    res["backends"] = {}
    res["batch_1pct_skipped"] = []
    for n in sizes:
        print(f"[{time.perf_counter() - started:6.0f} s] N={n}: core", flush=True)
        res["core"][n] = core_bench(n)
        print(f"[{time.perf_counter() - started:6.0f} s] N={n}: floor", flush=True)
        res["floor"][n] = floor_bench(n, adds)
        res["backends"][n] = {}
        one_percent = args.full or n <= 10000
        if not one_percent:
            res["batch_1pct_skipped"].append(n)
        for kind in kinds:
            print(f"[{time.perf_counter() - started:6.0f} s] N={n}: {kind}", flush=True)
            nb_adds = adds if kind != "nbctl" else max(1, adds // 2)
            try:
                res["backends"][n][kind] = backend_bench(kind, n, nb_adds, one_percent)
            except Exception as exc:  # a backend that cannot do it: say so, go on
                if kind == "idl":
                    raise
                res["backends"][n][kind] = {"error": f"{type(exc).__name__}: {exc}"[:200]}
    many_kinds = [k for k in MANY_KINDS if k in ("memory", "idl") or "nbctl" in kinds]
    res["many_kinds"] = many_kinds
    many_adds = max(adds, 5 if args.quick else 41)  # ~1 ms each: more samples against noise
    res["many_adds"] = many_adds
    res["many_nbctl_budget_s"] = 10.0 if args.quick else 60.0
    res["many"] = []
    for count, track in ((10, False), (lbs, True)):
        print(f"[{time.perf_counter() - started:6.0f} s] {count} load balancers", flush=True)
        res["many"].append(
            many_lbs_bench(count, many_kinds, many_adds, res["many_nbctl_budget_s"], track)
        )
    print(f"[{time.perf_counter() - started:6.0f} s] 10 vs {lbs} LBs, interleaved", flush=True)
    res["many_interleaved"] = many_lbs_interleaved(10, lbs, 25 if args.quick else 201)
    sync_lbs = args.sync_lbs or (50 if args.quick else 1000)
    sync_members = args.sync_members or (5 if args.quick else 10)
    print(
        f"[{time.perf_counter() - started:6.0f} s] sync of {sync_lbs} x {sync_members}", flush=True
    )
    res["sync"] = sync_bench(sync_lbs, sync_members)
    profile_n = 10000 if 10000 in sizes else max(sizes)
    res["profile_n"] = profile_n
    res["profile"] = profile_member_add(profile_n)
    png = args.plot if plot(args.plot, sizes, res) else None
    res["total_s"] = time.perf_counter() - started
    info = machine()
    res["load_start"] = load_start
    res["load_end"] = os.getloadavg()
    info["load average at start (1, 5, 15 min)"] = " ".join(f"{x:.2f}" for x in load_start)
    info["load average at end"] = " ".join(f"{x:.2f}" for x in res["load_end"])
    write_report(args.out, png, argv, info, res)
    print(args.out.read_text())
    return res


if __name__ == "__main__":
    main()
