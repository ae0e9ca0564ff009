"""Generated Octavia request histories on the demo topology (every request type).

:class:`OctaviaModel` is what Octavia holds after the requests that succeeded;
:func:`draw_request` draws the next request (mostly valid for the model, some
not: a refused request must write nothing, twice). The same model renders the
Octavia view of the history (:meth:`OctaviaModel.desired`), for ``ovnlb sync``.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

from ovnlb_backends.base import Backend
from ovnlb_backends.cli import demo
from ovnlb_core.nb import SCHEMA, NbReader
from ovnlb_core.octavia import OctaviaView
from ovnlb_core.rawops import RawOp
from ovnlb_core.rows import lb_rowset
from ovnlb_core.sync import DesiredLb

LB = demo.LB
VIP = "172.24.4.9"
FIPS = ["172.24.4.100", "172.24.4.101"]
LISTENERS = {
    "21e77cde-854f-4c3e-bd8c-9536ae044301": ("TCP", 80),
    "21e77cde-854f-4c3e-bd8c-9536ae044302": ("TCP", 8080),
    "21e77cde-854f-4c3e-bd8c-9536ae044303": ("UDP", 53),
}
POOLS = {
    "898be8a2-5185-4f3b-8658-a56457f59501": "TCP",
    "898be8a2-5185-4f3b-8658-a56457f59502": "TCP",
    "898be8a2-5185-4f3b-8658-a56457f59503": "UDP",
}
MEMBERS = [f"adf55e70-3d50-4e62-99fd-dd77eababb0{i}" for i in range(5)]
#: 10.10.10.10 has a port on the member network (monitored: ONLINE), .11 has none (ERROR).
ADDRESSES = ["10.10.10.10", "10.10.10.11"]
PORTS = [80, 81, 82, 83, 84]
ALGORITHMS = ["SOURCE_IP_PORT", "ROUND_ROBIN", "SOURCE_IP"]
OPS = [
    "lb_update",
    "lb_delete",
    "lb_failover",
    "listener_create",
    "listener_update",
    "listener_delete",
    "pool_create",
    "pool_update",
    "pool_delete",
    "member_create",
    "member_update",
    "member_delete",
    "member_batch_update",
    "hm_create",
    "hm_update",
    "hm_delete",
    "fip_associate",
    "fip_disassociate",
    "member_health",
]


#: The draw's weights: the state-building requests more often, a reset (lb_delete) rarely.
WEIGHTED_OPS = [
    *OPS,
    *[op for op in OPS if op.startswith(("pool_", "member_", "hm_", "listener_create"))],
    *["pool_create", "member_create", "member_batch_update", "hm_create"] * 2,
]
# Hypothesis leans towards the first items: the resets last.
WEIGHTED_OPS.sort(key=lambda op: op in ("lb_delete", "lb_failover"))


def hm_id(pool_id: str) -> str:
    """The health monitor id of a pool (one monitor per pool, as in Octavia)."""
    return "6d2f1e0a-7b3c-4d5e-9f8a-1b2c3d4e5f" + pool_id[-2:]


class OctaviaModel:
    """Octavia's objects of the one load balancer of a history."""

    def __init__(self) -> None:
        self.lb: dict[str, Any] = {
            "loadbalancer_id": LB,
            "vip_address": VIP,
            "vip_port_id": demo.VIP_PORT,
            "vip_network_id": demo.NET,
            "vip_subnet_id": demo.VIP_SUBNET,
            "admin_state_up": True,
        }
        self.exists = False
        self.listeners: dict[str, dict[str, Any]] = {}
        self.pools: dict[str, dict[str, Any]] = {}
        self.members: dict[str, dict[str, Any]] = {}
        self.hms: dict[str, dict[str, Any]] = {}
        self.vip_fip: str | None = None

    # -- rendering -------------------------------------------------------------------

    def pool_full(self, pool_id: str) -> dict[str, Any]:
        """The pool as octavia-lib renders it for a delete (members, health monitor)."""
        p = dict(self.pools[pool_id])
        p["members"] = [dict(m) for m in self.members.values() if m["pool_id"] == pool_id]
        p["healthmonitor"] = dict(self.hms[hm_id(pool_id)]) if hm_id(pool_id) in self.hms else None
        return p

    def lb_full(self) -> dict[str, Any]:
        """The load balancer with its listeners and pools nested."""
        return {
            **self.lb,
            "listeners": [dict(li) for li in self.listeners.values()],
            "pools": [self.pool_full(p) for p in self.pools],
        }

    def desired(self) -> DesiredLb:
        """Octavia's view of the load balancer, as ``ovnlb sync`` reads it."""
        return DesiredLb(self.lb_full(), vip_fip=self.vip_fip)

    # -- bookkeeping -----------------------------------------------------------------

    def applied(self, request: dict[str, Any]) -> None:
        """Record a request that succeeded."""
        op = request["op"]
        if op == "lb_create":
            self.exists = True
        elif op == "lb_update":
            self.lb = dict(request["new"])
        elif op == "lb_delete":
            self.__init__()  # type: ignore[misc]
        elif op == "fip_associate":
            self.vip_fip = request["floating_ip_address"]
        elif op == "fip_disassociate":
            self.vip_fip = None
        elif op in ("listener_create", "listener_update"):
            li = request.get("listener") or request["new"]
            self.listeners[li["listener_id"]] = dict(li)
        elif op == "listener_delete":
            lid = request["listener"]["listener_id"]
            self.listeners.pop(lid, None)
            for p in self.pools.values():
                if p.get("listener_id") == lid:
                    p["listener_id"] = None
        elif op in ("pool_create", "pool_update"):
            p = request.get("pool") or request["new"]
            self.pools[p["pool_id"]] = {
                k: v for k, v in p.items() if k not in ("members", "healthmonitor")
            }
            if op == "pool_create" and p.get("listener_id") in self.listeners:
                self.listeners[p["listener_id"]]["default_pool_id"] = p["pool_id"]
        elif op == "pool_delete":
            pid = request["pool"]["pool_id"]
            self.pools.pop(pid, None)
            self.hms.pop(hm_id(pid), None)
            for mid in [m for m, v in self.members.items() if v["pool_id"] == pid]:
                del self.members[mid]
            for li in self.listeners.values():
                if li.get("default_pool_id") == pid:
                    li["default_pool_id"] = None
        elif op in ("member_create", "member_update"):
            m = request.get("member") or request["new"]
            self.members[m["member_id"]] = dict(m)
        elif op == "member_delete":
            self.members.pop(request["member"]["member_id"], None)
        elif op == "member_batch_update":
            pid = request["pool_id"]
            for mid in [m for m, v in self.members.items() if v["pool_id"] == pid]:
                del self.members[mid]
            for m in request["members"]:
                self.members[m["member_id"]] = {**m, "pool_id": pid}
        elif op in ("hm_create", "hm_update"):
            hm = request.get("healthmonitor") or request["new"]
            self.hms[hm["healthmonitor_id"]] = dict(hm)
        elif op == "hm_delete":
            self.hms.pop(request["healthmonitor"]["healthmonitor_id"], None)


