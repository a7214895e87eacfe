"""Roost: a personal cloud whose data lives in each person's own CouchDB databases."""

from roost.lean_imports import load_lean

__version__ = "0.1.0"

load_lean()
