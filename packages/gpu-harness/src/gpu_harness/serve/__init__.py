"""OpenAI-compatible HTTP layer (aiohttp) over an engine driver: app.py (routes), server.py (startup)."""
