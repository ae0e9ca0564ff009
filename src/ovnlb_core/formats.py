"""Everything about the text in NB rows lives here: every key, value grammar and parser.

The OVN provider driver records its bookkeeping as strings (spec 1.2, 1.3,
4.2, 4.3); ovnlb writes and reads them byte for byte the same. Each
grammar has its writer next to its parser, and ``parse(write(x)) == x``
for every value a writer accepts (tests/core/test_formats.py).

Text and its writer / parser:

* ``listener_<id>[:D]``: :func:`listener_key` / :func:`parse_listener_key`;
  its value ``<port>:[pool_<id>[:D]]``: :func:`listener_value` / :func:`parse_listener_value`;
* ``pool_<id>[:D]``: :func:`pool_key` / :func:`parse_pool_key`; its value, member entries
  joined by ``,``: :func:`pool_value` / :func:`split_pool_value`;
* ``member_<id>_<address>:<port>_<subnet>``: :func:`member_text` / :func:`parse_member_text`
  (:data:`MEMBER_TEXT` at C speed);
* comma lists (additional VIPs, ports and FIPs, ``lr_ref``): :func:`join_list` / :func:`split_list`;
* ``ls_refs``: :func:`ls_refs_text` / :func:`parse_ls_refs`;
* ``neutron:member_status``: :func:`member_status_text` / :func:`parse_member_status`;
* ``octavia:healthmonitors``: :func:`healthmonitors_text` / :func:`parse_healthmonitors`;
* ``enabled``: :func:`enabled_text` / :func:`is_disabled`;
* ``selection_fields`` per algorithm: :data:`SELECTION_FIELDS`;
* ``<ip>:<port>`` / ``[<ipv6>]:<port>`` (``vips`` keys and backends): :func:`endpoint` /
  :func:`split_endpoint`; :func:`bracket` / :func:`unbracket`, :func:`ip_version`;
* health check ``vip``: :func:`health_check_vip` / :func:`health_check_host`; ``options``:
  :func:`health_check_options` / :func:`parse_health_check_options`; ``octavia:pool_id``:
  :func:`parse_hc_pool`;
* ``ip_port_mappings``: :func:`mapping_key`, :func:`mapping_value` / :func:`parse_mapping_value`;
* UUIDs: :func:`row_uuid` (rows ovnlb inserts) / :func:`is_uuid`, :data:`UUID_RE`;
  dotted-quad IPv4 (the request fast path): :data:`IPV4_RE`.

Pure: strings in, strings or plain tuples out (the model types are built by
:mod:`ovnlb_core.parse`).
"""

from __future__ import annotations

import json
import re
import uuid as uuidlib
from collections.abc import Iterable, Mapping
from typing import Any, Final

__all__ = [
    "DISABLED_SUFFIX",
    "ENDPOINT_V4",
    "HC_HM",
    "HC_OPTIONS",
    "HC_POOL",
    "HC_VIP",
    "IPV4_LINES_RE",
    "IPV4_RE",
    "KEY_ADD_VIPS",
    "KEY_ADD_VIP_FIPS",
    "KEY_ADD_VIP_PORTS",
    "KEY_ENABLED",
    "KEY_HMS",
    "KEY_LR_REF",
    "KEY_LS_REFS",
    "KEY_MEMBER_STATUS",
    "KEY_VIP",
    "KEY_VIP_FIP",
    "KEY_VIP_PORT",
    "LISTENER_PREFIX",
    "MEMBER_PREFIX",
    "MEMBER_TEXT",
    "POOL_PREFIX",
    "ROW_NAMESPACE",
    "SELECTION_FIELDS",
    "UUID_LINES_RE",
    "UUID_RE",
    "all_lines",
    "bracket",
    "dumps",
    "enabled_text",
    "endpoint",
    "health_check_host",
    "health_check_options",
    "health_check_vip",
    "healthmonitors_text",
    "ip_version",
    "is_disabled",
    "is_ipv6",
    "is_lower_uuid",
    "is_uuid",
    "join_list",
    "json_pairs",
    "listener_key",
    "listener_value",
    "ls_refs_text",
    "mapping_key",
    "mapping_value",
    "member_status_text",
    "member_text",
    "parse_hc_pool",
    "parse_health_check_options",
    "parse_healthmonitors",
    "parse_listener_key",
    "parse_listener_value",
    "parse_ls_refs",
    "parse_mapping_value",
    "parse_member_status",
    "parse_member_text",
    "parse_pool_key",
    "pool_key",
    "pool_value",
    "pool_value_known_canonical",
    "row_uuid",
    "split_endpoint",
    "split_list",
    "split_pool_value",
    "str_object_text",
    "unbracket",
    "vip_version",
]

