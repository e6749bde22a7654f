"""Cloud settings, from ``EMS_*`` environment variables, validated once at start."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["CloudSettings", "add_cloud_log_file", "default_data_dir"]


def default_data_dir() -> Path:
    return Path("ems-data")


class CloudSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EMS_", extra="forbid", frozen=True)

    host: str = Field(default="127.0.0.1", description="Address to listen on")
    port: int = Field(default=8000, ge=0, le=65535)
    data_dir: Path = Field(
        default_factory=default_data_dir, description="Embedded stores live here"
    )
    database_url: str | None = Field(
        default=None, description="postgresql://… for telemetry; default SQLite in data_dir"
    )
    auth_database_url: str | None = Field(
        default=None, description="postgresql://… for users and keys; default SQLite in data_dir"
    )
    redis_url: str | None = Field(
        default=None,
        description="redis://… shared by every cloud process; default the embedded store",
    )
    node_id: str = Field(
        default="cloud-1",
        pattern=r"^[A-Za-z0-9._-]{1,64}$",
        description="This process's name in shared state; stable across its restarts",
    )
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Cloud processes behind the one port (needs EMS_REDIS_URL and "
        "EMS_DATABASE_URL when more than one); each is named EMS_NODE_ID.<n>",
    )
    reuse_port: bool = Field(
        default=False,
        description="Bind with SO_REUSEPORT, so several processes share the port "
        "(set for every worker of EMS_WORKERS)",
    )
    supervisor_pid: int | None = Field(
        default=None,
        gt=1,
        description="Set by the EMS_WORKERS supervisor for its workers: a worker stops "
        "when this process dies (never set by hand)",
    )
    registry_ttl_s: float = Field(
        default=10.0,
        gt=0,
        description="A process that dies holding edges stops being named after this [s]",
    )
    edge_stale_s: float = Field(
        default=10.0,
        gt=0,
        description="A connected edge silent for longer than this is marked stale [s]",
    )
    queue_limit: int = Field(default=10_000, ge=1, description="Commands queued per edge")
    queue_offline: bool = Field(
        default=True, description="Queue commands for offline edges (else: edge_offline)"
    )
    auth_url: str | None = Field(
        default=None,
        description="Base URL of an external auth service (its JWKS); default: serve it at /auth",
    )
    auth_backend: Literal["embedded", "http"] = Field(
        default="embedded",
        description="embedded: the auth service (Django) in this process, serving /auth unless "
        "EMS_AUTH_URL is set; http: the one at EMS_AUTH_URL, over HTTP (JWKS and edge-key "
        "checks), with no Django in this process",
    )
    auth_service_token: SecretStr | None = Field(
        default=None,
        description="With EMS_AUTH_BACKEND=http: the bearer token the auth service asks of "
        "edge-key checks (its own EMS_AUTH_SERVICE_TOKEN)",
    )
    jwt_issuer: str = "ems-auth"
    jwt_audience: str = "ems-cloud"
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Dashboard origins for CORS and the WebSocket Origin check (same origin is ok)",
    )
    auth_timeout_s: float = Field(default=5.0, gt=0, description="To authenticate a socket [s]")
    revocation_refresh_s: float = Field(
        default=5.0,
        gt=0,
        description="Revoked sessions are reloaded from Redis this often, in case a "
        "revocation message was missed [s]",
    )
    watchdog_s: float = Field(
        default=5.0, gt=0, description="A sent command with no final status after this fails [s]"
    )
    ack_allowance_s: float = Field(
        default=1.5,
        ge=0,
        description="The deadline sent to the edge is this much before the watchdog fires, "
        "so that an edge's final ack has time to come back [s]",
    )
    ui_max_frame_bytes: int = Field(default=64 * 1024, gt=0)
    edge_max_frame_bytes: int = Field(default=4 * 1024 * 1024, gt=0)
    log_file: Path | None = Field(
        default=None,
        description="Also write every log line (audit records included) as JSON to this file",
    )
    log_file_max_bytes: int = Field(
        default=50_000_000, ge=10_000, description="The log file is rotated at this size [bytes]"
    )
    log_file_backups: int = Field(default=10, ge=0, le=1000, description="Rotated files kept")
    metrics_token: str | None = Field(
        default=None,
        description="When set, GET /metrics needs 'Authorization: Bearer <token>'; else it is open",
    )
    report_sites: Path | None = Field(
        default=None,
        description="YAML of each edge's time zone, tariff and carbon factors for reports "
        "(ems.reports.site); edges not in it are reported in UTC without cost",
    )
    report_mail: bool = Field(
        default=True,
        description="Send subscribed reports from this process (needs EMS_SMTP_URL; the "
        "processes of a cluster claim each send)",
    )
    report_mail_delay_s: float = Field(
        default=900.0,
        ge=0,
        description="A subscribed report goes out this long after its local period end [s]",
    )
    anomaly_alarms: bool = Field(
        default=False,
        description="Check every edge's last hour for unusual consumption or generation and "
        "raise the energy_anomaly alarm (one process of a cluster)",
    )
    telemetry_batch_rows: int = Field(default=5000, gt=0)
    telemetry_batch_delay_s: float = Field(default=0.2, gt=0)
    telemetry_write_concurrency: int = Field(
        default=2,
        ge=1,
        le=16,
        description="Telemetry batches written at once, each on its own database connection",
    )
    telemetry_intake_rows: int = Field(
        default=20_000,
        ge=1,
        description="Channel values this process holds on their way to the database; while "
        "it holds that many it stops reading edges' sockets (back-pressure)",
    )
    telemetry_latest_every_s: float = Field(
        default=5.0,
        ge=0,
        le=60,
        description="PostgreSQL: an edge's latest values are upserted with at most one of its "
        "batches in this time (0: with every batch), and caught up from history once it sent "
        "nothing for as long; the latest-value table trails a streaming edge by at most this, "
        "a silent one by about twice this [s]",
    )
    telemetry_pause_max_s: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="An edge socket's reading waits for room for its telemetry at most this "
        "long in twice that time; then its frames are shed unread (not acked: the edge "
        "sends them again) for as long, so its acks are not stuck behind telemetry [s]",
    )
    # -- abuse limits (DESIGN section 8; README "Security") ---------------------
    command_rate_per_s: float = Field(
        default=10.0, gt=0, description="Commands per user and second, every process together"
    )
    command_burst: int = Field(default=10, ge=1, description="Commands a user may send at once")
    replay_window_s: float = Field(
        default=60.0, gt=0, description="A command_id is refused as a replay for this long [s]"
    )
    max_clock_skew_s: float = Field(
        default=60.0,
        gt=0,
        description="issued_at further than this from server time is stale_timestamp [s]",
    )
    ack_rate_per_s: float = Field(
        default=100.0, gt=0, description="Acks per edge and second; faster ones wait"
    )
    ack_burst: int = Field(default=100, ge=1, description="Acks an edge may send at once")
    http_rate_per_s: float = Field(
        default=20.0, gt=0, description="HTTP requests to /api and /auth per client address [1/s]"
    )
    http_burst: int = Field(default=100, ge=1, description="HTTP requests per address at once")
    smtp_url: SecretStr | None = Field(
        default=None,
        description="smtp://user:pass@host:587 (STARTTLS) or smtps://…:465 (TLS) for alarm "
        "e-mails; unset: alarms are not mailed. Never logged.",
    )
    smtp_from: str = Field(default="ems@localhost", description="From address of alarm e-mails")
    alarm_escalate_after_s: float = Field(
        default=900.0, gt=0, description="Unacknowledged this long: mail the next role up [s]"
    )
    alarm_upkeep_s: float = Field(
        default=5.0,
        gt=0,
        description="How often edge offline/stale alarms, shelve expiry and escalation run [s]",
    )
    alarm_offline_after_s: float = Field(
        default=60.0,
        ge=0,
        description="An edge offline (no socket) this long raises edge_offline [s]",
    )
    alarm_clock_drift_s: float = Field(
        default=5.0, gt=0, description="An edge clock off by more than this: clock_drift [s]"
    )
    alarm_dropped_clear_s: float = Field(
        default=600.0,
        gt=0,
        description="telemetry_dropped clears once FramesDropped stayed unchanged this long [s]",
    )
    alarm_mail_backoff_s: float = Field(
        default=30.0, gt=0, description="First retry of a refused alarm e-mail; doubles [s]"
    )
    alarm_mail_max_attempts: int = Field(
        default=10, ge=1, description="Attempts before an alarm e-mail is given up (and kept)"
    )
    edge_login_failures_per_min: float = Field(
        default=10.0, gt=0, description="Failed edge logins per address and minute"
    )
    edge_login_failures_burst: int = Field(
        default=10, ge=1, description="Failed edge logins per address before the limit bites"
    )
    hsts_max_age_s: int = Field(
        default=31_536_000,
        ge=0,
        description="Strict-Transport-Security max-age on https requests (0: never sent)",
    )

    @model_validator(mode="after")
    def _external_auth_is_complete(self) -> Self:
        if self.auth_backend == "http":
            if not self.auth_url:
                raise ValueError("EMS_AUTH_BACKEND=http needs EMS_AUTH_URL (the auth service)")
            if self.auth_service_token is None or not self.auth_service_token.get_secret_value():
                raise ValueError(
                    "EMS_AUTH_BACKEND=http needs EMS_AUTH_SERVICE_TOKEN (for edge-key checks)"
                )
        return self


def add_cloud_log_file(settings: CloudSettings) -> None:
    """``EMS_LOG_FILE``: every log line also as JSON, rotated, for a log shipper."""
    if settings.log_file is None:
        return
    from ems.logs import add_log_file

    add_log_file(
        settings.log_file,
        settings.log_file_max_bytes,
        settings.log_file_backups,
        {"service": "ems-cloud", "node_id": settings.node_id},
    )
