"""Member create through the real Octavia API, to ACTIVE, on a pool of 1000 members:
ovnlb against the reference provider (``ovn-octavia-provider``), same run, same machine.

Usage (needs ``scripts/setup.sh --with-ovn --with-octavia`` and the reference in the
Octavia virtualenv: ``.venv-octavia/bin/pip install ovn-octavia-provider==11.0.0``)::

    .venv/bin/python benchmarks/bench_octavia.py [--members 1000] [--samples 10]

One Octavia API + driver agent with both providers enabled (the same processes).
For each provider: an LB, a TCP listener and a pool, each created through the API
by that provider; then ``--members`` members in one batch update, **made by the
ovnlb provider for both**: for the reference's LB, Octavia's database names
provider ``ovnlb`` for the batch and ``ovn`` again afterwards (the switch of
docs/octavia.md, both ways: the two providers write the same rows, so the
reference then finds exactly the pool it would have written). The reference's
own batch update of 1000 members did not finish within 10 minutes here, and
the pool is not what is measured. Then ``--samples`` single member creates,
each by the LB's own provider, timed from the POST to the moment the API shows
the member and its load balancer ACTIVE (polled every 50 ms). Prints the
median and p90 per provider and the ratio. The reference ignores
``[driver_agent]``'s socket paths and uses ``/var/run/octavia``: the driver
agent listens there for this run. A measurement, not a test: nothing is
asserted; every wait is bounded (``--timeout``).
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "octavia")]

import openstack  # noqa: E402
from local_neutron import PROJECT, LocalNeutron, NeutronCloud  # noqa: E402
from octavia_services import OctaviaServices  # noqa: E402

from ovnlb_backends.sandbox import OvnSandbox  # noqa: E402

#: How long a call is retried while sqlite is locked (``--timeout``).
RETRY_FOR = 300.0


def _retry(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """sqlite answers 500 "database is locked" when two writers collide (the driver agent
    applies a report entry by entry, each in its own transaction, and the API's request
    collides with it) and 409 while the LB is still PENDING: retry for ``RETRY_FOR`` s."""
    deadline = time.monotonic() + RETRY_FOR
    while True:
        try:
            return fn(*args, **kwargs)
        except openstack.exceptions.HttpException as e:
            retryable = "locked" in str(e) or e.status_code == 409
            if not retryable or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _active(conn: Any, lb_id: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while conn.get_load_balancer(lb_id).provisioning_status != "ACTIVE":
        if time.monotonic() > deadline:
            raise RuntimeError(f"load balancer {lb_id} not ACTIVE after {timeout} s")
        time.sleep(0.05)


def _until(done: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not _retry(done):
        if time.monotonic() > deadline:
            raise RuntimeError(f"not done after {timeout} s: {what}")
        time.sleep(0.2)


def _set_provider(db: Path, lb_id: str, provider: str) -> None:
    """Name ``provider`` for the LB in Octavia's database (docs/octavia.md, the switch)."""
    with sqlite3.connect(db, timeout=60) as sql:
        sql.execute("UPDATE load_balancer SET provider = ? WHERE id = ?", (provider, lb_id))


