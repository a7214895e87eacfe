"""`/jobs/…`: queue jobs, read them, manage triggers, receive webhooks.

Permissions follow cozy-stack: queuing checks POST on `io.cozy.jobs` against a document
whose `worker` is the queued worker (so `io.cozy.jobs:POST:sendmail:worker` may queue only
sendmail jobs); reading a job or a trigger checks GET on that document; a job or trigger the
caller may not read answers like a missing one. Webhooks need no credentials: the trigger
id is the secret.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from roost.errors import BadRequest, NotFound
from roost.jobs import JOBS_DOCTYPE, TRIGGERS_DOCTYPE, JobDoc, TriggerDoc
from roost.jobs.events import parse_event_rules
from roost.jobs.workers import validate_worker_name
from roost.permissions import SOME_DOCUMENTS, Decision, DocumentTarget, SomeDocuments, decide
from roost.principals import Principal
from roost.web.context import (
    instance_of,
    parse_json,
    principal_of,
    read_body,
    read_json,
    services_of,
)


def _decide(
    principal: Principal, verb: str, doctype: str, target: DocumentTarget | SomeDocuments | None
) -> Decision:
    """`decide` on the stack surface: the jobs API manages its own doctypes."""
    return decide(
        principal.permissions, verb, doctype, target, now=datetime.now(UTC), surface="stack"
    )


def _attributes(body: Any) -> dict[str, Any]:
    """The request's attributes, plain or in cozy-stack's `{"data": {"attributes": …}}`."""
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    data = body.get("data")
    if isinstance(data, dict) and isinstance(data.get("attributes"), dict):
        attributes: dict[str, Any] = data["attributes"]
        return attributes
    return body


async def _optional_json(request: Request) -> Any:
    if not request.headers.get("content-length") and "transfer-encoding" not in request.headers:
        return None
    body = await read_body(request, services_of(request).config.max_body_bytes)
    if not body.strip():
        return None
    return parse_json(body)


def _job_target(job: JobDoc) -> DocumentTarget:
    return DocumentTarget({"_id": job.id, "worker": job.worker, "state": job.state})


def _trigger_target(trigger: TriggerDoc) -> DocumentTarget:
    return DocumentTarget({"_id": trigger.id, "worker": trigger.worker, "type": trigger.type})


async def get_job(request: Request) -> Response:
    """`GET /jobs/{job_id}`: one job, if the principal may read it (else 404, as if absent)."""
    principal = await principal_of(request)
    _decide(principal, "GET", JOBS_DOCTYPE, SOME_DOCUMENTS).enforce()
    services = services_of(request)
    job = await services.jobs.get(instance_of(request), request.path_params["job_id"])
    _decide(principal, "GET", JOBS_DOCTYPE, _job_target(job)).enforce()
    return JSONResponse(job.to_json())


async def queue_job(request: Request) -> Response:
    """`POST /jobs/queue/{worker}`: queue a job for a named worker (202)."""
    principal = await principal_of(request)
    worker = validate_worker_name(request.path_params["worker"])
    # The caller names the worker: refusing it openly tells nothing.
    new_job = DocumentTarget({"_id": "", "worker": worker})
    _decide(principal, "POST", JOBS_DOCTYPE, new_job).enforce_openly()
    attributes = _attributes(await _optional_json(request))
    message = attributes.get("arguments", attributes.get("message"))
    options = attributes.get("options")
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise BadRequest("options must be a JSON object")
    max_attempts = options.get("max_attempts", options.get("max_exec_count"))
    if max_attempts is not None and (
        isinstance(max_attempts, bool) or not isinstance(max_attempts, int)
    ):
        raise BadRequest("max_attempts must be an integer")
    services = services_of(request)
    job = await services.jobs.enqueue(
        instance_of(request), worker, message, max_attempts=max_attempts
    )
    return JSONResponse(job.to_json(), status_code=202)


async def list_triggers(request: Request) -> Response:
    """`GET /jobs/triggers`: the triggers the principal may read (by `worker`, `type`)."""
    principal = await principal_of(request)
    _decide(principal, "GET", TRIGGERS_DOCTYPE, SOME_DOCUMENTS).enforce()
    now = datetime.now(UTC)
    worker = request.query_params.get("worker") or request.query_params.get("Worker")
    kind = request.query_params.get("type") or request.query_params.get("Type")
    services = services_of(request)
    triggers = await services.jobs.list_triggers(instance_of(request), worker=worker)
    visible = [
        trigger.to_json()
        for trigger in triggers
        if (kind is None or trigger.type == kind)
        and decide(
            principal.permissions,
            "GET",
            TRIGGERS_DOCTYPE,
            _trigger_target(trigger),
            now=now,
            surface="stack",
        ).allowed
    ]
    return JSONResponse({"triggers": visible})


async def create_trigger(request: Request) -> Response:
    """`POST /jobs/triggers`: a new trigger; an `@event` one needs to read what it watches."""
    principal = await principal_of(request)
    _decide(principal, "POST", TRIGGERS_DOCTYPE, SOME_DOCUMENTS).enforce()
    attributes = _attributes(await read_json(request))
    kind = attributes.get("type")
    arguments = attributes.get("arguments", "")
    worker = attributes.get("worker")
    if not isinstance(kind, str) or not isinstance(arguments, str) or not isinstance(worker, str):
        raise BadRequest("a trigger needs type, worker (strings) and arguments (a string)")
    debounce = attributes.get("debounce")
    if debounce is not None and not isinstance(debounce, str):
        raise BadRequest('debounce is a duration in a string, e.g. "2s"')
    validate_worker_name(worker)
    trigger_target = DocumentTarget({"_id": "", "type": kind, "worker": worker})
    _decide(principal, "POST", TRIGGERS_DOCTYPE, trigger_target).enforce_openly()
    if kind == "@event":
        # The jobs will carry the changed documents: only for one who may read them all.
        for rule in parse_event_rules(arguments):
            _decide(principal, "GET", rule.doctype, None).enforce()
    services = services_of(request)
    trigger = await services.jobs.create_trigger(
        instance_of(request), kind, arguments, worker, attributes.get("message"), debounce=debounce
    )
    return JSONResponse(trigger.to_json(), status_code=201)


async def _readable_trigger(request: Request, principal: Principal) -> TriggerDoc:
    services = services_of(request)
    trigger = await services.jobs.get_trigger(
        instance_of(request), request.path_params["trigger_id"]
    )
    _decide(principal, "GET", TRIGGERS_DOCTYPE, _trigger_target(trigger)).enforce()
    return trigger


async def get_trigger(request: Request) -> Response:
    """`GET /jobs/triggers/{trigger_id}`: one trigger."""
    principal = await principal_of(request)
    _decide(principal, "GET", TRIGGERS_DOCTYPE, SOME_DOCUMENTS).enforce()
    trigger = await _readable_trigger(request, principal)
    return JSONResponse(trigger.to_json())


async def delete_trigger(request: Request) -> Response:
    """`DELETE /jobs/triggers/{trigger_id}`: remove a trigger."""
    principal = await principal_of(request)
    _decide(principal, "DELETE", TRIGGERS_DOCTYPE, SOME_DOCUMENTS).enforce()
    trigger = await _readable_trigger(request, principal)
    _decide(principal, "DELETE", TRIGGERS_DOCTYPE, _trigger_target(trigger)).enforce()
    await services_of(request).jobs.delete_trigger(instance_of(request), trigger.id)
    return Response(status_code=204)


async def webhook(request: Request) -> Response:
    """`POST /jobs/webhooks/{trigger_id}`: fire an `@webhook` trigger (its id is the secret)."""
    services = services_of(request)
    instance = instance_of(request)
    # Look the trigger up before reading the body: an unknown id costs no upload.
    trigger = await services.jobs.get_trigger(instance, request.path_params["trigger_id"])
    if trigger.type != "@webhook":
        raise NotFound("missing")
    body = await read_body(request, services.config.max_body_bytes)
    payload: Any = None
    if body.strip():
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest("a webhook payload must be JSON or UTF-8 text") from None
        if content_type in ("application/json", "") or content_type.endswith("+json"):
            try:
                payload = json.loads(text)
            except ValueError:
                if content_type:
                    raise BadRequest("the body is not valid JSON") from None
                payload = text
        else:
            payload = text
    job = await services.jobs.fire_webhook(instance, trigger.id, payload)
    return JSONResponse({"ok": True, "job_id": job.id}, status_code=202)


ROUTES = [
    Route("/jobs/queue/{worker}", queue_job, methods=["POST"]),
    Route("/jobs/triggers", list_triggers, methods=["GET"]),
    Route("/jobs/triggers", create_trigger, methods=["POST"]),
    Route("/jobs/triggers/{trigger_id}", get_trigger, methods=["GET"]),
    Route("/jobs/triggers/{trigger_id}", delete_trigger, methods=["DELETE"]),
    Route("/jobs/webhooks/{trigger_id}", webhook, methods=["POST"]),
    Route("/jobs/{job_id}", get_job, methods=["GET"]),
]
