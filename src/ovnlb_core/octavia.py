"""Everything about Octavia's resources lives here: as the provider API passes them, validated.

Objects arrive as octavia-lib provider data models or their ``to_dict()``
form (a key that is absent was ``Unset``). ``from_dict`` checks types and
ranges and refuses any text that would corrupt the external_ids grammar
(ids that are not UUIDs, addresses that are not IP addresses), raising
:class:`~ovnlb_core.errors.InvalidRequestError`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from itertools import repeat
from typing import Any, Generic, TypeVar

import attrs

from ovnlb_core.errors import InvalidRequestError
from ovnlb_core.formats import IPV4_LINES_RE, IPV4_RE, UUID_LINES_RE, UUID_RE, all_lines, is_uuid

__all__ = [
    "AdditionalVip",
    "HealthMonitor",
    "Listener",
    "LoadBalancer",
    "Member",
    "MemberColumns",
    "OctaviaView",
    "Pool",
    "SessionPersistence",
    "Update",
    "as_dict",
    "update_of",
]


def as_dict(obj: Any) -> Mapping[str, Any]:
    """A provider object or its dict form -> a dict (octavia-lib objects via ``to_dict``)."""
    if isinstance(obj, Mapping):
        return obj
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict):
        try:
            result = to_dict(recurse=True)
        except TypeError:
            result = to_dict()
        if isinstance(result, Mapping):
            return result
    raise InvalidRequestError("request", "body", f"expected a mapping, got {type(obj).__name__}")


class _Reader:
    """Typed field access with errors that name the resource and field."""

    def __init__(self, resource: str, data: Mapping[str, Any], id_field: str) -> None:
        self.resource = resource
        self.data = data
        raw_id = data.get(id_field)
        self.rid = raw_id if isinstance(raw_id, str) else None

    def fail(self, field: str, reason: str) -> InvalidRequestError:
        return InvalidRequestError(self.resource, field, reason, resource_id=self.rid)

    def given(self, field: str, optional: bool) -> Any:
        """The field's value; None when absent or null and ``optional``, else an error."""
        value = self.data.get(field)
        if value is None and not optional:
            raise self.fail(field, "is required")
        return value

    def uuid(self, field: str, *, optional: bool = False) -> Any:
        value = self.given(field, optional)
        if value is None:
            return None
        if not isinstance(value, str) or not is_uuid(value):
            raise self.fail(field, f"must be a UUID, got {value!r}")
        return value

    def boolean(self, field: str, default: bool = True) -> bool:
        value = self.data.get(field, default)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail(field, f"must be a boolean, got {value!r}")
        return value

    def integer(self, field: str, lo: int, hi: int, *, optional: bool = False) -> Any:
        value = self.given(field, optional)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(field, f"must be an integer, got {value!r}")
        if not lo <= value <= hi:
            raise self.fail(field, f"must be between {lo} and {hi}, got {value}")
        return value

    def ip(self, field: str, *, optional: bool = False) -> Any:
        value = self.given(field, optional)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.fail(field, f"must be an IP address, got {value!r}")
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise self.fail(field, f"{value!r} is not an IP address") from None
        if "%" in value:
            raise self.fail(field, f"{value!r}: scoped addresses are not supported")
        return value

    def text(self, field: str, *, optional: bool = True) -> str | None:
        value = self.given(field, optional)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.fail(field, f"must be a string, got {value!r}")
        return value


@attrs.frozen
class AdditionalVip:
    """An additional VIP of a load balancer."""

    ip_address: str
    port_id: str | None = None
    subnet_id: str | None = None
    network_id: str | None = None


@attrs.frozen
class HealthMonitor:
    """An Octavia health monitor."""

    id: str
    pool_id: str | None
    type: str | None
    delay: int | None = None
    timeout: int | None = None
    max_retries: int | None = None
    max_retries_down: int | None = None
    admin_state_up: bool = True

    @classmethod
    def from_dict(cls, obj: Any) -> HealthMonitor:
        """Validate a provider health monitor."""
        r = _Reader("healthmonitor", as_dict(obj), "healthmonitor_id")
        hm_type = r.text("type")
        return cls(
            id=r.uuid("healthmonitor_id"),
            pool_id=r.uuid("pool_id", optional=True) or None,
            type=hm_type,
            delay=r.integer("delay", 0, 2**31 - 1, optional=True),
            timeout=r.integer("timeout", 0, 2**31 - 1, optional=True),
            max_retries=r.integer("max_retries", 1, 10, optional=True),
            max_retries_down=r.integer("max_retries_down", 1, 10, optional=True),
            admin_state_up=r.boolean("admin_state_up"),
        )


