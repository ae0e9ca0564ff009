"""SB ``Service_Monitor`` rows as the events :meth:`OvnLbDriver.member_health` takes.

A minimal bridge, not a watcher: :func:`parse_sbctl_json` reads the output of
``ovn-sbctl --format=json list Service_Monitor`` (pure), :func:`to_event`
shapes one row like the ``member_health`` events of the conformance files
(conformance-format.md 5.2)::

    {"type": "update" | "delete",
     "row": {"ip": "10.0.0.11", "port": 80, "protocol": "tcp",
             "logical_port": "<member LSP name>", "src_ip": "10.0.0.4",
             "status": "offline"}}

An empty SB ``status`` (ovn-northd's initial value, "up") becomes ``None``;
the library treats it like any status other than ``offline`` (spec 4.4).
:func:`read_service_monitors` is the only function that does I/O, through a
caller-supplied ``ovn-sbctl`` runner such as :meth:`OvnSandbox.sbctl`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

import attrs

from ovnlb_core.events import service_monitor_event

EventType = Literal["update", "delete"]


@attrs.frozen
class ServiceMonitor:
    """One SB ``Service_Monitor`` row (the columns ovn-northd and ovn-controller set)."""

    uuid: str
    ip: str
    port: int
    protocol: str | None
    logical_port: str
    src_ip: str
    src_mac: str
    status: str | None
    options: Mapping[str, str] = attrs.field(factory=dict)
    external_ids: Mapping[str, str] = attrs.field(factory=dict)


def _atom(value: Any) -> Any:
    """An OVSDB JSON atom: ``["uuid", u]`` becomes ``u``, anything else is kept."""
    if isinstance(value, list) and len(value) == 2 and value[0] in ("uuid", "named-uuid"):
        return value[1]
    return value


def _optional(value: Any) -> Any:
    """An optional column: ``["set", []]`` is None, ``["set", [x]]`` or ``x`` is ``x``."""
    if isinstance(value, list) and len(value) == 2 and value[0] == "set":
        items = value[1]
        if not items:
            return None
        if len(items) > 1:
            raise ValueError(f"optional column holds {len(items)} values: {items!r}")
        return _atom(items[0])
    return _atom(value)


def _map(value: Any) -> dict[str, str]:
    if isinstance(value, list) and len(value) == 2 and value[0] == "map":
        return {str(_atom(k)): str(_atom(v)) for k, v in value[1]}
    raise ValueError(f"not an OVSDB map: {value!r}")


def parse_sbctl_json(text: str) -> list[ServiceMonitor]:
    """The rows of ``ovn-sbctl --format=json list Service_Monitor`` (any column order).

    Needs at least the columns ``_uuid``, ``ip``, ``port``, ``logical_port``
    and ``src_ip``; the others default to empty.
    """
    doc = json.loads(text)
    headings: list[str] = list(doc["headings"])
    out: list[ServiceMonitor] = []
    for data in doc["data"]:
        cols = dict(zip(headings, data, strict=True))
        protocol = _optional(cols.get("protocol", ["set", []]))
        status = _optional(cols.get("status", ["set", []]))
        out.append(
            ServiceMonitor(
                uuid=str(_atom(cols["_uuid"])),
                ip=str(_atom(cols["ip"])),
                port=int(_atom(cols["port"])),
                protocol=None if protocol is None else str(protocol),
                logical_port=str(_atom(cols["logical_port"])),
                src_ip=str(_atom(cols["src_ip"])),
                src_mac=str(_atom(cols.get("src_mac", ""))),
                status=None if status is None else str(status),
                options=_map(cols.get("options", ["map", []])),
                external_ids=_map(cols.get("external_ids", ["map", []])),
            )
        )
    return out


def to_event(mon: ServiceMonitor, event_type: EventType = "update") -> dict[str, Any]:
    """One ``member_health`` event for ``mon`` (``delete``: the row went away).

    Shaped by :func:`ovnlb_core.events.service_monitor_event`, the one decoder of
    Service_Monitor rows (the watcher's and the driver's): a row without a
    protocol is ``tcp``, ovn-northd's default.
    """
    row = {
        "ip": mon.ip,
        "port": mon.port,
        "protocol": mon.protocol,
        "logical_port": mon.logical_port,
        "src_ip": mon.src_ip,
        "status": mon.status,
    }
    return service_monitor_event(row, deleted=event_type == "delete")


def to_events(
    mons: Iterable[ServiceMonitor], event_type: EventType = "update"
) -> list[dict[str, Any]]:
    """:func:`to_event` for each row, in order."""
    return [to_event(m, event_type) for m in mons]


def read_service_monitors(sbctl: Callable[..., str]) -> list[ServiceMonitor]:
    """Every SB ``Service_Monitor`` row, read with ``sbctl(*args)`` (an ``ovn-sbctl`` runner)."""
    return parse_sbctl_json(sbctl("--format=json", "list", "Service_Monitor"))


__all__ = [
    "EventType",
    "ServiceMonitor",
    "parse_sbctl_json",
    "read_service_monitors",
    "to_event",
    "to_events",
]
