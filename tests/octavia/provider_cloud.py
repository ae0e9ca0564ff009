"""A provider on real OVN (NB + SB + ovn-northd) with a local Neutron and a recording Octavia."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from local_neutron import LocalNeutron
from octavia_stub import OctaviaRecorder

from ovnlb_backends.idl import IdlBackend
from ovnlb_backends.sandbox import OvnSandbox
from ovnlb_octavia.provider import OvnLbProviderDriver
from ovnlb_octavia.runtime import Runtime

PROJECT = "5e4d3c2b-0000-4000-8000-00000000000a"


class Cloud:
    """The walkthrough's networks: ``public`` 172.24.4.0/24 and ``private`` 10.10.10.0/24 behind
    one router, a VM port 10.10.10.10 on ``private``."""

    def __init__(self, sandbox: OvnSandbox, *, nb_timeout: float = 5.0, **runtime: Any) -> None:
        self.sandbox = sandbox
        self.neutron = LocalNeutron(sandbox.nbctl)
        n = self.neutron
        self.net = n.create_network("public")
        self.vip_subnet = n.create_subnet(self.net, "172.24.4.0/24")
        self.member_net = n.create_network("private")
        self.member_subnet = n.create_subnet(self.member_net, "10.10.10.0/24")
        self.router = "3d2a873b-b5b4-4d14-ac24-47a835fd47b2"
        n.add_router_interface(self.router, self.vip_subnet)
        n.add_router_interface(self.router, self.member_subnet)
        self.vm_port = str(
            n.create_port(
                name="vm1",
                network_id=self.member_net,
                fixed_ips=[{"subnet_id": self.member_subnet, "ip_address": "10.10.10.10"}],
                device_owner="compute:nova",
            )["id"]
        )
        self.octavia = OctaviaRecorder(**runtime.pop("recorder", {}))
        opts = {"push_attempts": 5, "push_max_interval": 0.05, "commit_timeout": 3.0, **runtime}
        self.runtime = Runtime(
            lambda: IdlBackend(sandbox.nb_remote, timeout=nb_timeout),
            self.neutron,
            lambda: self.octavia,
            **opts,
        )
        self.provider = OvnLbProviderDriver(self.runtime)

    def close(self) -> None:
        self.runtime.close()

    def idle(self) -> None:
        assert self.runtime.wait_idle(30.0)

    # -- NB --------------------------------------------------------------------------------

    def lb_rows(self, lb_id: str) -> list[dict[str, Any]]:
        out = self.sandbox.nbctl(
            "--format=json",
            "--data=json",
            "find",
            "Load_Balancer",
            f"name={lb_id}",
        )
        return _rows(out)

    def table(self, table: str) -> list[dict[str, Any]]:
        return _rows(self.sandbox.nbctl("--format=json", "--data=json", "list", table))

    def lsp(self, name: str) -> dict[str, Any] | None:
        found = _rows(
            self.sandbox.nbctl(
                "--format=json", "--data=json", "find", "Logical_Switch_Port", f"name={name}"
            )
        )
        return found[0] if found else None


def _datum(v: Any) -> Any:
    if isinstance(v, list) and len(v) == 2 and v[0] in ("map", "set", "uuid"):
        kind, inner = v
        if kind == "map":
            return {k: _datum(x) for k, x in inner}
        if kind == "set":
            return [_datum(x) for x in inner]
        return inner
    return v


def _rows(text: str) -> list[dict[str, Any]]:
    doc = json.loads(text)
    return [
        {h: _datum(v) for h, v in zip(doc["headings"], row, strict=True)} for row in doc["data"]
    ]


def bind_port(sbctl: Any, lsp: str) -> None:
    """Mark ``lsp``'s Port_Binding up, as ovn-controller does once the VM's port is bound.

    The sandbox runs no ovn-controller, so every Port_Binding stays down, and
    ovn-northd (23.03 here) sets a Service_Monitor of a port that is not up
    back to ``offline`` as soon as anything sets it ``online``.
    """
    (pb,) = sbctl(
        "--bare", "--columns=_uuid", "find", "Port_Binding", f"logical_port={lsp}"
    ).split()
    sbctl("set", "Port_Binding", pb, "up=true")


def make_cloud(tmp_path: Path, **kwargs: Any) -> Iterator[Cloud]:
    """A :class:`Cloud` on a fresh sandbox (with northd), stopped afterwards."""
    from conftest import start_sandbox

    sandbox = start_sandbox(tmp_path / "ovn", with_northd=True)
    cloud: Cloud | None = None
    try:
        cloud = Cloud(sandbox, **kwargs)
        yield cloud
    finally:
        if cloud is not None:
            cloud.close()
        sandbox.stop()
