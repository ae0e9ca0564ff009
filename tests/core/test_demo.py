"""The walkthrough against the worked example of the spec (reference-behavior.md 11)."""

from __future__ import annotations

import io

from ovnlb_backends.cli import demo
from ovnlb_backends.memory import MemoryBackend
from ovnlb_core.rows import lb_rowset

VIP_LS = f"neutron-{demo.NET}"
MEMBER_LS = f"neutron-{demo.MEMBER_NET}"
LR = f"neutron-{demo.ROUTER}"
ENTRY = (
    "member_adf55e70-3d50-4e62-99fd-dd77eababb1c_10.10.10.10:63015_"
    "8f1e2d3c-4b5a-4697-8a1b-2c3d4e5f6a7b"
)


def test_walkthrough_rows_follow_the_worked_example() -> None:
    backend = MemoryBackend()
    steps = demo.walkthrough(backend)

    _title, statuses = next(steps)  # 11.2
    rows = lb_rowset(backend.reader(), demo.LB)
    (row,) = rows.lbs.values()
    assert row.protocol is None and row.vips == {}
    assert row.selection_fields == ("ip_dst", "ip_src", "tp_dst", "tp_src")
    assert row.external_ids == {
        "enabled": "True",
        "lr_ref": LR,
        "ls_refs": '{"neutron-ee97665d-69d0-4995-a275-27855359956a": 1}',
        "neutron:vip": "172.24.4.9",
        "neutron:vip_port_id": "c98e52d0-5965-4b22-8a17-a374f4399193",
    }
    assert rows.switches[row.uuid] == {VIP_LS, MEMBER_LS}
    assert rows.routers[row.uuid] == {LR}
    assert statuses == [
        {
            "loadbalancers": [
                {"id": demo.LB, "provisioning_status": "ACTIVE", "operating_status": "ONLINE"}
            ]
        }
    ]

    next(steps)  # 11.3 listener
    next(steps)  # 11.4 pool
    (row,) = lb_rowset(backend.reader(), demo.LB).lbs.values()
    assert row.protocol == "tcp"
    assert row.external_ids["listener_21e77cde-854f-4c3e-bd8c-9536ae0443bc"] == (
        "64015:pool_898be8a2-5185-4f3b-8658-a56457f595a9"
    )
    assert row.external_ids["pool_898be8a2-5185-4f3b-8658-a56457f595a9"] == ""

    next(steps)  # 11.5 member
    (row,) = lb_rowset(backend.reader(), demo.LB).lbs.values()
    assert row.vips == {"172.24.4.9:64015": "10.10.10.10:63015"}
    assert row.external_ids["pool_898be8a2-5185-4f3b-8658-a56457f595a9"] == ENTRY
    assert row.external_ids["ls_refs"] == (
        '{"neutron-ee97665d-69d0-4995-a275-27855359956a": 1, '
        '"neutron-5b2c8d7e-1f3a-4c9b-8e6d-2a7f0c1b9d34": 1}'
    )
    assert row.external_ids["neutron:member_status"] == (
        '{"adf55e70-3d50-4e62-99fd-dd77eababb1c": "NO_MONITOR"}'
    )

    _title, statuses = next(steps)  # 11.6 health monitor
    rows = lb_rowset(backend.reader(), demo.LB)
    (row,) = rows.lbs.values()
    (hc,) = rows.health_checks.values()
    assert hc.vip == "172.24.4.9:64015"
    assert dict(hc.options) == {
        "failure_count": "3",
        "interval": "10",
        "success_count": "3",
        "timeout": "5",
    }
    assert dict(hc.external_ids) == {
        "octavia:healthmonitor": "6d2f1e0a-7b3c-4d5e-9f8a-1b2c3d4e5f60",
        "octavia:pool_id": "898be8a2-5185-4f3b-8658-a56457f595a9",
        "octavia:vip": "172.24.4.9",
    }
    assert row.ip_port_mappings == {
        "10.10.10.10": "0c6f4a52-93d1-4e8b-b7a2-5d1e9f3c8a60:10.10.10.3"
    }
    assert row.external_ids["octavia:healthmonitors"] == '["6d2f1e0a-7b3c-4d5e-9f8a-1b2c3d4e5f60"]'
    assert statuses[0]["healthmonitors"] == [
        {"id": demo.HM, "provisioning_status": "ACTIVE", "operating_status": "ONLINE"}
    ]

    _title, statuses = next(steps)  # 11.8 member disabled
    rows = lb_rowset(backend.reader(), demo.LB)
    (row,) = rows.lbs.values()
    assert row.vips == {}
    assert row.ip_port_mappings == {}
    assert len(rows.health_checks) == 1
    assert row.external_ids["pool_898be8a2-5185-4f3b-8658-a56457f595a9"] == ENTRY
    assert row.external_ids["neutron:member_status"] == (
        '{"adf55e70-3d50-4e62-99fd-dd77eababb1c": "OFFLINE"}'
    )
    assert statuses[0]["members"] == [
        {"id": demo.MEMBER, "provisioning_status": "ACTIVE", "operating_status": "OFFLINE"}
    ]
    assert statuses[0]["pools"][0]["operating_status"] == "ONLINE"


def test_demo_prints_nbctl_layout() -> None:
    out = io.StringIO()
    demo.run(MemoryBackend(), out)
    text = out.getvalue()
    assert text.count("== step") == 6
    assert 'vips             : {"172.24.4.9:64015"="10.10.10.10:63015"}' in text
    assert "selection_fields : [ip_dst, ip_src, tp_dst, tp_src]" in text
