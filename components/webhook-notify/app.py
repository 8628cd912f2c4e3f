"""webhook-notify: a riposte handling component written in Python.

`NotifyWebhook` posts the handling decision (action, task, entity, target,
parameters) as JSON to the target's endpoint, a chat or ticketing webhook.
The receiver is told the task's idempotency key in an `Idempotency-Key`
header, so a retried task never opens a second ticket with a receiver that
honours it. `revert` deletes what the post created (the `Location` the
receiver answered with), e.g. closes the ticket; `plan` says what would be
posted and sends nothing.

Build: componentize-py -d ../../wit -w riposte:component/handling-component
componentize app -o webhook_notify.wasm
"""

import email.utils
import json
import time
from urllib.parse import urljoin, urlsplit

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import log, outgoing_handler, poll
from wit_world.imports import riposte_component_types as t
from wit_world.imports import streams
from wit_world.imports import wasi_http_types as http

NAME = "webhook-notify"
VERSION = "0.1.0"
ACTION = "NotifyWebhook"

# The receiver must answer within this budget; the host's own per-call
# deadline (30 s by default) bounds the whole call anyway.
TIMEOUT_NS = 10 * 1_000_000_000

# Enough of an error answer to show an operator what the receiver said.
MAX_ERROR_BODY = 64 * 1024
MAX_RETRY_AFTER_MS = 3600 * 1000

KIND_NAMES = {
    t.EntityKind.IP: "ip",
    t.EntityKind.CIDR: "cidr",
    t.EntityKind.DOMAIN: "domain",
    t.EntityKind.URL: "url",
    t.EntityKind.FILE_HASH: "file-hash",
    t.EntityKind.FILE: "file",
    t.EntityKind.PROCESS: "process",
    t.EntityKind.HOST: "host",
    t.EntityKind.CONTAINER: "container",
    t.EntityKind.CLOUD_RESOURCE: "cloud-resource",
    t.EntityKind.ACCOUNT: "account",
}


def failure(kind, message, retryable=False, retry_after_ms=None):
    """A typed failure, raised as the `Err` of the export's result."""
    return Err(t.Failure(kind=kind, message=message, retryable=retryable,
                         retry_after_ms=retry_after_ms))


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name):
        for key, value in self.headers:
            if key.lower() == name:
                return value.decode("latin-1")
        return None


def transport_failure(code):
    """Classifies a wasi:http error code the way the Rust SDK does."""
    if isinstance(code, http.ErrorCode_HttpRequestDenied):
        return failure(t.FailureKind.UNREACHABLE,
                       "request refused by the host's egress gate (not granted)")
    timeouts = (http.ErrorCode_ConnectionTimeout, http.ErrorCode_ConnectionReadTimeout,
                http.ErrorCode_ConnectionWriteTimeout, http.ErrorCode_HttpResponseTimeout,
                http.ErrorCode_DnsTimeout)
    if isinstance(code, timeouts):
        return failure(t.FailureKind.TIMEOUT, f"webhook did not answer in time: "
                       f"{type(code).__name__.split('_', 1)[-1]}", retryable=True)
    return failure(t.FailureKind.UNREACHABLE,
                   f"webhook unreachable: {type(code).__name__.split('_', 1)[-1]}",
                   retryable=True)


def send(method, url, headers, body=b""):
    """Sends one request through the host's gate and reads the answer."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise failure(t.FailureKind.INVALID_INPUT,
                      f"endpoint `{url}` is not an http(s) URL")
    fields = http.Fields.from_list([(k, v.encode()) for k, v in headers])
    request = http.OutgoingRequest(fields)
    request.set_method(method)
    request.set_scheme(http.Scheme_Https() if parts.scheme == "https" else http.Scheme_Http())
    request.set_authority(parts.netloc)
    request.set_path_with_query((parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
    options = http.RequestOptions()
    options.set_connect_timeout(TIMEOUT_NS)
    options.set_first_byte_timeout(TIMEOUT_NS)
    options.set_between_bytes_timeout(TIMEOUT_NS)

    outgoing = request.body()
    try:
        future = outgoing_handler.handle(request, options)
    except Err as err:
        raise transport_failure(err.value)
    # When the gate refuses the request, the body stream is closed and the
    # reason comes with the response future: stop writing, then read it.
    try:
        with outgoing.write() as stream:
            for at in range(0, len(body), 4096):
                stream.blocking_write_and_flush(body[at:at + 4096])
        http.OutgoingBody.finish(outgoing, None)
    except Err:
        pass

    with future:
        with future.subscribe() as ready:
            ready.block()
        answer = future.get()
    if answer is None or isinstance(answer, Err):
        raise failure(t.FailureKind.INTERNAL, "the response was already taken")
    inner = answer.value
    if isinstance(inner, Err):
        raise transport_failure(inner.value)
    with inner.value as response:
        status = response.status()
        with response.headers() as fields:
            received = fields.entries()
        data = read_body(response)
    return Response(status, received, data)


def read_body(response):
    incoming = response.consume()
    chunks, size = [], 0
    with incoming.stream() as stream:
        while size < MAX_ERROR_BODY:
            try:
                chunk = stream.blocking_read(MAX_ERROR_BODY - size)
            except Err as err:
                if isinstance(err.value, streams.StreamError_Closed):
                    break
                raise failure(t.FailureKind.UNREACHABLE,
                              "the webhook's answer broke off", retryable=True)
            chunks.append(chunk)
            size += len(chunk)
    incoming.__exit__(None, None, None)
    return b"".join(chunks)


def retry_after_ms(value):
    """`Retry-After` as delta-seconds or an HTTP date (RFC 9110 10.2.3)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return min(int(value) * 1000, MAX_RETRY_AFTER_MS)
    try:
        when = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0, min(int((when - time.time()) * 1000), MAX_RETRY_AFTER_MS))


