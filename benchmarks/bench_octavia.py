"""Member create through the real Octavia API, to ACTIVE, on a pool of 1000 members:
ovnlb against the reference provider (``ovn-octavia-provider``), same run, same machine.

Usage (needs ``scripts/setup.sh --with-ovn --with-octavia`` and the reference in the
Octavia virtualenv: ``.venv-octavia/bin/pip install ovn-octavia-provider``)::

    .venv/bin/python benchmarks/bench_octavia.py [--members 1000] [--samples 20]

For each provider: one Octavia API + driver agent (both providers enabled, the
same processes), an LB, a TCP listener and pool, ``--members`` members added
by one batch update, then ``--samples`` single member creates, each timed from
the POST to the moment the API shows the member and its load balancer ACTIVE
(polled every 50 ms). Prints the median and p90 per provider and the ratio.
The reference ignores ``[driver_agent]``'s socket paths and uses
``/var/run/octavia``: the driver agent listens there for this run.
A measurement, not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
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


def _retry(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """sqlite answers 500 "database is locked" when two writers collide (and 409 while the
    LB is still PENDING): retry for up to two minutes."""
    deadline = time.monotonic() + 120
    while True:
        try:
            return fn(*args, **kwargs)
        except openstack.exceptions.HttpException as e:
            retryable = "locked" in str(e) or e.status_code == 409
            if not retryable or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _active(conn: Any, lb_id: str, timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while conn.get_load_balancer(lb_id).provisioning_status != "ACTIVE":
        if time.monotonic() > deadline:
            raise RuntimeError(f"load balancer {lb_id} not ACTIVE after {timeout} s")
        time.sleep(0.05)


def measure(conn: Any, provider: str, n: int, samples: int, net: dict[str, str]) -> list[float]:
    """Seconds per member create, POST to ACTIVE, on a pool of ``n`` members."""
    lb = _retry(
        conn.create_load_balancer,
        vip_network_id=net["net"],
        vip_subnet_id=net["vip_subnet"],
        project_id=PROJECT,
        provider=provider,
    )
    _active(conn, lb.id)
    li = _retry(
        conn.create_listener,
        loadbalancer_id=lb.id,
        protocol="TCP",
        protocol_port=80,
        project_id=PROJECT,
    )
    _active(conn, lb.id)
    pool = _retry(
        conn.create_pool,
        listener_id=li.id,
        protocol="TCP",
        lb_algorithm="SOURCE_IP_PORT",
        project_id=PROJECT,
    )
    _active(conn, lb.id)
    batch = [
        {
            "address": f"10.{100 + i // 65536}.{i // 256 % 256}.{i % 256}",
            "protocol_port": 8080,
            "subnet_id": net["member_subnet"],
        }
        for i in range(n)
    ]
    _retry(conn.put, f"/v2/lbaas/pools/{pool.id}/members", json={"members": batch})
    _active(conn, lb.id)
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
        _active(conn, lb.id)
        while conn.get_member(m.id, pool.id).provisioning_status != "ACTIVE":
            time.sleep(0.05)
        times.append(time.perf_counter() - t0)
    _retry(conn.delete_load_balancer, lb.id, cascade=True)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--providers", default="ovnlb,ovn")
    args = parser.parse_args()
    providers = args.providers.split(",")
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
                results = {p: measure(conn, p, args.members, args.samples, net) for p in providers}
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
