"""The canonical NB dump (conformance-format.md section 6).

Expected values come from the conformance files (``expect_initial.nb`` and
every step's ``expect.nb``) or are written out by hand from the spec.
"""

from __future__ import annotations

import json
import uuid as uuidlib
from pathlib import Path
from typing import Any

import pytest

from ovnlb_backends.memory import MemoryBackend
from ovnlb_core.dump import canonical_dump, lb_labels
from ovnlb_core.nb import NbReader, NbSnapshot, full_row
from ovnlb_core.plan import Attachment, HealthCheckRow, LoadBalancerRow, NatUpdate, Plan
from paths import CONFORMANCE_DIR

CONFORMANCE = sorted((CONFORMANCE_DIR).glob("*.json"))
NS = uuidlib.UUID("0b5c8f52-61a4-4c43-a7a4-5f1d2e9a7c10")


def uid(name: str) -> str:
    return str(uuidlib.uuid5(NS, name))


def load(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text())
    assert doc["format"] == "ovnlb-conformance/1"
    return doc


@pytest.mark.parametrize("path", CONFORMANCE, ids=lambda p: p.stem)
def test_initial_dump_matches_expect_initial(path: Path) -> None:
    doc = load(path)
    backend = MemoryBackend.from_nb_initial(doc["nb_initial"])
    assert canonical_dump(backend.reader()) == doc["expect_initial"]["nb"]


def _plan_for(reader: NbReader, nb: dict[str, Any]) -> Plan:
    """Rows that reproduce an expected dump, inserted in an order unrelated to the dump's."""
    lb_uuid = {item["label"]: uid("lb/" + item["label"]) for item in nb["Load_Balancer"]}
    hcs = [(uid(f"hc/{i}"), item) for i, item in enumerate(nb["Load_Balancer_Health_Check"])]
    lbs = [
        LoadBalancerRow(
            uuid=lb_uuid[item["label"]],
            name=item["name"],
            protocol=item["protocol"],
            vips=item["vips"],
            external_ids=item["external_ids"],
            selection_fields=tuple(item["selection_fields"]),
            options=item["options"],
            ip_port_mappings=item["ip_port_mappings"],
            health_check=tuple(u for u, hc in hcs if item["label"] in hc["referenced_by"]),
        )
        for item in nb["Load_Balancer"]
    ]
    attach = [
        Attachment("Logical_Switch", name, lb_uuid[label])
        for name, labels in nb["Logical_Switch_load_balancers"].items()
        for label in labels
    ] + [
        Attachment("Logical_Router", name, lb_uuid[label])
        for name, labels in nb["Logical_Router_load_balancers"].items()
        for label in labels
    ]
    nat_by_fip = {
        row["external_ids"].get("neutron:fip_id"): (u, row) for u, row in reader.rows("NAT").items()
    }
    nat_updates = []
    for nat in nb["NAT_floating_ips"]:
        u, row = nat_by_fip[nat["external_ids"]["neutron:fip_id"]]
        clear_lp = nat["logical_port"] is None and row["logical_port"] is not None
        clear_mac = nat["external_mac"] is None and row["external_mac"] is not None
        if clear_lp or clear_mac:
            nat_updates.append(NatUpdate(u, clear_lp, clear_mac))
    return Plan(
        lb_inserts=tuple(reversed(lbs)),
        hc_inserts=tuple(
            HealthCheckRow(u, vip=hc["vip"], options=hc["options"], external_ids=hc["external_ids"])
            for u, hc in reversed(hcs)
        ),
        attach=tuple(reversed(attach)),
        nat_updates=tuple(nat_updates),
    )


def _steps() -> list[tuple[Path, int]]:
    return [(p, s["index"]) for p in CONFORMANCE for s in load(p)["steps"]]


@pytest.mark.parametrize(("path", "index"), _steps(), ids=lambda v: str(getattr(v, "stem", v)))
def test_dump_of_every_recorded_step(path: Path, index: int) -> None:
    """Rebuild each step's recorded NB (Neutron's writes + the recorded LB rows) and dump it."""
    doc = load(path)
    backend = MemoryBackend.from_nb_initial(doc["nb_initial"])
    for step in doc["steps"][: index + 1]:
        backend.apply_raw(step.get("nb_changes") or [])
        backend.apply_raw(step.get("nb_changes_after") or [])
    expected = doc["steps"][index]["expect"]["nb"]
    backend.commit(_plan_for(backend.reader(), expected))
    assert canonical_dump(backend.reader()) == expected


def _snapshot(tables: dict[str, dict[str, dict[str, Any]]]) -> NbSnapshot:
    return NbSnapshot(
        {t: {u: full_row(t, row) for u, row in rows.items()} for t, rows in tables.items()}
    )


def test_empty_nb() -> None:
    assert canonical_dump(NbSnapshot()) == {
        "Load_Balancer": [],
        "Load_Balancer_Health_Check": [],
        "Logical_Switch_load_balancers": {},
        "Logical_Router_load_balancers": {},
        "NAT_floating_ips": [],
    }


def _dup_tables(first: str, second: str) -> dict[str, dict[str, dict[str, Any]]]:
    return {
        "Load_Balancer": {
            first: {"name": "lb", "protocol": "tcp", "vips": {"10.0.0.3:80": "10.0.0.5:80"}},
            second: {"name": "lb", "protocol": "tcp", "vips": {"10.0.0.3:80": "10.0.0.6:80"}},
            uid("c"): {"name": "lb", "protocol": "tcp", "vips": {"10.0.0.3:80": "10.0.0.7:80"}},
            uid("d"): {"name": "lb", "protocol": None},
        },
        "Logical_Switch": {
            uid("ls"): {"name": "ls", "load_balancer": tuple(sorted([first, second]))},
        },
    }