def answer_failure(what, response):
    """A typed failure for a non-2xx answer."""
    status = response.status
    said = response.body[:200].decode("utf-8", "replace").strip()
    message = f"{what}: webhook answered {status}" + (f": {said}" if said else "")
    if status == 429:
        return failure(t.FailureKind.THROTTLED, message, retryable=True,
                       retry_after_ms=retry_after_ms(response.header("retry-after")))
    if status >= 500:
        return failure(t.FailureKind.UNREACHABLE, message, retryable=True,
                       retry_after_ms=retry_after_ms(response.header("retry-after")))
    if status == 408:
        return failure(t.FailureKind.TIMEOUT, message, retryable=True)
    if status in (401, 403):
        return failure(t.FailureKind.PERMISSION_DENIED, message)
    if status in (404, 410):
        return failure(t.FailureKind.NOT_FOUND, message)
    if status == 409:
        return failure(t.FailureKind.CONFLICT, message)
    if 300 <= status < 400:
        location = response.header("location") or "?"
        return failure(t.FailureKind.INVALID_INPUT,
                       f"{message} (a redirect to {location}; set the target's endpoint "
                       "to the final URL, redirects are not followed)")
    return failure(t.FailureKind.INVALID_INPUT, message)


def payload(request):
    """The JSON document posted for `request`."""
    entity = request.entity
    kind = KIND_NAMES[entity.kind]
    target = request.target
    text = (f"riposte: {request.action} on {kind} `{entity.value}` "
            f"(task {request.task_id}, target {target.id})")
    return {
        "event": "riposte.action",
        "text": text,
        "action": request.action,
        "task": {
            "id": request.task_id,
            "attempt": request.attempt,
            "idempotency_key": request.idempotency_key,
        },
        "entity": {"kind": kind, "value": entity.value,
                   "attributes": dict(entity.attributes)},
        "target": {"id": target.id, "provider": target.provider,
                   "account": target.account, "region": target.region,
                   "resource": target.resource},
        "duration_seconds": request.duration_seconds,
        "parameters": dict(request.parameters),
    }


def check_request(request):
    if request.action != ACTION:
        raise failure(t.FailureKind.INVALID_INPUT,
                      f"{NAME} has no action `{request.action}`; it implements {ACTION}")
    if not request.target.endpoint:
        raise failure(t.FailureKind.INVALID_INPUT,
                      f"target `{request.target.id}` has no endpoint; set it to the webhook URL")


def json_headers(request):
    return [("content-type", "application/json"),
            ("idempotency-key", request.idempotency_key),
            ("user-agent", f"riposte-{NAME}/{VERSION}")]


def typed(call):
    """Lets typed failures through and turns any other error of the
    bindings into an `internal` failure instead of a trap."""
    def guarded(self, *args):
        try:
            return call(self, *args)
        except Err as err:
            if isinstance(err.value, t.Failure):
                raise
            raise failure(t.FailureKind.INTERNAL, f"{call.__name__}: unexpected {err.value!r}")
    guarded.__name__ = call.__name__
    return guarded


class Handler(exports.Handler):
    def describe(self):
        return t.ComponentInfo(
            name=NAME,
            version=VERSION,
            description="Notify a chat or ticketing webhook of a handling decision (Python)",
            actions=[t.ActionInfo(
                id=ACTION,
                action_type="notify",
                description="POST the action, task, entity and target as JSON to the target's "
                            "endpoint with an Idempotency-Key header; revert deletes what the "
                            "post created (its Location)",
                entity_kinds=list(KIND_NAMES),
                reversible=True,
                retryable=True,
                settings=[],
            )],
            # Webhooks live anywhere: the operator grants the one host of
            # the target's endpoint (`riposte component grant`).
            hosts=[],
            needs_credential=False,
        )

    @typed
    def execute(self, request):
        check_request(request)
        body = json.dumps(payload(request), separators=(",", ":")).encode()
        url = request.target.endpoint
        response = send(http.Method_Post(), url, json_headers(request), body)
        if not 200 <= response.status < 300:
            raise answer_failure(f"POST {url}", response)
        location = response.header("location")
        token = json.dumps({"delete": urljoin(url, location)}) if location else None
        # 201 Created: this post made it; any other 2xx to a repeated key
        # means the receiver already had it.
        created = response.status != 200 or not location
        log.write(log.Level.INFO, f"posted {len(body)} bytes to {url}: {response.status}")
        return t.Outcome(
            detail=f"webhook {url} answered {response.status}"
                   + (f", created {location}" if location else ""),
            changed=created,
            revert_token=token,
            items=[],
        )

    @typed
    def revert(self, request, revert_token):
        check_request(request)
        try:
            url = json.loads(revert_token)["delete"]
        except (ValueError, KeyError, TypeError):
            raise failure(t.FailureKind.INVALID_INPUT,
                          "revert token is not from NotifyWebhook")
        headers = [("idempotency-key", request.idempotency_key + ":revert"),
                   ("user-agent", f"riposte-{NAME}/{VERSION}")]
        response = send(http.Method_Delete(), url, headers)
        if response.status in (404, 410):
            return t.Outcome(detail=f"{url} was already gone", changed=False,
                             revert_token=None, items=[])
        if not 200 <= response.status < 300:
            raise answer_failure(f"DELETE {url}", response)
        return t.Outcome(detail=f"deleted {url}", changed=True, revert_token=None, items=[])

    @typed
    def plan(self, request):
        check_request(request)
        body = json.dumps(payload(request), separators=(",", ":"))
        return t.PlanOutcome(
            changes=[f"POST {request.target.endpoint} (Idempotency-Key "
                     f"{request.idempotency_key}): {body}"],
            reversible=True,
        )
