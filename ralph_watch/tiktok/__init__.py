"""TikTok: the pure protocol, the HTTP client (api.py holds the Protocols its callers type against), and the emulator."""
