"""The running service: builds every part from the Config, turns inbox snapshots into tasks,
serves the web backend, and owns the one stop Event.

Threads: the watcher's (events + worker), the scheduler, a small pool of publish workers,
the web server's, the notifier's, and a supervisor. Any of them may call into this object;
`self._lock` serialises decisions about tasks (reconciliation, actions), while slow I/O
(uploads, status polls) happens outside it and re-checks state through the board's
compare-and-set transitions.
"""
from __future__ import annotations

import logging
import os
import resource
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields, is_dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from .clock import Clock, SystemClock
from .config import Config
from .dedupe import IN_FLIGHT, Guard, Refusal, Remembered, keeps_claim, prune, split_key
from .errors import ConfigError, RecordError, TikTokError
from .inbox import is_utf8_name, shown_name
from .pairfiles import delete_files, remove_error_file, write_error_file
from .publisher import Hooks, Publisher
from .record import Identity, InstanceLock, PublishedFile, PublishRecord, RecordStore, RefusedRecord, file_identity
from .scheduler import Scheduler
from .tasks import ACTIVE, EDITABLE, State, Task, TaskBoard
from .validate import at_verdict, validate_pair

__all__ = ["Service"]

log = logging.getLogger(__name__)
S = State
PUBLISH_WORKERS = 4
PROBLEM_STATES = (S.INVALID, S.FAILED, S.MISSED)
# What SIGHUP applies live, and what needs a restart (sockets, folders, the TikTok client, the page).
LIVE_KEYS = ("schedule", "notify", "defaults")
RESTART_KEYS = ("inbox", "state_dir", "timezone", "watch", "web", "tiktok")
RESTART_KEYS += ("dedupe",)
# A loop that made no progress for this long is stuck (it beats at least every 5 s, and the
# scheduler steps at least once a minute); /healthz then answers 503 and says which one.
HEARTBEAT_STALE_SECONDS = 180.0
NOTIFY_STATES = {S.PUBLISHED: "published", S.FAILED: "failed", S.INVALID: "invalid", S.MISSED: "missed",
                 S.NEEDS_LOGIN: "needs_login", S.IN_INBOX: "in_inbox"}


