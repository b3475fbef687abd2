"""The refused duplicate's record (a second kind beside publish records) and the optional
`dedupe.remember_days` file: small, no title, no name in the latter, old records still readable."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from ralph_watch.dedupe import Remembered
from ralph_watch.record import PublishedFile, PublishRecord, RecordStore, RefusedRecord, account_hash

WHEN = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def refused(pair: str = "sub/copy") -> RefusedRecord:
    return RefusedRecord(pair=pair, video=pair + ".mp4", size=10, mtime_ns=2, head_tail="ab",
                         published_at=WHEN.isoformat())


def publish(pair: str = "sub/clip") -> PublishRecord:
    return PublishRecord(pair=pair, video=pair + ".mp4", size=10, mtime_ns=1, head_tail="ab", publish_id="v~1",
                         account=account_hash("open-1"), mode="direct", init_time=WHEN.isoformat(),
                         outcome="published")


class TestRefusedRecord:
    def test_it_round_trips_beside_publish_records_and_is_no_publish_record(self, tmp_path):
        store = RecordStore(tmp_path)
        store.put(refused())
        store.put(publish())
        assert store.get_refused("sub/copy") == refused()
        assert store.get("sub/copy") is None, "a refused duplicate has no init to settle"
        assert store.get_refused("sub/clip") is None
        assert [r.pair for r in store.load_all()] == ["sub/clip"]
        assert store.load_refused() == [refused()]
        assert refused().identity.content_key == publish().identity.content_key
        assert refused().published == WHEN

    def test_it_holds_its_kind_the_files_identity_and_when_the_original_went_out_and_no_title(self, tmp_path):
        store = RecordStore(tmp_path)
        store.put(refused())
        data = json.loads(next(store.dir.iterdir()).read_text())
        assert set(data) == {"kind", "pair", "video", "size", "mtime_ns", "head_tail", "published_at", "version"}
        assert data["kind"] == "refused_duplicate"

    def test_it_is_deleted_with_the_pair_like_a_publish_record(self, tmp_path):
        store = RecordStore(tmp_path)
        store.put(refused())
        store.discard("sub/copy")
        assert store.load_refused() == [] and list(store.dir.iterdir()) == []

    def test_a_record_written_before_refused_ones_existed_is_still_a_publish_record(self, tmp_path):
        store = RecordStore(tmp_path)
        store.ensure_dir()
        old = {"pair": "old", "video": "old.mp4", "size": 10, "mtime_ns": 1, "head_tail": "ab", "publish_id": "v~1",
               "account": "x", "mode": "direct", "init_time": WHEN.isoformat(), "outcome": "processing",
               "detail": None, "version": 1}
        store._path("old").write_text(json.dumps(old))
        assert store.get("old") is not None and store.get("old").outcome == "processing"
        assert store.load_refused() == []


class TestPublishedFile:
    def test_it_round_trips_hashes_sizes_and_times_only(self, tmp_path):
        f = PublishedFile(tmp_path)
        items = [Remembered(sha256="ab" * 32, size=10, published_at=WHEN)]
        f.save(items)
        assert f.load() == items
        data = json.loads(f.path.read_text())
        assert set(data) == {"version", "published"} and set(data["published"][0]) == {"sha256", "size",
                                                                                        "published_at"}
        assert [p.name for p in tmp_path.iterdir()] == ["published.json"], "no temp file left behind"
        assert f.remove() and not f.path.exists() and not f.remove()

    def test_a_missing_or_unreadable_file_is_an_empty_memory(self, tmp_path):
        f = PublishedFile(tmp_path)
        assert f.load() == []
        f.path.write_text("{not json")
        assert f.load() == []
        f.path.write_text(json.dumps({"version": 1, "published": [{"sha256": "ab"}]}))
        assert f.load() == []