def lb_create_request(model: OctaviaModel) -> dict[str, Any]:
    """The history's first request."""
    return {"op": "lb_create", "loadbalancer": dict(model.lb)}


def _member(
    data: st.DataObject, pool_id: str, mid: str, taken: set[tuple[str, int]]
) -> dict[str, Any]:
    """A new member; Octavia refuses a second member at the same address and port of a
    pool, so its (address, port) is not in ``taken`` (and is added to it)."""
    free = [(a, p) for a in ADDRESSES for p in PORTS if (a, p) not in taken]
    address, port = data.draw(st.sampled_from(free))
    taken.add((address, port))
    return {
        "member_id": mid,
        "pool_id": pool_id,
        "address": address,
        "protocol_port": port,
        "subnet_id": demo.MEMBER_SUBNET,
        "admin_state_up": data.draw(st.booleans()),
    }


def _taken(model: OctaviaModel, pool_id: str) -> set[tuple[str, int]]:
    return {
        (m["address"], m["protocol_port"])
        for m in model.members.values()
        if m["pool_id"] == pool_id
    }


def draw_request(data: st.DataObject, model: OctaviaModel, reader: NbReader) -> dict[str, Any]:
    """The next request of a history (``reader``: NB now, for health events)."""
    if not model.exists:
        return lb_create_request(model)
    op = data.draw(st.sampled_from(WEIGHTED_OPS), label="op")
    b = st.booleans()
    if op == "lb_update":
        new = {**model.lb, "admin_state_up": data.draw(b)}
        return {"op": op, "old": dict(model.lb), "new": new}
    if op == "lb_delete":
        return {"op": op, "loadbalancer": model.lb_full(), "cascade": True}
    if op == "lb_failover":
        return {"op": op, "loadbalancer_id": LB}
    if op.startswith("listener_"):
        lid = data.draw(st.sampled_from(sorted(LISTENERS)))
        proto, port = LISTENERS[lid]
        pools = [p for p, v in model.pools.items() if v["protocol"] == proto]
        li = model.listeners.get(lid) or {
            "listener_id": lid,
            "loadbalancer_id": LB,
            "protocol": proto,
            "protocol_port": port,
            "default_pool_id": None,
            "admin_state_up": True,
        }
        if lid in model.listeners and op == "listener_create":
            op = "listener_update"  # Octavia creates a listener once
        if op == "listener_create" or (op == "listener_update" and lid not in model.listeners):
            default = data.draw(st.sampled_from([None, *pools]))
            li = {**li, "default_pool_id": default, "admin_state_up": data.draw(b)}
            return {"op": "listener_create", "listener": li}
        if op == "listener_update":
            new = dict(li)
            changed = data.draw(st.sets(st.sampled_from(["admin_state_up", "default_pool_id"])))
            if "admin_state_up" in changed:
                new["admin_state_up"] = data.draw(b)
            if "default_pool_id" in changed:
                new["default_pool_id"] = data.draw(st.sampled_from([None, *pools]))
            return {"op": op, "old": li, "new": new}
        return {"op": op, "listener": li}
    if op.startswith("pool_"):
        pid = data.draw(st.sampled_from(sorted(POOLS)))
        proto = POOLS[pid]
        if op == "pool_delete" and pid in model.pools:
            return {"op": op, "pool": model.pool_full(pid)}
        if op == "pool_create" and pid in model.pools:
            op = "pool_update"  # Octavia creates a pool once
        free = [
            lid
            for lid, v in model.listeners.items()
            if v["protocol"] == proto and not v.get("default_pool_id")
        ]
        persistence: dict[str, Any] | None = data.draw(
            st.sampled_from([None, {"type": "SOURCE_IP", "timeout": 30}])
        )
        pool: dict[str, Any] = model.pools.get(pid) or {
            "pool_id": pid,
            "loadbalancer_id": LB,
            "listener_id": data.draw(st.sampled_from([None, *free])),
            "protocol": proto,
            "lb_algorithm": data.draw(st.sampled_from(ALGORITHMS)),
            "admin_state_up": data.draw(b),
            "session_persistence": persistence,
        }
        if op == "pool_update" and pid in model.pools:
            new = dict(pool)
            changed = data.draw(
                st.sets(st.sampled_from(["admin_state_up", "session_persistence", "lb_algorithm"]))
            )
            if "admin_state_up" in changed:
                new["admin_state_up"] = data.draw(b)
            if "session_persistence" in changed:
                new["session_persistence"] = persistence
            if "lb_algorithm" in changed:
                new["lb_algorithm"] = data.draw(st.sampled_from(ALGORITHMS))
            return {"op": op, "old": pool, "new": new}
        return {"op": "pool_create" if op == "pool_update" else op, "pool": pool}
    if op.startswith("member_") and op != "member_health":
        with_members = sorted({v["pool_id"] for v in model.members.values()})
        choices = with_members if op in ("member_update", "member_delete") else []
        pid = data.draw(st.sampled_from(choices or sorted(model.pools) or sorted(POOLS)))
        if op == "member_batch_update":
            ms = data.draw(st.lists(st.sampled_from(MEMBERS), max_size=4, unique=True))
            # Octavia keeps an existing member's address and port (its identity in a batch);
            # a member of another pool is not listed (its id is taken).
            batch = []
            # Members kept keep their address and port; new ones take free ones.
            taken = {
                (m["address"], m["protocol_port"])
                for mid, m in model.members.items()
                if m["pool_id"] == pid and mid in ms
            }
            for mid in ms:
                old = model.members.get(mid)
                if old is None:
                    batch.append(_member(data, pid, mid, taken))
                elif old["pool_id"] == pid:
                    batch.append({**old, "admin_state_up": data.draw(b)})
            return {"op": op, "pool_id": pid, "members": batch}
        in_pool = [m for m, v in model.members.items() if v["pool_id"] == pid]
        free = [m for m in MEMBERS if m not in model.members]
        if (op == "member_create" and free) or not in_pool:
            if not free:
                # Every id taken (Octavia never reuses one): the pool's batch as it is.
                same = [dict(model.members[m]) for m in in_pool]
                return {"op": "member_batch_update", "pool_id": pid, "members": same}
            mid = data.draw(st.sampled_from(free))
            return {"op": "member_create", "member": _member(data, pid, mid, _taken(model, pid))}
        m = dict(model.members[data.draw(st.sampled_from(in_pool))])
        if op == "member_update":
            new = {**m, "admin_state_up": data.draw(b)}
            return {"op": op, "old": m, "new": new}
        return {"op": op, "member": m}
    if op.startswith("hm_"):
        with_hm = sorted(v["pool_id"] for v in model.hms.values()) if op != "hm_create" else []
        pid = data.draw(st.sampled_from(with_hm or sorted(model.pools) or sorted(POOLS)))
        hid = hm_id(pid)
        hm = model.hms.get(hid) or {
            "healthmonitor_id": hid,
            "pool_id": pid,
            "type": "TCP" if POOLS[pid] == "TCP" else "UDP-CONNECT",
            "delay": 10,
            "timeout": 5,
            "max_retries": 3,
            "max_retries_down": 3,
            "admin_state_up": data.draw(b),
        }
        if op == "hm_update" and hid in model.hms:
            new = {**hm, "delay": data.draw(st.sampled_from([10, 20]))}
            if data.draw(b):
                new["admin_state_up"] = data.draw(b)
            return {"op": op, "old": hm, "new": new}
        if op == "hm_delete" and hid in model.hms:
            return {"op": op, "healthmonitor": hm}
        return {"op": "hm_create", "healthmonitor": hm}
    if op == "fip_associate":
        return {
            "op": op,
            "floating_ip_address": data.draw(st.sampled_from(FIPS)),
            "port_id": demo.VIP_PORT,
            "fixed_ip_address": VIP,
            "loadbalancer_id": LB,
            "vip_kind": "vip",
        }
    if op == "fip_disassociate":
        return {
            "op": op,
            "floating_ip_address": model.vip_fip or FIPS[0],
            "port_id": demo.VIP_PORT,
            "loadbalancer_id": LB,
        }
    # member_health: a Service_Monitor status of a mapped backend (or of nothing).
    mappings = [
        (ip, value, row.protocol or "tcp")
        for row in lb_rowset(reader, LB).lbs.values()
        for ip, value in row.ip_port_mappings.items()
    ]
    ip, value, proto = data.draw(
        st.sampled_from(mappings or [("10.10.10.99", "p:10.0.0.1", "tcp")])
    )
    lsp, _, src = value.partition(":")
    event = {
        "type": data.draw(st.sampled_from(["update", "update", "delete"])),
        "row": {
            "ip": ip.strip("[]"),
            "port": data.draw(st.sampled_from(PORTS)),
            "protocol": proto,
            "logical_port": lsp,
            "src_ip": src.strip("[]"),
            "status": data.draw(st.sampled_from(["online", "offline", "error"])),
        },
    }
    return {"op": op, "events": [event]}


