"""Configuration from the environment, with embedded defaults: `make demo` needs nothing more.

FINEDGE_ENV selects the profile: ``demo`` (default), ``test`` (set by the test suite) or
``production``.  Outside demo and test a FINEDGE_SECRET_KEY is required and no demo users,
generated secrets or fake login providers exist.

Mini-program login (POST /auth/wx-login) is on in demo and test (a fake code2session unless
WX_APPID and WX_SECRET are set) and, in production, when both are set; FINEDGE_WX_LOGIN=on|off
says so explicitly, and ``on`` in production requires WX_APPID and WX_SECRET.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path

ENVIRONMENTS = ("demo", "test", "production")


class ConfigError(RuntimeError):
    """The configuration cannot be used: start is refused."""


def project_root() -> Path:
    return Path(__file__).resolve().parents[2]


def var_dir() -> Path:
    path = Path(os.environ.get("FINEDGE_VAR_DIR", project_root() / "var"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _generated_secret(var: Path) -> str:
    """Demo/test only: a secret generated once into var/ so restarts keep tokens valid."""
    key_file = var / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    key = secrets.token_urlsafe(48)
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never readable by others
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


_ON, _OFF = ("1", "on", "true", "yes"), ("0", "off", "false", "no")


def _wx_login(env: str, flag: str, appid: str | None, secret: str | None) -> bool:
    flag = flag.strip().lower()
    if flag and flag not in _ON + _OFF:
        raise ConfigError(f"FINEDGE_WX_LOGIN must be on or off, not {flag!r}")
    if flag in _OFF:
        return False
    if bool(appid) != bool(secret):
        raise ConfigError("WX_APPID and WX_SECRET go together: set both or neither")
    if env != "production":
        return True
    if flag in _ON and not (appid and secret):
        raise ConfigError("FINEDGE_WX_LOGIN=on needs WX_APPID and WX_SECRET in production")
    return bool(appid and secret)


def _amount(env_vars: dict[str, str], name: str, default: str) -> Decimal:
    raw = env_vars.get(name, "").strip() or default
    try:
        value = Decimal(raw)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or value < 0 or value != value.quantize(Decimal("0.01")):
        raise ConfigError(f"{name} must be an amount such as 1000000.00, not {raw!r}")
    return value.quantize(Decimal("0.01"))


def _rpa_queue(env: str, env_vars: dict[str, str], var: Path) -> str:
    raw = env_vars.get("FINEDGE_RPA_QUEUE", "").strip()
    if not raw and env == "test":
        return "memory"  # each test app's own queue, drained in-process
    if not raw:
        redis_url = env_vars.get("REDIS_URL", "").strip()
        return redis_url or f"sqlite:///{var / 'rpa-queue.sqlite'}"
    if raw != "memory" and not raw.startswith(("sqlite:///", "redis://", "rediss://")):
        raise ConfigError("FINEDGE_RPA_QUEUE must be sqlite:///FILE, redis://… or memory")
    return raw


def _positive_int(env_vars: dict[str, str], name: str, default: int) -> int:
    """A whole number of at least 1 from ``name`` (unset or empty: ``default``)."""
    raw = env_vars.get(name, "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise ConfigError(f"{name} must be a whole number of at least 1, not {raw!r}")
    return int(raw)


def _notifier(env: str, env_vars: dict[str, str]) -> tuple[str, str, str]:
    """FINEDGE_NOTIFIER (fake|http|none; default fake, none in production) and, for http,
    FINEDGE_SMS_GATEWAY_URL and FINEDGE_SMS_GATEWAY_SECRET (both required)."""
    default = "none" if env == "production" else "fake"
    name = env_vars.get("FINEDGE_NOTIFIER", "").strip().lower() or default
    if name not in ("fake", "http", "none"):
        raise ConfigError(f"FINEDGE_NOTIFIER must be fake, http or none, not {name!r}")
    if name == "fake" and env == "production":
        raise ConfigError("FINEDGE_NOTIFIER=fake is for demo and test, not production")
    url = env_vars.get("FINEDGE_SMS_GATEWAY_URL", "").strip()
    secret = env_vars.get("FINEDGE_SMS_GATEWAY_SECRET", "")
    if name == "http":
        if not url.startswith(("http://", "https://")):
            raise ConfigError("FINEDGE_NOTIFIER=http needs FINEDGE_SMS_GATEWAY_URL (http[s]://…)")
        if len(secret) < 16:
            raise ConfigError("FINEDGE_NOTIFIER=http needs FINEDGE_SMS_GATEWAY_SECRET (16+ chars)")
    return name, url, secret


@dataclass(frozen=True)
class Config:
    env: str = "demo"
    database_url: str = ""
    mqtt_url: str | None = None
    branch_mqtt_url: str | None = None
    # Dynamic security admin logins (mqtt[s]://admin:pw@host:port): the central Mosquitto's,
    # whose accounts the hub keeps (backend/roles/central_accounts.py), and the branch
    # Mosquitto's, whose accounts ``finedge edge`` keeps (edge/branch_accounts.py). A TLS URL
    # verifies the broker against its ``?cafile=`` or FINEDGE_MQTT_CA_FILE (the MQTT layer
    # reads that one itself, for every client of the process).
    mqtt_admin_url: str | None = None
    branch_mqtt_admin_url: str | None = None
    redis_url: str | None = None
    secret_key: str = ""
    token_ttl_s: int = 3600
    max_content_length: int = 1024 * 1024
    # Login limits (backend/identity/service/logins.py, docs/admin.md): failures are forgotten
    # after login_window_s; past login_max_failures from one address (or
    # login_max_failures_per_account from all), the account waits login_backoff_base_s,
    # doubling with each further failure up to login_backoff_max_s; one address may fail
    # login_max_failures_per_address times within the window over all accounts.
    login_max_failures: int = 5
    login_max_failures_per_account: int = 10
    login_window_s: int = 3600
    login_max_failures_per_address: int = 20
    login_backoff_base_s: int = 30
    login_backoff_max_s: int = 900
    # Mini-program sign-ups (new client accounts) per address per hour, and per day overall
    # with the demo's fake provider.
    wx_signups_per_address: int = 5
    wx_fake_signups_per_day: int = 200
    wx_appid: str | None = None
    wx_secret: str | None = None
    wx_api_base: str = "https://api.weixin.qq.com"
    wx_login: bool = True
    run_scheduler: bool = False
    # retention (backend/platform/retention.py): days kept of device messages, of finished
    # device commands and of job runs
    device_messages_days: int = 30
    device_commands_days: int = 90
    job_runs_days: int = 90
    # maker-checker (backend/ledger/service/approvals.py): a teller's transfer or hold above
    # these amounts waits for a second user with approver rights
    ledger_transfer_approval_limit: Decimal = Decimal("1000000.00")
    ledger_hold_approval_limit: Decimal = Decimal("1000000.00")
    # the notifier (backend/platform/notifier.py): fake (demo, test), http (an SMS gateway),
    # none (production default until a gateway is configured: every message fails)
    notifier: str = "fake"
    sms_gateway_url: str = ""
    sms_gateway_secret: str = field(default="", repr=False)
    notifier_timeout_s: int = 5
    notifier_retries: int = 2
    # the robot factory's queue (backend/rpa/queue.py): "sqlite:///file" (one machine, the
    # demo's default var/rpa-queue.sqlite), "redis://host:port/db" (workers on any machine),
    # "memory" (tests: drained in-process); empty: REDIS_URL when set, else the SQLite file
    rpa_queue: str = ""
    rpa_heartbeat_s: float = 5.0  # a worker refreshes its item's lease this often
    rpa_lease_s: float = 30.0  # an item whose heartbeat is older is returned to NEW
    rpa_backoff_s: float = 30.0  # first retry delay of an APPLICATION failure, doubled each time
    extra: dict = field(default_factory=dict)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def fake_wx_login(self) -> bool:
        return self.wx_login and not self.is_production and not self.wx_appid

    def with_overrides(self, **kwargs) -> Config:
        return replace(self, **kwargs)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides) -> Config:
        env_vars = dict(os.environ if environ is None else environ)
        env = env_vars.get("FINEDGE_ENV", "demo")
        if env not in ENVIRONMENTS:
            raise ConfigError(f"FINEDGE_ENV must be one of {', '.join(ENVIRONMENTS)}, not {env!r}")
        var = var_dir()
        secret = env_vars.get("FINEDGE_SECRET_KEY", "")
        if not secret:
            if env == "production":
                raise ConfigError("FINEDGE_SECRET_KEY is required when FINEDGE_ENV=production")
            secret = _generated_secret(var)
        elif len(secret) < 32:
            raise ConfigError("FINEDGE_SECRET_KEY must be at least 32 characters")
        database_url = env_vars.get("DATABASE_URL") or f"sqlite:///{var / 'finedge.db'}"
        wx_appid = env_vars.get("WX_APPID") or None
        wx_secret = env_vars.get("WX_SECRET") or None
        notifier, gateway_url, gateway_secret = _notifier(env, env_vars)
        config = cls(
            env=env,
            notifier=notifier,
            sms_gateway_url=gateway_url,
            sms_gateway_secret=gateway_secret,
            notifier_timeout_s=_positive_int(env_vars, "FINEDGE_NOTIFIER_TIMEOUT_S", 5),
            notifier_retries=_positive_int(env_vars, "FINEDGE_NOTIFIER_ATTEMPTS", 3) - 1,
            database_url=database_url,
            mqtt_url=env_vars.get("MQTT_URL") or None,
            branch_mqtt_url=env_vars.get("BRANCH_MQTT_URL") or None,
            mqtt_admin_url=env_vars.get("MQTT_ADMIN_URL") or None,
            branch_mqtt_admin_url=env_vars.get("BRANCH_MQTT_ADMIN_URL") or None,
            redis_url=env_vars.get("REDIS_URL") or None,
            secret_key=secret,
            token_ttl_s=int(env_vars.get("FINEDGE_TOKEN_TTL_S", "3600")),
            wx_appid=wx_appid,
            wx_secret=wx_secret,
            wx_login=_wx_login(env, env_vars.get("FINEDGE_WX_LOGIN", ""), wx_appid, wx_secret),
            device_messages_days=_positive_int(env_vars, "FINEDGE_DEVICE_MESSAGES_DAYS", 30),
            device_commands_days=_positive_int(env_vars, "FINEDGE_DEVICE_COMMANDS_DAYS", 90),
            job_runs_days=_positive_int(env_vars, "FINEDGE_JOB_RUNS_DAYS", 90),
            login_max_failures=_positive_int(env_vars, "FINEDGE_LOGIN_MAX_FAILURES", 5),
            login_backoff_max_s=_positive_int(env_vars, "FINEDGE_LOGIN_BACKOFF_MAX_S", 900),
            login_max_failures_per_address=_positive_int(
                env_vars, "FINEDGE_LOGIN_MAX_FAILURES_PER_ADDRESS", 20
            ),
            wx_signups_per_address=_positive_int(env_vars, "FINEDGE_WX_SIGNUPS_PER_ADDRESS", 5),
            ledger_transfer_approval_limit=_amount(
                env_vars, "FINEDGE_LEDGER_TRANSFER_APPROVAL_LIMIT", "1000000.00"
            ),
            ledger_hold_approval_limit=_amount(
                env_vars, "FINEDGE_LEDGER_HOLD_APPROVAL_LIMIT", "1000000.00"
            ),
            rpa_queue=_rpa_queue(env, env_vars, var),
            rpa_heartbeat_s=_positive_int(env_vars, "FINEDGE_RPA_HEARTBEAT_S", 5),
            rpa_lease_s=_positive_int(env_vars, "FINEDGE_RPA_LEASE_S", 30),
            rpa_backoff_s=_positive_int(env_vars, "FINEDGE_RPA_BACKOFF_S", 30),
        )
        return replace(config, **overrides) if overrides else config