@attrs.frozen
class Member:
    """An Octavia pool member."""

    id: str
    pool_id: str | None
    address: str
    protocol_port: int
    #: ``None``: Octavia gave no subnet (the LB's VIP subnet applies, spec 1.3).
    subnet_id: str | None = None
    admin_state_up: bool = True
    weight: int | None = None
    backup: bool = False
    monitor_address: str | None = None
    monitor_port: int | None = None

    @classmethod
    def from_dict(cls, obj: Any) -> Member:
        """Validate a provider member."""
        data = as_dict(obj)
        # A batch brings thousands of members: the usual shape is checked at C speed
        # (regexes, exact type tests); anything else takes the field-by-field path,
        # which gives the same Member or the typed error.
        fast = _member_fast(data) if type(data) is dict else None
        return fast if fast is not None else cls._checked(data)

    @classmethod
    def _checked(cls, data: Mapping[str, Any]) -> Member:
        r = _Reader("member", data, "member_id")
        return cls(
            id=r.uuid("member_id"),
            pool_id=r.uuid("pool_id", optional=True) or None,
            address=r.ip("address"),
            protocol_port=r.integer("protocol_port", 1, 65535),
            subnet_id=r.uuid("subnet_id", optional=True) or None,
            admin_state_up=r.boolean("admin_state_up"),
            weight=r.integer("weight", 0, 256, optional=True),
            backup=r.boolean("backup", False),
            monitor_address=r.ip("monitor_address", optional=True),
            monitor_port=r.integer("monitor_port", 1, 65535, optional=True),
        )


_ipv4 = IPV4_RE.fullmatch
_uuid = UUID_RE.fullmatch


def _member_fast(d: dict[str, Any]) -> Member | None:
    """``Member._checked`` for a member whose fields all have the usual types and values
    (UUIDs, a dotted-quad address, ints in range, booleans); None for any other member,
    which then takes the checked path (and its error, if it has one)."""
    g = d.get
    mid = g("member_id")
    pool = g("pool_id")
    addr = g("address")
    port = g("protocol_port")
    subnet = g("subnet_id")
    admin = g("admin_state_up", True)
    weight = g("weight")
    backup = g("backup", False)
    if (
        type(mid) is not str
        or _uuid(mid) is None
        or type(addr) is not str
        or _ipv4(addr) is None
        or type(port) is not int
        or not 1 <= port <= 65535
        or (pool is not None and (type(pool) is not str or _uuid(pool) is None))
        or (subnet is not None and (type(subnet) is not str or _uuid(subnet) is None))
        or (admin is not None and type(admin) is not bool)
        or (backup is not None and type(backup) is not bool)
        or (weight is not None and (type(weight) is not int or not 0 <= weight <= 256))
        or g("monitor_address") is not None
        or g("monitor_port") is not None
    ):
        return None
    return Member(
        mid,
        pool,
        addr,
        port,
        subnet,
        True if admin is None else admin,
        weight,
        False if backup is None else backup,
    )


_NONE = type(None)
_dict_get = dict.get
_dict_has = dict.__contains__


