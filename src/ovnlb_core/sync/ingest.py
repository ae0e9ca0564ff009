"""Octavia's view as JSON: everything about reading the Octavia API v2 and Neutron API v2
JSON of a view (docs/sync.md) into :class:`DesiredLb` values and subnets lives here.

The API objects are renamed into the provider (octavia-lib) dicts the requests take:
``id`` becomes ``<kind>_id``, the parent's id is added, unset admin states are up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from ovnlb_core.errors import SourceFormatError
from ovnlb_core.octavia import OctaviaView
from ovnlb_core.topology import Subnet, subnets_from_neutron
from ovnlb_core.viewcheck import check_view
from ovnlb_core.viewdoc import items, members_by_pool, related_ids

__all__ = [
    "VIEW_FORMAT",
    "DesiredLb",
    "view_from_api",
]


#: The ``format`` tag of a view document (docs/sync.md); optional in the document.
VIEW_FORMAT = "ovnlb-octavia-view/1"


@attrs.frozen
class DesiredLb:
    """One load balancer as Octavia holds it, in provider (octavia-lib) field names.

    ``data`` is the provider dict of the load balancer (``loadbalancer_id``,
    ``vip_address``, ``vip_port_id``, ``vip_network_id``, ``vip_subnet_id``,
    ``admin_state_up``, ``additional_vips``) with ``listeners`` and ``pools``
    (each pool with its ``members`` and ``healthmonitor``) nested, as
    octavia-lib's ``to_dict(recurse=True)`` renders them.
    """

    data: Mapping[str, Any]
    vip_fip: str | None = None
    additional_vip_fips: tuple[str, ...] = ()
    #: Inconsistencies of the view for this load balancer (ovnlb_core.viewcheck):
    #: a sync reports them as its error and writes nothing for it.
    problems: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        """The Octavia load balancer id."""
        return str(self.data.get("loadbalancer_id", ""))

    def view(self) -> OctaviaView:
        """The :class:`OctaviaView` requests consult (admin states, VIP subnet, ...)."""
        v = OctaviaView()
        lb = {k: x for k, x in self.data.items() if k not in ("listeners", "pools")}
        v.loadbalancers[self.id] = lb
        for li in self.data.get("listeners") or ():
            v.listeners[li["listener_id"]] = li
        for p in self.data.get("pools") or ():
            v.pools[p["pool_id"]] = {k: x for k, x in p.items() if k != "members"}
            for m in p.get("members") or ():
                v.members[m["member_id"]] = m
            hm = p.get("healthmonitor")
            if hm:
                v.healthmonitors[hm["healthmonitor_id"]] = hm
        return v


def _bool(obj: Mapping[str, Any], key: str) -> Any:
    value = obj.get(key, True)
    return True if value is None else value


#: How a provider field is read from the API object: None, the API field of the same name.
_Field = Callable[[Mapping[str, Any]], Any] | None


def _provider(
    obj: Mapping[str, Any], kind: str, parent: tuple[str, str], fields: Mapping[str, _Field]
) -> dict[str, Any]:
    """An API object as a provider dict: ``<kind>_id``, the parent's id, then ``fields``
    (:data:`_Field`), with
    ``admin_state_up`` defaulting to True."""
    out: dict[str, Any] = {f"{kind}_id": obj["id"], parent[0]: parent[1]}
    for name, how in fields.items():
        out[name] = how(obj) if how is not None else obj.get(name)
    return out


def _or_none(key: str) -> Callable[[Mapping[str, Any]], Any]:
    return lambda obj: obj.get(key) or None


def _admin(obj: Mapping[str, Any]) -> Any:
    return _bool(obj, "admin_state_up")


_LISTENER: dict[str, _Field] = {
    "protocol": None,
    "protocol_port": None,
    "default_pool_id": _or_none("default_pool_id"),
    "admin_state_up": _admin,
    "allowed_cidrs": lambda li: li.get("allowed_cidrs") or [],
}
_MEMBER: dict[str, _Field] = {
    "address": None,
    "protocol_port": None,
    "subnet_id": _or_none("subnet_id"),
    "admin_state_up": _admin,
    "weight": None,
    "backup": lambda m: bool(m.get("backup") or False),
    "monitor_address": None,
    "monitor_port": None,
}
_HM: dict[str, _Field] = {
    "type": None,
    "delay": None,
    "timeout": None,
    "max_retries": None,
    "max_retries_down": None,
    "admin_state_up": _admin,
}


def _listener(li: Mapping[str, Any], lb_id: str) -> dict[str, Any]:
    return _provider(li, "listener", ("loadbalancer_id", lb_id), _LISTENER)


def _member(m: Mapping[str, Any], pool_id: str) -> dict[str, Any]:
    return _provider(m, "member", ("pool_id", pool_id), _MEMBER)


def _hm(hm: Mapping[str, Any], pool_id: str) -> dict[str, Any]:
    return _provider(hm, "healthmonitor", ("pool_id", pool_id), _HM)


def _pool(
    p: Mapping[str, Any],
    lb_id: str,
    members: Sequence[Mapping[str, Any]],
    hm: Mapping[str, Any] | None,
) -> dict[str, Any]:
    sp = p.get("session_persistence")
    if isinstance(sp, Mapping):
        # The API prints unset fields as null; the provider API leaves them out.
        sp = {k: v for k, v in sp.items() if v is not None}
    return {
        "pool_id": p["id"],
        "loadbalancer_id": lb_id,
        "listener_id": None,
        "protocol": p.get("protocol"),
        "lb_algorithm": p.get("lb_algorithm"),
        "session_persistence": sp or None,
        "admin_state_up": _bool(p, "admin_state_up"),
        "members": [_member(m, p["id"]) for m in members],
        "healthmonitor": _hm(hm, p["id"]) if hm else None,
    }


def _port_of(ports: Sequence[Mapping[str, Any]], ip: str, subnet_id: str | None) -> str | None:
    for port in ports:
        for fixed in port.get("fixed_ips") or ():
            if fixed.get("ip_address") == ip and (
                subnet_id is None or fixed.get("subnet_id") == subnet_id
            ):
                return str(port["id"])
    return None


def view_from_api(doc: Mapping[str, Any]) -> tuple[list[DesiredLb], dict[str, Subnet]]:
    """Octavia API v2 and Neutron API v2 JSON -> the desired load balancers and the subnets.

    ``doc`` holds the lists the API answers (docs/sync.md): ``loadbalancers``,
    ``listeners``, ``pools``, ``members`` (by pool id, or a list whose items
    name their ``pool_id``), ``healthmonitors``, and ``neutron`` with
    ``subnets``, ``floatingips`` and ``ports``. Load balancers of another
    provider than ``ovn`` are left out.
    """
    if not isinstance(doc, Mapping):
        raise SourceFormatError("Octavia's view must be a JSON object")
    if doc.get("format", VIEW_FORMAT) != VIEW_FORMAT:
        raise SourceFormatError(f"format {doc.get('format')!r} is not {VIEW_FORMAT!r}")
    neutron = doc.get("neutron") or {}
    if not isinstance(neutron, Mapping):
        raise SourceFormatError("'neutron' must be an object")
    checked = check_view(doc)
    if checked.fatal:
        raise SourceFormatError("; ".join(checked.fatal))
    try:
        subnets = subnets_from_neutron(items(neutron.get("subnets"), "subnets", "subnet"))
    except KeyError as exc:
        raise SourceFormatError(f"a subnet lacks {exc}") from None
    fips = items(
        neutron.get("floatingips", neutron.get("floating_ips")), "floatingips", "floatingip"
    )
    ports = items(neutron.get("ports"), "ports", "port")
    listeners = items(doc.get("listeners"), "listeners", "listener")
    pools = items(doc.get("pools"), "pools", "pool")
    hms = items(doc.get("healthmonitors"), "healthmonitors", "healthmonitor")
    members = members_by_pool(doc)
    out: list[DesiredLb] = []
    seen: set[str] = set()
    for lb in items(doc.get("loadbalancers"), "loadbalancers", "loadbalancer"):
        if lb.get("provider") not in (None, "ovn") or str(lb["id"]) in seen:
            continue
        lb_id = str(lb["id"])
        seen.add(lb_id)
        lb_listeners = set(related_ids(lb.get("listeners")))
        lb_pools = set(related_ids(lb.get("pools")))
        my_listeners = [
            li
            for li in listeners
            if li["id"] in lb_listeners or lb_id in related_ids(li.get("loadbalancers"))
        ]
        my_pools = []
        for p in pools:
            if p["id"] not in lb_pools and lb_id not in related_ids(p.get("loadbalancers")):
                continue
            hm = next(
                (
                    h
                    for h in hms
                    if p["id"] in related_ids(h.get("pools"))
                    or h["id"] == p.get("healthmonitor_id")
                ),
                None,
            )
            my_pools.append(_pool(p, lb_id, members.get(p["id"], []), hm))
        add = []
        for a in lb.get("additional_vips") or ():
            if not isinstance(a, Mapping):
                raise SourceFormatError(f"loadbalancer {lb_id}: additional_vips must be objects")
            subnet = subnets.get(str(a.get("subnet_id")))
            port_id = a.get("port_id") or _port_of(ports, str(a.get("ip_address")), None)
            add.append(
                {
                    "ip_address": a.get("ip_address"),
                    "subnet_id": a.get("subnet_id"),
                    "network_id": a.get("network_id") or (subnet.network_id if subnet else None),
                    "port_id": port_id,
                }
            )
        data = {
            "loadbalancer_id": lb_id,
            "name": lb.get("name"),
            "admin_state_up": _bool(lb, "admin_state_up"),
            "vip_address": lb.get("vip_address"),
            "vip_port_id": lb.get("vip_port_id"),
            "vip_network_id": lb.get("vip_network_id"),
            "vip_subnet_id": lb.get("vip_subnet_id"),
            "additional_vips": add,
            "listeners": [_listener(li, lb_id) for li in my_listeners],
            "pools": my_pools,
        }
        vip_fip = None
        add_fips: list[str] = []
        add_ports = [a["port_id"] for a in add if a["port_id"]]
        for f in fips:
            port = f.get("port_id")
            address = f.get("floating_ip_address")
            if not port or not isinstance(address, str):
                continue
            if port == lb.get("vip_port_id") and vip_fip is None:
                vip_fip = address
            elif port in add_ports:
                add_fips.append(address)
        out.append(DesiredLb(data, vip_fip, tuple(add_fips), checked.errors.get(lb_id, ())))
    return out, subnets
