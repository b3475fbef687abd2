"""The real Service built in this process and not started (no threads, no web server), fed
snapshots of real files as the watcher would, so `_apply` and the backend methods run exactly
as in the service."""
from __future__ import annotations

import os
from pathlib import Path

from ralph_watch.config import load_config
from ralph_watch.inbox import FileState, PairSnapshot
from ralph_watch.service import Service


def make_service(root: Path) -> Service:
    text = f"inbox: {root / 'inbox'}\nstate_dir: {root / 'state'}\ntimezone: Europe/Berlin\n"
    config = load_config(text, base_dir=root, environ={"TIKTOK_CLIENT_KEY": "k", "TIKTOK_CLIENT_SECRET": "s"})
    (root / "inbox").mkdir()
    return Service(config, serve_web=False)


def snapshot(inbox: Path, name: str) -> PairSnapshot:
    """A stable snapshot of NAME.mp4 + NAME.yaml as they are on disk."""
    def state(rel: str) -> FileState:
        st = os.stat(inbox / rel)
        return FileState(rel=rel, size=st.st_size, mtime_ns=st.st_mtime_ns, stable=True, regular=True, symlink=False)
    return PairSnapshot(key=name, videos=(state(f"{name}.mp4"),), sidecars=(state(f"{name}.yaml"),), inflight=None)