# -- external_ids keys (spec 1.2) ------------------------------------------------------------

KEY_ENABLED: Final = "enabled"
KEY_VIP: Final = "neutron:vip"
KEY_VIP_PORT: Final = "neutron:vip_port_id"
KEY_ADD_VIPS: Final = "neutron:additional_vips"
KEY_ADD_VIP_PORTS: Final = "neutron:additional_vip_port_ids"
KEY_VIP_FIP: Final = "neutron:vip_fip"
KEY_ADD_VIP_FIPS: Final = "neutron:additional_vip_fips"
KEY_LR_REF: Final = "lr_ref"
KEY_LS_REFS: Final = "ls_refs"
KEY_MEMBER_STATUS: Final = "neutron:member_status"
KEY_HMS: Final = "octavia:healthmonitors"

#: ``Load_Balancer_Health_Check.external_ids`` keys (spec 4.2).
HC_HM: Final = "octavia:healthmonitor"
HC_POOL: Final = "octavia:pool_id"
HC_VIP: Final = "octavia:vip"

# -- UUIDs -----------------------------------------------------------------------------------

_UUID: Final = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
#: A UUID in 8-4-4-4-12 hex form, either case.
UUID_RE: Final = re.compile(f"^{_UUID}$")
_LOWER_UUID_RE: Final = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

#: Dotted-quad IPv4 exactly as ``ipaddress`` accepts it (ASCII digits, no leading zero,
#: each part at most 255); any other text is checked by ``ipaddress`` itself.
_IPV4: Final = (
    r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])\.){3}"
    r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
)
IPV4_RE: Final = re.compile(_IPV4)
#: Texts joined by newlines, each one a UUID / a dotted-quad IPv4 (see :func:`all_lines`).
UUID_LINES_RE: Final = re.compile(f"{_UUID}(?:\n{_UUID})*")
IPV4_LINES_RE: Final = re.compile(f"{_IPV4}(?:\n{_IPV4})*")

#: Namespace of the deterministic UUIDs ovnlb gives the rows it inserts.
ROW_NAMESPACE: Final = uuidlib.UUID("2f7d4c1a-8e3b-4a5f-b6c9-0d1e2f3a4b5c")


def all_lines(lines_re: re.Pattern[str], texts: list[str]) -> bool:
    """True when every text (all ``str``, at least one) matches the line pattern of
    ``lines_re`` (:data:`UUID_LINES_RE`, :data:`IPV4_LINES_RE`): one regex run over the
    texts joined by newlines. A text holding a newline is refused (the count of newlines
    tells), so this is ``all(LINE_RE.fullmatch(t) for t in texts)``."""
    joined = "\n".join(texts)
    return joined.count("\n") == len(texts) - 1 and lines_re.fullmatch(joined) is not None


def is_uuid(text: str) -> bool:
    """True for an 8-4-4-4-12 hex UUID (either case), the form Octavia's ids take."""
    return UUID_RE.fullmatch(text) is not None


def is_lower_uuid(text: str) -> bool:
    """True for a UUID in the lower-case form OVSDB writes."""
    return _LOWER_UUID_RE.fullmatch(text) is not None


def row_uuid(*parts: str) -> str:
    """A deterministic UUID for a row ovnlb inserts (safe to re-insert after TRY_AGAIN)."""
    return str(uuidlib.uuid5(ROW_NAMESPACE, "/".join(parts)))


# -- addresses and endpoints -----------------------------------------------------------------


def is_ipv6(address: str) -> bool:
    """Address family test for already validated addresses (and CIDRs)."""
    return ":" in address


def ip_version(address: str) -> int:
    """6 or 4, for an already validated address or CIDR."""
    return 6 if ":" in address else 4


def vip_version(vip: str | None) -> int:
    """The IP version of a row's ``neutron:vip`` (4 when it has none)."""
    return 6 if vip and is_ipv6(vip) else 4


def bracket(address: str) -> str:
    """``[addr]`` for IPv6, ``addr`` for IPv4."""
    return f"[{address}]" if is_ipv6(address) else address


def unbracket(text: str) -> str:
    """The address of :func:`bracket`'s text (``[addr]`` -> ``addr``)."""
    return text[1:-1] if text.startswith("[") and text.endswith("]") else text


#: :func:`endpoint` of an IPv4 address as ``str.format`` (mapped over whole pools at C speed).
ENDPOINT_V4: Final = "{}:{}".format


