"""The replication routes at the HTTP level, one behaviour per test, whole-doctype tokens.

Restricted tokens have their own file (test_filtered.py); real clients drive the same
routes in test_pouchdb.py and test_couch_replicator.py.
"""

from __future__ import annotations

import asyncio
import json

import httpx

from tests.replication.helpers import CONTACTS, WHOLE, bearer, changes, contact, ids, push
from tests.stored import FILES, stored_revs


async def test_database_info_of_a_doctype_never_written_looks_empty(
    client, instance, issue_token
) -> None:
    token = await issue_token(instance, "io.cozy.contacts:GET")
    response = await client.get(f"/data/{CONTACTS}/", headers=bearer(token))
    assert response.status_code == 200, response.text
    info = response.json()
    assert info["db_name"] == CONTACTS
    assert info["update_seq"] == 0
    assert info["doc_count"] == 0


async def test_database_info_needs_credentials_and_a_readable_doctype(
    client, instance, issue_token
) -> None:
    assert (await client.get(f"/data/{CONTACTS}/")).status_code == 401
    token = await issue_token(instance, "io.cozy.bills")
    assert (await client.get(f"/data/{CONTACTS}/", headers=bearer(token))).status_code == 403
    owner_token = await issue_token(instance, "io.cozy.permissions")
    reserved = await client.get("/data/io.cozy.permissions/", headers=bearer(owner_token))
    assert reserved.status_code == 403


async def test_creating_the_database_needs_post_on_the_whole_doctype(
    client, instance, issue_token, services
) -> None:
    reader = await issue_token(instance, "io.cozy.contacts:GET")
    assert (await client.put(f"/data/{CONTACTS}/", headers=bearer(reader))).status_code == 403
    assert not await services.couch.db_exists(instance.db(CONTACTS))
    writer = await issue_token(instance, "io.cozy.contacts:POST")
    created = await client.put(f"/data/{CONTACTS}/", headers=bearer(writer))
    assert created.status_code == 201, created.text
    again = await client.put(f"/data/{CONTACTS}/", headers=bearer(writer))
    assert again.status_code == 412


async def test_changes_lists_every_document_with_seq_and_revs(
    client, instance, issue_token
) -> None:
    token = await issue_token(instance, WHOLE)
    written = await push(client, token, [contact("ann", "family"), contact("bob", "work")])
    feed = await changes(client, token)
    assert ids(feed) == ["ann", "bob"]
    assert {row["id"]: row["changes"][0]["rev"] for row in feed["results"]} == {
        w["id"]: w["rev"] for w in written
    }
    assert all("doc" not in row for row in feed["results"])
    assert feed["last_seq"] == feed["results"][-1]["seq"]
    again = await changes(client, token, since=feed["last_seq"])
    assert again["results"] == []


async def test_changes_with_include_docs_and_limit(client, instance, issue_token) -> None:
    token = await issue_token(instance, WHOLE)
    await push(client, token, [contact(f"c{i}", "family") for i in range(5)])
    first = await changes(client, token, limit=2, include_docs=True)
    assert len(ids(first)) == 2
    assert all(row["doc"]["fullname"] == row["id"].upper() for row in first["results"])
    rest = await changes(client, token, since=first["last_seq"])
    assert sorted(ids(first) + ids(rest)) == ["c0", "c1", "c2", "c3", "c4"]


async def test_design_documents_never_appear_and_do_not_shorten_a_page(
    client, instance, issue_token
) -> None:
    token = await issue_token(instance, WHOLE)
    await push(client, token, [contact("a1")])
    index = await client.post(
        f"/data/{CONTACTS}/_index", json={"index": {"fields": ["fullname"]}}, headers=bearer(token)
    )
    assert index.status_code == 200, index.text
    await push(client, token, [contact("a2"), contact("a3")])
    # The design document sits between a1 and a2: a page of 2 must still hold 2 rows,
    # or PouchDB would think the feed is over.
    page = await changes(client, token, limit=2)
    assert len(ids(page)) == 2
    assert not any(name.startswith("_design") for name in ids(page))
    everything = await changes(client, token)
    assert ids(everything) == ["a1", "a2", "a3"]


async def test_style_all_docs_lists_conflicting_leaves(client, instance, issue_token) -> None:
    token = await issue_token(instance, WHOLE)
    await push(
        client,
        token,
        [
            {"_id": "x", "_rev": "1-aaa", "fullname": "A"},
            {"_id": "x", "_rev": "1-bbb", "fullname": "B"},
        ],
        new_edits=False,
    )
    main = await changes(client, token)
    assert len(main["results"][0]["changes"]) == 1
    every = await changes(client, token, style="all_docs")
    assert sorted(c["rev"] for c in every["results"][0]["changes"]) == ["1-aaa", "1-bbb"]


