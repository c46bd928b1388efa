"""The web app's one root exception and its expected failures."""


class WebappError(Exception):
    """Root of every error the web app raises on purpose."""


class UserError(WebappError):
    """A user account request that cannot be done (unknown role, name taken, weak password)."""


class MediaError(WebappError):
    """Audio or a picture for review could not be produced (file missing, ffmpeg refused it).

    Expected: evidence may have been moved or the catalog file replaced; the
    page says so instead of failing.
    """