@attrs.frozen
class MemberColumns:
    """A batch of usual members (what :func:`_member_fast` accepts), column by column.

    :meth:`of` reads a ``member_batch_update`` batch at C speed (maps over the
    dicts, no call per member): a batch it accepts is one whose every member
    ``Member.from_dict({**m, "pool_id": pool_id})`` turns into a :class:`Member`
    without an error, and :meth:`member` gives that same Member. Any other batch
    (None) takes the member-by-member path, with its errors.
    """

    pool_id: str
    ids: list[str]
    addresses: list[str]
    ports: list[int]
    #: ``None``: no subnet given.
    subnets: list[str | None]
    admins: list[bool]
    weights: list[int | None]
    backups: list[bool]

    @classmethod
    def of(cls, members: Sequence[Any], pool_id: str) -> MemberColumns | None:
        """The batch's columns, or None when a member is not of the usual shape."""
        if type(pool_id) is not str or _uuid(pool_id) is None or not members:
            return None
        if set(map(type, members)) != {dict}:
            return None

        def col(key: str, default: Any = None) -> list[Any]:
            return list(map(_dict_get, members, repeat(key), repeat(default)))

        def absent(key: str) -> bool:
            """No member has the key (its column is all defaults, not read)."""
            return not any(map(_dict_has, members, repeat(key)))

        n = len(members)
        ids = col("member_id")
        addresses = col("address")
        ports = col("protocol_port")
        subnets = col("subnet_id")
        admins = col("admin_state_up", True)
        weights = [None] * n if absent("weight") else col("weight")
        backups = [False] * n if absent("backup") else col("backup", False)
        if (
            set(map(type, ids)) != {str}
            or not all_lines(UUID_LINES_RE, ids)
            or set(map(type, addresses)) != {str}
            or not all_lines(IPV4_LINES_RE, addresses)
            or set(map(type, ports)) != {int}
            or min(ports) < 1
            or max(ports) > 65535
            or not set(map(type, subnets)) <= {str, _NONE}
            or not all(map(_uuid, set(subnets) - {None}))
            or not set(map(type, admins)) <= {bool, _NONE}
            or not set(map(type, backups)) <= {bool, _NONE}
            or not set(map(type, weights)) <= {int, _NONE}
            or not (absent("monitor_address") or set(map(type, col("monitor_address"))) == {_NONE})
            or not (absent("monitor_port") or set(map(type, col("monitor_port"))) == {_NONE})
        ):
            return None
        given = set(weights) - {None}
        if given and (min(given) < 0 or max(given) > 256):
            return None
        if None in set(admins):
            admins = [True if a is None else a for a in admins]
        if None in set(backups):
            backups = [False if b is None else b for b in backups]
        return cls(pool_id, ids, addresses, ports, subnets, admins, weights, backups)

    def member(self, i: int) -> Member:
        """Member ``i`` (as ``Member.from_dict`` makes it)."""
        return Member(
            self.ids[i],
            self.pool_id,
            self.addresses[i],
            self.ports[i],
            self.subnets[i],
            self.admins[i],
            self.weights[i],
            self.backups[i],
        )

    def members(self) -> list[Member]:
        """Every member, in order."""
        return [self.member(i) for i in range(len(self.ids))]


@attrs.frozen
class SessionPersistence:
    """A pool's session persistence."""

    type: str
    #: ``persistence_timeout`` as given; absent means the default of 360 s.
    timeout: int | None = 360


@attrs.frozen
class Pool:
    """An Octavia pool."""

    id: str
    loadbalancer_id: str | None
    listener_id: str | None
    protocol: str
    lb_algorithm: str | None
    session_persistence: SessionPersistence | None = None
    admin_state_up: bool = True
    members: tuple[Member, ...] = ()
    healthmonitor: HealthMonitor | None = None

    @classmethod
    def from_dict(cls, obj: Any) -> Pool:
        """Validate a provider pool."""
        data = as_dict(obj)
        r = _Reader("pool", data, "pool_id")
        sp_raw = data.get("session_persistence")
        sp: SessionPersistence | None = None
        if sp_raw:
            if not isinstance(sp_raw, Mapping):
                raise r.fail("session_persistence", f"must be a mapping, got {sp_raw!r}")
            spr = _Reader("pool", sp_raw, "pool_id")
            sp_type = spr.text("type", optional=False)
            assert sp_type is not None
            timeout = 360
            if "persistence_timeout" in sp_raw:
                timeout = spr.integer("persistence_timeout", 0, 65535, optional=True)
            sp = SessionPersistence(sp_type, timeout)
        members = tuple(Member.from_dict(m) for m in data.get("members") or ())
        hm = data.get("healthmonitor")
        return cls(
            id=r.uuid("pool_id"),
            loadbalancer_id=r.uuid("loadbalancer_id", optional=True) or None,
            listener_id=r.uuid("listener_id", optional=True) or None,
            protocol=_protocol(r),
            lb_algorithm=r.text("lb_algorithm"),
            session_persistence=sp,
            admin_state_up=r.boolean("admin_state_up"),
            members=members,
            healthmonitor=HealthMonitor.from_dict(hm) if hm else None,
        )


def _protocol(r: _Reader) -> str:
    value = r.text("protocol", optional=False)
    assert value is not None
    if not value or not value.replace("_", "").isalnum():
        raise r.fail("protocol", f"{value!r} is not a protocol name")
    return value


@attrs.frozen
class Listener:
    """An Octavia listener."""

    id: str
    loadbalancer_id: str | None
    protocol: str
    protocol_port: int
    default_pool_id: str | None = None
    admin_state_up: bool = True
    allowed_cidrs: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, obj: Any) -> Listener:
        """Validate a provider listener."""
        data = as_dict(obj)
        r = _Reader("listener", data, "listener_id")
        cidrs = data.get("allowed_cidrs") or ()
        if not isinstance(cidrs, list | tuple) or any(not isinstance(c, str) for c in cidrs):
            raise r.fail("allowed_cidrs", f"must be a list of CIDRs, got {cidrs!r}")
        return cls(
            id=r.uuid("listener_id"),
            loadbalancer_id=r.uuid("loadbalancer_id", optional=True) or None,
            protocol=_protocol(r),
            protocol_port=r.integer("protocol_port", 1, 65535),
            default_pool_id=r.uuid("default_pool_id", optional=True) or None,
            admin_state_up=r.boolean("admin_state_up"),
            allowed_cidrs=tuple(cidrs),
        )


