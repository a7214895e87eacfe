"""An unmodified PouchDB (npm `pouchdb` 9, in Node, LevelDB on disk) syncing with Roost over
real HTTP with a Bearer token: pull, push, conflicts, checkpoints, filtered scopes, volume."""

from __future__ import annotations

import asyncio
import base64

import pytest

from tests.replication.helpers import CONTACTS, FAMILY, WHOLE, bearer, contact, push


async def test_pull_then_push_with_edits_on_both_sides(
    client, instance, issue_token, device
) -> None:
    token = await issue_token(instance, WHOLE)
    written = await push(client, token, [contact("ann", "family"), contact("bob", "work")])
    [pulled, docs] = await device("phone", token, [{"op": "pull"}, {"op": "all_docs"}])
    assert pulled["ok"] is True and pulled["docs_written"] == 2
    assert {d["_id"]: d["_rev"] for d in docs} == {w["id"]: w["rev"] for w in written}
    ann = next(d for d in docs if d["_id"] == "ann")
    # Edit on the device and on the server, then sync both ways.
    [updated_bob] = await push(
        client, token, [{**contact("bob", "work"), "_rev": written[1]["rev"], "age": 40}]
    )
    [_, pushed, pulled_again, bob] = await device(
        "phone",
        token,
        [
            {"op": "put", "doc": {**ann, "fullname": "Ann on the phone"}},
            {"op": "push"},
            {"op": "pull"},
            {"op": "get", "id": "bob"},
        ],
    )
    assert pushed["ok"] is True and pushed["docs_written"] == 1
    assert pulled_again["docs_written"] >= 1
    assert bob["_rev"] == updated_bob["rev"] and bob["age"] == 40
    server_ann = await client.get(f"/data/{CONTACTS}/ann", headers=bearer(token))
    assert server_ann.json()["fullname"] == "Ann on the phone"


async def test_a_conflict_shows_on_both_sides_and_can_be_resolved(
    client, instance, issue_token, device
) -> None:
    token = await issue_token(instance, WHOLE)
    [first] = await push(client, token, [contact("ann", "family")])
    [_, ann] = await device("phone", token, [{"op": "pull"}, {"op": "get", "id": "ann"}])
    await push(client, token, [{**contact("ann", "family"), "_rev": first["rev"], "age": 1}])
    await device(
        "phone",
        token,
        [{"op": "put", "doc": {**ann, "age": 2}}, {"op": "push"}, {"op": "pull"}],
    )
    on_server = await client.get(
        f"/data/{CONTACTS}/ann", params={"conflicts": "true"}, headers=bearer(token)
    )
    server_doc = on_server.json()
    assert len(server_doc["_conflicts"]) == 1
    [on_phone] = await device(
        "phone", token, [{"op": "get", "id": "ann", "options": {"conflicts": True}}]
    )
    assert on_phone["_rev"] == server_doc["_rev"]
    assert on_phone["_conflicts"] == server_doc["_conflicts"]
    # Resolve on the phone: remove the losing branch, sync, and the conflict is gone everywhere.
    [_, pushed, _, resolved] = await device(
        "phone",
        token,
        [
            {"op": "remove", "id": "ann", "rev": on_phone["_conflicts"][0]},
            {"op": "push"},
            {"op": "pull"},
            {"op": "get", "id": "ann", "options": {"conflicts": True}},
        ],
    )
    assert pushed["docs_written"] == 1
    assert "_conflicts" not in resolved
    after = await client.get(
        f"/data/{CONTACTS}/ann", params={"conflicts": "true"}, headers=bearer(token)
    )
    assert "_conflicts" not in after.json()


async def test_an_interrupted_pull_resumes_from_its_checkpoint(
    client, instance, issue_token, device
) -> None:
    token = await issue_token(instance, WHOLE)
    await push(client, token, [contact(f"p{i:04}") for i in range(300)])
    [cut] = await device("phone", token, [{"op": "pull_interrupted", "after_docs": 100}])
    assert cut["status"] == "cancelled"
    first_run = cut["docs_written"]
    assert 100 <= first_run < 300
    [resumed, digest] = await device("phone", token, [{"op": "pull"}, {"op": "digest"}])
    # Only what the first run had not checkpointed travels again.
    assert resumed["docs_read"] == 300 - first_run
    assert digest["count"] == 300
    await push(client, token, [contact("late")])
    [again] = await device("phone", token, [{"op": "pull"}])
    assert again["docs_read"] == 1