def copy_request(request: dict[str, Any]) -> dict[str, Any]:
    """A deep copy (a request applied twice must not share mutable parts)."""
    return copy.deepcopy(request)


# -- router-interface events (spec 3.6: Neutron's writes, then the agent's LRP event) ------------

ROUTER2 = "neutron-3d2a873b-b5b4-4d14-ac24-47a835fd47c2"
#: A network with no load balancer on it, and an IPv6 one (spec 3.6: no family test).
X_NET = "5b2c8d7e-1f3a-4c9b-8e6d-2a7f0c1b9d99"
V6_NET = "5b2c8d7e-1f3a-4c9b-8e6d-2a7f0c1b9d66"
#: (router, network, CIDR of the interface); the first two exist in the demo topology.
INTERFACES = [
    (f"neutron-{demo.ROUTER}", demo.MEMBER_NET, "10.10.10.1/24"),
    (f"neutron-{demo.ROUTER}", demo.NET, "172.24.4.1/24"),
    (ROUTER2, demo.MEMBER_NET, "10.10.10.254/24"),
    (ROUTER2, X_NET, "10.99.0.1/24"),
    (f"neutron-{demo.ROUTER}", V6_NET, "fd00:99::1/64"),
]
_DEMO_PORTS = {
    (f"neutron-{demo.ROUTER}", demo.MEMBER_NET): demo.RI_MEMBER,
    (f"neutron-{demo.ROUTER}", demo.NET): demo.RI_VIP,
}


