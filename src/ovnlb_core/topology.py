"""Everything about the network as requests see it lives here (spec section 3).

Neutron's OVN driver writes the topology into NB (switches, router ports,
router-interface LSPs with ``neutron:cidrs``, NAT rows); Neutron itself is
only needed for subnets (id -> network, CIDR). :class:`Topology` answers the
questions the requests ask, from an :class:`~ovnlb_core.nb.NbReader` and the
subnets, without side effects.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import attrs

from ovnlb_core.formats import ip_version as address_version
from ovnlb_core.nb import SCHEMA, NbReader, Row

__all__ = [
    "DEVICE_OWNER_RI",
    "HM_PORT_PREFIX",
    "INDEXED_EXTERNAL_IDS",
    "PROVNET_KEY",
    "RowList",
    "ScannedReader",
    "Subnet",
    "Topology",
    "TopologyReader",
    "as_topology_reader",
    "interface_cidrs",
    "ovn_name",
    "port_keys",
    "subnets_from_neutron",
]

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
        return address_version(self.cidr)

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


#: ``(table, external_ids key)`` pairs a :class:`TopologyReader` answers by value.
INDEXED_EXTERNAL_IDS: frozenset[tuple[str, str]] = frozenset(
    {
        ("Logical_Switch_Port", "neutron:port_name"),
        ("NAT", "neutron:fip_port_id"),
    }
)

RowList = list[tuple[str, Row]]


@runtime_checkable
class TopologyReader(NbReader, Protocol):
    """An :class:`~ovnlb_core.nb.NbReader` that also answers the topology's lookups.

    Every backend's reader implements it with indexes it keeps up to date as
    rows change, so that one answer costs the rows it returns, not a scan of
    the tables (ports, switches, routers, NATs). Results are ``(uuid, row)``
    pairs sorted by UUID.
    """

    def row(self, table: str, uuid: str) -> Row | None:
        """Row ``uuid`` of ``table``, or None."""
        ...

    def referrers(self, table: str, column: str, uuid: str) -> RowList:
        """Rows of ``table`` whose reference column ``column`` holds ``uuid``."""
        ...

    def switch_ports_of_type(self, ls_uuid: str, port_type: str) -> RowList:
        """``Logical_Switch_Port`` rows of switch ``ls_uuid`` whose ``type`` is ``port_type``."""
        ...

    def switch_ports_with_address(self, ls_uuid: str, address: str) -> RowList:
        """Ports of switch ``ls_uuid`` with ``address`` as a blank-separated token of an entry of
        their ``addresses`` (a MAC, an IP, ``router``...)."""
        ...

    def rows_with_external_id(self, table: str, key: str, value: str) -> RowList:
        """Rows of ``table`` with ``external_ids[key] == value``, for the pairs of
        :data:`INDEXED_EXTERNAL_IDS` (KeyError for others)."""
        ...


def _sorted_rows(rows: Mapping[str, Row], uuids: Iterable[str]) -> RowList:
    out: RowList = []
    for u in sorted(uuids):
        row = rows.get(u)
        if row is not None:
            out.append((u, row))
    return out


class ScannedReader:
    """A :class:`TopologyReader` over any :class:`~ovnlb_core.nb.NbReader`.

    For readers without indexes of their own (:class:`~ovnlb_core.nb.NbSnapshot`,
    a stale view): each index is built by one scan of its table on first
    use and kept, so the wrapped rows must not change while it is used.
    """

    def __init__(self, nb: NbReader) -> None:
        self.nb = nb
        self._refs: dict[tuple[str, str], dict[str, set[str]]] = {}
        self._ports: dict[tuple[str, str, str], set[str]] | None = None
        self._ext: dict[tuple[str, str], dict[str, set[str]]] = {}

    def rows(self, table: str) -> Mapping[str, Row]:
        """All rows of ``table`` (the wrapped reader's)."""
        return self.nb.rows(table)

    def by_name(self, table: str, name: str) -> RowList:
        """Rows named ``name`` (the wrapped reader's answer)."""
        return self.nb.by_name(table, name)

    def row(self, table: str, uuid: str) -> Row | None:
        """Row ``uuid`` of ``table``, or None."""
        return self.nb.rows(table).get(uuid)

    def referrers(self, table: str, column: str, uuid: str) -> RowList:
        """Rows of ``table`` whose reference column ``column`` holds ``uuid``."""
        index = self._refs.get((table, column))
        if index is None:
            spec = SCHEMA.get(table, {}).get(column)
            if spec is None or spec.ref_table is None:
                raise KeyError(f"{table}.{column} is not a reference column")
            index = {}
            for u, r in self.nb.rows(table).items():
                value = r.get(column)
                targets = value if spec.kind == "set" else (() if value is None else (value,))
                for t in targets or ():
                    index.setdefault(t, set()).add(u)
            self._refs[(table, column)] = index
        return _sorted_rows(self.nb.rows(table), index.get(uuid, ()))

    def _port_index(self) -> dict[tuple[str, str, str], set[str]]:
        if self._ports is None:
            index: dict[tuple[str, str, str], set[str]] = {}
            lsps = self.nb.rows("Logical_Switch_Port")
            for ls_uuid, ls in self.nb.rows("Logical_Switch").items():
                for u in ls.get("ports", ()):
                    lsp = lsps.get(u)
                    if lsp is not None:
                        for key in port_keys(ls_uuid, lsp):
                            index.setdefault(key, set()).add(u)
            self._ports = index
        return self._ports

    def switch_ports_of_type(self, ls_uuid: str, port_type: str) -> RowList:
        """Ports of switch ``ls_uuid`` whose ``type`` is ``port_type``."""
        uuids = self._port_index().get((ls_uuid, "type", port_type), ())
        return _sorted_rows(self.nb.rows("Logical_Switch_Port"), uuids)

    def switch_ports_with_address(self, ls_uuid: str, address: str) -> RowList:
        """Ports of switch ``ls_uuid`` with the token ``address`` in ``addresses``."""
        uuids = self._port_index().get((ls_uuid, "addr", address), ())
        return _sorted_rows(self.nb.rows("Logical_Switch_Port"), uuids)

    def rows_with_external_id(self, table: str, key: str, value: str) -> RowList:
        """Rows of ``table`` with ``external_ids[key] == value``."""
        if (table, key) not in INDEXED_EXTERNAL_IDS:
            raise KeyError(f"{table} external_ids:{key} is not indexed")
        index = self._ext.get((table, key))
        if index is None:
            index = {}
            for u, r in self.nb.rows(table).items():
                v = r.get("external_ids", {}).get(key)
                if v is not None:
                    index.setdefault(v, set()).add(u)
            self._ext[(table, key)] = index
        return _sorted_rows(self.nb.rows(table), index.get(value, ()))

    def load_balancers_with_external_id(self, keys: Sequence[str]) -> RowList:
        """``Load_Balancer`` rows whose external_ids has one of ``keys`` (the wrapped reader's)."""
        return self.nb.load_balancers_with_external_id(keys)

    def load_balancers_with_mapping(self, key: str, value: str) -> RowList:
        """``Load_Balancer`` rows with ``ip_port_mappings[key] == value`` (the wrapped reader's)."""
        return self.nb.load_balancers_with_mapping(key, value)


def port_keys(ls_uuid: str, lsp: Row) -> set[tuple[str, str, str]]:
    """The keys a port of switch ``ls_uuid`` has in a switch-port index.

    ``(ls, "type", type)`` and ``(ls, "addr", token)`` for every token of its
    ``addresses`` entries. Shared by the backends' indexes so they agree.
    """
    keys = {(ls_uuid, "type", str(lsp.get("type", "")))}
    for entry in lsp.get("addresses", ()):
        for token in str(entry).split():
            keys.add((ls_uuid, "addr", token))
    return keys


def as_topology_reader(nb: NbReader) -> TopologyReader:
    """``nb`` itself when it has the topology indexes, else a :class:`ScannedReader` of it."""
    if isinstance(nb, TopologyReader):
        return nb
    return ScannedReader(nb)


@attrs.frozen
class Topology:
    """Read-only questions about the NB topology plus Neutron subnets.

    Every question is answered through the indexes of a
    :class:`TopologyReader` (the reader's own, or a :class:`ScannedReader`
    built once): its cost does not grow with the ports, switches, routers
    or NATs it does not return.
    """

    nb: NbReader
    subnets: Mapping[str, Subnet] = attrs.field(factory=dict)
    index: TopologyReader = attrs.field(init=False, eq=False, repr=False)

    @index.default
    def _index_default(self) -> TopologyReader:
        return as_topology_reader(self.nb)

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

    def _switch_uuid(self, ls_name: str) -> str | None:
        found = self.switch(ls_name)
        return found[0] if found else None

    # -- routers -------------------------------------------------------------------

    def routers_of_subnet(self, ls_name: str, cidr: str) -> list[str]:
        """Routers with an interface on ``ls_name`` for ``cidr`` (spec 3.2), without duplicates."""
        ls_uuid = self._switch_uuid(ls_name)
        if ls_uuid is None:
            return []
        out: list[str] = []
        for _u, lsp in self.index.switch_ports_of_type(ls_uuid, "router"):
            ext = lsp.get("external_ids", {})
            if ext.get("neutron:device_owner") != DEVICE_OWNER_RI:
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
        found = self.index.referrers("Logical_Router", "ports", lrps[0][0])
        return str(found[0][1].get("name", "")) if found else None

    def router_exists(self, lr_name: str) -> bool:
        """True when NB has that router."""
        return bool(self.nb.by_name("Logical_Router", lr_name))

    def switches_of_router(self, lr_name: str, ip_version: int) -> list[str]:
        """Existing switches behind the router's non-gateway ports of one IP family (spec 3.2)."""
        found = self.nb.by_name("Logical_Router", lr_name)
        if not found:
            return []
        out: list[str] = []
        for u in found[0][1].get("ports", ()):
            lrp = self.index.row("Logical_Router_Port", u)
            if lrp is None or lrp.get("gateway_chassis") or lrp.get("ha_chassis_group"):
                continue
            networks = lrp.get("networks", ())
            if not networks or address_version(networks[0].split("/")[0]) != ip_version:
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
        """The LSP on the subnet's network whose addresses contain ``address``.

        The first in the switch's port order (by UUID) when several do.
        """
        subnet = self.subnet(subnet_id)
        return (
            None if subnet is None else self.port_with_address(ovn_name(subnet.network_id), address)
        )

    def port_with_address(self, ls_name: str, address: str) -> Row | None:
        """The first port (by UUID) of switch ``ls_name`` with ``address`` in its addresses."""
        ls_uuid = self._switch_uuid(ls_name)
        if ls_uuid is None:
            return None
        # Tokens are a MAC then IPs; a MAC never equals an IP address.
        found = self.index.switch_ports_with_address(ls_uuid, address)
        return found[0][1] if found else None

    def hm_source_ip(self, subnet_id: str) -> str | None:
        """The fixed IP on ``subnet_id`` of the health-monitor port ``ovn-lb-hm-<subnet>``."""
        subnet = self.subnet(subnet_id)
        if subnet is None:
            return None
        ls_uuid = self._switch_uuid(ovn_name(subnet.network_id))
        if ls_uuid is None:
            return None
        name = HM_PORT_PREFIX + subnet_id
        for u, lsp in self.index.rows_with_external_id(
            "Logical_Switch_Port", "neutron:port_name", name
        ):
            if not any(
                s == ls_uuid for s, _r in self.index.referrers("Logical_Switch", "ports", u)
            ):
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
        return self.index.rows_with_external_id("NAT", "neutron:fip_port_id", lsp_name)


def subnets_from_neutron(subnets: Any) -> dict[str, Subnet]:
    """Subnets from Neutron API shaped dicts (``id``, ``network_id``, ``cidr``)."""
    return {s["id"]: Subnet(s["id"], s["network_id"], s["cidr"]) for s in subnets}