class Service:
    def __init__(self, config: Config, *, clock: Clock | None = None, transport: Any = None,
                 serve_web: bool = True, config_path: Path | None = None) -> None:
        from .schedule import CronQueues
        from .tiktok.client import TikTokClient
        from .tiktok.ratecap import Pacer

        self.config = config
        self.config_path = config_path                # re-read on SIGHUP (None: nothing to re-read)
        self.clock = clock or SystemClock()
        self.stop = threading.Event()
        self._lock = threading.RLock()
        self.inbox = Path(config.inbox)
        self.board = TaskBoard(now=self.clock.now, on_transition=self._on_transition, on_detach=self._on_detach)
        self.records = RecordStore(config.state_dir)
        self.instance_lock = InstanceLock(config.state_dir)
        tk = config.tiktok
        self.client = TikTokClient(client_key=tk.client_key, client_secret=tk.client_secret,
                                   redirect_uri=tk.redirect_uri, scopes=list(tk.scopes), api_base=tk.api_base,
                                   authorize_url=tk.authorize_url, limits=tk.limits, clock=self.clock,
                                   transport=transport, chunk_deadline=_test_chunk_deadline(),
                                   pacer=Pacer(config.upload.max_rate, self.clock) if config.upload.max_rate else None,
                                   audited=tk.audited)
        self.queues = CronQueues()
        self.guard = Guard()                          # content being published / published (dedupe.py)
        self._refused: dict[str, RefusedRecord] = {}  # pairs refused as duplicates, by pair key
        self.published_file = PublishedFile(config.state_dir)  # only with dedupe.remember_days
        self._remembered: list[Remembered] = []
        self.probe_cache: dict = {}
        self._snapshots: dict[str, Any] = {}          # last snapshot per pair key
        self._validated: dict[str, tuple] = {}        # pair key -> file signature last validated
        self._restored: dict[str, PublishRecord] = {}
        self._force_now: set[str] = set()             # pairs the user asked to publish now (Retry)
        self._paused = False
        self._pause_reason: str | None = None
        self._avatar: tuple[bytes, str] | None = None
        self._inflight: set[tuple[str, str]] = set()
        self._inflight_lock = threading.Lock()
        self._threads: dict[str, threading.Thread] = {}
        self._sched_seen: tuple[Any, float] | None = None   # (scheduler.last_step, monotonic when it changed)
        self._started = False
        self.serve_web = serve_web
        self.web_server: Any = None
        self.executor = ThreadPoolExecutor(max_workers=PUBLISH_WORKERS + 2, thread_name_prefix="publish")
        self.publisher = Publisher(
            board=self.board, records=self.records, client=self.client, clock=self.clock, inbox=self.inbox,
            limits=tk.limits, stop=self.stop,
            hooks=Hooks(revalidate=self.revalidate, mark_published=self._mark_published,
                        record_failed=self._record_failed, wake=self._wake, claim=self._claim),
            lock=self._lock, tz=config.tz)
        self.scheduler = Scheduler(
            board=self.board, clock=self.clock, late_grace=timedelta(minutes=config.schedule.late_grace_minutes),
            paused=lambda: self._paused, logged_in=lambda: self.client.logged_in, submit=self._submit,
            capacity=self._capacity, reslot=self._reslot, describe=self._describe, stop=self.stop,
            settle_cron=self._settle_cron)
        self.watcher = self._make_watcher()
        self.notifier = self._make_notifier()

    # -- parts ---------------------------------------------------------------------------------
    def _make_watcher(self) -> Any:
        from .watcher import Watcher
        w = self.config.watch
        return Watcher(self.inbox, mode=w.mode, settle_seconds=w.settle_seconds, poll_seconds=w.poll_seconds,
                       rescan_seconds=w.rescan_seconds, clock=self.clock, sink=self._on_snapshots, stop=self.stop)

    def _make_notifier(self) -> Any:
        n = self.config.notify
        if not n.urls:
            return None
        from .notify import Notifier
        return Notifier(urls=list(n.urls), events=list(n.events), include_title=n.include_title,
                        page_url=self.page_url, clock=self.clock)

    @property
    def page_url(self) -> str:
        web = self.config.web
        if web.public_url:
            return web.public_url
        host = web.host if web.host not in ("0.0.0.0", "::") else "127.0.0.1"
        return f"http://{host}:{self.web_port or web.port}/"

    @property
    def web_port(self) -> int | None:
        return getattr(self.web_server, "port", None)

    # -- life cycle ----------------------------------------------------------------------------
    def start(self) -> None:
        """Start everything; returns once the initial inbox scan is done and the page serves."""
        try:  # tokens live in memory: a core dump would put them on disk
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        except (ValueError, OSError):
            log.warning("could not switch core dumps off")
        self.instance_lock.acquire()
        try:
            self.records.ensure_dir()
            self._restored = {r.pair: r for r in self.records.load_all()}
            self._load_guard()
        except RecordError as exc:
            self._record_failed(str(exc))
        if not self.inbox.exists():
            # Never created here: under an unmounted share that would write onto the local disk.
            log.error("inbox %s does not exist; is the share mounted?", self.inbox)
        if self.notifier is not None:
            self.notifier.start()
        self.watcher.start()  # the initial scan reports every pair before this returns
        self._forget_orphan_records()
        self._spawn("scheduler", self.scheduler.run)
        self._spawn("supervisor", self._supervise)
        if self.serve_web:
            from .web import make_app
            from .web.server import WebServer
            app = make_app(self, self.config, clock=self.clock)
            self._forget_media = app.ralph_web.forget_task  # type: ignore[attr-defined]  # thumbnails
            self.web_server = WebServer(app, self.config.web.host, self.config.web.port)
            self.web_server.start()
        self._started = True
        log.info("ralph-watch is running: inbox %s, page %s, watching with %s, time zone %s", self.inbox,
                 self.page_url, self.watcher.status().get("mode"), self.config.timezone)

    def run_forever(self) -> None:
        """start(), then wait for SIGINT/SIGTERM (or stop()), then shut down cleanly."""
        def on_signal(signum: int, _frame: Any) -> None:
            log.info("received %s: shutting down", signal.strsignal(signum))
            self.stop.set()
            self.scheduler.wake.set()
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        if hasattr(signal, "SIGHUP"):
            signal.signal(signal.SIGHUP, lambda *_: self._on_sighup())
        self.start()
        while not self.stop.wait(1.0):
            pass
        self.shutdown()

    def shutdown(self, timeout: float = 5.0) -> None:
        self.stop.set()
        self.scheduler.wake.set()
        try:
            self.watcher.stop_and_join(timeout)
        except Exception:
            log.exception("stopping the watcher")
        if self.web_server is not None:
            self.web_server.stop()
        self.executor.shutdown(wait=False, cancel_futures=True)
        for name, th in self._threads.items():
            th.join(timeout)
            if th.is_alive():
                log.warning("thread %s did not stop in time", name)
        if self.notifier is not None:
            self.notifier.stop(timeout)
        try:
            self.client.close()
        except Exception:
            pass
        self.instance_lock.release()
        log.info("ralph-watch stopped")

    def _spawn(self, name: str, target: Any) -> None:
        th = threading.Thread(target=target, name=name, daemon=True)
        th.start()
        self._threads[name] = th

    def _supervise(self) -> None:
        mount_lost = False
        while not self.stop.wait(5.0):
            try:
                st = self.watcher.status()
                if not st.get("inbox_ok", True):
                    if not mount_lost and self.notifier is not None:
                        self.notifier.send("mount_lost", video=str(self.inbox), state="unreachable",
                                           message=f"The inbox {self.inbox} cannot be read: {st.get('error')}. "
                                                   "Nothing was deleted; tasks come back when it is reachable.")
                    mount_lost = True
                elif mount_lost:
                    mount_lost = False
                    if self.notifier is not None:
                        self.notifier.reset_episode("mount_lost")
                self._scheduler_age()   # keeps the scheduler's heartbeat measured between health checks
                th = self._threads.get("scheduler")
                if th is not None and not th.is_alive() and not self.stop.is_set():
                    log.error("the scheduler thread died; restarting it")
                    self._spawn("scheduler", self.scheduler.run)
            except Exception:
                log.exception("supervisor pass failed")

    def _on_sighup(self) -> None:
        # A signal handler runs on the main thread between bytecodes: never take locks here.
        threading.Thread(target=self.reload_config, name="sighup", daemon=True).start()

    def reload_config(self) -> list[str]:
        """SIGHUP: re-read the config file, apply what can change live (schedule, notify,
        defaults), log the rest as "restart to apply", rescan the inbox. The login stays:
        tokens live in this process only. Returns the changed keys applied live."""
        applied: list[str] = []
        if self.config_path is not None:
            try:
                from .config import read_config
                new = read_config(self.config_path)
            except ConfigError as exc:
                log.error("SIGHUP: %s has problems, so the running config stays as it is: %s", self.config_path,
                          " / ".join(str(p) for p in exc.problems))
                new = None
            except Exception:
                log.exception("SIGHUP: could not re-read %s; the running config stays", self.config_path)
                new = None
            if new is not None:
                applied = self._apply_config(new)
        else:
            log.info("SIGHUP: no config file to re-read; rescanning the inbox")
        try:
            self.watcher.rescan_now("SIGHUP")
        except Exception:
            log.exception("rescan failed")
        return applied

    def _apply_config(self, new: Config) -> list[str]:
        old = self.config
        later = [k for name in RESTART_KEYS for k in _changed(name, getattr(old, name), getattr(new, name))]
        live = [k for name in LIVE_KEYS for k in _changed(name, getattr(old, name), getattr(new, name))]
        if later:
            log.warning("SIGHUP: %s changed in %s; restart ralph-watch to apply (the running service keeps the old "
                        "value)", ", ".join(later), self.config_path)
        if not live:
            log.info("SIGHUP: %s re-read; nothing to apply live", self.config_path)
            return []
        with self._lock:
            self.config = replace(old, schedule=new.schedule, notify=new.notify, defaults=new.defaults)
            self.scheduler.grace = timedelta(minutes=new.schedule.late_grace_minutes)
            if new.notify != old.notify:
                previous, self.notifier = self.notifier, self._make_notifier()
                if previous is not None:
                    previous.stop(2.0)
                if self.notifier is not None:
                    self.notifier.start()
            # defaults and the grace decide validity: check pairs again, but never a failed one
            # (retrying is the user's call) nor one waiting out a back-off or for TikTok.
            for snap in sorted(self._snapshots.values(), key=lambda s: s.key):
                task = self.board.by_key(snap.key)
                if task is not None and not (task.state in (S.INVALID, S.WAITING, S.MISSED) or (
                        task.state is S.SCHEDULED and not task.held and not task.retries and not task.settle)):
                    continue
                self._validated.pop(snap.key, None)
                try:
                    self._apply(snap)
                except Exception:
                    log.exception("could not process %s", snap.key)
        log.info("SIGHUP: applied %s from %s; the login is kept", ", ".join(live), self.config_path)
        self._wake()
        return live

    # -- inbox → tasks -------------------------------------------------------------------------
    def _on_snapshots(self, snapshots: list[Any]) -> None:
        with self._lock:
            for snap in sorted(snapshots, key=lambda s: s.key):  # file-name order (cron slots at start)
                try:
                    self._snapshots[snap.key] = snap
                    if not snap.videos and not snap.sidecars:
                        self._snapshots.pop(snap.key, None)
                    self._apply(snap)
                except Exception:
                    log.exception("could not process %s", snap.key)
        self._wake()

    def revalidate(self, key: str) -> None:
        """Check a pair again from its last snapshot (its files changed under a task)."""
        with self._lock:
            self._validated.pop(key, None)
            snap = self._snapshots.get(key)
            if snap is not None:
                self._apply(snap)
        self._wake()

    def _apply(self, snap: Any) -> None:
        key = snap.key
        task = self.board.by_key(key)
        # A snapshot may be older than a deletion made meanwhile (after a publish or a cancel).
        videos = [f for f in snap.videos if os.path.lexists(self.inbox / f.rel)]
        sidecars = [f for f in snap.sidecars if os.path.lexists(self.inbox / f.rel)]
        links = [f for f in getattr(snap, "links", ()) if os.path.lexists(self.inbox / f.rel)]
        if links and not videos and not sidecars:
            self._refuse_link(task, key, links[0].rel)
            return
        if not videos and not sidecars:
            self._validated.pop(key, None)
            if task is None:
                return
            if task.state in EDITABLE:
                self.queues.release(key, now=self.clock.now())
                self.board.remove(task.id)
                remove_error_file(self.inbox, key)
                self.records.discard(key)
                self._pair_gone(key)
            elif task.state is S.PUBLISHED and task.files_kept:
                self.records.discard(key)
                self.board.update(task.id, files_kept=False, error=None, followup=None, followup_kind=None)
                self.board.detach_key(task.id)
            return
        if task is not None and task.state in (S.PUBLISHED, S.CANCELLED) and not task.files_kept:
            self.board.detach_key(task.id)  # a new pair with the name of a finished one
            task = None
        video = videos[0] if videos else None
        side = sidecars[0] if sidecars else None
        rels = {"video": video.rel if video else None, "sidecar": side.rel if side else None}
        if task is None:
            task = self.board.create(key, note="found", **rels)
        elif task.state in EDITABLE:
            task = self.board.update(task.id, **rels) or task
        if task.state not in EDITABLE or task.settle:
            if side is not None and task.state in (S.UPLOADING, S.PROCESSING, S.IN_INBOX):
                self._note_late_edit(task, side)
            return  # TikTok has it (or it is being settled): edits wait
        name = key.rsplit("/", 1)[-1]
        show = shown_name
        problems = [f"{show(f.rel)}: the name is not valid UTF-8 (shown here with \\x escapes); rename it"
                    for f in videos + sidecars if not is_utf8_name(f.rel)]
        if len(videos) > 1:
            problems.append(f"two videos for one name: {show(videos[0].rel)} and {show(videos[1].rel)}; keep only "
                            "one of them")
        if len(sidecars) > 1:
            problems.append(f"two sidecars for one name: {show(sidecars[0].rel)} and {show(sidecars[1].rel)}; keep "
                            "only one")
        for f in videos + sidecars:
            if f.symlink:
                problems.append(f"{show(f.rel)} is a symbolic link; ralph-watch never follows links: put the file "
                                "itself into the inbox")
            elif not f.regular:
                problems.append(f"{show(f.rel)} is not a regular file (a folder, pipe or device): remove or rename it")
        if problems:
            self._validated.pop(key, None)
            self._set(task, S.INVALID, error="\n".join(problems))
            return
        if video is None or side is None:
            rec = self._restored.get(key)
            if rec is not None and rec.outcome == "published":
                # A crash between deleting the video and the sidecar: finish that deletion.
                self._restored.pop(key, None)
                self._guard_restored(key, rec)
                self._set(task, S.PUBLISHED, publish_id=rec.publish_id, identity=rec.identity)
                self.publisher._delete_after_publish(self.board.get(task.id))
                return
        twin = getattr(snap, "twin", None)
        twin_note = (f" Another file has the same name in a different Unicode form ({show(twin)}); rename one so "
                     "both are written the same way." if twin else "")
        if video is None:
            self._set(task, S.WAITING, error=f"Waiting for the video {show(name)}.mp4 (or .mov, .webm) next to "
                                             f"{show(side.rel)}.{twin_note}")
            return
        if side is None:
            self._set(task, S.WAITING, error=f"Waiting for the sidecar {show(name)}.yaml next to {show(video.rel)} "
                                             f"(`ralph-watch new {show(video.rel)}` writes one).{twin_note}")
            return
        if snap.inflight:
            self._set(task, S.WAITING, error=f"Still being synced ({show(snap.inflight)} is in the folder).")
            return
        if video.size == 0:
            self._set(task, S.WAITING, error=f"{show(video.rel)} is empty: probably an online-only placeholder of a "
                                             "sync client. Make the file available offline on this machine.")
            return
        if not (video.stable and side.stable):
            busy = video.rel if not video.stable else side.rel
            self._set(task, S.WAITING, error=f"{show(busy)} is still being written; waiting until it has not changed "
                                             f"for {self.config.watch.settle_seconds:g} s.")
            return
        sig = tuple((f.rel, f.size, f.mtime_ns) for f in videos + sidecars)
        if self._validated.get(key) == sig and task.state is not S.WAITING and key not in self._force_now:
            return  # nothing new since the last check
        self._validated[key] = sig
        rec = self._restored.pop(key, None)
        if rec is not None and self._restore(task, rec, video.rel, side.rel):
            return
        result, found = self._validate(key, video.rel, side.rel)
        if result is None and (getattr(video, "early", False) or getattr(side, "early", False)):
            # Renamed into place moments ago: taken early only if it checks out (the probe found a
            # complete container). Anything else waits for the full settle before it is refused.
            busy = video.rel if getattr(video, "early", False) else side.rel
            self._set(task, S.WAITING, error=f"{show(busy)} was just renamed into place but does not check out yet; "
                                             f"waiting until it has not changed for "
                                             f"{self.config.watch.settle_seconds:g} s before deciding.")
            return
        if result is None:
            self.queues.release(key, now=self.clock.now())
            self._set(task, S.INVALID, error="\n".join(str(p) for p in found), sidecar_data=None)
            return
        sc = result.sidecar
        refusal = self.guard.is_refused(result.identity.content_key, key)
        if refusal is not None and key not in self._force_now:
            self._set(task, S.INVALID, identity=result.identity,
                      error=self._refuse(key, video.rel, result.identity, refusal))
            return
        self._lift_refusal(key)
        now = self.clock.now()
        values = dict(title=sc.title, privacy=sc.privacy if sc.mode == "direct" else None, mode=sc.mode,
                      sidecar_data=sc, video_info=result.info, identity=result.identity, retries=0, held=False,
                      cron_key=sc.cron, error=None, progress=None)
        if key in self._force_now:  # Retry: now, pinned like Publish now (schedule.due_decision)
            self._force_now.discard(key)
            self.queues.release(key, now=self.clock.now())
            due = now
            values["held"] = True
        elif sc.cron:
            from .schedule import parse_cron
            slot = self.queues.slot_of(key) if task.cron_key == sc.cron else None
            if slot is None:
                self.queues.release(key, now=self.clock.now())
                slot = self.queues.assign(key, parse_cron(sc.cron), now=now, tz=self.config.tz)
            due = slot
        else:
            self.queues.release(key, now=self.clock.now())
            due = sc.at or now
            verdict, sentence = (None, "") if sc.at is None else at_verdict(
                sc.at, sc.at_text or "", now=now, grace=self.scheduler.grace)
            if verdict == "missed":
                self._set(task, S.MISSED, due=due, **{k: v for k, v in values.items() if k != "error"},
                          error=sentence)
                return
        self._set(task, S.SCHEDULED, due=due, **values)

    def _refuse_link(self, task: Task | None, key: str, rel: str) -> None:
        """A symlink in the inbox that is no pair member (a linked folder): a task says why it is
        not used. It is never entered: links are not followed."""
        if task is not None and task.state in (S.PUBLISHED, S.CANCELLED):
            self.board.detach_key(task.id)
            task = None
        if task is None:
            task = self.board.create(key, note="found", video=rel)   # named on the page; Cancel removes the link
        if task.state in EDITABLE and not task.settle:
            self._set(task, S.INVALID, video=rel, sidecar=None,
                      error=f"{shown_name(rel)} is a symbolic link: symlinks are not followed, so nothing in it is "
                            "published. Move the real folder (or file) into the inbox.")

    def _note_late_edit(self, task: Task, side: Any) -> None:
        """A sidecar edited after TikTok got the post's details: say that the edit was not applied
        and what the post goes out with (nothing is silently dropped)."""
        seen = {rel: (size, mtime) for rel, size, mtime in self._validated.get(task.key, ())}
        if seen.get(side.rel, (side.size, side.mtime_ns)) == (side.size, side.mtime_ns):
            return
        sc = task.sidecar_data
        what = [f"title {task.title!r}" if task.title else "no title"]
        if task.mode == "draft":
            what.append("as a draft")
        elif task.privacy:
            from .constants import PRIVACY_LABELS
            what.append(f"privacy {PRIVACY_LABELS.get(task.privacy, task.privacy)}")
        if sc is not None and getattr(sc, "cover_ms", 0):
            what.append(f"cover at {sc.cover_ms} ms")
        note = (f"the sidecar {shown_name(side.rel)} was edited after the upload had started: the edit was not "
                f"applied; the post went out with {', '.join(what)}")
        if note not in task.notes:
            log.warning("%s", note)
            self.board.update(task.id, notes=[*task.notes, note])

    def _validate(self, key: str, video: str, sidecar: str) -> tuple[Any, list[Any]]:
        """validate_pair, but a bug in a check makes the pair `invalid` with a sentence, never
        leaves it `waiting` with only a traceback in the log."""
        try:
            return validate_pair(self.inbox, video=video, sidecar=sidecar, tz=self.config.tz,
                                 defaults=self.config.defaults, probe_cache=self.probe_cache)
        except Exception as exc:  # noqa: BLE001 - any exception: the pair must still get a state
            log.exception("checking %s failed", key)
            return None, [f"ralph-watch hit an unexpected error checking this pair ({type(exc).__name__}); "
                          "please report it"]

    def _restore(self, task: Task, rec: PublishRecord, video: str, sidecar: str) -> bool:
        """A publish record from before a restart: restore its state instead of publishing again."""
        try:
            same = file_identity(self.inbox / video).same_content(rec.identity)
        except OSError:
            same = False
        if not same:
            log.info("%s changed since its publish record was written; treating it as a new video", video)
            self.records.discard(task.key)
            return False
        self._guard_restored(task.key, rec)
        result, _ = self._validate(task.key, video, sidecar)
        info = {}
        if result is not None:
            sc = result.sidecar
            info = dict(title=sc.title, privacy=sc.privacy if sc.mode == "direct" else None, mode=sc.mode,
                        sidecar_data=sc, video_info=result.info, cron_key=sc.cron)
        info.update(identity=rec.identity, publish_id=rec.publish_id, attempts=max(task.attempts, 1),
                    mode=info.get("mode") or rec.mode)
        if rec.outcome in ("uploading", "processing"):
            self._set(task, S.NEEDS_LOGIN, settle=True,
                      error="This video was sent to TikTok before a restart. After you log in, ralph-watch asks "
                            "TikTok how it ended instead of publishing it again.", **info)
        elif rec.outcome == "in_inbox":
            self._set(task, S.NEEDS_LOGIN, settle=True,
                      error="This draft is in your TikTok inbox; after you log in, ralph-watch checks whether "
                            "you posted it.", **info)
        elif rec.outcome == "published":
            self._set(task, S.PUBLISHED, **info)
            self.publisher._delete_after_publish(self.board.get(task.id))
        else:
            self._set(task, S.FAILED, error=rec.detail or "TikTok refused this video before a restart; "
                                                         "the files are kept. Press Retry to try again.", **info)
        return True

    def _forget_orphan_records(self) -> None:
        """Records whose files are all gone are forgotten (they live as long as a file does)."""
        if not self.watcher.status().get("inbox_ok", True):
            return  # an unreachable inbox is not an empty one
        with self._lock:
            for pair in list(self._restored):
                if pair not in self._snapshots:
                    self._restored.pop(pair)
                    self.records.discard(pair)
            for pair in list(self._refused):
                if pair not in self._snapshots:
                    self._pair_gone(pair)
                    self.records.discard(pair)


    def _set(self, task: Task, state: State, **values: Any) -> None:
        if state is task.state:
            self.board.update(task.id, **values)
        else:
            self.board.transition(task.id, state, **values)

    # -- hooks ---------------------------------------------------------------------------------
    def _on_transition(self, task: Task, old: State | None, note: str) -> None:
        if task.cron_key and task.state in (S.PUBLISHED, S.FAILED, S.CANCELLED, S.INVALID, S.WAITING, S.MISSED):
            with self._lock:  # the slot is free again (a passed one is never handed out twice)
                if self.queues.slot_of(task.key) is not None:
                    self.queues.release(task.key, now=self.clock.now())
        forget = getattr(self, "_forget_media", None)
        if forget is not None and task.state in (S.PUBLISHED, S.CANCELLED):
            forget(task.id)  # its thumbnail leaves memory with it
        err = f": {task.error}" if task.error else ""
        level = logging.WARNING if task.state in (S.INVALID, S.MISSED, S.FAILED) else logging.INFO
        log.log(level, "task %s %s: %s -> %s%s", task.id, shown_name(task.video or task.sidecar or task.key),
                 old.value if old else "new", task.state.value, err.replace("\n", " / "))
        try:
            if task.state in PROBLEM_STATES and task.error:
                write_error_file(self.inbox, task.key, video=task.video, state=task.state.value, message=task.error,
                                 when=self.clock.now())
            elif task.state in (S.SCHEDULED, S.UPLOADING, S.PROCESSING, S.IN_INBOX, S.WAITING) and old in PROBLEM_STATES:
                remove_error_file(self.inbox, task.key)
        except Exception:
            log.exception("error file for %s", task.key)
        event = NOTIFY_STATES.get(task.state)
        if event and self.notifier is not None and old is not task.state:
            self.notifier.send(event, video=task.video or task.key, state=task.state.value,
                               message=task.error or "", title=task.title, task_id=task.id)
        if old is not None and task.state is not S.PUBLISHED:
            self._end_claim(task)  # last: copies checked again come after this transition

    def _on_detach(self, task: Task) -> None:
        """A finished task's files are gone: so goes its probe answer (validate_pair's cache key)."""
        ident = task.identity
        if ident is not None:
            self.probe_cache.pop((ident.size, ident.mtime_ns, ident.head_tail), None)

    def _mark_published(self, content_key: str, when: datetime) -> None:
        with self._lock:
            self.guard.published(content_key, when)
            self._remember_published(content_key, when)
        self._recheck_copies(content_key)

    def _record_failed(self, reason: str) -> None:
        log.error("publishing paused: %s", reason)
        self._paused = True
        self._pause_reason = f"Publishing is paused: {reason}. Fix it, then press Resume."

    def _wake(self) -> None:
        self.scheduler.wake.set()

    def _describe(self, when: datetime) -> str:
        return when.astimezone(self.config.tz).strftime("%Y-%m-%d %H:%M %Z")

    def _reslot(self, task: Task, now: datetime) -> datetime | None:
        sc = task.sidecar_data
        if sc is None or not sc.cron:
            return None
        with self._lock:
            return self.queues.advance(task.key, now=now, tz=self.config.tz)

    def _settle_cron(self, now: datetime) -> set[str]:
        """Cron slots that passed: one late publish per queue, the others move on (no bursts)."""
        with self._lock:
            busy = {t.key for t in self.board.select(lambda t: bool(t.cron_key) and (t.state is not S.SCHEDULED
                                                                                   or t.held))}
            settled = self.queues.settle(now=now, grace=self.scheduler.grace, tz=self.config.tz, busy=busy)
            for pair, slot in settled.moved.items():
                t = self.board.by_key(pair)
                if t is not None and t.state is S.SCHEDULED:
                    self.board.update(t.id, due=slot, error=f"Its slot passed while another pair of the queue was "
                                                            f"published late; moved to {self._describe(slot)}.")
            return set(settled.due)

    def _capacity(self) -> int:
        with self._inflight_lock:
            busy = sum(1 for kind, _ in self._inflight if kind == "publish")
        return PUBLISH_WORKERS - busy

    def _submit(self, kind: str, task_id: str) -> bool:
        job = (kind, task_id)
        with self._inflight_lock:
            if job in self._inflight or self.stop.is_set():
                return False
            self._inflight.add(job)
        fn = {"publish": self.publisher.publish, "settle": self.publisher.settle,
              "follow": self.publisher.follow}[kind]

        def run() -> None:
            try:
                fn(task_id)
            except Exception:
                log.exception("%s of task %s failed", kind, task_id)
            finally:
                with self._inflight_lock:
                    self._inflight.discard(job)
                self._wake()
        try:
            self.executor.submit(run)
        except RuntimeError:  # shutting down
            with self._inflight_lock:
                self._inflight.discard(job)
            return False
        return True

    # -- the duplicate guard (its decisions: dedupe.py) -----------------------------------------
    def _load_guard(self) -> None:
        """At start: the refused duplicates' records (their originals went out) and, with
        `dedupe.remember_days`, the remember file. With 0 days that file is removed."""
        for ref in self.records.load_refused():
            self._refused[ref.pair] = ref
            self.guard.remember(ref.identity.content_key, ref.published)
        days = self.config.dedupe.remember_days
        if days <= 0:
            if self.published_file.remove():
                log.info("dedupe.remember_days is 0: removed %s", self.published_file.path)
            return
        loaded = self.published_file.load()
        self._remembered = prune(loaded, now=self.clock.now(), days=days)
        for item in self._remembered:
            self.guard.remember(item.key, item.published_at)
        if len(self._remembered) != len(loaded):
            self._save_remembered()

    def _claim(self, content_key: str, pair: str) -> str | None:
        """Publisher hook, before the init: None when the pair may publish its content (now
        claimed), else the sentence that refuses it."""
        with self._lock:
            refusal = self.guard.claim(content_key, pair)
            if refusal is None:
                return None
            t = self.board.by_key(pair)
            return self._refuse(pair, (t.video if t else None) or pair, t.identity if t else None, refusal)

    def _refuse(self, pair: str, video: str, identity: Identity | None, refusal: Refusal) -> str:
        """The sentence for a refused duplicate. One whose original went out gets a record, so
        the refusal outlasts a restart for as long as the pair exists."""
        if refusal.published_at is not None:
            if identity is not None:
                self._keep_refused(pair, video, identity, refusal.published_at)
            return (f"{video} was already published at {self._describe(refusal.published_at)} (the same video "
                    "content). ralph-watch does not publish a video twice; delete it.")
        other = self.board.by_key(refusal.holder or "")
        name = (other.video if other else None) or refusal.holder
        return (f"{video} has the same video content as {name}, which is being published now. ralph-watch does "
                "not publish a video twice; delete it.")

    def _keep_refused(self, pair: str, video: str, identity: Identity, when: datetime) -> None:
        rec = RefusedRecord(pair=pair, video=video, size=identity.size, mtime_ns=identity.mtime_ns,
                            head_tail=identity.head_tail, published_at=when.isoformat())
        if self._refused.get(pair) == rec:
            return
        try:
            self.records.put(rec)
        except RecordError as exc:  # without it a restart would publish the copy: stop publishing
            self._record_failed(str(exc))
            return
        self._refused[pair] = rec

    def _lift_refusal(self, pair: str) -> None:
        """The pair is no duplicate (any more): a new file replaced the refused one."""
        if self._refused.pop(pair, None) is not None and self.records.get_refused(pair) is not None:
            self.records.discard(pair)

    def _pair_gone(self, pair: str) -> None:
        """Its files are gone (deleted, cancelled): its refusal and any claim go with them."""
        with self._lock:
            self._refused.pop(pair, None)
            key = self.guard.release(pair)
        if key is not None:
            self._recheck_copies(key)

    def _guard_restored(self, pair: str, rec: PublishRecord) -> None:
        """A publish record from before a restart: its content is at TikTok, or went out."""
        with self._lock:
            if rec.outcome == "published":
                self.guard.published(rec.identity.content_key, rec.init_at)
            elif rec.outcome in ("uploading", "processing", "in_inbox"):
                self.guard.claim(rec.identity.content_key, pair)

    def _end_claim(self, task: Task) -> None:
        """After a transition: release the pair's claim if its attempt ended without a post."""
        with self._lock:
            if self.guard.claimed_by(task.key) is None:
                return
            rec = None if task.state in IN_FLIGHT or task.state is S.CANCELLED else self.records.get(task.key)
            if keeps_claim(task.state, rec.outcome if rec is not None else None):
                return
            key = self.guard.release(task.key)
        if key is not None:
            self._recheck_copies(key)

    def _recheck_copies(self, content_key: str) -> None:
        """Copies refused for this content are checked again: published now, or free again."""
        copies = self.board.select(lambda t: t.state is S.INVALID and t.identity is not None
                                   and t.identity.content_key == content_key)
        for t in copies:
            try:
                self.revalidate(t.key)
            except Exception:
                log.exception("could not check %s again", t.key)

    def _remember_published(self, content_key: str, when: datetime) -> None:
        days = self.config.dedupe.remember_days
        if days <= 0:
            return
        size, digest = split_key(content_key)
        self._remembered = prune([*self._remembered, Remembered(sha256=digest, size=size, published_at=when)],
                                 now=self.clock.now(), days=days)
        self._save_remembered()

    def _forget_published(self, content_key: str) -> None:
        """Retry: the user asks for this content to be published again."""
        with self._lock:
            self.guard.forget(content_key)
            if any(r.key == content_key for r in self._remembered):
                self._remembered = [r for r in self._remembered if r.key != content_key]
                self._save_remembered()

    def _save_remembered(self) -> None:
        try:
            self.published_file.save(self._remembered)
        except RecordError as exc:
            log.error("%s; the duplicate guard remembers the latest posts until a restart only", exc)

    # -- WebBackend ----------------------------------------------------------------------------
    @property
    def paused(self) -> bool:
        return self._paused

    def account(self) -> dict | None:
        acc = self.client.account
        if acc is None or not self.client.logged_in:
            return None
        # The handle comes from creator_info (the Account has none): post links then carry the @handle.
        return {"nickname": acc.nickname, "username": self.client.creator_username or None,
                "avatar": self._avatar is not None,
                "access_expires_at": acc.access_expires_at, "refresh_expires_at": acc.refresh_expires_at,
                "scopes": sorted(acc.scopes)}

    def login_url(self, *, state: str, code_challenge: str) -> str:
        return self.client.authorize_url(state=state, code_challenge=code_challenge)

    def finish_login(self, *, code: str, code_verifier: str, scopes: str | None) -> None:
        from .web.backend import LoginError
        try:
            self.client.exchange_code(code, code_verifier=code_verifier, granted_scopes=scopes)
        except TikTokError as exc:
            raise LoginError(exc.sentence()) from None
        log.info("logged in to TikTok as %s", self.client.account.nickname)
        if self.notifier is not None:
            self.notifier.reset_episode("needs_login")
        try:
            self._avatar = self.client.fetch_avatar()
        except TikTokError:
            self._avatar = None
        self._wake()

    def logout(self) -> None:
        self.client.logout()
        self._avatar = None
        log.info("logged out of TikTok; the token was revoked and forgotten")

    def avatar(self) -> tuple[bytes, str] | None:
        return self._avatar

    def cancel(self, task_id: str) -> None:
        from .web.backend import ActionError
        with self._lock:
            t = self.board.get(task_id)
            if t is None:
                raise ActionError(404, "There is no such task.")
            if t.state in ACTIVE:
                raise ActionError(409, f"{t.video} is {t.state.value}: TikTok already has it, so it cannot be "
                                       "cancelled now. Wait until it is done.")
            if t.state in (S.PUBLISHED, S.CANCELLED):
                raise ActionError(409, f"{t.video or t.key} is already {t.state.value}.")
            moved = self.board.transition(t.id, S.CANCELLED, expect={t.state}, progress=None, followup=None,
                                          settle=False, error=None)
            if moved is None:
                raise ActionError(409, "The task changed meanwhile; look again.")
            self.queues.release(t.key, now=self.clock.now())
            problems = delete_files(self.inbox, [t.video, t.sidecar])
            remove_error_file(self.inbox, t.key)
            self.records.discard(t.key)
            self._pair_gone(t.key)
            self._validated.pop(t.key, None)
            if problems:
                self.board.update(t.id, error="Cancelled, but " + "; ".join(problems) + ".")
            self.board.detach_key(t.id)
        self._wake()

    def retry(self, task_id: str) -> None:
        from .web.backend import ActionError
        with self._lock:
            t = self.board.get(task_id)
            if t is None:
                raise ActionError(404, "There is no such task.")
            due = self.publisher.verdict_due(t)
            if due is not None:   # TikTok may still post the earlier upload: a new one could be a second post
                raise ActionError(409, f"TikTok may still post the earlier upload of {t.video}, so it cannot be "
                                       f"sent again yet. It can be decided at {self.publisher._local(due)} at the "
                                       "latest, when its upload link expires; ralph-watch decides it then by itself.")
            if not (t.state in (S.FAILED, S.MISSED) or (t.state is S.PUBLISHED and t.files_kept)
                    or (t.state is S.NEEDS_LOGIN and t.settle)):
                raise ActionError(409, f"Retry is for failed or missed tasks; this one is {t.state.value}.")
            self.records.discard(t.key)
            self._force_now.add(t.key)
            self._validated.pop(t.key, None)
            if t.identity is not None:
                self._forget_published(t.identity.content_key)
            self.board.transition(t.id, S.WAITING, progress=None, settle=False, files_kept=False, followup=None,
                                  error="Checking the files again before publishing.", publish_id=None, post_id=None)
            snap = self._snapshots.get(t.key)
            if snap is not None:
                self._apply(snap)
        self._wake()

    def publish_now(self, task_id: str) -> None:
        from .web.backend import ActionError
        with self._lock:
            t = self.board.get(task_id)
            if t is None or t.state is not S.SCHEDULED:
                raise ActionError(409, "Publish now is for scheduled tasks.")
            # The pair gives its cron slot up (free again for the next pair of the queue) and is
            # pinned: due now, never missed or moved, not held back by a queue (due_decision).
            self.queues.release(t.key, now=self.clock.now())
            self.board.update(t.id, due=self.clock.now(), held=True, error=None)
        self._wake()

    def quota(self) -> dict:
        """The daily-cap meter: direct posts in the last 24 h and pending drafts, out of their caps."""
        lim = self.client.limiter   # replaced at each login: read it through the client every time
        return {"posts": lim.daily_posts.count(), "posts_cap": lim.daily_posts.limit,
                "drafts": lim.pending_drafts.count(), "drafts_cap": lim.pending_drafts.limit}

    def pause(self) -> None:
        self._paused = True
        self._pause_reason = None
        log.info("publishing paused from the page")

    def resume(self) -> None:
        self._paused = False
        self._pause_reason = None
        log.info("publishing resumed")
        self._wake()

    def health(self) -> tuple[bool, dict]:
        st = self.watcher.status()
        sched = self._threads.get("scheduler")
        sched_ok = sched is not None and sched.is_alive()
        watch_ok = bool(st.get("alive", True))
        inbox_ok = bool(st.get("inbox_ok", True))
        reasons = []
        if not sched_ok:
            reasons.append("the scheduler is not running")
        if not watch_ok:
            reasons.append("the inbox watcher is not running")
        if not inbox_ok:
            reasons.append(f"the inbox cannot be read: {st.get('error')}")
        ages = getattr(self.watcher, "heartbeat_ages", None)
        beats = {f"watcher_{k}": v for k, v in (ages() if callable(ages) else {}).items()}
        beats["scheduler"] = self._scheduler_age() if sched_ok else None
        reasons += stale_loops(beats, HEARTBEAT_STALE_SECONDS)
        ok = not reasons and self._started
        return ok, {"ok": ok, "paused": self._paused, "watch_mode": st.get("mode"), "watch_reason": st.get("reason"),
                    "inbox_ok": inbox_ok, "last_scan": st.get("last_scan"), "logged_in": self.client.logged_in,
                    "tasks": self.board.counts(), "heartbeat_age": beats, "reason": "; ".join(reasons) or None}

    def _scheduler_age(self) -> float:
        """Seconds since the scheduler's last step, on the monotonic clock (its `last_step` is wall
        time, which may jump): measured from when this service first saw that step."""
        mono = self.clock.monotonic()
        last = self.scheduler.last_step
        if self._sched_seen is None or self._sched_seen[0] != last:
            self._sched_seen = (last, mono)
        return round(max(0.0, mono - self._sched_seen[1]), 3)

    def warnings(self) -> list[str]:
        out = []
        if self._pause_reason:
            out.append(self._pause_reason)
        try:
            from .schedule import quota_warnings
            dues = [t.due for t in self.board.select(lambda t: t.state is S.SCHEDULED and t.mode == "direct"
                                                     and t.due is not None)]
            out.extend(quota_warnings(dues, limits=self.config.tiktok.limits, tz=self.config.tz,
                                      now=self.clock.now()))
        except Exception:
            log.exception("quota warnings")
        out.extend(self._slow_upload_warnings())
        return out

    def _slow_upload_warnings(self, shown: int = 5) -> list[str]:
        """Pairs that upload.max_rate makes too slow for TikTok's upload link, before they start."""
        rate = self.config.upload.max_rate
        if not rate:
            return []
        from .tiktok.ratecap import too_slow

        lifetime = self.config.tiktok.limits.upload_url_seconds
        slow = [f"{t.video}: {sentence}" for t in self.board.select(
                    lambda t: t.state in (S.SCHEDULED, S.NEEDS_LOGIN) and t.identity is not None)
                if (sentence := too_slow(t.identity.size, rate, lifetime=lifetime))]
        if len(slow) > shown:
            slow = [*slow[:shown], f"and {len(slow) - shown} more videos too large for upload.max_rate"]
        return slow

    def watch_status(self) -> dict:
        return self.watcher.status()

    def open_video(self, task_id: str) -> tuple[int, Any, str]:
        """For the page's preview and thumbnail: the video, never through a link."""
        from .inboxfd import UnsafePath, open_regular
        from .web.backend import ActionError
        t = self.board.get(task_id)
        if t is None or t.state in (S.PUBLISHED, S.CANCELLED) or not t.video:
            raise ActionError(404, "This task has no video in the inbox (it may be published, cancelled or gone).")
        try:
            fd, st = open_regular(self.inbox, t.video)
        except UnsafePath as exc:
            raise ActionError(404, f"{t.video} cannot be shown: {exc.strerror or exc}.") from None
        return fd, st, t.video

    def read_sidecar(self, task_id: str) -> tuple[bytes | None, str]:
        from .inboxfd import UnsafePath, read_limited
        from .strictyaml import SIDECAR_MAX_BYTES
        from .web.backend import ActionError
        t = self.board.get(task_id)
        if t is None:
            raise ActionError(404, "There is no such task.")
        rel = t.sidecar or f"{t.key}.yaml"
        try:
            return read_limited(self.inbox, rel, SIDECAR_MAX_BYTES), rel
        except UnsafePath as exc:
            raise ActionError(409, f"{rel} cannot be opened: {exc.strerror or exc}. Fix it in the folder.") from None

    def edit_sidecar(self, task_id: str, form: dict[str, str]) -> bool:
        """The page's edit: the sidecar is rewritten in the folder (the one source of truth); the
        watcher applies it like any edit. Refused where the contract says edits wait."""
        from .inboxfd import edit_sidecar_file
        from .web.backend import ActionError
        with self._lock:
            t = self.board.get(task_id)
            if t is None:
                raise ActionError(404, "There is no such task.")
            if t.state not in EDITABLE or t.settle:
                why = "ralph-watch is asking TikTok how it ended" if t.settle else f"it is {t.state.value}"
                raise ActionError(409, f"{t.video or t.key} cannot be edited now: {why}.")
            changed = edit_sidecar_file(self.inbox, t.sidecar or f"{t.key}.yaml", form, tz=self.config.tz,
                                        defaults=self.config.defaults)
        if changed:
            log.info("task %s: sidecar edited from the page", task_id)
        return changed


