"""What OVN load balancing can do (spec section 7), checked before anything is planned.

Messages are the reference driver's fault strings, so users see the same
text; the exception carries the resource, id and field besides.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ovnlb_core.errors import (
    IPVersionsMixingNotSupportedError,
    UnsupportedOptionError,
)
from ovnlb_core.formats import is_ipv6
from ovnlb_core.model import ProtocolRow
from ovnlb_core.octavia import HealthMonitor, Listener, LoadBalancer, Member, Pool
from ovnlb_core.topology import Subnet
from ovnlb_core.translate import vip_list

PROTOCOLS = ("TCP", "UDP", "SCTP")
ALGORITHMS = ("SOURCE_IP_PORT", "SOURCE_IP")
HM_TYPES = ("TCP", "UDP-CONNECT")
PERSISTENCE_TYPES = ("SOURCE_IP",)


def loadbalancer(lb: LoadBalancer) -> None:
    """A load balancer needs a VIP address."""
    if lb.vip_address is None:
        raise UnsupportedOptionError(
            "loadbalancer", "vip_address", "OVN provider needs a VIP address", resource_id=lb.id
        )


def _protocol(resource: str, rid: str, protocol: str) -> None:
    if protocol not in PROTOCOLS:
        raise UnsupportedOptionError(
            resource,
            "protocol",
            f"OVN provider does not support {protocol} protocol",
            resource_id=rid,
        )


def listener(li: Listener) -> None:
    """V1 (L4 protocols only), V4 (no allowed_cidrs)."""
    _protocol("listener", li.id, li.protocol)
    if li.allowed_cidrs:
        raise UnsupportedOptionError(
            "listener",
            "allowed_cidrs",
            "OVN provider does not support allowed_cidrs option",
            resource_id=li.id,
        )


def pool(p: Pool) -> None:
    """V1, V2 (algorithms), V3 (session persistence type)."""
    _protocol("pool", p.id, p.protocol)
    if p.lb_algorithm not in ALGORITHMS:
        raise UnsupportedOptionError(
            "pool",
            "lb_algorithm",
            f"OVN provider does not support {p.lb_algorithm} algorithm",
            resource_id=p.id,
        )
    sp = p.session_persistence
    if sp is not None and sp.type not in PERSISTENCE_TYPES:
        raise UnsupportedOptionError(
            "pool",
            "session_persistence",
            f"OVN provider does not support {sp.type} session persistence. "
            "Only SOURCE_IP type is supported.",
            resource_id=p.id,
        )


def member(
    m: Member,
    row: ProtocolRow | None,
    vip_subnet: Subnet | None,
    *,
    batch: bool = False,
    check_address: bool = True,
) -> None:
    """V6/V6b (monitor address or port), V7 (address families), V8 (subnet)."""
    members((m,), row, vip_subnet, batch=batch, check_address=check_address)


def members(
    ms: Iterable[Member],
    row: ProtocolRow | None,
    vip_subnet: Subnet | None,
    *,
    batch: bool = False,
    check_address: bool = True,
) -> None:
    """:func:`member` for each member in order (the first failure raises), the row's VIP
    address families looked at once (a batch of 10k rebuilt them per member)."""
    family: bool | None = None  # the VIPs' one family (True: IPv6); None: no check
    if check_address and row is not None:
        families = {is_ipv6(v) for v in vip_list(row)}
        if len(families) == 1:
            (family,) = families
    for m in ms:
        if m.monitor_address or m.monitor_port:
            text = (
                "OVN provider does not support monitor options"
                if batch
                else "OVN Load Balancer does not support different member monitor address or port."
            )
            raise UnsupportedOptionError("member", "monitor_address", text, resource_id=m.id)
        if family is not None and is_ipv6(m.address) is not family:
            raise IPVersionsMixingNotSupportedError(
                "member",
                "address",
                "OVN provider does not support mixing IPv4/IPv6 configuration within the same "
                "Load Balancer.",
                resource_id=m.id,
            )
        if not m.subnet_id and (vip_subnet is None or not vip_subnet.contains(m.address)):
            raise UnsupportedOptionError(
                "member",
                "subnet_id",
                "Subnet is required, or Loadbalancer associated with Pool must have a subnet, "
                "for Member creation with OVN Provider Driver if it is not the same as LB VIP "
                "subnet",
                resource_id=m.id,
            )


def usual_members_pass(
    addresses: Sequence[str],
    subnets: Sequence[str | None],
    row: ProtocolRow | None,
    vip_subnet: Subnet | None,
) -> bool:
    """Whether :func:`members` accepts a batch of members with these dotted-quad addresses
    and subnets (``None``: not given) and no monitor options, without a call per member
    when every member gives its subnet."""
    if row is not None and {is_ipv6(v) for v in vip_list(row)} == {True}:
        return False  # every member is IPv4: V7 fails on the first
    if None not in set(subnets):
        return True
    if vip_subnet is None:
        return False
    contains = vip_subnet.contains
    return all(contains(a) for a, s in zip(addresses, subnets, strict=True) if s is None)


def health_monitor(hm: HealthMonitor, row: ProtocolRow | None) -> None:
    """V10, V11 (types), and no health check on SCTP pools (OVN probes TCP and UDP only)."""
    if not hm.type:
        raise UnsupportedOptionError(
            "healthmonitor",
            "type",
            "OVN provider health monitor type not specified.",
            resource_id=hm.id,
        )
    if hm.type not in HM_TYPES:
        raise UnsupportedOptionError(
            "healthmonitor",
            "type",
            f"OVN provider does not support {hm.type} health monitor type. "
            "Supported types: UDP-CONNECT, TCP",
            resource_id=hm.id,
        )
    if row is not None and row.protocol == "sctp":
        raise UnsupportedOptionError(
            "healthmonitor",
            "pool_id",
            "OVN health checks probe TCP and UDP only; the pool is SCTP",
            resource_id=hm.id,
        )


def failover(lb_id: str) -> None:
    """V5: failover is never possible."""
    raise UnsupportedOptionError(
        "loadbalancer",
        "failover",
        "OVN provider does not support loadbalancer failover",
        resource_id=lb_id,
    )
