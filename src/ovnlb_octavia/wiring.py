"""How a process builds its runtime from configuration: everything lazy and oslo-shaped lives here.

:func:`default_runtime` is what the provider driver uses when Octavia
constructs it: an :class:`~ovnlb_backends.idl.IdlBackend` on ``[ovnlb]
nb_connection``, Neutron from ``[neutron]`` (built on first use: keystone may
be slow), and octavia-lib's ``DriverLibrary`` on ``[driver_agent]``'s
sockets. The provider agent (:mod:`ovnlb_octavia.agent`) shares
:class:`LazyNetwork`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ovnlb_octavia import neutron as nt
from ovnlb_octavia.reports import driver_library
from ovnlb_octavia.runtime import Lazy, Replica, Runtime

__all__ = ["LazyNetwork", "default_runtime"]


class LazyNetwork:
    """A :class:`~ovnlb_octavia.neutron.Network` built on first use (keystone may be slow)."""

    def __init__(self, make: Callable[[], nt.Network]) -> None:
        self._net = Lazy(make)

    def get_subnet(self, subnet_id: str) -> Mapping[str, Any] | None:
        """As :meth:`~ovnlb_octavia.neutron.Network.get_subnet`."""
        return self._net.get().get_subnet(subnet_id)

    def get_port(self, port_id: str) -> nt.Port | None:
        """As :meth:`~ovnlb_octavia.neutron.Network.get_port`."""
        return self._net.get().get_port(port_id)

    def list_ports(self, **filters: Any) -> list[nt.Port]:
        """As :meth:`~ovnlb_octavia.neutron.Network.list_ports`."""
        return self._net.get().list_ports(**filters)

    def create_port(self, **attrs: Any) -> nt.Port:
        """As :meth:`~ovnlb_octavia.neutron.Network.create_port`."""
        return self._net.get().create_port(**attrs)

    def delete_port(self, port_id: str) -> None:
        """As :meth:`~ovnlb_octavia.neutron.Network.delete_port`."""
        self._net.get().delete_port(port_id)

    def get_floating_ip(self, fip_id: str) -> Mapping[str, Any] | None:
        """As :meth:`~ovnlb_octavia.neutron.Network.get_floating_ip`."""
        return self._net.get().get_floating_ip(fip_id)

    def update_floating_ip(self, fip_id: str, **attrs: Any) -> None:
        """As :meth:`~ovnlb_octavia.neutron.Network.update_floating_ip`."""
        self._net.get().update_floating_ip(fip_id, **attrs)


def default_runtime() -> Runtime:
    """The process runtime from cfg.CONF: IdlBackend on ``[ovnlb] nb_connection``, Neutron
    from ``[neutron]``, DriverLibrary on ``[driver_agent]``'s socket paths."""
    from oslo_config import cfg

    from ovnlb_backends.idl import IdlBackend
    from ovnlb_octavia import config

    conf = config.register_opts()
    opts = conf.ovnlb

    def backend() -> Replica:
        return IdlBackend(
            config.remote(opts.nb_connection),
            timeout=opts.ovsdb_connection_timeout,
            ssl_key=opts.nb_private_key or None,
            ssl_cert=opts.nb_certificate or None,
            ssl_ca=opts.nb_ca_cert or None,
        )

    return Runtime(
        backend,
        LazyNetwork(lambda: nt.sdk_network(conf)),
        lambda: driver_library(cfg.CONF),
        push_attempts=opts.status_update_attempts,
        push_max_interval=opts.status_update_max_interval,
        commit_timeout=opts.octavia_commit_timeout,
    )