def test_labels_none_protocol_and_duplicate_suffixes() -> None:
    dump = canonical_dump(_snapshot(_dup_tables(uid("a"), uid("b"))))
    assert [lb["label"] for lb in dump["Load_Balancer"]] == [
        "lb/none",
        "lb/tcp",
        "lb/tcp#2",
        "lb/tcp#3",
    ]
    assert dump["Load_Balancer"][0]["protocol"] is None
    holders = dump["Logical_Switch_load_balancers"]["ls"]
    assert len(holders) == 2
    assert holders == sorted(holders)
    assert set(holders) <= {"lb/tcp", "lb/tcp#2", "lb/tcp#3"}


def test_dump_does_not_depend_on_row_uuids() -> None:
    """OVN row UUIDs never appear: swapping two rows' UUIDs changes nothing."""
    a, b = uid("a"), uid("b")
    assert canonical_dump(_snapshot(_dup_tables(a, b))) == canonical_dump(
        _snapshot(_dup_tables(b, a))
    )
    labels = lb_labels(_snapshot(_dup_tables(a, b)))
    assert sorted(labels.values()) == ["lb/none", "lb/tcp", "lb/tcp#2", "lb/tcp#3"]


def test_load_balancer_row_and_health_checks() -> None:
    hc1, hc2, hc3 = uid("hc1"), uid("hc2"), uid("hc3")
    tables: dict[str, dict[str, dict[str, Any]]] = {
        "Load_Balancer": {
            uid("lb"): {
                "name": "lb",
                "protocol": "udp",
                "vips": {"10.0.0.3:53": "10.0.0.5:53"},
                "external_ids": {"ls_refs": '{"ls": 1}'},
                "selection_fields": ("tp_src", "ip_dst"),
                "health_check": (hc1, hc2),
            },
            uid("other"): {"name": "other", "protocol": "tcp", "health_check": (hc2,)},
        },
        "Load_Balancer_Health_Check": {
            hc1: {"vip": "10.0.0.3:53", "external_ids": {"k": "2"}},
            hc2: {"vip": "10.0.0.4:53", "external_ids": {"k": "1"}},
            hc3: {"vip": "10.0.0.9:53"},
        },
        "Logical_Router": {uid("lr"): {"name": "lr"}},
    }
    dump = canonical_dump(_snapshot(tables))
    # Sorted by json.dumps(sort_keys=True): "external_ids" comes first, so k=1 before k=2.
    hc_k1 = {"vip": "10.0.0.4:53", "options": {}, "external_ids": {"k": "1"}}
    hc_k2 = {"vip": "10.0.0.3:53", "options": {}, "external_ids": {"k": "2"}}
    assert dump["Load_Balancer"][0] == {
        "label": "lb/udp",
        "name": "lb",
        "protocol": "udp",
        "vips": {"10.0.0.3:53": "10.0.0.5:53"},
        "external_ids": {"ls_refs": '{"ls": 1}'},
        "selection_fields": ["ip_dst", "tp_src"],
        "options": {},
        "ip_port_mappings": {},
        "health_check": [hc_k1, hc_k2],
    }
    assert dump["Load_Balancer"][1]["label"] == "other/tcp"
    # '{"external_ids": {"k"...' sorts before '{"external_ids": {}' ('"' < '}').
    assert dump["Load_Balancer_Health_Check"] == [
        {**hc_k1, "referenced_by": ["lb/udp", "other/tcp"]},
        {**hc_k2, "referenced_by": ["lb/udp"]},
        {"vip": "10.0.0.9:53", "options": {}, "external_ids": {}, "referenced_by": []},
    ]
    assert dump["Logical_Router_load_balancers"] == {"lr": []}
    assert dump["Logical_Switch_load_balancers"] == {}


def test_nat_floating_ips() -> None:
    tables: dict[str, dict[str, dict[str, Any]]] = {
        "NAT": {
            uid("n1"): {
                "type": "dnat_and_snat",
                "external_ip": "172.24.4.101",
                "logical_ip": "10.0.0.11",
                "logical_port": "port-b",
                "external_mac": "fa:16:3e:00:00:01",
                "external_ids": {"neutron:fip_id": "b"},
            },
            uid("n2"): {
                "type": "dnat_and_snat",
                "external_ip": "172.24.4.100",
                "logical_ip": "10.0.0.3",
                "external_ids": {"neutron:fip_id": "a", "neutron:revision_number": "1"},
            },
            uid("snat"): {
                "type": "snat",
                "external_ip": "172.24.4.10",
                "logical_ip": "10.0.0.0/24",
            },
        },
    }
    assert canonical_dump(_snapshot(tables))["NAT_floating_ips"] == [
        {
            "type": "dnat_and_snat",
            "external_ip": "172.24.4.100",
            "logical_ip": "10.0.0.3",
            "logical_port": None,
            "external_mac": None,
            "external_ids": {"neutron:fip_id": "a", "neutron:revision_number": "1"},
        },
        {
            "type": "dnat_and_snat",
            "external_ip": "172.24.4.101",
            "logical_ip": "10.0.0.11",
            "logical_port": "port-b",
            "external_mac": "fa:16:3e:00:00:01",
            "external_ids": {"neutron:fip_id": "b"},
        },
    ]


def test_dump_shares_nothing_with_the_rows() -> None:
    snap = _snapshot({"Load_Balancer": {uid("lb"): {"name": "lb", "vips": {"a": "b"}}}})
    dump = canonical_dump(snap)
    dump["Load_Balancer"][0]["vips"]["x"] = "y"
    assert snap.rows("Load_Balancer")[uid("lb")]["vips"] == {"a": "b"}
