"""The organisation's workspace server (`cairn serve`): FastAPI over SQLite or PostgreSQL.

Imports nothing from store/, app/ or ui/ (see ARCHITECTURE.md): it shares only
sync/protocol.py with the desktop client.
"""