def event_topology_ops() -> list[RawOp]:
    """The demo topology plus a second router (no interfaces) and two networks without ports."""
    ops: list[RawOp] = list(demo.topology_ops())
    ops.append(
        {"op": "insert", "table": "Logical_Router", "row": {"_name": ROUTER2, "name": ROUTER2}}
    )
    for net in (X_NET, V6_NET):
        name = f"neutron-{net}"
        ops.append(
            {"op": "insert", "table": "Logical_Switch", "row": {"_name": name, "name": name}}
        )
    return ops


def interface_port(i: int) -> str:
    """The Neutron port of interface ``i`` of :data:`INTERFACES`."""
    lr, net, _cidr = INTERFACES[i]
    return _DEMO_PORTS.get((lr, net)) or f"9e1f0000-0000-4000-8000-{i:012d}"


def _ports(reader: NbReader, table: str, name: str) -> list[str]:
    found = reader.by_name(table, name)
    table_ports = "Logical_Router_Port" if table == "Logical_Router" else "Logical_Switch_Port"
    rows = reader.rows(table_ports)
    return [str(rows[u]["name"]) for u in found[0][1].get("ports", ()) if u in rows]


def interface_present(reader: NbReader, i: int) -> bool:
    """True when interface ``i`` exists."""
    return bool(reader.by_name("Logical_Router_Port", f"lrp-{interface_port(i)}"))


