"""Setting a portal up for the program: the property group and the properties it reads and
writes (the stage map is checked against ``pipelines()`` by the caller)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from hubspot.crm.properties import (
    BatchInputPropertyCreate,
    OptionInput,
    PropertyCreate,
    PropertyGroupCreate,
)

from integrations.errors import PermanentError
from integrations.hubspot.client import HubSpotApis
from integrations.ports import PROPERTY_GROUP, UNIQUE_PROPERTIES, PropertySpec

BOOLEAN_OPTIONS = [
    OptionInput(label="Yes", value="true", display_order=0, hidden=False),
    OptionInput(label="No", value="false", display_order=1, hidden=False),
]


class HubSpotSetup:
    def __init__(self, apis: HubSpotApis) -> None:
        self.apis = apis

    def setup(self, properties: Mapping[str, Sequence[PropertySpec]]) -> list[str]:
        created: list[str] = []
        for object_type, specs in properties.items():
            created += self._ensure_properties(object_type, specs)
        return created

    def _ensure_properties(self, object_type: str, specs: Sequence[PropertySpec]) -> list[str]:
        created = []
        try:
            self.apis.calls(
                f"GET /crm/v3/properties/{object_type}/groups/{PROPERTY_GROUP}",
                self.apis.groups.get_by_name,
                object_type,
                PROPERTY_GROUP,
            )
        except PermanentError as error:
            if "HubSpot 404" not in str(error):
                raise
            self.apis.calls(
                f"POST /crm/v3/properties/{object_type}/groups",
                self.apis.groups.create,
                object_type,
                property_group_create=PropertyGroupCreate(
                    name=PROPERTY_GROUP, label="Referral program", display_order=-1
                ),
            )
            created.append(f"{object_type} property group {PROPERTY_GROUP}")
        existing = self.apis.calls(
            f"GET /crm/v3/properties/{object_type}", self.apis.properties.get_all, object_type
        )
        names = {p.name for p in existing.results}
        missing = [spec for spec in specs if spec.name not in names]
        if missing:
            self.apis.calls(
                f"POST /crm/v3/properties/{object_type}/batch/create",
                self.apis.property_batch.create,
                object_type,
                batch_input_property_create=BatchInputPropertyCreate(
                    inputs=[
                        PropertyCreate(
                            name=spec.name,
                            label=spec.label,
                            type=spec.type,
                            field_type=spec.field_type,
                            group_name=PROPERTY_GROUP,
                            has_unique_value=spec.name in UNIQUE_PROPERTIES,
                            options=BOOLEAN_OPTIONS if spec.type == "bool" else None,
                        )
                        for spec in missing
                    ]
                ),
            )
            created += [f"{object_type} property {spec.name}" for spec in missing]
        return created