def endpoint(address: str, port: int) -> str:
    """``<ip>:<port>`` or ``[<ipv6>]:<port>``: a ``vips`` key or backend, a health check vip."""
    return f"[{address}]:{port}" if is_ipv6(address) else f"{address}:{port}"


def split_endpoint(text: str) -> tuple[str, int]:
    """:func:`endpoint`'s text -> ``(address, port)`` (ValueError: malformed)."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"{text!r} is not <address>:<port>")
    if ":" in host:
        if not (host.startswith("[") and host.endswith("]")):
            raise ValueError(f"{text!r}: an IPv6 address must be bracketed")
        host = host[1:-1]
    return host, int(port)


# -- JSON values (``json.dumps`` default separators) ------------------------------------------


def dumps(value: object) -> str:
    """JSON exactly as the reference writes it (``json.dumps`` default separators)."""
    return json.dumps(value)


def json_pairs(value: str) -> list[tuple[str, Any]]:
    """A JSON object -> its ``(key, value)`` pairs in text order (ValueError: not an object)."""
    data = json.loads(value, object_pairs_hook=lambda pairs: pairs)
    if not isinstance(data, list) or any(not isinstance(p, tuple) for p in data):
        raise ValueError(f"{value!r} is not a JSON object")
    return data


def ls_refs_text(pairs: Iterable[tuple[str, int]]) -> str:
    """``ls_refs``: ``{"neutron-<net>": <count>, ...}`` in insertion order (spec 1.7)."""
    return dumps(dict(pairs))


def parse_ls_refs(value: str) -> tuple[tuple[str, int], ...]:
    """``ls_refs`` -> its ``(switch, count)`` pairs (ValueError: a count that is not >= 1)."""
    pairs = json_pairs(value)
    if any(not isinstance(v, int) or isinstance(v, bool) for _, v in pairs):
        raise ValueError(f"{value!r} has a count that is not an integer")
    # A count says how many reasons the LB has to be on the switch (spec 1.7):
    # the provider deletes the key at zero, so only positive counts are valid.
    # A foreign writer's -3 or 0 would otherwise be spread (a member delete
    # dropping the switch early), not refused.
    if any(v < 1 for _, v in pairs):
        raise ValueError(f"{value!r} has a count that is not a positive integer")
    return tuple(pairs)


def member_status_text(pairs: Iterable[tuple[str, str]]) -> str:
    """``neutron:member_status``: ``{"<member-id>": "<status>", ...}`` (spec 1.9)."""
    return str_object_text(dict(pairs))


_ITEM_JOIN = '": "'.join
_PRINTABLE_ASCII: Final = bytes(range(0x20, 0x7F))


def str_object_text(items: Mapping[str, str]) -> str:
    """``dumps(items)`` for a map of strings, at C speed when nothing needs escaping.

    ``json.dumps`` writes a string raw between quotes when it holds only printable
    ASCII other than ``"`` and ``\\``: then the text is the items joined, checked
    after joining (the separators hold exactly ``4n - 2`` quotes, so one more means a
    quote in an item). A 10k-member status on a cold cache. Anything else, or a key or
    value that is not a string, goes to ``dumps``.
    """
    try:
        body = '", "'.join(map(_ITEM_JOIN, items.items()))
    except TypeError:  # a key or value that is not a string
        return dumps(items)
    if items and body.isascii():
        raw = body.encode("ascii")
        # Deleting every printable character leaves the others (C speed).
        if (
            not raw.translate(None, _PRINTABLE_ASCII)
            and b"\\" not in raw
            and raw.count(b'"') == 4 * len(items) - 2
        ):
            return '{"' + body + '"}'
    return dumps(items)


def parse_member_status(value: str) -> tuple[tuple[str, str], ...]:
    """``neutron:member_status`` -> its ``(member id, status)`` pairs."""
    pairs = json_pairs(value)
    if any(not isinstance(v, str) for _, v in pairs):
        raise ValueError(f"{value!r} has a status that is not a string")
    return tuple(pairs)


def healthmonitors_text(ids: Iterable[str]) -> str:
    """``octavia:healthmonitors``: ``["<hm-id>", ...]``."""
    return dumps(list(ids))


def parse_healthmonitors(value: str) -> tuple[str, ...]:
    """``octavia:healthmonitors`` -> the monitor ids."""
    hms = json.loads(value)
    if not isinstance(hms, list) or any(not isinstance(h, str) for h in hms):
        raise ValueError(f"{value!r} is not a JSON list of strings")
    return tuple(hms)


# -- plain values ----------------------------------------------------------------------------


def join_list(values: Iterable[str]) -> str:
    """A comma list, no spaces (``neutron:additional_vips``..., ``lr_ref``)."""
    return ",".join(values)


def split_list(value: str) -> tuple[str, ...]:
    """A comma list -> its items (``""`` is one empty item, as the reference reads it)."""
    return tuple(value.split(","))


def enabled_text(admin_state_up: bool) -> str:
    """``enabled``: Python's ``str()`` of the admin state."""
    return str(admin_state_up)


