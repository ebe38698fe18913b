"""Settings, read once from the environment (prefix ``DISTILLGUARD_``) and overridable in tests."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRETS = frozenset({"changeme", "change-me", "changethis", "secret", "password", "xxx", "todo"})
DEFAULT_DATABASE_URL = "sqlite:///var/distillguard.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DISTILLGUARD_", env_file=None, extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    auto_migrate: bool = True  # `serve` runs `alembic upgrade head` before accepting requests

    # prompt retention: full keeps texts, hashed keeps hashes/scores only, none keeps counts and lengths
    prompt_retention: Literal["full", "hashed", "none"] = "full"
    max_body_bytes: int = 32 * 1024 * 1024
    max_decompressed_bytes: int = 256 * 1024 * 1024
    max_records_per_request: int = 50_000
    litellm_account_fields: list[str] = Field(
        default_factory=lambda: [
            "end_user",
            "metadata.user_api_key_end_user_id",
            "metadata.user_api_key_user_id",
            "metadata.user_api_key_hash",
        ]
    )
    kong_account_fields: list[str] = Field(
        default_factory=lambda: ["consumer.custom_id", "consumer.username", "consumer.id", "authenticated_entity.id"]
    )

    # an API key stays authenticated this long without a database lookup; revocations made through another
    # process (the CLI, another worker) take effect within it (0: look the key up on every request)
    api_key_cache_seconds: float = 5.0

    ipdata_dir: Path | None = None  # offline IP→ASN and datacenter/VPN lists (see README)

    # detection
    embedded_worker: bool = True  # `serve` also executes queued detection runs in a background thread
    schedule_interval_seconds: float = 0.0  # > 0: queue an incremental run this often
    # the scheduler's run is a full one when the last full run finished longer ago than this (0: never)
    full_run_interval_seconds: float = 86_400.0
    detection_window_days: float = 30.0
    # keep the memory a run frees for the next run instead of returning it to the kernel (app/scoring/memory.py)
    detection_keep_memory: bool = True
    account_flag_threshold: float = 0.8
    cluster_flag_threshold: float = 0.7

    # web console
    session_secret: str | None = None  # signs console session cookies; random per process when unset
    webhook_urls: list[str] = Field(default_factory=list)
    webhook_secret: str | None = None

    log_level: str = "INFO"
    log_json: bool = True

    @field_validator("session_secret", "webhook_secret")
    @classmethod
    def _refuse_placeholder_secrets(cls, value: str | None) -> str | None:
        if value is not None and (value.strip().lower() in PLACEHOLDER_SECRETS or len(value) < 16):
            raise ValueError("is a placeholder or shorter than 16 characters; set a real random secret")
        return value

    @field_validator("database_url")
    @classmethod
    def _use_psycopg3(cls, value: str) -> str:
        for prefix in ("postgresql://", "postgres://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        return value


@lru_cache
def get_settings() -> Settings:
    return Settings()
