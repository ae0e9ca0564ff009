"""A local Neutron that writes Logical_Switch_Ports into NB as ML2/OVN does.

:class:`LocalNeutron` keeps networks, subnets, ports, routers and floating IPs
in memory and, like Neutron's OVN mechanism driver, writes each network as a
``Logical_Switch`` ``neutron-<net>`` and each port as an LSP named by its id
(``addresses`` ``"<mac> <ip>"``, ``neutron:port_name``, ``neutron:cidrs``,
``neutron:device_owner``, ``neutron:network_name``, ``neutron:project_id``;
type ``localport`` for ``*:distributed`` owners; router interfaces as a
router-type LSP plus a ``Logical_Router_Port``) **before** answering, through
``ovn-nbctl``. It implements :class:`ovnlb_octavia.neutron.Network` directly
(provider tests) and is served over HTTP by :class:`NeutronCloud` (end to end,
openstacksdk and Octavia talk to it).
"""

from __future__ import annotations

import ipaddress
import json
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fake_openstack import TOKEN, FakeOpenStack, _Handler
from ovnlb_octavia.neutron import NeutronConflict, NeutronError

PROJECT = "5e4d3c2b-0000-4000-8000-00000000000a"

Nbctl = Callable[..., str]


def _q(value: str) -> str:
    """An ovn-nbctl quoted string."""
    return json.dumps(value)


