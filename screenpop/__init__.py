"""Caller history store, pop composition and WebSocket delivery to handlers desktops."""
