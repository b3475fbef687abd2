"""The faithful fake TikTok: Login Kit, user info, the Content Posting API and the upload host,
with a loopback-only control API, as ../shared/spec/tiktok-api.md ("What a faithful fake TikTok
server must enforce") describes them.

Modules: profile (the app and its creators), core (shared world, answer shapes), oauth (logins,
tokens, the rate gate), posting (creator_info, init, caps, status), init_checks (the init body's
rules), upload (the upload host), media (the media check, by ralph_watch.media_rules), faults
(injected misbehaviour), state (all of it behind one lock), pages (HTML), app (the bottle routes),
server (waitress in a thread). It imports tiktok.protocol, never the client."""
from __future__ import annotations

from ralph_watch.emulator.app import EmulatorApp, make_emulator_app
from ralph_watch.emulator.core import Reply
from ralph_watch.emulator.faults import Fault
from ralph_watch.emulator.profile import Account, Profile, load_profile, make_avatar_png
from ralph_watch.emulator.server import EmulatorServer
from ralph_watch.emulator.state import EmulatorState

__all__ = ["Account", "Profile", "load_profile", "make_avatar_png", "Fault", "EmulatorApp", "make_emulator_app",
           "EmulatorServer", "EmulatorState", "Reply"]