class LocalNeutron:
    """See the module docstring. ``nbctl(*args)`` runs ``ovn-nbctl`` on the NB database."""

    def __init__(self, nbctl: Nbctl) -> None:
        self.nbctl = nbctl
        self.lock = threading.RLock()
        self.networks: dict[str, dict[str, Any]] = {}
        self.subnets: dict[str, dict[str, Any]] = {}
        self.ports: dict[str, dict[str, Any]] = {}
        self.floatingips: dict[str, dict[str, Any]] = {}
        self.routers: dict[str, dict[str, Any]] = {}
        #: Every write call: ("create_port", name), ("delete_port", id), ("update_fip", id).
        self.calls: list[tuple[str, str]] = []
        self._mac = 0x100

    # -- setup (what an operator did before Octavia) -----------------------------------

    def create_network(self, name: str, net_id: str | None = None) -> str:
        with self.lock:
            net_id = net_id or str(uuid.uuid4())
            self.networks[net_id] = {"id": net_id, "name": name, "project_id": PROJECT}
            ls = f"neutron-{net_id}"
            self.nbctl(
                "--",
                "ls-add",
                ls,
                "--",
                "set",
                "Logical_Switch",
                ls,
                f"external_ids:{_q('neutron:network_name')}={_q(name)}",
            )
            return net_id

    def create_subnet(self, network_id: str, cidr: str, subnet_id: str | None = None) -> str:
        with self.lock:
            subnet_id = subnet_id or str(uuid.uuid4())
            net = ipaddress.ip_network(cidr)
            self.subnets[subnet_id] = {
                "id": subnet_id,
                "network_id": network_id,
                "cidr": cidr,
                "ip_version": net.version,
                "gateway_ip": str(next(net.hosts())),
                "project_id": PROJECT,
                "name": f"subnet-{cidr}",
            }
            return subnet_id

    def add_router_interface(self, router_id: str, subnet_id: str) -> str:
        """A router interface on the subnet's gateway address (router-type LSP + LRP)."""
        with self.lock:
            sub = self.subnets[subnet_id]
            net = ipaddress.ip_network(sub["cidr"])
            gw = sub["gateway_ip"]
            port_id = str(uuid.uuid4())
            lr = f"neutron-{router_id}"
            if router_id not in self.routers:
                self.routers[router_id] = {"id": router_id}
                self.nbctl("--may-exist", "lr-add", lr)
            self.nbctl(
                "--",
                "lrp-add",
                lr,
                f"lrp-{port_id}",
                self._next_mac(),
                f"{gw}/{net.prefixlen}",
                "--",
                "set",
                "Logical_Router_Port",
                f"lrp-{port_id}",
                f"external_ids:{_q('neutron:network_name')}={_q('neutron-' + sub['network_id'])}",
                f"external_ids:{_q('neutron:router_name')}={_q(router_id)}",
                "--",
                "lsp-add",
                f"neutron-{sub['network_id']}",
                port_id,
                "--",
                "lsp-set-type",
                port_id,
                "router",
                "--",
                "lsp-set-addresses",
                port_id,
                "router",
                "--",
                "lsp-set-options",
                port_id,
                f"router-port=lrp-{port_id}",
                "--",
                "set",
                "Logical_Switch_Port",
                port_id,
                *self._lsp_ids(
                    "",
                    sub["network_id"],
                    f"{gw}/{net.prefixlen}",
                    "network:router_interface",
                    router_id,
                ),
            )
            self.ports[port_id] = {
                "id": port_id,
                "name": "",
                "network_id": sub["network_id"],
                "device_owner": "network:router_interface",
                "device_id": router_id,
                "fixed_ips": [{"subnet_id": subnet_id, "ip_address": gw}],
                "mac_address": "",
            }
            return port_id

    def add_floating_ip(self, fip_address: str, port_id: str, router_id: str) -> str:
        """A floating IP on a port (the NAT row ML2/OVN writes)."""
        with self.lock:
            fip_id = str(uuid.uuid4())
            port = self.ports[port_id]
            ip = port["fixed_ips"][0]["ip_address"]
            self.floatingips[fip_id] = {
                "id": fip_id,
                "floating_ip_address": fip_address,
                "port_id": port_id,
                "fixed_ip_address": ip,
                "router_id": router_id,
                "description": "",
            }
            self.nbctl(
                "--",
                "--id=@nat",
                "create",
                "NAT",
                "type=dnat_and_snat",
                f"external_ip={_q(fip_address)}",
                f"logical_ip={_q(ip)}",
                f"logical_port={_q(port_id)}",
                f"external_mac={_q(port['mac_address'])}",
                f"external_ids:{_q('neutron:fip_id')}={_q(fip_id)}",
                f"external_ids:{_q('neutron:fip_port_id')}={_q(port_id)}",
                f"external_ids:{_q('neutron:router_name')}={_q('neutron-' + router_id)}",
                "--",
                "add",
                "Logical_Router",
                f"neutron-{router_id}",
                "nat",
                "@nat",
            )
            return fip_id

    def adopt(self, neutron: Mapping[str, Any], lsps: Mapping[str, Mapping[str, Any]]) -> None:
        """Take in networks and subnets (Neutron API dicts) and ports from existing LSP rows.

        For rows another writer (the reference's Neutron, a conformance file)
        put into NB: the provider then finds its ports as it would in that cloud.
        """
        with self.lock:
            for net in neutron.get("networks") or ():
                self.networks.setdefault(net["id"], dict(net))
            for sub in neutron.get("subnets") or ():
                self.subnets.setdefault(sub["id"], dict(sub))
            for lsp in lsps.values():
                ext = lsp.get("external_ids", {})
                net_id = str(ext.get("neutron:network_name", "")).removeprefix("neutron-")
                if not net_id or lsp["name"] in self.ports:
                    continue
                fixed = []
                for entry in lsp.get("addresses", ()):
                    for token in entry.split()[1:]:
                        for sid, sub in self.subnets.items():
                            try:
                                inside = ipaddress.ip_address(token) in ipaddress.ip_network(
                                    sub["cidr"]
                                )
                            except ValueError:
                                inside = False
                            if inside and sub["network_id"] == net_id:
                                fixed.append({"subnet_id": sid, "ip_address": token})
                self.ports[lsp["name"]] = {
                    "id": lsp["name"],
                    "name": ext.get("neutron:port_name", ""),
                    "network_id": net_id,
                    "fixed_ips": fixed,
                    "device_owner": ext.get("neutron:device_owner", ""),
                    "device_id": ext.get("neutron:device_id", ""),
                    "mac_address": "",
                }

    # -- helpers ---------------------------------------------------------------------------

    def _next_mac(self) -> str:
        self._mac += 1
        m = self._mac
        return f"fa:16:3e:{(m >> 16) & 0xFF:02x}:{(m >> 8) & 0xFF:02x}:{m & 0xFF:02x}"

    def _used(self, subnet_id: str) -> set[str]:
        return {
            f["ip_address"]
            for p in self.ports.values()
            for f in p["fixed_ips"]
            if f["subnet_id"] == subnet_id
        }

    def _allocate(self, subnet_id: str) -> str:
        sub = self.subnets[subnet_id]
        used = self._used(subnet_id) | {sub["gateway_ip"]}
        for host in ipaddress.ip_network(sub["cidr"]).hosts():
            if str(host) not in used:
                return str(host)
        raise NeutronError(f"no more addresses in subnet {subnet_id}")

    def _lsp_ids(
        self, name: str, network_id: str, cidrs: str, owner: str, device_id: str
    ) -> list[str]:
        ids = {
            "neutron:port_name": name,
            "neutron:cidrs": cidrs,
            "neutron:device_owner": owner,
            "neutron:device_id": device_id,
            "neutron:network_name": f"neutron-{network_id}",
            "neutron:project_id": PROJECT,
            "neutron:revision_number": "1",
        }
        return [f"external_ids:{_q(k)}={_q(v)}" for k, v in ids.items()]

    # -- Network protocol ------------------------------------------------------------------

    def get_subnet(self, subnet_id: str) -> Mapping[str, Any] | None:
        with self.lock:
            found = self.subnets.get(subnet_id)
            return dict(found) if found else None

    def get_port(self, port_id: str) -> Mapping[str, Any] | None:
        with self.lock:
            found = self.ports.get(port_id)
            return json.loads(json.dumps(found)) if found else None

    def list_ports(self, **filters: Any) -> list[Mapping[str, Any]]:
        with self.lock:
            return [
                json.loads(json.dumps(p))
                for p in self.ports.values()
                if all(str(p.get(k)) == str(v) for k, v in filters.items())
            ]

    def create_port(self, **attrs: Any) -> Mapping[str, Any]:
        with self.lock:
            net_id = attrs.get("network_id")
            if net_id not in self.networks:
                raise NeutronError(f"network {net_id} not found")
            fixed_in = attrs.get("fixed_ips") or [
                {"subnet_id": next(s for s, v in self.subnets.items() if v["network_id"] == net_id)}
            ]
            fixed = []
            for f in fixed_in:
                sid = f.get("subnet_id")
                if sid is None:
                    sid = next(
                        s
                        for s, v in self.subnets.items()
                        if v["network_id"] == net_id
                        and ipaddress.ip_address(f["ip_address"]) in ipaddress.ip_network(v["cidr"])
                    )
                ip = f.get("ip_address")
                if ip and ip in self._used(sid):
                    raise NeutronConflict(f"IP address {ip} already allocated in subnet {sid}")
                fixed.append({"subnet_id": sid, "ip_address": ip or self._allocate(sid)})
            port_id = str(uuid.uuid4())
            mac = self._next_mac()
            owner = str(attrs.get("device_owner") or "")
            name = str(attrs.get("name") or "")
            port = {
                "id": port_id,
                "name": name,
                "network_id": net_id,
                "mac_address": mac,
                "fixed_ips": fixed,
                "device_owner": owner,
                "device_id": str(attrs.get("device_id") or ""),
                "admin_state_up": bool(attrs.get("admin_state_up", True)),
                "port_security_enabled": bool(attrs.get("port_security_enabled", True)),
                "project_id": attrs.get("project_id") or attrs.get("tenant_id") or "",
                "status": "DOWN",
            }
            cidrs = " ".join(
                f"{f['ip_address']}/{ipaddress.ip_network(self.subnets[f['subnet_id']]['cidr']).prefixlen}"
                for f in fixed
            )
            args = [
                "--",
                "lsp-add",
                f"neutron-{net_id}",
                port_id,
                "--",
                "lsp-set-addresses",
                port_id,
                " ".join([mac, *(f["ip_address"] for f in fixed)]),
                "--",
                "set",
                "Logical_Switch_Port",
                port_id,
                *self._lsp_ids(name, net_id, cidrs, owner, port["device_id"]),
            ]
            if owner.endswith(":distributed"):
                args += ["--", "lsp-set-type", port_id, "localport"]
            self.nbctl(*args)
            self.ports[port_id] = port
            self.calls.append(("create_port", name))
            copy: dict[str, Any] = json.loads(json.dumps(port))
            return copy

    def delete_port(self, port_id: str) -> None:
        with self.lock:
            if self.ports.pop(port_id, None) is None:
                return
            self.nbctl("--if-exists", "lsp-del", port_id)
            self.calls.append(("delete_port", port_id))

    def get_floating_ip(self, fip_id: str) -> Mapping[str, Any] | None:
        with self.lock:
            found = self.floatingips.get(fip_id)
            return dict(found) if found else None

    def update_floating_ip(self, fip_id: str, **attrs: Any) -> None:
        with self.lock:
            self.floatingips[fip_id].update(attrs)
            self.calls.append(("update_fip", fip_id))


