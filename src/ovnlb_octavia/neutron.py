"""The Neutron side of the provider: subnets it reads, ports it manages (as the reference does).

:class:`Network` is the seam: the few Neutron calls the provider makes.
:class:`SdkNetwork` implements it with an openstacksdk ``network`` proxy on a
keystoneauth session built from Octavia's ``[neutron]`` section (auth options
missing there are taken from ``[service_auth]``, as the reference does);
tests give a local Neutron instead.

Ports (names, owners and ids exactly the reference's, so either provider
finds the other's ports):

* VIP port ``ovn-lb-vip-<lb>`` and additional VIP ports
  ``ovn-lb-vip-additional-<n>-<lb>``: device owner ``ovn-lb:vip``, device id
  ``lb-<lb>``; created by :func:`create_vip_ports`, deleted with the LB;
* health-check source port ``ovn-lb-hm-<subnet>`` (name and device id),
  device owner ``ovn-lb-hm:distributed`` (ML2/OVN makes it a ``localport``),
  port security off: :func:`ensure_hm_port` before a health monitor needs
  it, :func:`cleanup_hm_ports` once no ``ip_port_mappings`` uses its IP.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

from ovnlb_core.formats import parse_mapping_value
from ovnlb_core.nb import NbReader
from ovnlb_core.topology import Subnet

__all__ = [
    "ADDITIONAL_VIP_PORT_PREFIX",
    "HM_DEVICE_OWNER",
    "HM_PORT_PREFIX",
    "VIP_DEVICE_OWNER",
    "VIP_PORT_PREFIX",
    "Network",
    "NeutronConflict",
    "NeutronError",
    "NeutronSubnets",
    "Port",
    "SdkNetwork",
    "cleanup_hm_ports",
    "create_vip_ports",
    "delete_vip_ports",
    "ensure_hm_port",
    "mapped_ips",
    "sdk_network",
    "touch_floating_ip",
]

log = logging.getLogger(__name__)

VIP_PORT_PREFIX = "ovn-lb-vip-"
ADDITIONAL_VIP_PORT_PREFIX = "ovn-lb-vip-additional-"
VIP_DEVICE_OWNER = "ovn-lb:vip"
HM_PORT_PREFIX = "ovn-lb-hm-"
HM_DEVICE_OWNER = "ovn-lb-hm:distributed"

Port = Mapping[str, Any]


class NeutronError(Exception):
    """Neutron refused or failed a call."""


class NeutronConflict(NeutronError):
    """Neutron answered 409 (e.g. the requested address is taken)."""


class Network(Protocol):
    """The Neutron calls the provider makes (dicts in Neutron's API field names)."""

    def get_subnet(self, subnet_id: str) -> Mapping[str, Any] | None:
        """The subnet, or None when Neutron does not know it."""
        ...

    def get_port(self, port_id: str) -> Port | None:
        """The port, or None."""
        ...

    def list_ports(self, **filters: Any) -> list[Port]:
        """Ports matching every filter (``name=``, ``network_id=``, ``device_id=``...)."""
        ...

    def create_port(self, **attrs: Any) -> Port:
        """Create a port (raises :class:`NeutronConflict` on 409, else :class:`NeutronError`)."""
        ...

    def delete_port(self, port_id: str) -> None:
        """Delete a port (absent is fine)."""
        ...

    def get_floating_ip(self, fip_id: str) -> Mapping[str, Any] | None:
        """The floating IP, or None."""
        ...

    def update_floating_ip(self, fip_id: str, **attrs: Any) -> None:
        """Update a floating IP."""
        ...


class SdkNetwork:
    """:class:`Network` over an openstacksdk ``network`` proxy."""

    def __init__(self, proxy: Any) -> None:
        self.proxy = proxy

    @staticmethod
    def _plain(resource: Any) -> dict[str, Any]:
        out = resource.to_dict(computed=False) if hasattr(resource, "to_dict") else dict(resource)
        return dict(out)

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from openstack import exceptions as sdk_exc

        try:
            return fn(*args, **kwargs)
        except sdk_exc.ResourceNotFound:
            return None
        except sdk_exc.ConflictException as e:
            raise NeutronConflict(_message(e)) from e
        except sdk_exc.SDKException as e:
            raise NeutronError(_message(e)) from e

    def get_subnet(self, subnet_id: str) -> Mapping[str, Any] | None:
        found = self._call(self.proxy.get_subnet, subnet_id)
        return None if found is None else self._plain(found)

    def get_port(self, port_id: str) -> Port | None:
        found = self._call(self.proxy.get_port, port_id)
        return None if found is None else self._plain(found)

    def list_ports(self, **filters: Any) -> list[Port]:
        found = self._call(lambda: list(self.proxy.ports(**filters)))
        return [self._plain(p) for p in found or ()]

    def create_port(self, **attrs: Any) -> Port:
        created = self._call(self.proxy.create_port, **attrs)
        if created is None:
            raise NeutronError(f"port {attrs.get('name')}: network not found")
        return self._plain(created)

    def delete_port(self, port_id: str) -> None:
        self._call(self.proxy.delete_port, port_id, ignore_missing=True)

    def get_floating_ip(self, fip_id: str) -> Mapping[str, Any] | None:
        found = self._call(self.proxy.get_ip, fip_id)
        return None if found is None else self._plain(found)

    def update_floating_ip(self, fip_id: str, **attrs: Any) -> None:
        self._call(self.proxy.update_ip, fip_id, **attrs)


def _message(e: Exception) -> str:
    for attr in ("details", "message"):
        value = getattr(e, attr, None)
        if value:
            return str(value)
    return str(e)


def sdk_network(conf: Any) -> SdkNetwork:
    """An :class:`SdkNetwork` from ``[neutron]`` (missing auth options from ``[service_auth]``)."""
    import openstack
    from keystoneauth1 import exceptions as ks_exc
    from keystoneauth1 import loading as ks_loading
    from oslo_config import cfg

    _register_ksa(conf)
    try:
        auth = ks_loading.load_auth_from_conf_options(conf, "neutron")
    except ks_exc.auth_plugins.MissingRequiredOptions:
        # Deployments that kept the credentials in [service_auth] only (the
        # python-neutronclient era) still work: copy what [neutron] leaves unset.
        ks_loading.load_auth_from_conf_options(conf, "service_auth")
        section = conf.neutron
        for opt in section:
            loc = conf.get_location(opt, "neutron")
            unset = loc is None or loc.location in (
                cfg.Locations.opt_default,
                cfg.Locations.set_default,
            )
            if unset and hasattr(conf.service_auth, opt):
                conf.set_override(opt, getattr(conf.service_auth, opt), "neutron")
        auth = ks_loading.load_auth_from_conf_options(conf, "neutron")
    session = ks_loading.load_session_from_conf_options(conf, "neutron", auth=auth)
    kwargs: dict[str, Any] = {"region_name": conf.neutron.region_name}
    interfaces = conf.neutron.valid_interfaces
    if interfaces:
        kwargs["interface"] = interfaces[0] if isinstance(interfaces, list) else interfaces
    if conf.neutron.endpoint_override:
        kwargs["network_endpoint_override"] = conf.neutron.endpoint_override
    return SdkNetwork(openstack.connection.Connection(session=session, **kwargs).network)


def _register_ksa(conf: Any) -> None:
    """Octavia registers these groups itself; outside Octavia (the agent, tests) we do."""
    from keystoneauth1 import loading as ks_loading
    from oslo_config import cfg

    for group in ("neutron", "service_auth"):
        for register in (
            ks_loading.register_auth_conf_options,
            ks_loading.register_session_conf_options,
            ks_loading.register_adapter_conf_options,
        ):
            with contextlib.suppress(cfg.DuplicateOptError):
                register(conf, group)


class NeutronSubnets(Mapping[str, Subnet]):
    """Neutron subnets as the :class:`~ovnlb_core.topology.Topology` mapping, fetched on demand.

    A subnet's network and CIDR never change, so answers are kept for the
    life of the process. Iteration covers the subnets fetched so far.
    """

    def __init__(self, network: Network) -> None:
        self.network = network
        self._known: dict[str, Subnet] = {}
        self._missing: set[str] = set()

    def __getitem__(self, subnet_id: str) -> Subnet:
        found = self._known.get(subnet_id)
        if found is not None:
            return found
        data = self.network.get_subnet(subnet_id)
        if data is None:
            raise KeyError(subnet_id)
        subnet = Subnet(str(data["id"]), str(data["network_id"]), str(data["cidr"]))
        self._known[subnet_id] = subnet
        return subnet

    def fetch(self, subnet_ids: Sequence[str | None]) -> None:
        """Make sure these subnets are known (so iteration sees them)."""
        for sid in subnet_ids:
            if sid and sid not in self._known:
                try:
                    self[sid]
                except KeyError:
                    log.warning("subnet %s not found in Neutron", sid)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._known))

    def __len__(self) -> int:
        return len(self._known)


