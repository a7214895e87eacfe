"""Doctypes: JSON Schemas for known doctypes, validation, and `cozyMetadata` stamping."""

from roost.doctypes.metadata import stamp_metadata
from roost.doctypes.validation import SchemaRegistry

__all__ = ["SchemaRegistry", "stamp_metadata"]
