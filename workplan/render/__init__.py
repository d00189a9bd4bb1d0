"""Renderers: plain objects in, text or bytes out. Nothing here opens a database or a session."""
