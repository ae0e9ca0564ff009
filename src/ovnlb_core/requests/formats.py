"""Everything about the few NB formats the requests write themselves lives here.

The option names of a health check and of session persistence, the address
family of a row's VIP, and the ``ip_port_mappings`` key and value of a
monitored member (spec 4.3). Each is written here once; the requests and the
Service_Monitor handling read them from here. (The rest of the row formats
live in :mod:`ovnlb_core.translate`.)
"""

from __future__ import annotations

from ovnlb_core.model import ProtocolRow
from ovnlb_core.translate import bracket, is_ipv6

__all__ = ["AFFINITY", "HM_OPTIONS", "mapping_key", "mapping_value", "vip_version"]

#: The ``options`` key of session persistence's timeout (spec 4.1).
AFFINITY = "affinity_timeout"

#: ``(HealthMonitor field, Load_Balancer_Health_Check option)``, in the order written.
HM_OPTIONS = (
    ("delay", "interval"),
    ("timeout", "timeout"),
    ("max_retries", "success_count"),
    ("max_retries_down", "failure_count"),
)


def vip_version(row: ProtocolRow) -> int:
    """The IP version of the row's VIP (4 when it has none)."""
    return 6 if row.vip and is_ipv6(row.vip) else 4


def mapping_key(address: str) -> str:
    """The ``ip_port_mappings`` key of a member's address (IPv6 bracketed)."""
    return bracket(address)


def mapping_value(logical_port: str, src_ip: str) -> str:
    """The ``ip_port_mappings`` value: ``<member's LSP name>:<health-check source IP>``."""
    return f"{logical_port}:{bracket(src_ip)}"
