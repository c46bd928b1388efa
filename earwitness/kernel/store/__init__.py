"""The SQL store: system of record for works, clips, detections, cases and the outbox.

SQLite by default, any SQLAlchemy URL (PostgreSQL) by configuration. The schema
is owned by Alembic migrations in ``migrations/``; :func:`open_store` brings a
database to the newest revision before handing out sessions.
"""

from earwitness.kernel.store import case_models as _case_models  # noqa: F401  (registers the case tables)
from earwitness.kernel.store import leases as _leases  # noqa: F401  (registers the lease table)
from earwitness.kernel.store import outbox as _outbox  # noqa: F401  (registers the flush listener)
from earwitness.kernel.store.db import Store, open_store
from earwitness.kernel.store.ids import new_id

__all__ = ["Store", "open_store", "new_id"]