@attrs.frozen
class LoadBalancer:
    """An Octavia load balancer (with its children when Octavia passes them, e.g. on delete)."""

    id: str
    vip_address: str | None
    vip_port_id: str | None = None
    vip_network_id: str | None = None
    vip_subnet_id: str | None = None
    additional_vips: tuple[AdditionalVip, ...] = ()
    admin_state_up: bool = True
    listeners: tuple[Listener, ...] = ()
    pools: tuple[Pool, ...] = ()

    @classmethod
    def from_dict(cls, obj: Any) -> LoadBalancer:
        """Validate a provider load balancer."""
        data = as_dict(obj)
        r = _Reader("loadbalancer", data, "loadbalancer_id")
        add = []
        for i, item in enumerate(data.get("additional_vips") or ()):
            if not isinstance(item, Mapping):
                raise r.fail(f"additional_vips[{i}]", "must be a mapping")
            ar = _Reader("loadbalancer", item, "port_id")
            ar.rid = r.rid
            add.append(
                AdditionalVip(
                    ip_address=ar.ip("ip_address"),
                    port_id=ar.uuid("port_id", optional=True) or None,
                    subnet_id=ar.uuid("subnet_id", optional=True) or None,
                    network_id=ar.uuid("network_id", optional=True) or None,
                )
            )
        return cls(
            id=r.uuid("loadbalancer_id"),
            vip_address=r.ip("vip_address", optional=True),
            vip_port_id=r.uuid("vip_port_id", optional=True) or None,
            vip_network_id=r.uuid("vip_network_id", optional=True) or None,
            vip_subnet_id=r.uuid("vip_subnet_id", optional=True) or None,
            additional_vips=tuple(add),
            admin_state_up=r.boolean("admin_state_up"),
            listeners=tuple(Listener.from_dict(x) for x in data.get("listeners") or ()),
            pools=tuple(Pool.from_dict(x) for x in data.get("pools") or ()),
        )


T = TypeVar("T")


@attrs.frozen
class Update(Generic[T]):
    """An update request: the object before, after, and which fields the request carried."""

    old: T
    new: T
    changed: frozenset[str]


def update_of(cls: Any, old: Any, new: Any) -> Update[Any]:
    """Validate an ``old``/``new`` pair (``new`` carries only the changed fields)."""
    old_d = dict(as_dict(old))
    new_d = dict(as_dict(new))
    merged = {**old_d, **new_d}
    return Update(cls.from_dict(old_d), cls.from_dict(merged), frozenset(new_d))


@attrs.define
class OctaviaView:
    """What Octavia's database holds (the driver library's ``get_*`` answers).

    Used for admin states in status roll-ups and for facts the rows do not
    hold (the LB's VIP subnet, additional VIPs).
    """

    loadbalancers: dict[str, Mapping[str, Any]] = attrs.field(factory=dict)
    listeners: dict[str, Mapping[str, Any]] = attrs.field(factory=dict)
    pools: dict[str, Mapping[str, Any]] = attrs.field(factory=dict)
    members: dict[str, Mapping[str, Any]] = attrs.field(factory=dict)
    healthmonitors: dict[str, Mapping[str, Any]] = attrs.field(factory=dict)

    _ID_FIELDS = {
        "loadbalancers": "loadbalancer_id",
        "listeners": "listener_id",
        "pools": "pool_id",
        "members": "member_id",
        "healthmonitors": "healthmonitor_id",
    }

    def apply_changes(self, changes: Mapping[str, Any]) -> None:
        """Apply a conformance ``octavia_changes`` delta (``set`` / ``delete`` per kind)."""
        for kind, delta in changes.items():
            table: dict[str, Mapping[str, Any]] = getattr(self, kind)
            for obj in delta.get("set", ()):
                table[obj[self._ID_FIELDS[kind]]] = obj
            for oid in delta.get("delete", ()):
                table.pop(oid, None)

    def admin(self, kind: str, oid: str) -> bool | None:
        """``admin_state_up`` of an object, or None when the view does not hold it."""
        obj = getattr(self, kind).get(oid)
        if obj is None:
            return None
        return bool(obj.get("admin_state_up", True))