async def test_filter_doc_ids_and_selector_are_evaluated_by_roost(
    client, instance, issue_token
) -> None:
    token = await issue_token(instance, WHOLE)
    await push(
        client,
        token,
        [
            contact("ann", "family", age=30),
            contact("bob", "work", age=50),
            contact("cy", "family", age=70),
        ],
    )
    by_id = await changes(client, token, {"doc_ids": ["cy", "ann", "nobody"]}, filter="_doc_ids")
    assert ids(by_id) == ["ann", "cy"]
    selected = await changes(
        client,
        token,
        {"selector": {"groups": {"$elemMatch": {"$eq": "family"}}, "age": {"$gt": 40}}},
        filter="_selector",
    )
    assert ids(selected) == ["cy"]
    assert "doc" not in selected["results"][0]
    limited = await changes(
        client, token, {"selector": {"age": {"$gte": 0}}}, filter="_selector", limit=2
    )
    assert len(ids(limited)) == 2
    assert set(ids(limited)) <= {"ann", "bob", "cy"}
    assert limited["last_seq"] == limited["results"][-1]["seq"]


async def test_server_side_filter_functions_are_refused(client, instance, issue_token) -> None:
    token = await issue_token(instance, WHOLE)
    response = await client.get(
        f"/data/{CONTACTS}/_changes", params={"filter": "app/by_group"}, headers=bearer(token)
    )
    assert response.status_code == 400
    bad_selector = await client.post(
        f"/data/{CONTACTS}/_changes",
        params={"filter": "_selector"},
        json={"selector": {"a": {"$where": "1"}}},
        headers=bearer(token),
    )
    assert bad_selector.status_code == 400


async def test_longpoll_answers_when_nothing_changes_within_the_timeout(
    client, instance, issue_token
) -> None:
    token = await issue_token(instance, WHOLE)
    await push(client, token, [contact("ann")])
    feed = await changes(client, token, feed="longpoll", since="now", timeout=300)
    assert feed["results"] == []
    assert feed["last_seq"]


async def test_longpoll_wakes_up_on_a_replicated_write(client, instance, issue_token) -> None:
    token = await issue_token(instance, WHOLE)
    await push(client, token, [contact("ann")])
    since = (await changes(client, token))["last_seq"]

    async def write_soon() -> None:
        await asyncio.sleep(0.2)
        await push(client, token, [contact("bob")])

    feed, _ = await asyncio.gather(
        changes(client, token, feed="longpoll", since=since, timeout=30000), write_soon()
    )
    assert ids(feed) == ["bob"]


async def test_longpoll_heartbeats_keep_the_body_valid_json(client, instance, issue_token) -> None:
    token = await issue_token(instance, WHOLE)
    response = await client.get(
        f"/data/{CONTACTS}/_changes",
        params={"feed": "longpoll", "since": "now", "timeout": "700", "heartbeat": "200"},
        headers=bearer(token),
    )
    assert response.status_code == 200
    assert response.text.count("\n") > 3
    assert json.loads(response.text)["results"] == []


async def test_continuous_feed_is_one_json_object_per_line(client, instance, issue_token) -> None:
    token = await issue_token(instance, WHOLE)
    await push(client, token, [contact("ann"), contact("bob")])
    response = await client.get(
        f"/data/{CONTACTS}/_changes",
        params={"feed": "continuous", "timeout": "300"},
        headers=bearer(token),
    )
    lines = [json.loads(line) for line in response.text.splitlines() if line.strip()]
    assert [line.get("id") for line in lines[:-1]] == ["ann", "bob"]
    assert "last_seq" in lines[-1]


async def test_revs_diff_names_what_roost_lacks(client, instance, issue_token) -> None:
    token = await issue_token(instance, WHOLE)
    [written] = await push(client, token, [contact("ann")])
    response = await client.post(
        f"/data/{CONTACTS}/_revs_diff",
        json={"ann": [written["rev"], "2-feed"], "new": ["1-abc"]},
        headers=bearer(token),
    )
    assert response.status_code == 200, response.text
    diff = response.json()
    assert diff["ann"]["missing"] == ["2-feed"]
    assert diff["new"]["missing"] == ["1-abc"]


async def test_bulk_get_returns_revisions_with_history(client, instance, issue_token) -> None:
    token = await issue_token(instance, WHOLE)
    [written] = await push(client, token, [contact("ann")])
    response = await client.post(
        f"/data/{CONTACTS}/_bulk_get",
        params={"revs": "true"},
        json={"docs": [{"id": "ann", "rev": written["rev"]}, {"id": "ghost", "rev": "1-x"}]},
        headers=bearer(token),
    )
    assert response.status_code == 200, response.text
    [ann, ghost] = response.json()["results"]
    doc = ann["docs"][0]["ok"]
    assert doc["_rev"] == written["rev"]
    assert doc["_revisions"]["start"] == 1
    assert "ok" not in ghost["docs"][0]