async def test_checkpoints_of_two_devices_are_kept_apart(
    client, instance, issue_token, device
) -> None:
    phone_token = await issue_token(instance, WHOLE)
    laptop_token = await issue_token(instance, WHOLE)
    await push(client, phone_token, [contact(f"c{i}") for i in range(20)])
    [phone] = await device("phone", phone_token, [{"op": "pull"}])
    [laptop] = await device("laptop", laptop_token, [{"op": "pull"}])
    assert phone["docs_read"] == laptop["docs_read"] == 20
    rows = (await client.get(f"/data/{CONTACTS}/_all_docs", headers=bearer(phone_token))).json()[
        "rows"
    ]
    assert not any(row["id"].startswith("_local/") for row in rows)


async def test_a_restricted_device_gets_exactly_its_scope_and_cannot_push_outside(
    client, instance, issue_token, device
) -> None:
    owner = await issue_token(instance, WHOLE)
    written = await push(
        client,
        owner,
        [contact("ann", "family"), contact("bob", "work"), contact("cy", "family", "work")],
    )
    revs = {w["id"]: w["rev"] for w in written}
    family = await issue_token(instance, FAMILY)
    [pulled, docs] = await device("phone", family, [{"op": "pull"}, {"op": "all_docs"}])
    assert pulled["ok"] is True
    assert sorted(d["_id"] for d in docs) == ["ann", "cy"]
    [_, _, pushed] = await device(
        "phone",
        family,
        [
            {"op": "put", "doc": contact("eve", "work")},
            {"op": "put", "doc": contact("dan", "family")},
            {"op": "push"},
        ],
    )
    assert pushed["doc_write_failures"] == 1
    assert [d["id"] for d in pushed["denied"]] == ["eve"]
    assert (await client.get(f"/data/{CONTACTS}/eve", headers=bearer(owner))).status_code == 404
    assert (await client.get(f"/data/{CONTACTS}/dan", headers=bearer(owner))).status_code == 200
    # ann leaves the family on the server: the phone's copy goes away at the next pull.
    await push(client, owner, [{**contact("ann", "work"), "_rev": revs["ann"]}])
    [_, ann, remaining] = await device(
        "phone", family, [{"op": "pull"}, {"op": "get", "id": "ann"}, {"op": "all_docs"}]
    )
    assert ann["status"] == 404
    assert sorted(d["_id"] for d in remaining) == ["cy", "dan", "eve"]


@pytest.mark.slow
async def test_ten_thousand_documents_round_trip_intact(
    client, instance, issue_token, device
) -> None:
    token = await issue_token(instance, WHOLE)
    [generated, pushed, source] = await device(
        "laptop",
        token,
        [{"op": "generate", "count": 10_000, "prefix": "p"}, {"op": "push"}, {"op": "digest"}],
    )
    assert generated == 10_000
    assert pushed["ok"] is True and pushed["docs_written"] == 10_000
    [pulled, copy, on_server] = await device(
        "phone", token, [{"op": "pull"}, {"op": "digest"}, {"op": "remote_digest"}]
    )
    assert pulled["docs_written"] == 10_000
    assert copy == source == on_server


async def test_a_live_pull_receives_a_later_write(client, instance, issue_token, device) -> None:
    token = await issue_token(instance, WHOLE)
    await push(client, token, [contact("ann")])
    session = asyncio.ensure_future(
        device(
            "phone", token, [{"op": "live_pull", "until_id": "late"}, {"op": "get", "id": "late"}]
        )
    )
    # The device long-polls through Roost meanwhile; if it starts late, its first pull
    # brings the document all the same.
    await asyncio.sleep(2)
    await push(client, token, [contact("late", "family")])
    [live, late] = await session
    assert live["status"] == "cancelled"
    assert late["groups"] == ["family"]


async def test_attachments_travel_both_ways(client, instance, issue_token, device) -> None:
    token = await issue_token(instance, WHOLE)
    note = base64.b64encode("a note, é☃".encode()).decode()
    attachment = {"note.txt": {"content_type": "text/plain", "data": note}}
    [_, pushed] = await device(
        "laptop",
        token,
        [{"op": "put", "doc": {**contact("ann"), "_attachments": attachment}}, {"op": "push"}],
    )
    assert pushed["docs_written"] == 1
    [pulled, ann] = await device(
        "phone",
        token,
        [{"op": "pull"}, {"op": "get", "id": "ann", "options": {"attachments": True}}],
    )
    assert pulled["docs_written"] == 1
    assert ann["_attachments"]["note.txt"]["data"] == note
