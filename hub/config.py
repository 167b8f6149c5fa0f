"""Typed settings loaded from a TOML file, then overridden by ``CALHUB_*`` environment variables."""

from __future__ import annotations

import dataclasses
import os
import secrets
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A configuration value is missing or malformed; the message names its source."""


@dataclass
class SmtpSettings:
    """Outgoing mail (iMIP invites, reminders)."""

    host: str = ""
    port: int = 25
    user: str = ""
    password: str = ""
    tls: str = "none"  # none | starttls | tls
    mail_from: str = "calhub@localhost"
    timeout: float = 20.0


@dataclass
class ImapSettings:
    """Incoming iMIP replies fetched from a mailbox (the alternative to the LMTP/SMTP endpoint)."""

    host: str = ""  # empty disables polling
    port: int = 993
    user: str = ""
    password: str = ""
    tls: str = "tls"  # none | starttls | tls
    folder: str = "INBOX"
    interval_seconds: float = 60.0


@dataclass
class Settings:
    """Everything calhub reads from configuration, with safe defaults for the embedded hub."""

    home: Path = field(default_factory=lambda: Path("var"))
    database_url: str = ""
    secret_key: str = ""
    base_url: str = "http://127.0.0.1:5232"
    host: str = "127.0.0.1"
    port: int = 5232
    threads: int = 16
    run_worker_in_serve: bool = True
    worker_poll_seconds: float = 0.5
    reconcile_interval_seconds: int = 900
    mass_deletion_share: float = 0.5
    reminder_offsets_minutes: list[int] = field(default_factory=lambda: [1440, 120])
    max_request_bytes: int = 1_000_000
    lmtp_port: int = 0  # 0 disables the inbound mail endpoint
    log_level: str = "INFO"
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    # Sync engine (issue 6): outbox lease, retry policy, polling of provider changes.
    worker_lease_seconds: float = 120.0
    retry_base_seconds: float = 2.0
    retry_max_seconds: float = 3600.0
    retry_max_attempts: int = 12
    sync_poll_seconds: float = 60.0
    sync_http_timeout_seconds: float = 20.0
    imap: ImapSettings = field(default_factory=ImapSettings)
    # The inbound mail endpoint on lmtp_port speaks "smtp" or "lmtp".
    inbound_protocol: str = "smtp"

    @property
    def is_embedded(self) -> bool:
        """True when no database URL is configured and calhub uses its own SQLite file."""
        return not self.database_url

    def effective_database_url(self) -> str:
        """The SQLAlchemy URL to use: the configured one, else SQLite under ``home``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.home / 'calhub.db').resolve()}"


# Environment variables that map onto a (section, key); everything else is CALHUB_<KEY>.
_ENV_ALIASES: dict[str, tuple[str | None, str]] = {
    "CALHUB_SMTP_HOST": ("smtp", "host"),
    "CALHUB_SMTP_PORT": ("smtp", "port"),
    "CALHUB_SMTP_USER": ("smtp", "user"),
    "CALHUB_SMTP_PASSWORD": ("smtp", "password"),
    "CALHUB_SMTP_TLS": ("smtp", "tls"),
    "CALHUB_MAIL_FROM": ("smtp", "mail_from"),
    "CALHUB_IMAP_HOST": ("imap", "host"),
    "CALHUB_IMAP_PORT": ("imap", "port"),
    "CALHUB_IMAP_USER": ("imap", "user"),
    "CALHUB_IMAP_PASSWORD": ("imap", "password"),
    "CALHUB_IMAP_TLS": ("imap", "tls"),
    "CALHUB_IMAP_FOLDER": ("imap", "folder"),
}


def _coerce(value: Any, target: Any, source: str, name: str) -> Any:
    """Convert a raw TOML or environment value to the type of the default ``target``."""
    try:
        if isinstance(target, bool):
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(f"expected true or false, got {value!r}")
        if isinstance(target, int):
            return int(value)
        if isinstance(target, float):
            return float(value)
        if isinstance(target, Path):
            return Path(value)
        if isinstance(target, list):
            if isinstance(value, list):
                return [int(v) for v in value]
            return [int(v) for v in str(value).split(",") if v.strip()]
        return str(value)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{name} from {source}: {e}") from e


def _apply(obj: Any, data: dict[str, Any], source: str, prefix: str = "") -> None:
    """Set known fields of a settings dataclass from a mapping; refuse unknown keys."""
    names = {f.name: f for f in dataclasses.fields(obj)}
    for key, value in data.items():
        attr = key.replace("-", "_")
        if attr not in names:
            raise ConfigError(f"unknown setting {prefix}{key!r} in {source}")
        current = getattr(obj, attr)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"{prefix}{key} in {source} must be a table")
            _apply(current, value, source, prefix=f"{key}.")
        else:
            setattr(obj, attr, _coerce(value, current, source, prefix + key))


def load_settings(
    path: str | Path | None = None, environ: dict[str, str] | None = None
) -> Settings:
    """Load settings from ``path`` (or ``CALHUB_CONFIG``) and the environment."""
    env = dict(os.environ if environ is None else environ)
    settings = Settings()
    config_path = path or env.get("CALHUB_CONFIG")
    if config_path:
        p = Path(config_path)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError as e:
            raise ConfigError(f"configuration file {p} does not exist") from e
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"configuration file {p} is not valid TOML: {e}") from e
        _apply(settings, data.get("calhub", data), str(p))
    for var, raw in env.items():
        if not var.startswith("CALHUB_") or var in ("CALHUB_CONFIG", "CALHUB_TEST_DATABASE_URL"):
            continue
        if var in _ENV_ALIASES:
            section, key = _ENV_ALIASES[var]
            _apply(getattr(settings, section) if section else settings, {key: raw}, var)
            continue
        key = var[len("CALHUB_") :].lower()
        if key in {f.name for f in dataclasses.fields(settings)} and key not in ("smtp", "imap"):
            _apply(settings, {key: raw}, var)
    if settings.smtp.tls not in ("none", "starttls", "tls"):
        raise ConfigError(f"smtp.tls must be none, starttls or tls, not {settings.smtp.tls!r}")
    if settings.imap.tls not in ("none", "starttls", "tls"):
        raise ConfigError(f"imap.tls must be none, starttls or tls, not {settings.imap.tls!r}")
    if settings.inbound_protocol not in ("smtp", "lmtp"):
        raise ConfigError(
            f"inbound_protocol must be smtp or lmtp, not {settings.inbound_protocol!r}"
        )
    return settings


def ensure_secret_key(settings: Settings) -> str:
    """Return the credential-encryption key, generating and persisting one for the embedded hub.

    A configured key always wins. Without one, the embedded default keeps a key file under
    ``home`` (created once, mode 0600) so encrypted credentials survive restarts. A server
    database without a configured key is refused: several processes must share one key.
    """
    if settings.secret_key:
        return settings.secret_key
    if not settings.is_embedded:
        raise ConfigError(
            "secret_key is required when database_url is set: set CALHUB_SECRET_KEY to the same "
            "value on every calhub process (generate one with `calhub secret generate`)"
        )
    settings.home.mkdir(parents=True, exist_ok=True)
    key_file = settings.home / "secret.key"
    if not key_file.exists():
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(32))
    settings.secret_key = key_file.read_text().strip()
    return settings.secret_key