# -- ports -------------------------------------------------------------------------------


def _vip_port_attrs(
    name: str,
    lb_id: str,
    project_id: str | None,
    network_id: str | None,
    subnet_id: str | None,
    address: str | None,
) -> dict[str, Any]:
    fixed: dict[str, Any] = {}
    if subnet_id:
        fixed["subnet_id"] = subnet_id
    if address:
        fixed["ip_address"] = address
    attrs: dict[str, Any] = {
        "name": name,
        "network_id": network_id,
        "admin_state_up": True,
        "device_owner": VIP_DEVICE_OWNER,
        "device_id": f"lb-{lb_id}",
    }
    if fixed:
        attrs["fixed_ips"] = [fixed]
    if project_id:
        attrs["project_id"] = project_id
    return attrs


def _create_or_find(network: Network, attrs: Mapping[str, Any]) -> Port:
    """Create; on 409 use a port of that name if there is one (a retried request made it)."""
    try:
        return network.create_port(**attrs)
    except NeutronConflict:
        found = network.list_ports(name=attrs["name"], network_id=attrs["network_id"])
        if found:
            return found[0]
        raise


def create_vip_ports(
    network: Network,
    lb_id: str,
    project_id: str | None,
    vip: Mapping[str, Any],
    additional: Sequence[Mapping[str, Any]] = (),
) -> tuple[Port, list[Port]]:
    """The VIP port (a user-given ``vip_port_id`` is only read) and the additional VIP ports.

    On a failure the ports this call created are deleted again, then the
    error is raised (:class:`NeutronConflict` for a taken address).
    """
    created: list[Port] = []
    try:
        given = vip.get("vip_port_id")
        if given:
            port = network.get_port(str(given))
            if port is None:
                raise NeutronError(f"VIP port {given} not found")
        else:
            port = _create_or_find(
                network,
                _vip_port_attrs(
                    f"{VIP_PORT_PREFIX}{lb_id}",
                    lb_id,
                    project_id,
                    vip.get("vip_network_id"),
                    vip.get("vip_subnet_id"),
                    vip.get("vip_address"),
                ),
            )
            created.append(port)
        extra: list[Port] = []
        for n, add in enumerate(additional, start=1):
            p = _create_or_find(
                network,
                _vip_port_attrs(
                    f"{ADDITIONAL_VIP_PORT_PREFIX}{n}-{lb_id}",
                    lb_id,
                    project_id,
                    add.get("network_id") or vip.get("vip_network_id"),
                    add.get("subnet_id"),
                    add.get("ip_address"),
                ),
            )
            created.append(p)
            extra.append(p)
        return port, extra
    except NeutronError:
        for p in created:
            try:
                network.delete_port(str(p["id"]))
            except NeutronError:
                log.exception("could not delete port %s after a failed VIP creation", p["id"])
        raise


