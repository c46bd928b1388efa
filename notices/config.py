"""The ``notices`` settings section: its types (values in ``config/notices.yaml``), read once per call
(tests switch homes)."""

from __future__ import annotations

from typing import Any, Mapping

from earwitness.kernel import settings


class _Agent(settings.Section):
    name: str
    address: str
    authorisation: str


class _Dispute(settings.Section):
    ecommerce_art43_days: int
    civil_code_1196_days: int
    dmca_512g_business_days: list[int]
    holidays: list[str]
    default_basis: dict[str, str]


class _AutoConfirm(settings.Section):
    enabled: bool
    min_score: float
    min_duration_s: float
    min_matched_peaks: int
    max_abs_pitch_semitones: float


class NoticesSettings(settings.Section):
    """The ``notices`` section: the rights holder, recipients, periods, auto-confirm, time-stamps, fonts."""

    rights_holder: dict[str, str]
    agent: _Agent
    recipients: dict[str, dict[str, str]]
    languages: dict[str, str]
    jurisdictions: dict[str, str]
    holder_owns: list[str]
    legal_users: list[str]
    identity_documents: list[dict[str, str]]
    title_evidence: dict[str, dict[str, list[dict[str, str]]]]
    language_jurisdictions: dict[str, str]
    sla_days: float
    recheck_interval_hours: float
    recheck_after_removal_hours: float
    recheck_audio: bool
    removal_confirmations: int
    removal_span_hours: float
    dispute: _Dispute
    auto_confirm: _AutoConfirm
    tsa_url: str | None
    tsa_timeout_s: float
    tsa_trust_roots: list[str]
    tsa_cert: str | None
    pdf_fonts: list[str]
    template_dir: str | None


settings.register_section("notices", NoticesSettings)


def section() -> Mapping[str, Any]:
    return settings.get().section("notices")


def get(key: str) -> Any:
    """One key of the section; every key is there (the model requires it, the YAML gives its value)."""
    return section()[key]


def per_platform(key: str, platform: str, default: Any = None) -> Any:
    """A per-platform mapping's value for ``platform``, else its ``default`` entry."""
    table = section().get(key) or {}
    return table.get(platform, table.get("default", default))


def per_platform_nested(key: str, sub: str, platform: str, default: Any = None) -> Any:
    """Like :func:`per_platform` for a mapping inside a section key (``dispute.default_basis``)."""
    table = (section().get(key) or {}).get(sub) or {}
    return table.get(platform, table.get("default", default))
