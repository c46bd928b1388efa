"""Clips keep the downloaded original beside the normalised audio, and the page capture's WARC.

``original_path``/``original_sha256``: the media file as the platform served it
(before ffmpeg), stored content-addressed under ``<home>/media/originals``.
``warc_path``/``warc_sha256``: the page's network record taken with the
screenshot. Rows from before this revision have neither (their evidence bundles
say so: ``not_captured``).

Revision ID: 0017_clip_originals_and_warc
Revises: 0001_core
"""
import sqlalchemy as sa
from alembic import op

revision = "0017_clip_originals_and_warc"
down_revision = "0001_core"
branch_labels = None
depends_on = None

COLUMNS = (("original_path", sa.Text), ("original_sha256", sa.String(64)),
           ("warc_path", sa.Text), ("warc_sha256", sa.String(64)))


def upgrade() -> None:
    with op.batch_alter_table("clips") as batch:
        for name, kind in COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("clips") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
