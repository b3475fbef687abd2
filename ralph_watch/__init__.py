"""ralph-watch: a folder that publishes to TikTok.

The public surface for scripts and tests; everything else lives in modules named for the one
concept they hold (see docs/ARCHITECTURE.md).
"""
from .config import Config, load_config, read_config
from .errors import (
    Action,
    ConfigError,
    LockError,
    ProbeError,
    RalphWatchError,
    RecordError,
    SidecarError,
    SidecarProblem,
    TikTokError,
)
from .service import Service

__version__ = "0.1.0"
__all__ = [
    "Action",
    "Config",
    "ConfigError",
    "LockError",
    "ProbeError",
    "RalphWatchError",
    "RecordError",
    "Service",
    "SidecarError",
    "SidecarProblem",
    "TikTokError",
    "load_config",
    "read_config",
]

for _name in __all__:  # show the public path in reprs and tracebacks
    globals()[_name].__module__ = "ralph_watch"
del _name