def stale_loops(ages: dict[str, float | None], limit: float) -> list[str]:
    """The health reasons for loops that made no progress for more than `limit` seconds."""
    labels = {"watcher_worker": "the inbox watcher", "watcher_supervisor": "the inbox supervisor",
              "scheduler": "the scheduler"}
    return [f"{labels.get(name, name)} has made no progress for {age:.0f} s (stuck?); see the log, restart "
            "ralph-watch if it stays" for name, age in ages.items() if age is not None and age > limit]


def _changed(name: str, old: Any, new: Any) -> list[str]:
    """Dotted names of the config keys that differ (never their values: some are secrets)."""
    if old == new:
        return []
    if is_dataclass(old) and is_dataclass(new):
        return [k for f in fields(old) for k in _changed(f"{name}.{f.name}", getattr(old, f.name),
                                                             getattr(new, f.name))]
    return [name]


def _test_chunk_deadline() -> float | None:
    """RALPH_WATCH_TEST_CHUNK_DEADLINE (seconds): a test-only knob, so an end-to-end test can prove
    that a chunk whose answer never comes is abandoned without waiting the real deadline
    (>= 120 s, from the chunk size). Unset (always, in production): the client's own deadline."""
    raw = os.environ.get("RALPH_WATCH_TEST_CHUNK_DEADLINE", "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        log.warning("ignoring RALPH_WATCH_TEST_CHUNK_DEADLINE=%r: not a number of seconds", raw)
        return None
    if not 0 < value < 3600:
        log.warning("ignoring RALPH_WATCH_TEST_CHUNK_DEADLINE=%r: must be between 0 and 3600 seconds", raw)
        return None
    log.warning("test knob: chunk deadline %g s (RALPH_WATCH_TEST_CHUNK_DEADLINE)", value)
    return value

