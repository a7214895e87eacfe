"""The edge's one table from domain errors to (status, code): the JSON answers of the files
area stay what they were when the classes carried their own status."""

from __future__ import annotations

import pytest

from roost import errors
from roost.jobs.errors import InvalidTrigger, UnknownWorker
from roost.oauth.errors import OAuthError
from roost.vfs import errors as vfs
from roost.web.error_table import ERROR_TABLE, ErrorAnswer, answer_for

EXPECTED = [
    (vfs.FileNotFound("x"), 404, "not_found"),
    (vfs.ParentMissing("x"), 409, "parent_not_found"),
    (vfs.NameTaken("x", existing_id="y"), 409, "name_conflict"),
    (vfs.InvalidName("x"), 400, "invalid_name"),
    (vfs.NotADirectory("x"), 409, "not_a_directory"),
    (vfs.IsADirectory("x"), 409, "is_a_directory"),
    (vfs.InvalidMove("x"), 409, "invalid_move"),
    (vfs.FixedDirectory("x"), 400, "bad_request"),
    (vfs.NotInTrash("x"), 400, "bad_request"),
    (vfs.StaleRevision("x"), 412, "precondition_failed"),
    (vfs.WriteConflict("x"), 409, "conflict"),
    (vfs.ChecksumMismatch("x"), 412, "checksum_mismatch"),
    (vfs.QuotaExceeded("x"), 507, "quota_exceeded"),
    (vfs.IncompleteUpload("x"), 400, "incomplete_upload"),
    (errors.RangeNotSatisfiable(10), 416, "range_not_satisfiable"),
    (errors.StoreUnavailable("x"), 503, "store_unavailable"),
    (errors.TooManyRequests("x"), 429, "too_many_requests"),
    # Classes of other parts that still name their own code or status keep them.
    (InvalidTrigger("x"), 400, "invalid_trigger"),
    (UnknownWorker("x"), 404, "unknown_worker"),
    (OAuthError("invalid_client", "x", 401), 401, "invalid_client"),
]


@pytest.mark.parametrize(("error", "status", "code"), EXPECTED)
def test_each_error_has_one_answer(error: Exception, status: int, code: str) -> None:
    assert answer_for(error) == ErrorAnswer(status, code)


def test_domain_errors_carry_no_status() -> None:
    for cls in ERROR_TABLE:
        assert "status" not in vars(cls), cls


def test_old_names_stay_importable_for_the_webdav_adapter() -> None:
    from roost.vfs import NameConflict, ParentNotFound, RevisionMismatch

    assert (NameConflict, ParentNotFound, RevisionMismatch) == (
        vfs.NameTaken,
        vfs.ParentMissing,
        vfs.StaleRevision,
    )