async def test_bulk_docs_new_edits_false_keeps_revisions_exactly(
    client, instance, issue_token
) -> None:
    token = await issue_token(instance, WHOLE)
    doc = {
        "_id": "dev",
        "_rev": "2-bbb",
        "_revisions": {"start": 2, "ids": ["bbb", "aaa"]},
        "fullname": "From a device",
    }
    answer = await push(client, token, [doc], new_edits=False)
    assert answer == []
    stored = await client.get(
        f"/data/{CONTACTS}/dev", params={"revs": "true"}, headers=bearer(token)
    )
    body = stored.json()
    assert body["_rev"] == "2-bbb"
    assert body["_revisions"]["ids"] == ["bbb", "aaa"]
    # Replicated revisions are stored as sent: no cozyMetadata forced on them.
    assert "cozyMetadata" not in body


async def test_bulk_docs_new_edits_true_stamps_cozy_metadata(client, instance, issue_token) -> None:
    token = await issue_token(instance, WHOLE)
    [written] = await push(client, token, [{"fullname": "No id"}])
    assert written["ok"] is True
    stored = await client.get(f"/data/{CONTACTS}/{written['id']}", headers=bearer(token))
    assert stored.json()["cozyMetadata"]["createdAt"]


async def test_bulk_docs_refuses_per_document_what_may_not_be_stored(
    client, instance, issue_token
) -> None:
    token = await issue_token(instance, WHOLE)
    answer = await push(
        client,
        token,
        [
            {"_id": "_design/evil", "_rev": "1-a", "views": {}},
            {"_id": "bad", "_rev": "1-b", "email": [{"address": "not an address"}]},
            {"_id": "odd", "_rev": "1-c", "_secret": 1},
            {"_id": "fine", "_rev": "1-d", "fullname": "Fine"},
        ],
        new_edits=False,
    )
    by_id = {entry["id"]: entry for entry in answer}
    assert set(by_id) == {"_design/evil", "bad", "odd"}
    assert all(entry["error"] == "forbidden" for entry in answer)
    assert "design documents" in by_id["_design/evil"]["reason"]
    assert "schema" in by_id["bad"]["reason"]
    all_docs = await client.get(f"/data/{CONTACTS}/_all_docs", headers=bearer(token))
    assert [row["id"] for row in all_docs.json()["rows"]] == ["fine"]


async def test_bulk_docs_needs_a_write_verb_and_a_writable_doctype(
    client, instance, issue_token, services
) -> None:
    contacts_before = await stored_revs(services, instance, CONTACTS)
    files_before = await stored_revs(services, instance, FILES)
    reader = await issue_token(instance, "io.cozy.contacts:GET")
    response = await client.post(
        f"/data/{CONTACTS}/_bulk_docs", json={"docs": [contact("x")]}, headers=bearer(reader)
    )
    assert response.status_code == 403
    files = await issue_token(instance, "io.cozy.files")
    response = await client.post(
        "/data/io.cozy.files/_bulk_docs", json={"docs": [{"_id": "f"}]}, headers=bearer(files)
    )
    assert response.status_code == 403
    # Refused as a whole, before the store: neither "x" nor "f" was written.
    assert await stored_revs(services, instance, CONTACTS) == contacts_before
    assert await stored_revs(services, instance, FILES) == files_before


async def test_local_documents_of_two_tokens_never_collide(client, instance, issue_token) -> None:
    phone = await issue_token(instance, "io.cozy.contacts:GET")
    laptop = await issue_token(instance, "io.cozy.contacts:GET")
    url = f"/data/{CONTACTS}/_local/replication-1"
    put = await client.put(url, json={"last_seq": 5}, headers=bearer(phone))
    assert put.status_code == 201, put.text
    assert put.json()["id"] == "_local/replication-1"
    assert (await client.get(url, headers=bearer(laptop))).status_code == 404
    got = await client.get(url, headers=bearer(phone))
    assert got.json()["_id"] == "_local/replication-1"
    assert got.json()["last_seq"] == 5
    laptop_put = await client.put(url, json={"last_seq": 9}, headers=bearer(laptop))
    assert laptop_put.status_code == 201
    update = await client.put(
        url, json={"last_seq": 6, "_rev": got.json()["_rev"]}, headers=bearer(phone)
    )
    assert update.status_code == 201, update.text
    assert (await client.get(url, headers=bearer(phone))).json()["last_seq"] == 6
    assert (await client.get(url, headers=bearer(laptop))).json()["last_seq"] == 9
    deleted = await client.delete(url, params={"rev": update.json()["rev"]}, headers=bearer(phone))
    assert deleted.status_code == 200, deleted.text
    assert (await client.get(url, headers=bearer(phone))).status_code == 404
    # _local documents never show in the feed.
    assert (await changes(client, laptop))["results"] == []


