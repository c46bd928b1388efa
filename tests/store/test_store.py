"""The core store: migrations, UTC times, and the outbox written in the same transaction."""

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect, select

from earwitness.kernel import settings
from earwitness.kernel.store import Store, new_id
from earwitness.kernel.store.models import Clip, Detection, OutboxEntry, Work


def test_migrations_create_core_tables(store):
    names = set(inspect(store.engine).get_table_names())
    assert {"works", "clips", "detections", "outbox", "alembic_version"} <= names


def test_reopening_a_migrated_store_is_a_no_op(store):
    again = Store(store.url)
    with again.session() as s:
        assert s.scalars(select(Work)).all() == []


def test_times_come_back_as_utc(store):
    shanghai = timezone(timedelta(hours=8))
    with store.session() as s:
        s.add(Clip(platform="p", url="u", media_id="m", captured_at=datetime(2026, 1, 1, 8, tzinfo=shanghai)))
    with store.session() as s:
        clip = s.scalars(select(Clip)).one()
        assert clip.captured_at == datetime(2026, 1, 1, 0, tzinfo=timezone.utc)


def test_naive_times_are_refused(store):
    with pytest.raises(Exception, match="naive"):
        with store.session() as s:
            s.add(Clip(platform="p", url="u", media_id="m", captured_at=datetime(2026, 1, 1)))


def test_every_change_writes_an_outbox_row_in_the_same_transaction(store):
    with store.session() as s:
        s.add(Work(id="w1", title="Song"))
        clip = Clip(platform="p", url="u", media_id="m")
        s.add(clip)
        s.flush()
        s.add(Detection(clip_id=clip.id, work_id="w1", clip_offset_s=0, ref_offset_s=1, duration_s=5,
                        score=20, pitch_semitones=0, tempo_ratio=1, matcher_version="t"))
    with pytest.raises(RuntimeError):
        with store.session() as s:
            s.add(Work(id="w2"))
            s.flush()
            raise RuntimeError("crash before commit")
    with store.session() as s:
        rows = [(o.entity, o.op) for o in s.scalars(select(OutboxEntry).order_by(OutboxEntry.seq))]
        assert rows == [("works", "upsert"), ("clips", "upsert"), ("detections", "upsert")]
        s.get(Work, "w1").title = "Renamed"
    with store.session() as s:
        last = s.scalars(select(OutboxEntry).order_by(OutboxEntry.seq.desc())).first()
        assert (last.entity, last.entity_id, last.op) == ("works", "w1", "upsert")


def test_ids_are_unique_and_time_ordered():
    ids = [new_id() for _ in range(1000)]
    assert len(set(ids)) == 1000 and all(len(i) == 26 for i in ids)


def test_settings_env_overrides_and_sections(tmp_path):
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "earwitness.yaml").write_text("store_url: sqlite:///{home}/x.db\n")
    (cfg / "widgets.yaml").write_text("limit: 3\nsites: {a: 1}\n")
    s = settings.load(tmp_path / "h", environ={"EARWITNESS__WIDGETS__LIMIT": "7"}, config_dir=cfg)
    assert s.section("widgets")["limit"] == 7 and s.section("widgets")["sites"]["a"] == 1
    assert s.store_url == f"sqlite:///{(tmp_path / 'h').resolve()}/x.db"
    with pytest.raises(TypeError):
        s.section("widgets")["limit"] = 1
