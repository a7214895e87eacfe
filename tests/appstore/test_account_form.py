"""The account form built from a connector's `fields`: checked whole before anything is saved."""

from __future__ import annotations

import pytest

from roost.apps.manifest import parse_manifest
from roost.appstore.account_form import AccountFormInvalid, form_fields, read_account_form
from roost.errors import BadRequest

MANIFEST = parse_manifest(
    {
        "slug": "c",
        "name": "Connector",
        "version": "1.0.0",
        "type": "konnector",
        "fields": {
            "login": {"type": "text", "label": "Login"},
            "password": {"type": "password", "label": "Password"},
            "email": {"type": "email", "label": "E-mail", "required": False},
            "site": {"type": "url", "label": "Site", "required": False},
            "since": {"type": "date", "label": "Since", "required": False},
            "limit": {"type": "number", "label": "Limit", "required": False},
            "token": {"type": "hidden", "label": "t", "required": False},
        },
    }
)


def test_fields_in_order_without_hidden_ones() -> None:
    shown = form_fields(MANIFEST)
    assert [f.name for f in shown] == ["login", "password", "email", "site", "since", "limit"]
    assert [f.name for f in shown if f.secret] == ["password"]


def test_a_good_form() -> None:
    read = read_account_form(
        MANIFEST,
        {"login": " alice ", "password": " s3cret ", "email": "a@b.example", "label": "Mine"},
    )
    # Text is trimmed, a password never is; empty optional fields are left out.
    assert read.credentials == {"login": "alice", "password": " s3cret ", "email": "a@b.example"}
    assert read.label == "Mine"
    assert read_account_form(MANIFEST, {"login": "a", "password": "p"}).label == "Connector"


@pytest.mark.parametrize(
    ("form", "field", "why"),
    [
        ({"password": "p"}, "login", "Fill in this field."),
        ({"login": "a"}, "password", "Fill in this field."),
        (
            {"login": "a", "password": "p", "email": "nope"},
            "email",
            "Enter an e-mail address such as name@example.org.",
        ),
        (
            {"login": "a", "password": "p", "site": "ftp://x"},
            "site",
            "Enter a web address starting with https://.",
        ),
        (
            {"login": "a", "password": "p", "since": "31/12/2026"},
            "since",
            "Enter a date as YYYY-MM-DD.",
        ),
        ({"login": "a", "password": "p", "limit": "ten"}, "limit", "Enter a number."),
        ({"login": "a" * 1001, "password": "p"}, "login", "This is too long."),
        (
            {"login": "a\x00", "password": "p"},
            "login",
            "This holds characters that cannot be typed.",
        ),
        (
            {"login": "a", "password": "p", "label": "x" * 101},
            "label",
            "Give a shorter name, with letters and digits.",
        ),
    ],
)
def test_bad_input_names_the_field_and_why(form: dict[str, str], field: str, why: str) -> None:
    with pytest.raises(AccountFormInvalid) as refused:
        read_account_form(MANIFEST, form)
    assert refused.value.problems[field] == why
    assert isinstance(refused.value, BadRequest)  # a 400 at the edge, never a 500


def test_editing_keeps_the_stored_password_and_hidden_values() -> None:
    stored = {"login": "alice", "password": "old", "token": "t0"}
    read = read_account_form(MANIFEST, {"login": "bob", "password": ""}, stored=stored)
    assert read.credentials == {"login": "bob", "password": "old", "token": "t0"}
    changed = read_account_form(MANIFEST, {"login": "bob", "password": "new"}, stored=stored)
    assert changed.credentials["password"] == "new"
