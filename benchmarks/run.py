"""Core benchmarks: translate, parse and plan of one load balancer with N members.

Usage: python benchmarks/run.py [N ...]   (default: 1000 10000 50000)
Prints ms per operation; the backend and raw-OVSDB comparisons of issue 7
come in later sessions.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import attrs

from ovnlb_core.model import ListenerState, LoadBalancerState, MemberEntry, PoolState, ProtocolRow
from ovnlb_core.parse import parse
from ovnlb_core.plan import diff
from ovnlb_core.translate import translate

LB = "94e7c431-912b-496c-a247-d52875d44ac7"
POOL = "898be8a2-5185-4f3b-8658-a56457f595a9"
SUBNET = "8f1e2d3c-4b5a-4697-8a1b-2c3d4e5f6a7b"


def state_with(n: int) -> LoadBalancerState:
    """One TCP row, one listener, one pool of ``n`` members."""
    members = tuple(
        MemberEntry(
            f"00000000-0000-4000-8000-{i:012d}",
            f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}",
            8080,
            SUBNET,
        )
        for i in range(n)
    )
    row = ProtocolRow(
        uuid="11111111-1111-4111-8111-111111111111",
        protocol="tcp",
        vip="172.24.4.9",
        listeners=(ListenerState("21e77cde-854f-4c3e-bd8c-9536ae0443bc", 80, POOL),),
        pools=(PoolState(POOL, True, members),),
        member_status=tuple((m.id, "NO_MONITOR") for m in members),
    )
    return LoadBalancerState(LB, (row,))


def best_ms(fn: Callable[[], object], repeat: int = 5) -> float:
    """Best wall time of ``repeat`` runs, in ms."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best * 1000


def main(argv: list[str]) -> None:
    """Run and print the table."""
    sizes = [int(a) for a in argv] or [1000, 10000, 50000]
    print(f"{'members':>8} {'translate ms':>13} {'parse ms':>9} {'plan +1 ms':>11}")
    for n in sizes:
        state = state_with(n)
        rows = translate(state)
        row = state.rows[0]
        extra = MemberEntry("ffffffff-0000-4000-8000-000000000000", "10.255.255.254", 8080, SUBNET)
        pool = attrs.evolve(row.pools[0], members=(*row.pools[0].members, extra))
        bigger = translate(attrs.evolve(state, rows=(attrs.evolve(row, pools=(pool,)),)))
        t_translate = best_ms(lambda s=state: translate(s))
        t_parse = best_ms(lambda r=rows: parse(LB, r))
        t_plan = best_ms(lambda r=rows, b=bigger: diff(r, b))
        print(f"{n:>8} {t_translate:>13.1f} {t_parse:>9.1f} {t_plan:>11.1f}")


if __name__ == "__main__":
    main(sys.argv[1:])
