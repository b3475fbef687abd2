"""Publish records and the instance lock: durable, small, token-free, one instance per state_dir."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ralph_watch.errors import LockError, RecordError
from ralph_watch.record import InstanceLock, PublishRecord, RecordStore, account_hash, file_identity


def rec(pair="sub/clip", outcome="uploading", **kw):
    base = dict(pair=pair, video=pair + ".mp4", size=10, mtime_ns=1, head_tail="ab", publish_id="v_pub_file~1",
                account=account_hash("open-1"), mode="direct", init_time="2026-12-24T17:00:00+00:00", outcome=outcome)
    base.update(kw)
    return PublishRecord(**base)


class TestRecordStore:
    def test_it_round_trips_records(self, tmp_path):
        store = RecordStore(tmp_path)
        store.put(rec())
        store.put(rec("other", outcome="failed", detail="no"))
        assert store.get("sub/clip") == rec()
        assert {r.pair for r in store.load_all()} == {"sub/clip", "other"}

    def test_it_replaces_a_record_atomically_and_leaves_no_temp_files(self, tmp_path):
        store = RecordStore(tmp_path)
        store.put(rec())
        store.put(rec().with_outcome("processing"))
        assert store.get("sub/clip").outcome == "processing"
        assert [p.suffix for p in store.dir.iterdir()] == [".json"]

    def test_it_holds_no_title_and_no_token(self, tmp_path):
        store = RecordStore(tmp_path)
        store.put(rec())
        data = json.loads(next(store.dir.iterdir()).read_text())
        assert set(data) == {"pair", "video", "size", "mtime_ns", "head_tail", "publish_id", "account", "mode",
                             "init_time", "outcome", "detail", "version", "final_sent", "sent_file"}
        assert data["account"] != "open-1"

    def test_it_marks_when_the_final_bytes_went_out_with_the_sent_file(self, tmp_path):
        store = RecordStore(tmp_path)
        store.put(rec(final_sent=False))
        assert store.get("sub/clip").may_complete is False
        store.put(store.get("sub/clip").with_final_sent((1, 2, 10, 3)))
        back = store.get("sub/clip")
        assert back.final_sent is True and back.may_complete and back.sent_file == (1, 2, 10, 3)
        assert back == rec(final_sent=True, sent_file=(1, 2, 10, 3))

    def test_it_reads_a_record_written_before_the_final_bytes_mark_as_maybe_sent(self, tmp_path):
        store = RecordStore(tmp_path)
        store.ensure_dir()
        old = {k: v for k, v in json.loads(json.dumps(rec().__dict__)).items()
               if k not in ("final_sent", "sent_file")}
        store._path("sub/clip").write_text(json.dumps(old))
        back = store.get("sub/clip")
        assert back is not None and back.final_sent is None and back.sent_file is None
        assert back.may_complete, "an old record does not say: TikTok may have every byte"

    def test_it_skips_unreadable_records_and_removes_torn_temp_files(self, tmp_path):
        store = RecordStore(tmp_path)
        store.put(rec())
        (store.dir / "junk.json").write_text("{not json")
        (store.dir / "x.json.tmp123").write_text("half")
        assert [r.pair for r in store.load_all()] == ["sub/clip"]
        assert not list(store.dir.glob("*.tmp*"))

    def test_it_reports_an_unwritable_state_dir_as_a_record_error(self, tmp_path):
        store = RecordStore(tmp_path)
        store.ensure_dir()
        os.chmod(store.dir, 0o500)
        try:
            if os.geteuid() == 0:  # root ignores permissions: make the target a directory instead
                os.chmod(store.dir, 0o700)
                store._path("sub/clip").mkdir()
            with pytest.raises(RecordError, match="cannot write the publish record"):
                store.put(rec())
        finally:
            os.chmod(store.dir, 0o700)

    def test_delete_is_idempotent(self, tmp_path):
        store = RecordStore(tmp_path)
        store.delete("nothing")
        store.put(rec())
        store.delete("sub/clip")
        assert store.get("sub/clip") is None


class TestIdentity:
    def test_same_content_survives_a_rewrite(self, tmp_path):
        p = tmp_path / "v.mp4"
        p.write_bytes(os.urandom(3 << 20))
        a = file_identity(p)
        data = p.read_bytes()
        p.unlink()
        p.write_bytes(data)  # a sync client rewrites it: new inode, new mtime
        os.utime(p, ns=(1, 1))
        b = file_identity(p)
        assert a.same_content(b) and a.mtime_ns != b.mtime_ns

    def test_a_changed_tail_is_a_different_video(self, tmp_path):
        p = tmp_path / "v.mp4"
        p.write_bytes(b"x" * (3 << 20))
        a = file_identity(p)
        with open(p, "r+b") as f:
            f.seek(-1, 2)
            f.write(b"y")
        assert not a.same_content(file_identity(p))

    def test_it_does_not_follow_symlinks(self, tmp_path):
        (tmp_path / "real").write_bytes(b"x")
        (tmp_path / "link.mp4").symlink_to(tmp_path / "real")
        with pytest.raises(OSError):
            file_identity(tmp_path / "link.mp4")


class TestInstanceLock:
    def test_a_second_instance_is_refused_naming_the_holder(self, tmp_path):
        code = ("import sys,time; from ralph_watch.record import InstanceLock; l=InstanceLock(sys.argv[1]); "
                "l.acquire(); print('locked', flush=True); time.sleep(60)")
        holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout.readline().strip() == "locked"
            with pytest.raises(LockError, match=f"process {holder.pid}"):
                InstanceLock(tmp_path).acquire()
        finally:
            holder.kill()
            holder.wait()
        lock = InstanceLock(tmp_path)
        lock.acquire()  # free again once the holder is gone
        lock.release()
