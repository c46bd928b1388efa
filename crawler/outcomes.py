"""What a platform answered, in one vocabulary: the crawler's failure taxonomy.

Every path that asks a platform something (a crawl's listing and item pages, a
fetch through yt-dlp, the case re-check's probe) turns the answer into an
:class:`Answer` here, so all of them agree on what "removed" means. The kinds:

``up``           the item is there.
``gone``         the platform says removed / not found, by status (404, 410, 451) or in its own words.
``private``      the item exists but its owner hid it.
``geo_blocked``  not served to the region we asked from.
``blocked``      a wall in front of us, not an answer about the item: bot check, captcha,
                 rate limit (429, "try again later"), an HTML page where media should be.
``needs_login``  a sign-in wall, an age gate, an expired login.
``transient``    5xx, timeouts, dropped connections: ask again later.
``broken``       the platform changed (layout, API, extractor) or answers nonsense (redirect loop).
``offline``      a live room that is not live now (not a removal).

Only ``gone`` may ever lead to a legal record saying "removed" (and the re-check asks for
several, spaced in time). ``blocked`` and ``needs_login`` say nothing about the item. The
order of :data:`TEXT_RULES` matters: walls are recognised before words like "unavailable",
because "Sign in to confirm you're not a bot" and "This content isn't available, try again
later" are walls, not removals.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

KINDS = ("up", "gone", "private", "geo_blocked", "blocked", "needs_login", "transient", "broken", "offline")
WALLS = ("blocked", "needs_login")                  # the platform refused us; the item is unknown
UNAVAILABLE = ("gone", "private", "geo_blocked", "offline")   # the platform spoke about the item


@dataclass(frozen=True)
class Answer:
    """One classified answer: ``kind`` from :data:`KINDS`, ``reason`` the specific cause
    (``http_404``, ``platform_removed``, ``bot_check``, ``rate_limited``, ``age_gate``...)."""

    kind: str
    reason: str
    http_status: int | None = None
    detail: str = ""
    retry_after_s: float | None = None

    @property
    def is_wall(self) -> bool:
        return self.kind in WALLS


# (kind, reason, pattern). First match wins; walls first (see the module docstring).
TEXT_RULES: list[tuple[str, str, re.Pattern]] = [(k, r, re.compile(p, re.I)) for k, r, p in [
    ("blocked", "bot_check", r"confirm (that )?you.?re not a bot|not a robot|verify (that )?you are (a )?human|"
                             r"unusual traffic|automated (queries|requests)|bot (wall|check|detected)|"
                             r"人机验证|安全验证"),
    ("blocked", "captcha", r"captcha|验证码|slide to verify|滑块"),
    ("blocked", "rate_limited", r"rate.?limit|too many requests|try again later|请求过于频繁|访问频繁|操作太频繁"),
    ("needs_login", "age_gate", r"confirm your age|age.?restricted|inappropriate for some users|age gate|"
                                r"年龄验证"),
    ("private", "private", r"\bprivate (video|post|account)\b|(video|post|account) is private|仅自己可见|私密"),
    ("needs_login", "login_required", r"log ?in required|login is required|sign ?in to (view|watch|continue)|"
                                      r"need to (log|sign) ?in|(log|sign) ?in first|"
                                      r"only available (for|to) (registered|logged.in) users|"
                                      r"--cookies|session (has )?expired|cookies? (have |has )?expired|"
                                      r"scan (the qr code )?to log ?in|请先登录|登录后|需要登录|扫码登录"),
    ("geo_blocked", "geo_blocked", r"geo.?restrict|geo.?block|not available (in|from) your "
                                   r"(country|region|location)|地区不可用|所在地区"),
    ("offline", "not_live", r"not (currently )?live\b|is offline|no live stream|未开播"),
    ("gone", "platform_removed", r"has been removed|removed by|was removed|deleted|no longer available|"
                                 r"\bunavailable\b|does not exist|doesn.?t exist|not found|has been taken down|"
                                 r"account .*terminated|已删除|不存在|已下架|已失效"),
]]

STATUS_KINDS: dict[int, tuple[str, str]] = {
    401: ("needs_login", "http_401"),
    403: ("blocked", "http_403"),
    404: ("gone", "http_404"),
    410: ("gone", "http_410"),
    451: ("gone", "http_451"),
    412: ("blocked", "risk_control"),     # Bilibili's answer to clients it distrusts
    429: ("blocked", "rate_limited"),
    408: ("transient", "http_408"),
}


def from_text(text: str, *, kinds: Iterable[str] = KINDS) -> tuple[str, str] | None:
    """The first rule whose pattern occurs in ``text`` (limited to ``kinds``), as (kind, reason)."""
    allowed = set(kinds)
    for kind, reason, rx in TEXT_RULES:
        if kind in allowed and rx.search(text or ""):
            return kind, reason
    return None


def from_http(status: int | None, *, text: str = "", retry_after_s: float | None = None,
              redirect_loop: bool = False) -> Answer:
    """A plain HTTP answer (status, and the page's words where there are some).

    On 403 the words decide between private, geo-blocked, a sign-in wall and a plain
    refusal; a 200 is ``up`` unless its page is a wall (bot check, captcha, login).
    """
    detail = (text or "")[:300]
    if redirect_loop:
        return Answer("broken", "redirect_loop", status, detail or "the page redirects to itself")
    if status is None:
        return Answer("transient", "no_answer", None, detail)
    if 200 <= status < 300:
        wall = from_text(text, kinds=WALLS)
        return Answer(*wall, status, detail) if wall else Answer("up", "still_up", status)
    if status == 403:
        said = from_text(text, kinds=("private", "geo_blocked", "needs_login", "blocked"))
        if said:
            return Answer(*said, status, detail, retry_after_s)
    if status in STATUS_KINDS:
        kind, reason = STATUS_KINDS[status]
        return Answer(kind, reason, status, detail, retry_after_s)
    if status >= 500:
        return Answer("transient", f"http_{status}", status, detail, retry_after_s)
    if 300 <= status < 400:
        return Answer("broken", f"http_{status}", status, detail or "a redirect that was not followed")
    return Answer("broken", f"http_{status}", status, detail)


_INVISIBLE = re.compile(r"<(script|style|noscript|template)\b.*?</\1\s*>", re.I | re.S)
_TAG = re.compile(r"<[^>]+>")
_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.I | re.S)


def page_text(html: str | bytes, *, limit: int = 4000) -> str:
    """What a reader sees first on a page: its title and the start of its visible text
    (scripts and styles left out, so a captcha library on a normal page is no wall)."""
    if isinstance(html, bytes):
        html = html[:262144].decode("utf-8", "replace")
    title = _TITLE.search(html)
    body = _TAG.sub(" ", _INVISIBLE.sub(" ", _TITLE.sub(" ", html)))
    text = " ".join(((title.group(1) if title else "") + " " + body).split())
    return text[:limit]


def from_page(status: int | None, html: str | bytes = b"", **kwargs: Any) -> Answer:
    """An HTTP answer with its page: :func:`from_http` on the page's visible text."""
    return from_http(status, text=page_text(html or b""), **kwargs)


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and every exception it wraps (yt-dlp's exc_info, cause, context)."""
    seen: set[int] = set()
    out: list[BaseException] = []
    stack = [exc]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        out.append(e)
        info = getattr(e, "exc_info", None)
        if info and len(info) > 1:
            stack.append(info[1])
        stack.extend([getattr(e, "cause", None), e.__cause__, e.__context__])
    return out


def http_error_of(exc: BaseException) -> Any:
    """The yt-dlp networking HTTPError somewhere in ``exc``'s chain, if any."""
    from yt_dlp.networking.exceptions import HTTPError
    return next((e for e in _chain(exc) if isinstance(e, HTTPError)), None)


def is_transport_error(exc: BaseException) -> bool:
    """A connection reset / refused / timeout somewhere in ``exc``'s chain."""
    from yt_dlp.networking.exceptions import TransportError
    return any(isinstance(e, (TransportError, ConnectionError, TimeoutError)) for e in _chain(exc))


def from_ytdlp(exc: BaseException, *, retry_after_s: float | None = None) -> Answer | None:
    """A yt-dlp failure classified; ``None`` when it is about the media rather than the
    platform's answer (unsupported URL, no formats: the caller rejects the item).

    Words only count as "gone" or "private" when yt-dlp marks the error as expected (the
    extractor read the platform's own message) or the status is a 4xx; an unexpected
    extractor error ("Unable to extract ...") is ``broken``, never "removed".
    """
    from yt_dlp.utils import GeoRestrictedError, UserNotLive
    chain = _chain(exc)
    http = http_error_of(exc)
    status = getattr(http, "status", None)
    msg = str(exc)
    detail = msg[:300]
    if http is not None and getattr(http, "redirect_loop", False):
        return Answer("broken", "redirect_loop", status, detail)
    if any(isinstance(e, GeoRestrictedError) for e in chain):
        return Answer("geo_blocked", "geo_blocked", status, detail)
    if any(isinstance(e, UserNotLive) for e in chain):
        return Answer("offline", "not_live", status, detail)
    expected = any(getattr(e, "expected", False) for e in chain)
    said = from_text(msg)           # the first rule that fits, walls ranked first
    if said and said[0] in WALLS:
        return Answer(*said, status, detail, retry_after_s)
    if status is not None:
        answer = from_http(status, text=msg, retry_after_s=retry_after_s)
        if answer.kind != "broken" or status >= 400:
            return answer
    if expected and said:
        return Answer(*said, status, detail)
    if "Unsupported URL" in msg or "no video formats" in msg.lower() or "No media found" in msg \
            or "Requested format is not available" in msg:
        return None
    if is_transport_error(exc) or "timed out" in msg.lower():
        return Answer("transient", "network", status, detail)
    return Answer("broken", "extractor_error", status, detail)
