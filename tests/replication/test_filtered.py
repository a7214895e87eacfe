"""Restricted tokens replicate too: the feed and fetches are filtered to what they may read,
and every pushed document is checked on its own (Roost goes beyond cozy-stack here)."""

from __future__ import annotations

import asyncio
import json

from tests.replication.helpers import (
    CONTACTS,
    FAMILY,
    FAMILY_READ,
    WHOLE,
    bearer,
    changes,
    contact,
    ids,
    push,
)
from tests.stored import stored_revs


async def _seed(client, token):
    written = await push(
        client,
        token,
        [contact("ann", "family"), contact("bob", "work"), contact("cy", "family", "work")],
    )
    return {w["id"]: w["rev"] for w in written}


async def test_the_feed_lists_only_readable_documents(client, instance, issue_token) -> None:
    owner = await issue_token(instance, WHOLE)
    await _seed(client, owner)
    family = await issue_token(instance, FAMILY_READ)
    feed = await changes(client, family)
    assert ids(feed) == ["ann", "cy"]
    assert all("doc" not in row for row in feed["results"])
    with_docs = await changes(client, family, include_docs=True, limit=1)
    [first] = with_docs["results"]
    assert first["doc"]["fullname"] == first["id"].capitalize()
    rest = await changes(client, family, since=with_docs["last_seq"], include_docs=True)
    assert sorted(ids(with_docs) + ids(rest)) == ["ann", "cy"]


async def test_database_info_hides_counts_from_restricted_tokens(
    client, instance, issue_token
) -> None:
    owner = await issue_token(instance, WHOLE)
    await _seed(client, owner)
    family = await issue_token(instance, FAMILY_READ)
    info = (await client.get(f"/data/{CONTACTS}/", headers=bearer(family))).json()
    assert "doc_count" not in info
    assert info["update_seq"]


async def test_a_document_leaving_the_scope_shows_as_a_deletion(
    client, instance, issue_token
) -> None:
    owner = await issue_token(instance, WHOLE)
    revs = await _seed(client, owner)
    family = await issue_token(instance, FAMILY_READ)
    since = (await changes(client, family))["last_seq"]
    [moved] = await push(client, owner, [{**contact("ann", "work"), "_rev": revs["ann"]}])
    [bob2] = await push(client, owner, [{**contact("bob", "work", age=3), "_rev": revs["bob"]}])
    feed = await changes(client, family, since=since, include_docs=True)
    # bob was never in scope: his edit stays invisible. ann left it: she shows deleted.
    assert ids(feed) == ["ann"]
    [row] = feed["results"]
    assert row["deleted"] is True
    assert row["changes"] == [{"rev": moved["rev"]}]
    assert row["doc"] == {"_id": "ann", "_rev": moved["rev"], "_deleted": True}
    fetched = await client.post(
        f"/data/{CONTACTS}/_bulk_get",
        params={"revs": "true"},
        json={"docs": [{"id": "ann", "rev": moved["rev"]}, {"id": "bob", "rev": bob2["rev"]}]},
        headers=bearer(family),
    )
    ann, bob = fetched.json()["results"]
    stub = ann["docs"][0]["ok"]
    assert stub["_deleted"] is True
    assert "fullname" not in stub and "groups" not in stub
    assert stub["_revisions"]["ids"][1] == revs["ann"].split("-", 1)[1]
    assert bob["docs"][0]["error"]["error"] == "not_found"
    open_revs = await client.get(
        f"/data/{CONTACTS}/ann",
        params={"open_revs": json.dumps([moved["rev"]])},
        headers=bearer(family),
    )
    assert open_revs.status_code == 200, open_revs.text
    assert open_revs.json()[0]["ok"]["_deleted"] is True


