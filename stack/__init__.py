"""Roost: a personal cloud whose data lives in each person's own CouchDB databases."""

__version__ = "0.1.0"
