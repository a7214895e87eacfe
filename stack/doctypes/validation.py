"""Validate documents against the doctype's JSON Schema (draft 2020-12), if it has one.

Schemas live in `schemas/{doctype}.json`; unknown well-formed doctypes are schemaless.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from roost.errors import InvalidDocument

SCHEMAS_DIR = Path(__file__).parent / "schemas"


class SchemaRegistry:
    def __init__(self, directory: Path = SCHEMAS_DIR) -> None:
        self.directory = directory

    @cached_property
    def _validators(self) -> dict[str, Draft202012Validator]:
        validators: dict[str, Draft202012Validator] = {}
        for path in sorted(self.directory.glob("*.json")):
            schema = json.loads(path.read_text())
            Draft202012Validator.check_schema(schema)
            validators[path.stem] = Draft202012Validator(schema)
        return validators

    def known(self) -> list[str]:
        return sorted(self._validators)

    def schema(self, doctype: str) -> dict[str, Any] | None:
        validator = self._validators.get(doctype)
        if validator is None or not isinstance(validator.schema, dict):
            return None
        return dict(validator.schema)

    def validate(self, doctype: str, doc: Mapping[str, Any]) -> None:
        """Raise InvalidDocument naming the failing field; no-op for schemaless doctypes."""
        validator = self._validators.get(doctype)
        if validator is None:
            return
        error = best_match(validator.iter_errors(doc))
        if error is None:
            return
        where = "/".join(str(part) for part in error.absolute_path) or "(document)"
        raise InvalidDocument(f"{doctype} schema: {where}: {error.message}")