async def test_old_revisions_stay_hidden_while_the_current_one_is_out_of_scope(
    client, instance, issue_token
) -> None:
    owner = await issue_token(instance, WHOLE)
    revs = await _seed(client, owner)
    await push(client, owner, [{**contact("ann", "work"), "_rev": revs["ann"]}])
    family = await issue_token(instance, FAMILY_READ)
    fetched = await client.post(
        f"/data/{CONTACTS}/_bulk_get",
        json={"docs": [{"id": "ann", "rev": revs["ann"]}]},
        headers=bearer(family),
    )
    assert "ok" not in fetched.json()["results"][0]["docs"][0]


async def test_a_document_coming_back_into_scope_shows_again(client, instance, issue_token) -> None:
    owner = await issue_token(instance, WHOLE)
    revs = await _seed(client, owner)
    family = await issue_token(instance, FAMILY_READ)
    [out] = await push(client, owner, [{**contact("ann", "work"), "_rev": revs["ann"]}])
    since = (await changes(client, family))["last_seq"]
    [back] = await push(client, owner, [{**contact("ann", "family"), "_rev": out["rev"]}])
    feed = await changes(client, family, since=since, include_docs=True)
    [row] = feed["results"]
    assert row["doc"]["_rev"] == back["rev"]
    assert row["doc"]["groups"] == ["family"]


async def test_deletions_reach_devices_that_saw_the_document(client, instance, issue_token) -> None:
    owner = await issue_token(instance, WHOLE)
    revs = await _seed(client, owner)
    family = await issue_token(instance, FAMILY_READ)
    since = (await changes(client, family))["last_seq"]
    await push(
        client,
        owner,
        [
            {"_id": "ann", "_rev": revs["ann"], "_deleted": True},
            {"_id": "bob", "_rev": revs["bob"], "_deleted": True},
        ],
    )
    feed = await changes(client, family, since=since)
    assert ids(feed) == ["ann"]
    assert feed["results"][0]["deleted"] is True


async def test_an_id_restricted_token_sees_its_ids_deletions_included(
    client, instance, issue_token
) -> None:
    owner = await issue_token(instance, WHOLE)
    revs = await _seed(client, owner)
    only_bob = await issue_token(instance, "io.cozy.contacts:GET:bob")
    assert ids(await changes(client, only_bob)) == ["bob"]
    await push(client, owner, [{"_id": "bob", "_rev": revs["bob"], "_deleted": True}])
    feed = await changes(client, only_bob, include_docs=True)
    assert ids(feed) == ["bob"]
    assert feed["results"][0]["doc"]["_deleted"] is True


async def test_pushes_are_checked_document_by_document(client, instance, issue_token) -> None:
    owner = await issue_token(instance, WHOLE)
    revs = await _seed(client, owner)
    family = await issue_token(instance, FAMILY)
    answer = await push(
        client,
        family,
        [
            contact("dan", "family"),  # new, in scope: written
            contact("eve", "work"),  # new, out of scope: refused
            {**contact("ann", "work"), "_rev": revs["ann"]},  # would leave the scope
            {**contact("bob", "family"), "_rev": revs["bob"]},  # was not in scope
            {**contact("cy", "family", age=4), "_rev": revs["cy"]},  # stays in scope
        ],
    )
    by_id = {entry["id"]: entry for entry in answer}
    assert by_id["dan"]["ok"] is True
    assert by_id["cy"]["ok"] is True
    for refused in ("eve", "ann", "bob"):
        assert by_id[refused]["error"] == "forbidden", by_id[refused]
        assert by_id[refused]["reason"]
    rows = (await client.get(f"/data/{CONTACTS}/_all_docs", headers=bearer(owner))).json()["rows"]
    assert sorted(row["id"] for row in rows) == ["ann", "bob", "cy", "dan"]
    stored_bob = await client.get(f"/data/{CONTACTS}/bob", headers=bearer(owner))
    assert stored_bob.json()["groups"] == ["work"]


