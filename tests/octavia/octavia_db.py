"""Create Octavia's schema in a sqlite file and seed its lookup tables.

Run with the Python that has Octavia installed (the tests' ``.venv-octavia``):
``python octavia_db.py sqlite:////path/octavia.sqlite``. ``octavia-db-manage
upgrade head`` cannot run on sqlite (its migrations ALTER constraints), so the
tables come from Octavia's SQLAlchemy metadata and the lookup rows are the
ones Octavia's own functional tests seed (``octavia/tests/functional/db``):
every supported status, protocol, algorithm, HM type and so on, plus the
``DELETED`` placeholder flavor and availability zone.
"""

from __future__ import annotations

import sys
from typing import Any


def create(url: str) -> None:
    """Create and seed the database at ``url``."""
    import sqlalchemy
    from octavia.common import constants as c
    from octavia.db import base_models, models
    from sqlalchemy import orm

    engine = sqlalchemy.create_engine(url)
    base_models.BASE.metadata.create_all(engine)
    lookups: list[tuple[Any, Any]] = [
        (c.SUPPORTED_PROVISIONING_STATUSES, models.ProvisioningStatus),
        (c.SUPPORTED_HEALTH_MONITOR_TYPES, models.HealthMonitorType),
        (c.SUPPORTED_LB_ALGORITHMS, models.Algorithm),
        (c.SUPPORTED_PROTOCOLS, models.Protocol),
        (c.SUPPORTED_OPERATING_STATUSES, models.OperatingStatus),
        (c.SUPPORTED_SP_TYPES, models.SessionPersistenceType),
        (c.SUPPORTED_AMPHORA_ROLES, models.AmphoraRoles),
        (c.SUPPORTED_LB_TOPOLOGIES, models.LBTopology),
        (c.SUPPORTED_VRRP_AUTH, models.VRRPAuthMethod),
        (c.SUPPORTED_L7RULE_TYPES, models.L7RuleType),
        (c.SUPPORTED_L7RULE_COMPARE_TYPES, models.L7RuleCompareType),
        (c.SUPPORTED_L7POLICY_ACTIONS, models.L7PolicyAction),
        (c.SUPPORTED_CLIENT_AUTH_MODES, models.ClientAuthenticationMode),
    ]
    with orm.Session(engine) as session, session.begin():
        for names, model in lookups:
            for name in names:
                session.add(model(name=name))
        session.add(
            models.FlavorProfile(
                id=c.NIL_UUID,
                name="DELETED-PLACEHOLDER",
                provider_name=c.DELETED,
                flavor_data="{}",
            )
        )
        session.flush()
        session.add(
            models.Flavor(
                id=c.NIL_UUID,
                flavor_profile_id=c.NIL_UUID,
                name="DELETED-PLACEHOLDER",
                enabled=False,
                description="Placeholder for DELETED LBs with DELETED flavors",
            )
        )
        session.flush()
        session.add(
            models.AvailabilityZoneProfile(
                id=c.NIL_UUID,
                name="DELETED-PLACEHOLDER",
                provider_name=c.DELETED,
                availability_zone_data="{}",
            )
        )
        session.flush()
        session.add(
            models.AvailabilityZone(
                availability_zone_profile_id=c.NIL_UUID,
                name=c.NIL_UUID,
                enabled=False,
                description="Placeholder for DELETED LBs with DELETED availability zones",
            )
        )


if __name__ == "__main__":
    create(sys.argv[1])