async def test_local_document_revisions_are_checked_by_roost(client, instance, issue_token) -> None:
    """The same on every store: Apache CouchDB itself takes any `_rev` on a `_local` doc."""
    token = bearer(await issue_token(instance, WHOLE))
    url = f"/data/{CONTACTS}/_local/checked"
    conflict = {"error": "conflict"}

    absent_with_rev = await client.put(url, json={"_rev": "0-1", "seq": 1}, headers=token)
    assert absent_with_rev.status_code == 409
    assert absent_with_rev.json().items() >= conflict.items()
    assert (await client.get(url, headers=token)).status_code == 404

    created = await client.put(url, json={"seq": 1}, headers=token)
    assert created.status_code == 201, created.text
    current = created.json()["rev"]
    for stale in ({"seq": 2}, {"seq": 2, "_rev": "0-999"}):
        refused = await client.put(url, json=stale, headers=token)
        assert refused.status_code == 409, refused.text
    stale_delete = await client.delete(url, params={"rev": "0-999"}, headers=token)
    assert stale_delete.status_code == 409
    kept = (await client.get(url, headers=token)).json()
    assert kept["seq"] == 1 and kept["_rev"] == current

    updated = await client.put(url, json={"seq": 2, "_rev": current}, headers=token)
    assert updated.status_code == 201, updated.text
    assert (await client.get(url, headers=token)).json()["seq"] == 2
    deleted = await client.delete(url, params={"rev": updated.json()["rev"]}, headers=token)
    assert deleted.status_code == 200
    assert (
        await client.delete(url, params={"rev": updated.json()["rev"]}, headers=token)
    ).status_code == 404


async def test_ensure_full_commit(client, instance, issue_token) -> None:
    token = await issue_token(instance, WHOLE)
    response = await client.post(f"/data/{CONTACTS}/_ensure_full_commit", headers=bearer(token))
    assert response.status_code == 201
    assert response.json()["ok"] is True


async def test_open_revs_with_latest_follows_to_the_leaf(client, instance, issue_token) -> None:
    token = await issue_token(instance, WHOLE)
    [first] = await push(client, token, [contact("ann")])
    [second] = await push(client, token, [{**contact("ann"), "_rev": first["rev"], "age": 3}])
    response = await client.get(
        f"/data/{CONTACTS}/ann",
        params={"open_revs": json.dumps([first["rev"]]), "latest": "true", "revs": "true"},
        headers=bearer(token),
    )
    assert response.status_code == 200, response.text
    [entry] = response.json()
    assert entry["ok"]["_rev"] == second["rev"]
    assert entry["ok"]["_revisions"]["start"] == 2


async def test_changes_of_a_large_doctype_stream(
    client: httpx.AsyncClient, instance, issue_token
) -> None:
    token = await issue_token(instance, WHOLE)
    for start in range(0, 1200, 400):
        await push(client, token, [contact(f"n{i:05}") for i in range(start, start + 400)])
    feed = await changes(client, token, include_docs=True)
    assert len(feed["results"]) == 1200
    assert feed["results"][-1]["doc"]["_id"] == "n01199"


async def test_bulk_get_answers_each_request_with_the_revision_it_names(
    client, instance, issue_token
) -> None:
    """Roost first reads each id's current revision; a request naming another revision (an
    older one, a deleted one) still gets exactly that revision, in request order."""
    token = await issue_token(instance, WHOLE)
    [first, gone] = await push(client, token, [contact("ann"), contact("bob")])
    [second] = await push(client, token, [{**contact("ann", age=2), "_rev": first["rev"]}])
    [deleted] = await push(client, token, [{"_id": "bob", "_rev": gone["rev"], "_deleted": True}])
    response = await client.post(
        f"/data/{CONTACTS}/_bulk_get",
        params={"revs": "true"},
        json={
            "docs": [
                {"id": "ann", "rev": second["rev"]},
                {"id": "ann", "rev": first["rev"]},
                {"id": "bob", "rev": deleted["rev"]},
                {"id": "ann"},
            ]
        },
        headers=bearer(token),
    )
    assert response.status_code == 200, response.text
    current, older, tombstone, winner = response.json()["results"]
    assert [item["id"] for item in (current, older, tombstone, winner)] == [
        "ann",
        "ann",
        "bob",
        "ann",
    ]
    assert current["docs"][0]["ok"]["_rev"] == second["rev"]
    assert current["docs"][0]["ok"]["age"] == 2
    assert older["docs"][0]["ok"]["_rev"] == first["rev"]
    assert "age" not in older["docs"][0]["ok"]
    assert tombstone["docs"][0]["ok"]["_deleted"] is True
    assert tombstone["docs"][0]["ok"]["_revisions"]["start"] == 2
    assert winner["docs"][0]["ok"]["_rev"] == second["rev"]