def is_disabled(enabled: str | None) -> bool:
    """True when ``enabled`` is exactly ``"False"`` (the only text that empties ``vips``)."""
    return enabled == "False"


#: ``selection_fields`` per load-balancing algorithm (``None``: LB create, no algorithm yet),
#: sorted as OVSDB reads the set back (spec 1.5).
SELECTION_FIELDS: Final[Mapping[str | None, tuple[str, ...]]] = {
    "SOURCE_IP_PORT": ("ip_dst", "ip_src", "tp_dst", "tp_src"),
    "SOURCE_IP": ("ip_dst", "ip_src"),
    None: ("ip_dst", "ip_src", "tp_dst", "tp_src"),
}

# -- listener and pool keys and values (spec 1.3) --------------------------------------------

DISABLED_SUFFIX: Final = ":D"
LISTENER_PREFIX: Final = "listener_"
POOL_PREFIX: Final = "pool_"
MEMBER_PREFIX: Final = "member_"


def _key(prefix: str, ident: str, enabled: bool) -> str:
    return f"{prefix}{ident}" if enabled else f"{prefix}{ident}{DISABLED_SUFFIX}"


def _parse_key(key: str, prefix: str) -> tuple[str, bool]:
    """``<prefix><id>[:D]`` -> ``(id, enabled)``; the caller has checked the prefix."""
    rest = key[len(prefix) :]
    disabled = rest.endswith(DISABLED_SUFFIX)
    ident = rest[:-2] if disabled else rest
    if not ident or ":" in ident:
        raise ValueError(f"key {key!r} is not {prefix}<id>[:D]")
    return ident, not disabled


def listener_key(listener_id: str, enabled: bool = True) -> str:
    """``listener_<id>``, or ``listener_<id>:D`` when disabled."""
    return _key(LISTENER_PREFIX, listener_id, enabled)


def parse_listener_key(key: str) -> tuple[str, bool]:
    """``listener_<id>[:D]`` -> ``(id, enabled)`` (the key starts with ``listener_``)."""
    return _parse_key(key, LISTENER_PREFIX)


def listener_value(port: int, pool_id: str | None = None, pool_ref_disabled: bool = False) -> str:
    """``<port>:``, ``<port>:pool_<id>``, or ``<port>:pool_<id>:D`` (bug B3's form)."""
    if pool_id is None:
        return f"{port}:"
    return f"{port}:{POOL_PREFIX}{pool_id}" + (DISABLED_SUFFIX if pool_ref_disabled else "")


def parse_listener_value(value: str) -> tuple[int, str | None, bool]:
    """A listener value -> ``(port, pool id or None, pool_ref_disabled)``."""
    fields = value.split(":")
    if len(fields) not in (2, 3) or not fields[0].isdigit():
        raise ValueError(f"listener value {value!r} is not <port>:[pool_<id>]")
    pool_part = fields[1]
    ref_disabled = False
    if len(fields) == 3:
        if fields[2] != "D" or not pool_part:
            raise ValueError(f"listener value {value!r} is not <port>:[pool_<id>]")
        ref_disabled = True
    pool_id: str | None = None
    if pool_part:
        if not pool_part.startswith(POOL_PREFIX) or len(pool_part) == len(POOL_PREFIX):
            raise ValueError(f"listener value {value!r} names no pool")
        pool_id = pool_part[len(POOL_PREFIX) :]
    return int(fields[0]), pool_id, ref_disabled


def pool_key(pool_id: str, enabled: bool = True) -> str:
    """``pool_<id>``, or ``pool_<id>:D`` when disabled."""
    return _key(POOL_PREFIX, pool_id, enabled)


def parse_pool_key(key: str) -> tuple[str, bool]:
    """``pool_<id>[:D]`` -> ``(id, enabled)`` (the key starts with ``pool_``)."""
    return _parse_key(key, POOL_PREFIX)