# -- over HTTP -------------------------------------------------------------------------------


class NeutronCloud(FakeOpenStack):
    """:class:`LocalNeutron` behind Keystone v3 (password) and the Neutron v2.0 API."""

    def __init__(self, neutron: LocalNeutron) -> None:
        self.neutron = neutron
        super().__init__({}, max_page=1000)
        self.server.RequestHandlerClass = type(
            "NeutronHandler", (_NeutronHandler,), {"cloud": self}
        )

    def items(self, service: str, kind: str, pool_id: str | None = None) -> list[Mapping[str, Any]]:
        if service != "neutron":
            return []
        with self.neutron.lock:
            table = getattr(self.neutron, kind)
            return [json.loads(json.dumps(v)) for v in table.values()]


_SINGULAR = {
    "ports": "port",
    "subnets": "subnet",
    "networks": "network",
    "floatingips": "floatingip",
}


class _NeutronHandler(_Handler):
    cloud: NeutronCloud

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def _route(self) -> tuple[str, str | None] | None:
        path = urlsplit(self.path).path.rstrip("/")
        prefix = "/networking/v2.0/"
        if not path.startswith(prefix):
            return None
        rest = path[len(prefix) :].split("/")
        if rest[0] not in _SINGULAR or len(rest) > 2:
            return None
        return rest[0], (rest[1] if len(rest) == 2 else None)

    def _authorised(self) -> bool:
        if self.headers.get("X-Auth-Token") != TOKEN:
            self._send(401, {"error": {"code": 401, "message": "Unauthorized"}})
            return False
        return True

    def _not_found(self, what: str) -> None:
        self._send(404, {"NeutronError": {"type": "NotFound", "message": f"{what} not found"}})

    def do_GET(self) -> None:
        route = self._route()
        if route is None or route[1] is None:
            if urlsplit(self.path).path.rstrip("/") == "/networking/v2.0/extensions":
                self._send(200, {"extensions": []})
                return
            super().do_GET()
            return
        self.cloud.requests.append(("GET", self.path))
        if not self._authorised():
            return
        kind, oid = route
        found = next((i for i in self.cloud.items("neutron", kind) if i["id"] == oid), None)
        if found is None:
            self._not_found(f"{_SINGULAR[kind]} {oid}")
            return
        self._send(200, {_SINGULAR[kind]: found})

    def do_POST(self) -> None:
        route = self._route()
        if route != ("ports", None):
            super().do_POST()
            return
        self.cloud.requests.append(("POST", self.path))
        if not self._authorised():
            return
        attrs = self._body().get("port", {})
        try:
            port = self.cloud.neutron.create_port(**attrs)
        except NeutronConflict as e:
            self._send(
                409, {"NeutronError": {"type": "IpAddressAlreadyAllocated", "message": str(e)}}
            )
            return
        except NeutronError as e:
            self._send(400, {"NeutronError": {"type": "BadRequest", "message": str(e)}})
            return
        self._send(201, {"port": port})

    def do_PUT(self) -> None:
        route = self._route()
        self.cloud.requests.append(("PUT", self.path))
        if route is None or route[1] is None or route[0] != "floatingips":
            self._not_found(self.path)
            return
        if not self._authorised():
            return
        attrs = self._body().get("floatingip", {})
        if route[1] not in self.cloud.neutron.floatingips:
            self._not_found(f"floatingip {route[1]}")
            return
        self.cloud.neutron.update_floating_ip(route[1], **attrs)
        self._send(200, {"floatingip": self.cloud.neutron.get_floating_ip(route[1])})

    def do_DELETE(self) -> None:
        route = self._route()
        self.cloud.requests.append(("DELETE", self.path))
        if route is None or route[1] is None or route[0] != "ports":
            self._not_found(self.path)
            return
        if not self._authorised():
            return
        if route[1] not in self.cloud.neutron.ports:
            self._not_found(f"port {route[1]}")
            return
        self.cloud.neutron.delete_port(route[1])
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()


def query(path: str) -> dict[str, list[str]]:
    """The query of a recorded request path."""
    return parse_qs(urlsplit(path).query)
