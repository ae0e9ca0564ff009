"""The ``[ovnlb]`` options, published through the ``oslo.config.opts`` entry point.

The group is ovnlb's own: the reference provider registers ``[ovn]``, and
registering its option names a second time in one process (both providers
enabled) would raise ``DuplicateOptError``.
"""

from __future__ import annotations

from typing import Any

from oslo_config import cfg

__all__ = [
    "GROUP",
    "OPTS",
    "list_opts",
    "register_opts",
    "remote",
]

GROUP = "ovnlb"

OPTS: list[Any] = [
    cfg.ListOpt(
        "nb_connection",
        default=["tcp:127.0.0.1:6641"],
        help="OVN Northbound OVSDB remotes: every member of a RAFT cluster "
        "(tcp:IP:PORT, ssl:IP:PORT or unix:PATH). Writes go to the leader.",
    ),
    cfg.StrOpt("nb_private_key", default="", help="PEM private key for ssl: NB remotes."),
    cfg.StrOpt("nb_certificate", default="", help="PEM certificate for ssl: NB remotes."),
    cfg.StrOpt("nb_ca_cert", default="", help="PEM CA certificate for ssl: NB remotes."),
    cfg.ListOpt(
        "sb_connection",
        default=["tcp:127.0.0.1:6642"],
        help="OVN Southbound OVSDB remotes (the driver agent reads Service_Monitor).",
    ),
    cfg.StrOpt("sb_private_key", default="", help="PEM private key for ssl: SB remotes."),
    cfg.StrOpt("sb_certificate", default="", help="PEM certificate for ssl: SB remotes."),
    cfg.StrOpt("sb_ca_cert", default="", help="PEM CA certificate for ssl: SB remotes."),
    cfg.FloatOpt(
        "ovsdb_connection_timeout",
        default=180.0,
        min=0.1,
        help="Seconds to wait for an OVSDB connection or a transaction before failing "
        "the request (its objects then go to ERROR).",
    ),
    cfg.FloatOpt(
        "octavia_commit_timeout",
        default=60.0,
        min=0.1,
        help="Seconds to wait for Octavia to commit a created object before the "
        "request is dropped as rolled back (nothing is written to NB then).",
    ),
    cfg.IntOpt(
        "status_update_attempts",
        default=15,
        min=1,
        help="Attempts to push one status report to the driver agent (UpdateStatusError "
        "is retried with exponential back-off).",
    ),
    cfg.FloatOpt(
        "status_update_max_interval",
        default=8.0,
        min=0.01,
        help="Longest wait between two status push attempts (seconds).",
    ),
]


def register_opts(conf: Any = None) -> Any:
    """Register ``[ovnlb]`` on ``conf`` (default ``cfg.CONF``); safe to call repeatedly."""
    conf = cfg.CONF if conf is None else conf
    conf.register_opts(OPTS, group=GROUP)
    return conf


def list_opts() -> list[tuple[str, list[Any]]]:
    """The ``oslo.config.opts`` hook: ``[(group, options)]`` for ``oslo-config-generator``."""
    return [(GROUP, list(OPTS))]


def remote(items: list[str]) -> str:
    """A list option of remotes as the comma-separated string the backends take."""
    return ",".join(x.strip() for x in items if x.strip())