#: :func:`member_text` as ``str.format`` (``"{}"`` formats like an f-string field), to map
#: over whole pools at C speed.
MEMBER_TEXT: Final = "member_{}_{}:{}_{}".format


def member_text(member_id: str, address: str, port: int, subnet: str) -> str:
    """``member_<id>_<address>:<port>_<subnet>`` (IPv6 raw, not bracketed)."""
    return f"member_{member_id}_{address}:{port}_{subnet}"


def parse_member_text(text: str) -> tuple[str, str, int, str]:
    """A member entry -> ``(id, address, port, subnet)`` (ValueError: malformed).

    Split as the reference splits it (spec 1.3): on ``_``, the address from
    the port at the last ``:``.
    """
    parts = text.split("_")
    if len(parts) != 4 or parts[0] != "member":
        raise ValueError(f"member entry {text!r} is not member_<id>_<address>:<port>_<subnet>")
    address, sep, port = parts[2].rpartition(":")
    if not sep or not address or not port.isdigit() or not parts[1]:
        raise ValueError(f"member entry {text!r} has no <address>:<port>")
    return parts[1], address, int(port), parts[3]


def pool_value(entries: Iterable[str]) -> str:
    """A pool value: member entries joined by ``,`` (``""`` for none)."""
    return ",".join(entries)


def split_pool_value(value: str) -> list[str]:
    """A pool value -> its member entries (none for ``""``)."""
    return value.split(",") if value else []


#: A ':' then '0' and a digit: where a port with a leading zero could start.
_LEADING_ZERO_PORT_RE: Final = re.compile(r":0[0-9]")


def pool_value_known_canonical(value: str) -> bool:
    """True when ``value``, a pool value that parses, is surely what :func:`pool_value`
    writes for its parsed entries; False when that is not known.

    An entry read by :func:`parse_member_text` is written back the same but for its
    port, which is written as an int: the same text unless it has a leading zero or
    digits other than ASCII ones. Checked over the whole value at C speed (a 10k-member
    pool on the first request after a restart); False leaves it to the entry-by-entry
    comparison.
    """
    return value.isascii() and _LEADING_ZERO_PORT_RE.search(value) is None


#: The ``Load_Balancer.options`` key of session persistence's timeout (spec 4.1).
AFFINITY: Final = "affinity_timeout"


# -- health checks (spec 4.2) ----------------------------------------------------------------

#: Octavia health monitor field -> ``Load_Balancer_Health_Check.options`` key.
HC_OPTIONS: Final = (
    ("delay", "interval"),
    ("timeout", "timeout"),
    ("max_retries", "success_count"),
    ("max_retries_down", "failure_count"),
)


def health_check_options(fields: Mapping[str, int | None]) -> dict[str, str]:
    """The ``options`` of a health check from the monitor's fields (None: left out)."""
    return {key: str(fields[field]) for field, key in HC_OPTIONS if fields.get(field) is not None}


def parse_health_check_options(options: Mapping[str, str]) -> dict[str, int]:
    """A health check's ``options`` -> the monitor fields they hold."""
    out: dict[str, int] = {}
    for field, key in HC_OPTIONS:
        if key in options:
            out[field] = int(options[key])
    return out


def health_check_vip(address: str, port: int | None) -> str:
    """A health check's ``vip``: :func:`endpoint`, or ``""`` without a listener port."""
    return endpoint(address, port) if port else ""


def health_check_host(vip: str) -> str:
    """The host part of a health check ``vip`` as written (brackets kept), ``vip`` if no port."""
    return vip.rpartition(":")[0] if ":" in vip else vip


def parse_hc_pool(value: str) -> str:
    """``octavia:pool_id`` (``<pool-id>``, ``:D`` when disabled) -> the pool id."""
    return value[:-2] if value.endswith(DISABLED_SUFFIX) else value


# -- ip_port_mappings (spec 4.3) -------------------------------------------------------------


def mapping_key(member_ip: str) -> str:
    """``ip_port_mappings`` key: the member IP, bracketed if IPv6."""
    return bracket(member_ip)


def mapping_value(logical_port: str, source_ip: str) -> str:
    """``ip_port_mappings`` value: ``<member-LSP-name>:<hm-source-ip>`` (IPv6 bracketed)."""
    return f"{logical_port}:{bracket(source_ip)}"


def parse_mapping_value(value: str) -> tuple[str, str]:
    """``ip_port_mappings`` value -> ``(logical_port, source_ip)`` (brackets removed)."""
    lsp, _, src = value.partition(":")
    return lsp, unbracket(src)
