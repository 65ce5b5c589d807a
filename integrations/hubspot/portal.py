"""The portal's own structure: owners (the team) and deal pipelines (the stage map)."""

from __future__ import annotations

from typing import Any

from integrations.errors import TransientError
from integrations.hubspot.client import HubSpotApis
from integrations.ports import CrmOwner, CrmPipeline, CrmStage

OWNERS_PAGE = 500  # HubSpot's maximum page size for owners
MAX_OWNER_PAGES = 200


class HubSpotPortal:
    def __init__(self, apis: HubSpotApis) -> None:
        self.apis = apis

    def owners(self) -> list[CrmOwner]:
        owners: list[CrmOwner] = []
        after: str | None = None
        for _ in range(MAX_OWNER_PAGES):
            page = self.apis.calls(
                "GET /crm/v3/owners",
                self.apis.owners.get_page,
                limit=OWNERS_PAGE,
                archived=False,
                **({"after": after} if after else {}),
            )
            results = _results(page, "GET /crm/v3/owners")
            owners += [_owner(o) for o in results]
            after = page.paging.next.after if page.paging and page.paging.next else None
            if not after:
                return owners
        raise TransientError(f"HubSpot owners: more than {MAX_OWNER_PAGES} pages, cursor {after}")

    def pipelines(self) -> list[CrmPipeline]:
        answer = self.apis.calls(
            "GET /crm/v3/pipelines/deals", self.apis.pipelines.get_all, "deals"
        )
        pipelines = [
            CrmPipeline(
                id=str(p.id),
                label=str(p.label or p.id),
                display_order=int(p.display_order or 0),
                stages=tuple(
                    _stage(s) for s in sorted(p.stages or [], key=lambda s: s.display_order or 0)
                ),
            )
            for p in _results(answer, "GET /crm/v3/pipelines/deals")
            if not getattr(p, "archived", False)
        ]
        return sorted(pipelines, key=lambda p: (p.display_order, p.id))


def _results(page: Any, endpoint: str) -> list[Any]:
    results = getattr(page, "results", None)
    if not isinstance(results, list):
        raise TransientError(f"HubSpot answered {endpoint} with an unreadable body")
    return results


def _owner(owner: Any) -> CrmOwner:
    teams = sorted(owner.teams or [], key=lambda t: not t.primary)
    return CrmOwner(
        crm_id=str(owner.id),
        email=owner.email,
        first_name=owner.first_name or "",
        last_name=owner.last_name or "",
        teams=tuple(str(t.name) for t in teams if t.name),
        archived=bool(owner.archived),
    )


def _stage(stage: Any) -> CrmStage:
    """HubSpot flags closed stages with ``isClosed``; a closed stage with probability 1.0 is
    won, with 0.0 lost (its own convention for deal stages)."""
    metadata = stage.metadata or {}
    closed = str(metadata.get("isClosed", "false")).lower() == "true"
    try:
        probability = float(metadata.get("probability", "0") or 0)
    except ValueError:
        probability = 0.0
    return CrmStage(
        id=str(stage.id),
        label=str(stage.label or stage.id),
        display_order=int(stage.display_order or 0),
        closed=closed,
        won=closed and probability >= 1.0,
    )
