"""ralph-watch: a folder that publishes to TikTok."""
__version__ = "0.1.0"