async def test_replicated_pushes_are_checked_too(client, instance, issue_token) -> None:
    owner = await issue_token(instance, WHOLE)
    revs = await _seed(client, owner)
    family = await issue_token(instance, FAMILY)
    answer = await push(
        client,
        family,
        [
            {**contact("fay", "work"), "_rev": "1-f00"},
            {**contact("gil", "family"), "_rev": "1-9e1"},
            {
                "_id": "bob",
                "_rev": "2-dead",
                "_deleted": True,
                "_revisions": {"start": 2, "ids": ["dead", revs["bob"].split("-", 1)[1]]},
            },
            {
                "_id": "ann",
                "_rev": "2-beef",
                "_deleted": True,
                "_revisions": {"start": 2, "ids": ["beef", revs["ann"].split("-", 1)[1]]},
            },
        ],
        new_edits=False,
    )
    refused = {entry["id"] for entry in answer if entry.get("error") == "forbidden"}
    assert refused == {"fay", "bob"}
    assert (await client.get(f"/data/{CONTACTS}/gil", headers=bearer(owner))).status_code == 200
    assert (await client.get(f"/data/{CONTACTS}/fay", headers=bearer(owner))).status_code == 404
    assert (await client.get(f"/data/{CONTACTS}/bob", headers=bearer(owner))).status_code == 200
    assert (await client.get(f"/data/{CONTACTS}/ann", headers=bearer(owner))).status_code == 404


async def test_a_read_only_restricted_token_cannot_push_but_keeps_checkpoints(
    client, instance, issue_token, services
) -> None:
    family = await issue_token(instance, FAMILY_READ)
    before = await stored_revs(services, instance, CONTACTS)
    refused = await client.post(
        f"/data/{CONTACTS}/_bulk_docs",
        json={"docs": [contact("x", "family")]},
        headers=bearer(family),
    )
    assert refused.status_code == 403
    assert await stored_revs(services, instance, CONTACTS) == before
    checkpoint = await client.put(
        f"/data/{CONTACTS}/_local/abc", json={"last_seq": 1}, headers=bearer(family)
    )
    assert checkpoint.status_code == 201


async def test_revs_diff_answers_for_an_unreadable_document_as_for_a_missing_one(
    client, instance, issue_token
) -> None:
    owner = await issue_token(instance, WHOLE)
    revs = await _seed(client, owner)
    family = await issue_token(instance, FAMILY_READ)
    response = await client.post(
        f"/data/{CONTACTS}/_revs_diff",
        json={"bob": [revs["bob"], "2-abc"]},
        headers=bearer(family),
    )
    # Even its real revision is "missing": the answer must not confirm that bob exists.
    assert response.json() == {"bob": {"missing": [revs["bob"], "2-abc"]}}


async def test_all_docs_by_keys_shows_only_readable_documents(
    client, instance, issue_token
) -> None:
    owner = await issue_token(instance, WHOLE)
    await _seed(client, owner)
    family = await issue_token(instance, FAMILY_READ)
    response = await client.post(
        f"/data/{CONTACTS}/_all_docs",
        params={"include_docs": "true"},
        json={"keys": ["ann", "bob", "nobody"]},
        headers=bearer(family),
    )
    assert response.status_code == 200, response.text
    ann, bob, nobody = response.json()["rows"]
    assert ann["doc"]["fullname"] == "Ann"
    assert bob == {"key": "bob", "error": "not_found"}
    assert nobody["error"] == "not_found"
    listing = await client.get(f"/data/{CONTACTS}/_all_docs", headers=bearer(family))
    assert listing.status_code == 403


async def test_a_restricted_longpoll_ignores_changes_outside_its_scope(
    client, instance, issue_token
) -> None:
    owner = await issue_token(instance, WHOLE)
    await _seed(client, owner)
    family = await issue_token(instance, FAMILY_READ)
    since = (await changes(client, family))["last_seq"]

    async def write_soon() -> None:
        await asyncio.sleep(0.2)
        await push(client, owner, [contact("zed", "work")])
        await asyncio.sleep(0.3)
        await push(client, owner, [contact("fred", "family")])

    feed, _ = await asyncio.gather(
        changes(client, family, feed="longpoll", since=since, timeout=30000), write_soon()
    )
    assert ids(feed) == ["fred"]


