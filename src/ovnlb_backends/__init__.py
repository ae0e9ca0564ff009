"""ovnlb's I/O side: backends that read and write NB, and the service layer and CLI on top.

What it holds:

* backends (read rows, apply a :class:`~ovnlb_core.plan.Plan` as one OVSDB
  transaction, :class:`Backend` protocol in ``base``): ``memory`` (an
  in-memory fake with OVSDB semantics), ``idl`` (the ``ovs`` Python IDL, its
  fast JSON path in ``idl.jsonparser``, installed when a connection is opened),
  ``nbctl`` (one ``ovn-nbctl`` invocation per plan), and ``sandbox``
  (private ``ovsdb-server``/``ovn-northd`` for tests and the demo);
* :mod:`ovnlb_backends.service`, the service layer: ``driver`` (one Octavia
  request: read -> plan -> commit), ``actions`` (event plans), ``sync`` /
  ``sources`` (Octavia's view against NB), ``watch`` / ``sbwatch`` (NB/SB
  events), ``replay`` (conformance files);
* :mod:`ovnlb_backends.cli`, the ``ovnlb`` command line (with ``demo``).

What it is not: no translation logic lives here (that is :mod:`ovnlb_core`),
and it never writes to Neutron or Octavia.

The names below are imported on first use (submodules such as ``replay``
are imported as usual), so ``import ovnlb_backends.memory``
does not load the ``ovs`` library or start anything.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ovnlb_backends.base import Backend, BackendError, TryAgain
    from ovnlb_backends.idl import IdlBackend, IdlReader
    from ovnlb_backends.idl.jsonparser import install_json_parser, json_parser_info
    from ovnlb_backends.memory import MemoryBackend, MemoryReader
    from ovnlb_backends.nbctl import NbctlBackend, NbctlReader
    from ovnlb_backends.sandbox import OvnNbCluster, OvnSandbox, SandboxUnavailable
    from ovnlb_backends.service.driver import OvnLbDriver, RetriesExhausted, handle
    from ovnlb_backends.service.sources import OctaviaSource, open_source
    from ovnlb_backends.service.sync import SyncRefused, SyncReport, plan_sync, run_sync
    from ovnlb_backends.service.watch import Watcher

#: Public name -> the module that defines (or re-exports) it.
_EXPORTS: dict[str, str] = {
    "Backend": "ovnlb_backends.base",
    "BackendError": "ovnlb_backends.base",
    "TryAgain": "ovnlb_backends.base",
    "OvnLbDriver": "ovnlb_backends.service.driver",
    "RetriesExhausted": "ovnlb_backends.service.driver",
    "handle": "ovnlb_backends.service.driver",
    "IdlBackend": "ovnlb_backends.idl",
    "IdlReader": "ovnlb_backends.idl",
    "install_json_parser": "ovnlb_backends.idl.jsonparser",
    "json_parser_info": "ovnlb_backends.idl.jsonparser",
    "MemoryBackend": "ovnlb_backends.memory",
    "MemoryReader": "ovnlb_backends.memory",
    "NbctlBackend": "ovnlb_backends.nbctl",
    "NbctlReader": "ovnlb_backends.nbctl",
    "OvnNbCluster": "ovnlb_backends.sandbox",
    "OvnSandbox": "ovnlb_backends.sandbox",
    "SandboxUnavailable": "ovnlb_backends.sandbox",
    "OctaviaSource": "ovnlb_backends.service.sources",
    "open_source": "ovnlb_backends.service.sources",
    "SyncRefused": "ovnlb_backends.service.sync",
    "SyncReport": "ovnlb_backends.service.sync",
    "plan_sync": "ovnlb_backends.service.sync",
    "run_sync": "ovnlb_backends.service.sync",
    "Watcher": "ovnlb_backends.service.watch",
}

__all__ = [
    "Backend",
    "BackendError",
    "IdlBackend",
    "IdlReader",
    "MemoryBackend",
    "MemoryReader",
    "NbctlBackend",
    "NbctlReader",
    "OctaviaSource",
    "OvnLbDriver",
    "OvnNbCluster",
    "OvnSandbox",
    "RetriesExhausted",
    "SandboxUnavailable",
    "SyncRefused",
    "SyncReport",
    "TryAgain",
    "Watcher",
    "handle",
    "install_json_parser",
    "json_parser_info",
    "open_source",
    "plan_sync",
    "run_sync",
]


def __getattr__(name: str) -> Any:
    # PEP 562: import the defining module the first time a public name is used.
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
