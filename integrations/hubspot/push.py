"""Writing referrals to HubSpot: company (matched by domain, or name), contact (by email) and
deal with the program's properties and associations, in batches of 100; or the program's
properties on a deal a rep already created. Safe to repeat: deals carry the unique
``referral_program_id``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hubspot.crm.associations.v4 import (
    BatchInputPublicDefaultAssociationMultiPost,
    PublicDefaultAssociationMultiPost,
)
from hubspot.crm.associations.v4 import PublicObjectId as AssociationObjectId
from hubspot.crm.objects import BatchInputSimplePublicObjectBatchInput, SimplePublicObjectBatchInput

from integrations.errors import PermanentError
from integrations.hubspot.client import (
    ASSOCIATION_BATCH,
    BATCH,
    CONTACT_TO_COMPANY,
    DEAL_TO_COMPANY,
    DEAL_TO_CONTACT,
    HubSpotApis,
    chunks,
)
from integrations.ports import REFERRAL_SOURCE, PushResult, ReferralPush


class HubSpotPush:
    def __init__(self, apis: HubSpotApis) -> None:
        self.apis = apis

    def push_referrals(self, pushes: Sequence[ReferralPush]) -> list[PushResult]:
        results: list[PushResult] = []
        for chunk in chunks(list(pushes), BATCH):
            try:
                results += self._push_chunk(chunk)
            except PermanentError:
                # HubSpot batch writes are all-or-nothing: one bad record fails its batch. Push
                # one by one to find it; what the batch did create is matched, not duplicated.
                results += [self._push_alone(p) for p in chunk]
        return results

    def find_referral_deals(self, referral_keys: Sequence[str]) -> dict[str, str | None]:
        """By the unique ``referral_program_id``, with a batch read (the search index lags
        behind writes)."""
        found = self.apis.read_by("deals", "referral_program_id", list(referral_keys))
        return {key: found.get(key.lower()) for key in referral_keys}

    def _push_alone(self, push: ReferralPush) -> PushResult:
        try:
            return self._push_chunk([push])[0]
        except PermanentError as error:
            return PushResult(push.referral_key, error=str(error))

    def _push_chunk(self, pushes: Sequence[ReferralPush]) -> list[PushResult]:
        existing_deals = self.apis.search_values(
            "deals", "referral_program_id", [p.referral_key for p in pushes]
        )
        domains = sorted({p.company_domain for p in pushes if p.company_domain})
        companies = self.apis.search_values("companies", "domain", domains)
        # A company without a domain is matched by its exact name rather than duplicated.
        names = sorted({p.company_name for p in pushes if not p.company_domain})
        companies |= {
            f"name:{n}": i for n, i in self.apis.search_values("companies", "name", names).items()
        }
        created: dict[str, set[str]] = {p.referral_key: set() for p in pushes}
        # Attaching to a rep's deal: its company is the one that counts, never a new one.
        attach_ids = [
            p.existing_deal_id
            for p in pushes
            if p.existing_deal_id and p.referral_key not in existing_deals
        ]
        rep_companies = self.apis.deal_companies(attach_ids) if attach_ids else {}
        for p in pushes:
            linked = rep_companies.get(p.existing_deal_id or "")
            if linked:
                companies[p.company_domain or f"name:{p.company_name}"] = linked[0]

        missing_companies = {}
        for p in pushes:
            key = p.company_domain or f"name:{p.company_name}"
            if p.referral_key in existing_deals or key in companies:
                continue
            missing_companies.setdefault(key, p)
        new_company_ids = self.apis.create(
            "companies",
            _company_key,
            [
                (
                    {
                        "name": p.company_name,
                        **({"domain": p.company_domain} if p.company_domain else {}),
                    },
                    [],
                )
                for p in missing_companies.values()
            ],
        )
        for key, p in missing_companies.items():
            companies[key] = new_company_ids[key]
            created[p.referral_key].add("company")

        emails = sorted({p.contact_email for p in pushes if p.contact_email})
        contacts = self.apis.read_by("contacts", "email", emails)
        missing_contacts = {}
        for p in pushes:
            if (
                p.contact_email
                and p.contact_email not in contacts
                and p.referral_key not in existing_deals
            ):
                missing_contacts.setdefault(p.contact_email, p)
        new_contact_ids = self.apis.create(
            "contacts",
            lambda props: str(props.get("email", "")).lower(),
            [
                (
                    {
                        "email": email,
                        "firstname": p.contact_first_name,
                        "lastname": p.contact_last_name,
                        **({"jobtitle": p.contact_title} if p.contact_title else {}),
                    },
                    [(self._company_of(p, companies), CONTACT_TO_COMPANY)],
                )
                for email, p in missing_contacts.items()
            ],
        )
        for email, p in missing_contacts.items():
            contacts[email] = new_contact_ids[email]
            created[p.referral_key].add("contact")

        to_create = [
            p for p in pushes if p.referral_key not in existing_deals and not p.existing_deal_id
        ]
        new_deal_ids = self.apis.create(
            "deals",
            lambda props: str(props.get("referral_program_id", "")),
            [
                (
                    self._deal_properties(p, with_stage=True),
                    [
                        (self._company_of(p, companies), DEAL_TO_COMPANY),
                        (contacts.get(p.contact_email or ""), DEAL_TO_CONTACT),
                    ],
                )
                for p in to_create
            ],
        )
        deals = dict(existing_deals)
        for p in to_create:
            deals[p.referral_key] = new_deal_ids[p.referral_key]
            created[p.referral_key].add("deal")
        to_attach = [
            p for p in pushes if p.existing_deal_id and p.referral_key not in existing_deals
        ]
        self._update(
            "deals",
            [(p.existing_deal_id or "", self._deal_properties(p, False)) for p in to_attach],
        )
        for p in to_attach:
            deals[p.referral_key] = p.existing_deal_id or ""
        self._associate_default(
            "deals",
            "contacts",
            [(p.existing_deal_id or "", contacts.get(p.contact_email or "")) for p in to_attach],
        )
        self._associate_default(
            "deals",
            "companies",
            [
                (p.existing_deal_id or "", self._company_of(p, companies))
                for p in to_attach
                if not rep_companies.get(p.existing_deal_id or "")
            ],
        )

        return [
            PushResult(
                p.referral_key,
                company_id=self._company_of(p, companies),
                contact_id=contacts.get(p.contact_email or ""),
                deal_id=deals.get(p.referral_key),
                created=tuple(
                    k for k in ("company", "contact", "deal") if k in created[p.referral_key]
                ),
            )
            for p in pushes
        ]

    @staticmethod
    def _company_of(push: ReferralPush, companies: dict[str, str]) -> str | None:
        return companies.get(push.company_domain or f"name:{push.company_name}")

    @staticmethod
    def _deal_properties(push: ReferralPush, with_stage: bool) -> dict[str, str]:
        props = {
            "referral_program_id": push.referral_key,
            "referred_by_email": push.referred_by_email,
            "referral_source": REFERRAL_SOURCE,
            "referrer_type": push.referrer_type,
        }
        if with_stage:
            props |= {
                "dealname": push.deal_name,
                "pipeline": push.pipeline_id,
                "dealstage": push.stage_id,
            }
            if push.owner_id:
                props["hubspot_owner_id"] = push.owner_id
        return props

    def _associate_default(
        self, from_type: str, to_type: str, pairs: Sequence[tuple[str, str | None]]
    ) -> None:
        """Default (unlabelled) associations, in batches; pairs missing an end are skipped."""
        inputs = [
            PublicDefaultAssociationMultiPost(
                _from=AssociationObjectId(id=a), to=AssociationObjectId(id=b)
            )
            for a, b in pairs
            if a and b
        ]
        for chunk in chunks(inputs, ASSOCIATION_BATCH):
            self.apis.calls(
                f"POST /crm/v4/associations/{from_type}/{to_type}/batch/associate/default",
                self.apis.associations.create_default,
                from_type,
                to_type,
                batch_input_public_default_association_multi_post=(
                    BatchInputPublicDefaultAssociationMultiPost(inputs=list(chunk))
                ),
            )

    def _update(self, object_type: str, items: Sequence[tuple[str, dict[str, str]]]) -> None:
        for chunk in chunks(list(items), BATCH):
            self.apis.calls(
                f"POST /crm/v3/objects/{object_type}/batch/update",
                self.apis.batch.update,
                object_type,
                batch_input_simple_public_object_batch_input=(
                    BatchInputSimplePublicObjectBatchInput(
                        inputs=[SimplePublicObjectBatchInput(id=i, properties=p) for i, p in chunk]
                    )
                ),
            )


def _company_key(props: dict[str, Any]) -> str:
    domain = str(props.get("domain") or "").lower()
    return domain or f"name:{props.get('name', '')}"
