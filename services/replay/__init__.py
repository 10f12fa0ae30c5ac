"""Replaying recorded traces through the cache engine (``predis replay``)."""
