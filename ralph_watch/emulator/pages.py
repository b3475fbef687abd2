"""The emulator's few HTML pages: the consent page, its error page, and the demo's post list.
Every value is escaped; nothing here knows about HTTP."""
from __future__ import annotations

from html import escape
from typing import Any

from ralph_watch.emulator.profile import Account

__all__ = ["consent_page", "error_page", "index_page"]

_STYLE = ("<style>body{font-family:sans-serif;max-width:34em;margin:2em auto;color:#161823}"
          "button{font-size:1em;padding:.5em 1.5em;margin-right:.5em}"
          "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em;font-size:.9em}</style>")

SCOPE_TEXT = {
    "user.info.basic": "Read your profile info (avatar, display name)",
    "user.info.profile": "Read your profile details (bio, username, verified status)",
    "user.info.stats": "Read your follower, like and video counts",
    "video.publish": "Post content directly to your TikTok profile",
    "video.upload": "Share content to your TikTok inbox as a draft",
    "video.list": "Read your public videos",
}


def consent_page(*, app_name: str, params: dict[str, str], scopes: list[str], accounts: list[Account]) -> str:
    hidden = "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in params.items())
    boxes = "".join(
        f'<li><label><input type="checkbox" name="granted" value="{escape(s)}" checked> '
        f"{escape(s)} — {escape(SCOPE_TEXT.get(s, s))}</label></li>" for s in scopes)
    if len(accounts) > 1:
        options = "".join(f'<option value="{escape(a.open_id)}">{escape(a.nickname)} (@{escape(a.username)})</option>'
                          for a in accounts)
        who = f'<p><label>Log in as <select name="open_id">{options}</select></label></p>'
    else:
        a = accounts[0]
        who = (f'<p>Logged in as <b>{escape(a.nickname)}</b> (@{escape(a.username)})</p>'
               f'<input type="hidden" name="open_id" value="{escape(a.open_id)}">')
    return (f"<!doctype html><html><head><meta charset=utf-8><title>Authorize {escape(app_name)} – TikTok (emulator)"
            f"</title>{_STYLE}</head><body><h1>{escape(app_name)} would like to access your TikTok account</h1>"
            f"<p>This is the ralph-watch TikTok emulator, not TikTok.</p>"
            f'<form method="post" action="/v2/auth/authorize/">{hidden}{who}'
            f"<p>{escape(app_name)} is asking for:</p><ul>{boxes}</ul>"
            f'<button type="submit" name="decision" value="authorize">Authorize</button>'
            f'<button type="submit" name="decision" value="deny">Deny</button></form></body></html>')


def error_page(error_type: str) -> str:
    return (f"<!doctype html><html><head><meta charset=utf-8><title>Something went wrong</title>{_STYLE}</head>"
            f'<body data-error-type="{escape(error_type)}"><h1>Something went wrong</h1>'
            f"<p>We couldn't log in with TikTok. This may be due to specific app settings.</p>"
            f"<p>If you're a developer, correct the following and try again:</p>"
            f"<p><code>{escape(error_type)}</code></p><p>error_type={escape(error_type)}</p></body></html>")


def index_page(posts: list[dict[str, Any]]) -> str:
    rows = "".join(
        f"<tr><td>{escape(p['created'])}</td><td>{escape(p['mode'])}</td>"
        f"<td>{escape(str(p['post_info'].get('title', '')))}</td>"
        f"<td>{escape(str(p['post_info'].get('privacy_level', '')))}</td>"
        f"<td>{escape(p['status'])}{(' — ' + escape(p['fail_reason'])) if p['fail_reason'] else ''}</td>"
        f"<td>{p['received_bytes']}/{p['video_size']}</td></tr>" for p in reversed(posts))
    body = (f"<table><tr><th>created</th><th>mode</th><th>title</th><th>privacy</th><th>status</th><th>bytes</th></tr>"
            f"{rows}</table>") if posts else "<p>No posts yet.</p>"
    return (f"<!doctype html><html><head><meta charset=utf-8><title>TikTok emulator</title>"
            f'<meta http-equiv="refresh" content="5">{_STYLE}</head><body><h1>TikTok emulator: posts</h1>'
            f"{body}</body></html>")
