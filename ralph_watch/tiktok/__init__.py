"""TikTok: the pure protocol, the HTTP client, and the emulator."""
