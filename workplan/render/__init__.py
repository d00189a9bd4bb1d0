"""Renderers: plain objects in, bytes or text out; they never open a session."""
