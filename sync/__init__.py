"""Sync protocol, client and the organisation's workspace server."""