def delete_vip_ports(network: Network, lb_id: str) -> None:
    """Delete the VIP ports the provider created for ``lb_id`` (found by device id and owner)."""
    for p in network.list_ports(device_id=f"lb-{lb_id}"):
        if p.get("device_owner") == VIP_DEVICE_OWNER and str(p.get("name", "")).startswith(
            VIP_PORT_PREFIX
        ):
            network.delete_port(str(p["id"]))


def ensure_hm_port(network: Network, network_id: str, subnet_id: str) -> Port | None:
    """The health-check source port of ``subnet_id``, created when missing (None on failure)."""
    name = HM_PORT_PREFIX + subnet_id
    found = network.list_ports(name=name, network_id=network_id)
    if found:
        return found[0]
    try:
        return network.create_port(
            name=name,
            network_id=network_id,
            fixed_ips=[{"subnet_id": subnet_id}],
            admin_state_up=True,
            port_security_enabled=False,
            device_owner=HM_DEVICE_OWNER,
            device_id=name,
        )
    except NeutronError:
        log.exception("could not create the health-check port of subnet %s", subnet_id)
        # A half-made port (timeout after Neutron created it) would linger unused.
        for p in network.list_ports(name=name):
            network.delete_port(str(p["id"]))
        return None


def mapped_ips(reader: NbReader) -> set[str]:
    """Every health-check source IP some load balancer's ``ip_port_mappings`` uses."""
    used: set[str] = set()
    for _u, lb in reader.rows("Load_Balancer").items():
        for value in (lb.get("ip_port_mappings") or {}).values():
            used.add(parse_mapping_value(str(value))[1])
    return used


def cleanup_hm_ports(network: Network, reader: NbReader, subnet_ids: Sequence[str]) -> list[str]:
    """Delete the health-check ports of these subnets whose IP no mapping uses; their ids."""
    used = mapped_ips(reader)
    deleted: list[str] = []
    for subnet_id in subnet_ids:
        for p in network.list_ports(name=HM_PORT_PREFIX + subnet_id):
            ips = [
                str(f.get("ip_address"))
                for f in p.get("fixed_ips") or ()
                if f.get("subnet_id") == subnet_id
            ]
            if ips and not any(ip in used for ip in ips):
                network.delete_port(str(p["id"]))
                deleted.append(str(p["id"]))
    return deleted


def touch_floating_ip(network: Network, fip_id: str) -> bool:
    """The reference's empty update of a floating IP, so Neutron recomputes its DVR placement."""
    fip = network.get_floating_ip(fip_id)
    if fip is None:
        log.warning("floating IP %s not found; its DVR placement is not recomputed", fip_id)
        return False
    network.update_floating_ip(fip_id, description=fip.get("description") or "")
    return True
