"""What translation needs to know of the network (spec section 3).

Neutron's OVN driver writes the topology into NB (switches, router ports,
router-interface LSPs with ``neutron:cidrs``, NAT rows); Neutron itself is
only needed for subnets (id -> network, CIDR). :class:`Topology` answers the
questions the requests ask, from an :class:`~ovnlb_core.nb.NbReader` and the
subnets, without side effects.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

import attrs

from ovnlb_core.nb import NbReader, Row

DEVICE_OWNER_RI = "network:router_interface"
PROVNET_KEY = "neutron:provnet-physical-network"
HM_PORT_PREFIX = "ovn-lb-hm-"


def ovn_name(network_or_router: str) -> str:
    """``neutron-<id>`` unless the text already starts with ``neutron-``."""
    return (
        network_or_router
        if network_or_router.startswith("neutron-")
        else (f"neutron-{network_or_router}")
    )


@attrs.frozen
class Subnet:
    """A Neutron subnet: the facts translation needs."""

    id: str
    network_id: str
    cidr: str
    ip_version: int = attrs.field()

    @ip_version.default
    def _version(self) -> int:
        return 6 if ":" in self.cidr else 4

    def contains(self, address: str) -> bool:
        """True when ``address`` lies in the subnet."""
        try:
            return ipaddress.ip_address(address) in ipaddress.ip_network(self.cidr, strict=False)
        except ValueError:
            return False


def interface_cidrs(lsp: Row | None, lrp: Row | None) -> tuple[str, ...]:
    """The CIDRs a router interface serves: its LSP's ``neutron:cidrs``, or when the LSP
    lacks them (a foreign writer, an older Neutron), the peer LRP's ``networks``.

    The one rule for "which subnets does this interface connect", shared by the request
    path and sync (:meth:`Topology.routers_of_subnet`) and the event handling
    (:func:`ovnlb_core.events.router_interfaces`), so that they never disagree on such an
    interface. The reference raises ``KeyError`` without the key on the request path
    (spec 3.1) while its LRP event attaches the load balancer anyway (spec 3.6); the LRP's
    ``networks`` is what OVN routes, so the interface is taken for what it connects.
    """
    ext = lsp.get("external_ids", {}) if lsp is not None else {}
    cidrs = tuple(str(ext.get("neutron:cidrs", "")).split())
    if cidrs or lrp is None:
        return cidrs
    return tuple(str(n) for n in lrp.get("networks", ()))


def _same_network(cidr_text: str, subnet_cidr: str) -> bool:
    try:
        return ipaddress.ip_network(cidr_text, strict=False) == ipaddress.ip_network(
            subnet_cidr, strict=False
        )
    except ValueError:
        return False


def _ip_version(address: str) -> int:
    return 6 if ":" in address else 4


@attrs.frozen
class Topology:
    """Read-only questions about the NB topology plus Neutron subnets."""

    nb: NbReader
    subnets: Mapping[str, Subnet] = attrs.field(factory=dict)

    # -- switches ------------------------------------------------------------------

    def switch(self, ls_name: str) -> tuple[str, Row] | None:
        """The ``Logical_Switch`` row named ``ls_name``."""
        found = self.nb.by_name("Logical_Switch", ls_name)
        return found[0] if found else None

    def switch_exists(self, ls_name: str) -> bool:
        """True when NB has that switch."""
        return self.switch(ls_name) is not None

    def is_provider(self, ls_name: str) -> bool:
        """True when the switch is a provider network (the LB is never attached to it)."""
        found = self.switch(ls_name)
        return bool(found and found[1].get("external_ids", {}).get(PROVNET_KEY))

    def subnet(self, subnet_id: str | None) -> Subnet | None:
        """The subnet, if Neutron knows it."""
        return self.subnets.get(subnet_id) if subnet_id else None

    def _ports(self, ls_name: str) -> list[Row]:
        found = self.switch(ls_name)
        if found is None:
            return []
        lsps = self.nb.rows("Logical_Switch_Port")
        return [lsps[u] for u in found[1].get("ports", ()) if u in lsps]

    # -- routers -------------------------------------------------------------------

    def routers_of_subnet(self, ls_name: str, cidr: str) -> list[str]:
        """Routers with an interface on ``ls_name`` for ``cidr`` (spec 3.2), without duplicates."""
        out: list[str] = []
        for lsp in self._ports(ls_name):
            ext = lsp.get("external_ids", {})
            if lsp.get("type") != "router" or ext.get("neutron:device_owner") != DEVICE_OWNER_RI:
                continue
            lrp_name = lsp.get("options", {}).get("router-port", "")
            lrps = self.nb.by_name("Logical_Router_Port", lrp_name) if lrp_name else []
            cidrs = interface_cidrs(lsp, lrps[0][1] if lrps else None)
            if not any(_same_network(c, cidr) for c in cidrs):
                continue
            lr = self._router_of_lrp(lrp_name)
            if lr is not None and lr not in out:
                out.append(lr)
        return out

    def _router_of_lrp(self, lrp_name: str) -> str | None:
        if not lrp_name:
            return None
        lrps = self.nb.by_name("Logical_Router_Port", lrp_name)
        if not lrps:
            return None
        lrp_uuid = lrps[0][0]
        referrers = getattr(self.nb, "referrers", None)
        if referrers is not None:
            found: list[tuple[str, Row]] = referrers("Logical_Router", "ports", lrp_uuid)
            return str(found[0][1].get("name", "")) if found else None
        for _u, lr in self.nb.rows("Logical_Router").items():
            if lrp_uuid in lr.get("ports", ()):
                return str(lr.get("name", ""))
        return None

    def router_exists(self, lr_name: str) -> bool:
        """True when NB has that router."""
        return bool(self.nb.by_name("Logical_Router", lr_name))

    def switches_of_router(self, lr_name: str, ip_version: int) -> list[str]:
        """Existing switches behind the router's non-gateway ports of one IP family (spec 3.2)."""
        found = self.nb.by_name("Logical_Router", lr_name)
        if not found:
            return []
        lrps = self.nb.rows("Logical_Router_Port")
        out: list[str] = []
        for u in found[0][1].get("ports", ()):
            lrp: Row | None = lrps.get(u)
            if lrp is None or lrp.get("gateway_chassis") or lrp.get("ha_chassis_group"):
                continue
            networks = lrp.get("networks", ())
            if not networks or _ip_version(networks[0].split("/")[0]) != ip_version:
                continue
            net = lrp.get("external_ids", {}).get("neutron:network_name")
            if not net:
                continue
            ls = ovn_name(net)
            if ls not in out and self.switch_exists(ls):
                out.append(ls)
        return out

    # -- ports -----------------------------------------------------------------------

    def member_port(self, subnet_id: str, address: str) -> Row | None:
        """The LSP on the subnet's network whose addresses contain ``address``."""
        subnet = self.subnet(subnet_id)
        if subnet is None:
            return None
        for lsp in self._ports(ovn_name(subnet.network_id)):
            # Tokens are a MAC then IPs; a MAC never equals an IP address.
            for entry in lsp.get("addresses", ()):
                if address in entry.split():
                    return lsp
        return None

    def hm_source_ip(self, subnet_id: str) -> str | None:
        """The fixed IP on ``subnet_id`` of the health-monitor port ``ovn-lb-hm-<subnet>``."""
        subnet = self.subnet(subnet_id)
        if subnet is None:
            return None
        name = HM_PORT_PREFIX + subnet_id
        for lsp in self._ports(ovn_name(subnet.network_id)):
            if lsp.get("external_ids", {}).get("neutron:port_name") != name:
                continue
            for entry in lsp.get("addresses", ()):
                for token in entry.split():
                    if subnet.contains(token):
                        return str(token)
            for cidr in lsp.get("external_ids", {}).get("neutron:cidrs", "").split():
                ip = str(cidr).split("/")[0]
                if subnet.contains(ip):
                    return ip
        return None

    def nats_of_port(self, lsp_name: str) -> list[tuple[str, Row]]:
        """NAT rows of floating IPs associated with the port (``neutron:fip_port_id``)."""
        return [
            (u, r)
            for u, r in self.nb.rows("NAT").items()
            if r.get("external_ids", {}).get("neutron:fip_port_id") == lsp_name
        ]


def subnets_from_neutron(subnets: Any) -> dict[str, Subnet]:
    """Subnets from Neutron API shaped dicts (``id``, ``network_id``, ``cidr``)."""
    return {s["id"]: Subnet(s["id"], s["network_id"], s["cidr"]) for s in subnets}
