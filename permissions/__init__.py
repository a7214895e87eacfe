"""Roost permissions: rules, permission sets, matching, egress and tokens.

Pure logic, no I/O, no import of the rest of Roost. See docs/permissions.md.
"""

from .budget import Budget, budget_within
from .decision import SOME_DOCUMENTS, Decision, Hidden, Outcome, SomeDocuments, Surface, decide
from .doctypes import (
    FILES_DOCTYPE,
    RESERVED_DOCTYPES,
    check_readable,
    check_writable,
    is_readable,
    is_valid_doctype,
    is_writable,
    match_type,
    type_covers,
    validate_doctype,
)
from .egress import (
    egress_allows,
    egress_subset,
    normalise_egress_pattern,
    pattern_covers,
)
from .errors import InvalidRule, InvalidToken, PermissionDenied
from .inline import format_rule, parse_rule
from .rules import Rule
from .sets import PermissionSet
from .targets import (
    ROOT_DIR_ID,
    TRASH_DIR_ID,
    DocumentTarget,
    FileTarget,
    Target,
)
from .tokens import (
    AUDIENCES,
    Audience,
    TokenClaims,
    issue_token,
    verify_token,
)
from .verbs import ALL_VERBS, Verb, request_verb

__all__ = [
    "ALL_VERBS",
    "AUDIENCES",
    "FILES_DOCTYPE",
    "RESERVED_DOCTYPES",
    "ROOT_DIR_ID",
    "SOME_DOCUMENTS",
    "TRASH_DIR_ID",
    "Audience",
    "Budget",
    "Decision",
    "DocumentTarget",
    "FileTarget",
    "Hidden",
    "InvalidRule",
    "InvalidToken",
    "Outcome",
    "PermissionDenied",
    "PermissionSet",
    "Rule",
    "SomeDocuments",
    "Surface",
    "Target",
    "TokenClaims",
    "Verb",
    "budget_within",
    "check_readable",
    "check_writable",
    "decide",
    "egress_allows",
    "egress_subset",
    "format_rule",
    "is_readable",
    "is_valid_doctype",
    "is_writable",
    "issue_token",
    "match_type",
    "normalise_egress_pattern",
    "parse_rule",
    "pattern_covers",
    "request_verb",
    "type_covers",
    "validate_doctype",
    "verify_token",
]
