"""The status page and JSON API: `make_app(backend, config)` and `WebServer(app, host, port)`."""
from .app import make_app
from .backend import ActionError, LoginError, WebBackend
from .server import WebServer, WebServerError

__all__ = ["make_app", "WebBackend", "LoginError", "ActionError", "WebServer", "WebServerError"]
