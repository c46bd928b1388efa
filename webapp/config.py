"""The ``webapp`` settings section: its types (values in ``config/webapp.yaml``)."""

from __future__ import annotations

from earwitness.kernel import settings


class LoginThrottle(settings.Section):
    """Failed logins allowed per account and per address within a window."""

    window_minutes: float
    per_account: int
    per_address: int


class PasswordSettings(settings.Section):
    """The password policy and the bound on concurrent scrypt checks."""

    min_length: int
    min_strength: int
    max_concurrent_checks: int
    check_wait_s: float


class _LoginThrottle(settings.Section):
    window_minutes: float
    per_account: int
    per_address: int


class _Password(settings.Section):
    min_length: int
    min_strength: int
    max_concurrent_checks: int
    check_wait_s: float


class WebappSettings(settings.Section):
    """The review app: serving, session lifetimes, cookies, excerpt cache, lists, accounts, review."""

    host: str
    port: int
    idle_minutes: float
    max_hours: float
    secure_cookies: bool
    cache_dir: str
    lead_in_s: float
    max_excerpt_s: float
    page_size: int
    workers: int
    threads: int
    timeout_s: float
    secret_key: str
    secret_key_file: str
    proxy_count: int
    hsts_seconds: int
    login_throttle: _LoginThrottle
    password: _Password
    claim_minutes: float
    bulk_max: int
    workers: int
    threads: int
    timeout_s: float
    secret_key: str
    secret_key_file: str
    proxy_count: int
    hsts_seconds: int
    login_throttle: LoginThrottle
    password: PasswordSettings
    claim_minutes: float
    bulk_max: int


settings.register_section("webapp", WebappSettings)
