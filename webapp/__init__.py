"""The review web app: analysts confirm hits by ear and eye, legal drafts and exports letters.

A server-rendered Flask app (:func:`create_app`), one blueprint per page family
(:mod:`webapp.views`), accounts and sessions in the store (:mod:`webapp.auth`,
:mod:`webapp.models`), audio excerpts and alignment pictures cut with ffmpeg
(:mod:`webapp.media`), and a thin seam to the notices stage (:mod:`webapp.backend`).
Settings: the ``webapp`` section (``config/webapp.yaml``).
"""

from webapp import config as _config  # noqa: F401  (registers the "webapp" settings section)
from webapp import models as _models  # noqa: F401  (registers the tables on Base)
from webapp.errors import MediaError, UserError, WebappError

__all__ = ["create_app", "WebappError", "UserError", "MediaError"]


def create_app(*args, **kwargs):
    """Build the Flask app (see :func:`webapp.app.create_app`)."""
    from webapp.app import create_app as _create
    return _create(*args, **kwargs)
