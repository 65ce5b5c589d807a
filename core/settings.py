"""One typed settings object, read from the environment (and `.env` in development).

Secrets are `SecretStr` so they never show up in reprs or logs. A secret may also come from a
Prefect Secret block named by the matching ``*_SECRET_BLOCK`` variable.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path(".data")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    data_dir: Path = Field(DEFAULT_DATA_DIR, alias="REFERRALS_DATA_DIR")
    database_url: str | None = Field(None, alias="DATABASE_URL")
    program_file: Path = Field(Path("program.yaml"), alias="REFERRALS_PROGRAM_FILE")
    public_url: str = Field("http://127.0.0.1:8000", alias="REFERRALS_PUBLIC_URL")
    secret_key: SecretStr | None = Field(None, alias="REFERRALS_SECRET_KEY")
    secret_key_block: str | None = Field(None, alias="REFERRALS_SECRET_KEY_BLOCK")

    hubspot_access_token: SecretStr | None = Field(None, alias="HUBSPOT_ACCESS_TOKEN")
    hubspot_secret_block: str | None = Field(None, alias="HUBSPOT_SECRET_BLOCK")
    hubspot_api_base: str = Field("https://api.hubapi.com", alias="HUBSPOT_API_BASE")
    sendgrid_api_key: SecretStr | None = Field(None, alias="SENDGRID_API_KEY")
    sendgrid_secret_block: str | None = Field(None, alias="SENDGRID_SECRET_BLOCK")
    sendgrid_api_base: str = Field("https://api.sendgrid.com", alias="SENDGRID_API_BASE")
    sendgrid_unsubscribe_group_id: int | None = Field(
        None, ge=1, alias="SENDGRID_UNSUBSCRIBE_GROUP_ID"
    )
    # The event webhook's verification key (public, but kept with the credentials).
    sendgrid_webhook_public_key: str | None = Field(None, alias="SENDGRID_WEBHOOK_PUBLIC_KEY")
    sendgrid_webhook_key_block: str | None = Field(None, alias="SENDGRID_WEBHOOK_KEY_BLOCK")
    slack_bot_token: SecretStr | None = Field(None, alias="SLACK_BOT_TOKEN")
    slack_secret_block: str | None = Field(None, alias="SLACK_SECRET_BLOCK")
    slack_api_base: str = Field("https://slack.com/api/", alias="SLACK_API_BASE")
    # Verifies requests from Slack's buttons and forms; set, the web app serves /slack/events.
    slack_signing_secret: SecretStr | None = Field(None, alias="SLACK_SIGNING_SECRET")
    slack_signing_secret_block: str | None = Field(None, alias="SLACK_SIGNING_SECRET_BLOCK")

    hubspot_calls_per_10s: int = Field(100, ge=1, alias="HUBSPOT_CALLS_PER_10S")
    hubspot_searches_per_second: int = Field(4, ge=1, alias="HUBSPOT_SEARCHES_PER_SECOND")
    # How long to wait for a vendor's answer; an answer lost to it is checked before resending.
    hubspot_timeout_seconds: float = Field(30.0, gt=0, alias="HUBSPOT_TIMEOUT_SECONDS")
    slack_timeout_seconds: float = Field(30.0, gt=0, alias="SLACK_TIMEOUT_SECONDS")
    sendgrid_timeout_seconds: float = Field(30.0, gt=0, alias="SENDGRID_TIMEOUT_SECONDS")

    email_from: str = Field("referrals@example.com", alias="REFERRALS_EMAIL_FROM")
    # Where program-report posts its headline (a Slack channel id); a Prefect Variable
    # `referrals_report_channel` takes precedence in flows.
    report_channel: str | None = Field(None, alias="REFERRALS_REPORT_CHANNEL")
    # Where the monthly recognition post thanks the last month's champions, CSMs and reps (a
    # Slack channel id; unset, none is posted); a Prefect Variable
    # `referrals_recognition_channel` takes precedence in flows.
    recognition_channel: str | None = Field(None, alias="REFERRALS_RECOGNITION_CHANNEL")

    outbox_batch_size: int = Field(500, ge=1, le=1000, alias="REFERRALS_OUTBOX_BATCH_SIZE")
    outbox_max_attempts: int = Field(8, ge=1, alias="REFERRALS_OUTBOX_MAX_ATTEMPTS")
    outbox_lease_seconds: int = Field(1800, ge=1, alias="REFERRALS_OUTBOX_LEASE_SECONDS")
    sandbox_stage_odds: dict[str, dict[str, float]] = Field(
        default_factory=dict, alias="REFERRALS_SANDBOX_STAGE_ODDS"
    )
    sandbox_send_delay_ms: int = Field(0, ge=0, alias="REFERRALS_SANDBOX_SEND_DELAY_MS")

    # Form posts accepted per client IP and per referral code in each window, counted in the
    # database so the limits hold across several web processes.
    web_posts_per_ip: int = Field(20, ge=1, alias="REFERRALS_WEB_POSTS_PER_IP")
    web_posts_per_code: int = Field(30, ge=1, alias="REFERRALS_WEB_POSTS_PER_CODE")
    web_rate_window_seconds: int = Field(3600, ge=60, alias="REFERRALS_WEB_RATE_WINDOW_SECONDS")

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'referrals.db').as_posix()}"

    @property
    def email_outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def chat_log_file(self) -> Path:
        return self.data_dir / "chat.log"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