async def test_attachments_follow_their_document(client, instance, issue_token) -> None:
    owner = await issue_token(instance, WHOLE)
    data = {"content_type": "text/html", "data": "PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="}
    await push(
        client,
        owner,
        [
            {**contact("ann", "family"), "_attachments": {"page.html": data}},
            {**contact("bob", "work"), "_attachments": {"page.html": data}},
        ],
    )
    family = await issue_token(instance, FAMILY_READ)
    ann = await client.get(f"/data/{CONTACTS}/ann/page.html", headers=bearer(family))
    assert ann.status_code == 200
    assert ann.content == b"<script>alert(1)</script>"
    # Device data never runs as a page of the instance's origin.
    assert ann.headers["content-disposition"] == "attachment"
    assert "sandbox" in ann.headers["content-security-policy"]
    bob = await client.get(f"/data/{CONTACTS}/bob/page.html", headers=bearer(family))
    assert bob.status_code == 404
    missing = await client.get(f"/data/{CONTACTS}/ann/other.txt", headers=bearer(family))
    assert missing.status_code == 404


async def test_a_limited_feed_pages_through_every_readable_document_once(
    client, instance, issue_token
) -> None:
    """Pages are sized from what is still wanted: read with a small limit, page after page,
    the feed gives each readable document once, never one outside the scope."""
    owner = await issue_token(instance, WHOLE)
    docs = [contact(f"p{i:03}", "family" if i % 3 == 0 else "work") for i in range(90)]
    await push(client, owner, docs)
    family = await issue_token(instance, FAMILY_READ)
    seen: list[str] = []
    since: object = 0
    for _ in range(40):
        page = await changes(client, family, since=since, limit=7)
        seen += [row["id"] for row in page["results"]]
        assert len(page["results"]) <= 7
        if not page["results"]:
            break
        if len(page["results"]) == 7:
            # A full page stops at its last row: the next one starts right after it.
            assert page["last_seq"] == page["results"][-1]["seq"]
        since = page["last_seq"]
    assert sorted(seen) == [f"p{i:03}" for i in range(0, 90, 3)]
    assert len(seen) == len(set(seen))


async def test_an_old_revision_shows_while_the_current_one_is_readable_too(
    client, instance, issue_token
) -> None:
    owner = await issue_token(instance, WHOLE)
    revs = await _seed(client, owner)
    [edited] = await push(client, owner, [{**contact("ann", "family", age=4), "_rev": revs["ann"]}])
    family = await issue_token(instance, FAMILY_READ)
    fetched = await client.post(
        f"/data/{CONTACTS}/_bulk_get",
        params={"revs": "true"},
        json={
            "docs": [
                {"id": "ann", "rev": revs["ann"]},
                {"id": "ann", "rev": edited["rev"]},
                {"id": "cy", "rev": revs["cy"]},
                {"id": "bob", "rev": revs["bob"]},
            ]
        },
        headers=bearer(family),
    )
    assert fetched.status_code == 200, fetched.text
    old, new, cy, bob = fetched.json()["results"]
    assert old["docs"][0]["ok"]["_rev"] == revs["ann"]
    assert "age" not in old["docs"][0]["ok"]
    assert new["docs"][0]["ok"]["age"] == 4
    assert new["docs"][0]["ok"]["_revisions"]["start"] == 2
    assert cy["docs"][0]["ok"]["_rev"] == revs["cy"]
    assert bob["docs"][0]["error"] == {
        "id": "bob",
        "rev": revs["bob"],
        "error": "not_found",
        "reason": "missing",
    }