def interface_ops(reader: NbReader, i: int) -> list[dict[str, Any]]:
    """Neutron's NB writes that add interface ``i`` when it is absent, remove it when present
    (conformance-format 3, ``router add/remove interface``)."""
    lr, net, cidr = INTERFACES[i]
    port = interface_port(i)
    lrp = f"lrp-{port}"
    ls = f"neutron-{net}"
    lr_ports = _ports(reader, "Logical_Router", lr)
    ls_ports = _ports(reader, "Logical_Switch", ls)
    if interface_present(reader, i):
        return [
            {
                "op": "update",
                "table": "Logical_Router",
                "name": lr,
                "columns": {"ports": [p for p in lr_ports if p != lrp]},
            },
            {"op": "delete", "table": "Logical_Router_Port", "name": lrp},
            {
                "op": "update",
                "table": "Logical_Switch",
                "name": ls,
                "columns": {"ports": [p for p in ls_ports if p != port]},
            },
            {"op": "delete", "table": "Logical_Switch_Port", "name": port},
        ]
    lsp = {
        "_name": port,
        "name": port,
        "type": "router",
        "addresses": ["router"],
        "options": {"router-port": lrp},
        "external_ids": {
            "neutron:cidrs": cidr,
            "neutron:device_owner": "network:router_interface",
            "neutron:network_name": ls,
        },
    }
    lrp_row = {
        "_name": lrp,
        "name": lrp,
        "mac": "fa:16:3e:00:99:01",
        "networks": [cidr],
        "external_ids": {
            "neutron:network_name": ls,
            "neutron:router_name": lr,
            "neutron:is_ext_gw": "False",
        },
    }
    return [
        {"op": "insert", "table": "Logical_Switch_Port", "row": lsp},
        {
            "op": "update",
            "table": "Logical_Switch",
            "name": ls,
            "columns": {"ports": [*ls_ports, port]},
        },
        {"op": "insert", "table": "Logical_Router_Port", "row": lrp_row},
        {
            "op": "update",
            "table": "Logical_Router",
            "name": lr,
            "columns": {"ports": [*lr_ports, lrp]},
        },
    ]


def all_rows(backend: Backend) -> dict[str, dict[str, dict[str, Any]]]:
    """Every row of every table the library reads or writes."""
    reader = backend.reader()
    return {t: {u: dict(r) for u, r in reader.rows(t).items()} for t in SCHEMA}


def octavia_view(model: OctaviaModel) -> OctaviaView:
    """Octavia's view of the model's objects (what the provider's Octavia database holds)."""
    v = OctaviaView()
    if model.exists:
        v.loadbalancers[model.lb["loadbalancer_id"]] = dict(model.lb)
    v.listeners.update({k: dict(x) for k, x in model.listeners.items()})
    v.pools.update({k: dict(x) for k, x in model.pools.items()})
    v.members.update({k: dict(x) for k, x in model.members.items()})
    v.healthmonitors.update({k: dict(x) for k, x in model.hms.items()})
    return v