def measure(
    conn: Any,
    nbctl: Any,
    db: Path,
    provider: str,
    n: int,
    samples: int,
    net: dict[str, str],
    timeout: float,
) -> list[float]:
    """Seconds per member create, POST to ACTIVE, on a pool of ``n`` members."""
    lb = _retry(
        conn.create_load_balancer,
        vip_network_id=net["net"],
        vip_subnet_id=net["vip_subnet"],
        project_id=PROJECT,
        provider=provider,
    )
    _active(conn, lb.id, timeout)
    li = _retry(
        conn.create_listener,
        loadbalancer_id=lb.id,
        protocol="TCP",
        protocol_port=80,
        project_id=PROJECT,
    )
    _active(conn, lb.id, timeout)
    pool = _retry(
        conn.create_pool,
        listener_id=li.id,
        protocol="TCP",
        lb_algorithm="SOURCE_IP_PORT",
        project_id=PROJECT,
    )
    _active(conn, lb.id, timeout)
    batch = [
        {
            "address": f"10.{100 + i // 65536}.{i // 256 % 256}.{i % 256}",
            "protocol_port": 8080,
            "subnet_id": net["member_subnet"],
        }
        for i in range(n)
    ]
    t0 = time.perf_counter()
    _set_provider(db, lb.id, "ovnlb")
    _retry(conn.put, f"/v2/lbaas/pools/{pool.id}/members", json={"members": batch})
    _active(conn, lb.id, timeout)
    _set_provider(db, lb.id, provider)
    _until(
        lambda: {m.provisioning_status for m in conn.members(pool.id)} == {"ACTIVE"},
        timeout,
        "the batch's members ACTIVE",
    )
    print(f"  {provider}: pool of {n} built in {time.perf_counter() - t0:.1f} s", flush=True)
    times = []
    for k in range(samples):
        t0 = time.perf_counter()
        m = _retry(
            conn.create_member,
            pool.id,
            address=f"10.99.0.{k + 1}",
            protocol_port=8080,
            subnet_id=net["member_subnet"],
            project_id=PROJECT,
        )
        _active(conn, lb.id, timeout)
        deadline = time.monotonic() + timeout
        while conn.get_member(m.id, pool.id).provisioning_status != "ACTIVE":
            if time.monotonic() > deadline:
                raise RuntimeError(f"member {m.id} not ACTIVE after {timeout} s")
            time.sleep(0.05)
        times.append(time.perf_counter() - t0)
        print(f"  {provider}: sample {k + 1}: {times[-1] * 1000:.0f} ms", flush=True)
    # What the samples ran on: the LB's provider as Octavia has it, and the pool in NB.
    vips = nbctl("--bare", "--columns=vips", "find", "Load_Balancer", f"name={lb.id}")
    print(
        f"  {provider}: Octavia provider {conn.get_load_balancer(lb.id).provider!r}, "
        f"{len(list(conn.members(pool.id)))} members in Octavia, "
        f"{vips.count(':8080')} backends in NB",
        flush=True,
    )
    _retry(conn.delete_load_balancer, lb.id, cascade=True)
    # Gone from Octavia before the next provider starts (no reports still being applied).
    _until(
        lambda: conn.find_load_balancer(lb.id, ignore_missing=True) is None,
        timeout,
        f"load balancer {lb.id} deleted",
    )
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--providers", default="ovnlb,ovn")
    parser.add_argument("--timeout", type=float, default=300.0, help="longest wait for ACTIVE")
    args = parser.parse_args()
    providers = args.providers.split(",")
    global RETRY_FOR
    RETRY_FOR = args.timeout
    work = Path(tempfile.mkdtemp(prefix="bench-octavia-"))
    with OvnSandbox(work / "ovn", with_northd=True) as sandbox:
        neutron = LocalNeutron(sandbox.nbctl)
        pub = neutron.create_network("public")
        net = {
            "net": pub,
            "vip_subnet": neutron.create_subnet(pub, "172.24.4.0/24"),
        }
        priv = neutron.create_network("private")
        net["member_subnet"] = neutron.create_subnet(priv, "10.0.0.0/8")
        router = "3d2a873b-b5b4-4d14-ac24-47a835fd47b2"
        neutron.add_router_interface(router, net["vip_subnet"])
        neutron.add_router_interface(router, net["member_subnet"])
        with NeutronCloud(neutron) as cloud:
            services = OctaviaServices(
                work / "octavia",
                nb_remote=sandbox.nb_remote,
                sb_remote=sandbox.sb_remote,
                auth_url=cloud.auth_url,
                providers=providers,
                nb_timeout=30.0,
                sockdir=Path("/var/run/octavia") if "ovn" in providers else None,
            )
            try:
                services.start_agent()
                services.start_api()
                conn = openstack.connection.Connection(
                    auth_type="none",
                    auth={"endpoint": services.url},
                    load_balancer_endpoint_override=services.url,
                ).load_balancer
                results = {
                    p: measure(
                        conn,
                        sandbox.nbctl,
                        services.db,
                        p,
                        args.members,
                        args.samples,
                        net,
                        args.timeout,
                    )
                    for p in providers
                }
            finally:
                services.stop()
    print(f"member create to ACTIVE on a pool of {args.members} members ({args.samples} samples)")
    for p, t in results.items():
        t = sorted(t)
        p90 = t[int(0.9 * (len(t) - 1))]
        print(f"  {p:6s} median {statistics.median(t) * 1000:8.1f} ms   p90 {p90 * 1000:8.1f} ms")
    if "ovnlb" in results and "ovn" in results:
        ratio = statistics.median(results["ovn"]) / statistics.median(results["ovnlb"])
        print(f"  reference / ovnlb (median): {ratio:.2f}")


if __name__ == "__main__":
    main()
