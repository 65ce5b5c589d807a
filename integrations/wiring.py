"""Chooses the adapters: sandbox by default, a vendor once its credentials are set."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from core.secrets import secret_value
from core.settings import Settings
from domain.statuses import OutboxChannel
from integrations.deliverers import (
    ChatDeliverer,
    CrmDeliverer,
    EmailDeliverer,
    FulfilmentDeliverer,
)
from integrations.finance_queue import FinanceQueue
from integrations.ports import ChatNotifier, Crm, Deliverer, EmailSender, Fulfilment
from integrations.sandbox.chat_log import ChatLogNotifier
from integrations.sandbox.crm import SandboxCrm
from integrations.sandbox.email_folder import EmailFolderSender


@dataclass(frozen=True)
class Adapters:
    crm: Crm
    email: EmailSender
    chat: ChatNotifier
    names: dict[str, str]  # port -> adapter name, for reports and `referrals doctor`
    fulfilment: Fulfilment = field(default_factory=FinanceQueue)


def build_crm(settings: Settings, factory: sessionmaker[Session]) -> tuple[Crm, str]:
    token = secret_value(settings.hubspot_access_token, settings.hubspot_secret_block)
    if not token:
        return SandboxCrm(factory), "sandbox"
    from integrations.hubspot.factory import build_hubspot_crm

    crm = build_hubspot_crm(
        token,
        settings.hubspot_api_base,
        settings.hubspot_calls_per_10s,
        settings.hubspot_searches_per_second,
        timeout=settings.hubspot_timeout_seconds,
    )
    return crm, "hubspot"


def build_email(settings: Settings) -> tuple[EmailSender, str]:
    api_key = secret_value(settings.sendgrid_api_key, settings.sendgrid_secret_block)
    if not api_key:
        folder = EmailFolderSender(
            settings.email_outbox_dir, settings.email_from, settings.sandbox_send_delay_ms
        )
        return folder, "eml-folder"
    from integrations.sendgrid.factory import build_sendgrid_mail

    mail = build_sendgrid_mail(
        api_key,
        settings.sendgrid_api_base,
        default_from=settings.email_from,
        unsubscribe_group_id=settings.sendgrid_unsubscribe_group_id,
        timeout=settings.sendgrid_timeout_seconds,
    )
    return mail, "sendgrid"


def build_chat(settings: Settings) -> tuple[ChatNotifier, str]:
    token = secret_value(settings.slack_bot_token, settings.slack_secret_block)
    if not token:
        return ChatLogNotifier(settings.chat_log_file), "log-file"
    from integrations.slack.chat import build_slack_chat

    chat = build_slack_chat(token, settings.slack_api_base, timeout=settings.slack_timeout_seconds)
    return chat, "slack"


def build_adapters(settings: Settings, factory: sessionmaker[Session]) -> Adapters:
    crm, crm_name = build_crm(settings, factory)
    email, email_name = build_email(settings)
    chat, chat_name = build_chat(settings)
    return Adapters(
        crm=crm,
        email=email,
        chat=chat,
        names={
            "crm": crm_name,
            "email": email_name,
            "chat": chat_name,
            "fulfilment": FinanceQueue.name,
        },
    )


def build_deliverers(adapters: Adapters) -> dict[OutboxChannel, Deliverer]:
    return {
        OutboxChannel.EMAIL: EmailDeliverer(adapters.email),
        OutboxChannel.CHAT: ChatDeliverer(adapters.chat),
        OutboxChannel.CRM: CrmDeliverer(adapters.crm),
        OutboxChannel.FULFILMENT: FulfilmentDeliverer(adapters.fulfilment),
    }
