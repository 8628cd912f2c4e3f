// webhook-signed: a riposte handling component written in JavaScript.
//
// `NotifySignedWebhook` shares a network indicator (an ip, cidr, domain or
// url being handled) with a partner's webhook, signed so the receiver can
// trust it: the body is posted with
//
//   X-Riposte-Key-Id: <the credential's public id>
//   X-Riposte-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">
//   Idempotency-Key: <the task's idempotency key>
//
// The HMAC is computed by the host through the `secrets` import: the
// secret never enters this component. `revert` sends a signed DELETE for
// what the post created (its Location); `plan` sends nothing.
//
// Build: componentize-js --wit ../../wit -n riposte:component/handling-component
//        -o webhook_signed.wasm app.js

import { Secret } from "riposte:component/secrets@0.1.0";
import { write as writeLog } from "riposte:component/log@0.1.0";

const NAME = "webhook-signed";
const VERSION = "0.1.0";
const ACTION = "NotifySignedWebhook";
const KINDS = ["ip", "cidr", "domain", "url"];

// The receiver must answer within this budget; the host's per-call
// deadline (30 s by default) bounds the whole call anyway.
const TIMEOUT_MS = 10_000;
const MAX_RETRY_AFTER_MS = 3_600_000;

const encoder = new TextEncoder();

/// A typed failure, thrown as the error of the export's result.
class Failure {
  constructor(kind, message, retryable = false, retryAfterMs = undefined) {
    this.payload = {
      kind,
      message,
      retryable,
      retryAfterMs: retryAfterMs === undefined ? undefined : BigInt(retryAfterMs),
    };
  }
}

const fail = (kind, message, retryable, retryAfterMs) => {
  throw new Failure(kind, message, retryable, retryAfterMs);
};

function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/// Opens the target's credential; the host refuses it unless granted.
function openCredential(request) {
  const name = request.target.credential;
  if (!name) {
    fail("invalid-input", `target \`${request.target.id}\` has no credential; set one to sign with`);
  }
  try {
    return Secret.open(name);
  } catch (err) {
    fail("permission-denied", `credential \`${name}\` is not granted to ${NAME} for this target`);
  }
}

/// The signature headers for `body`, computed by the host with the secret.
function signatureHeaders(secret, body) {
  const timestamp = Math.floor(Date.now() / 1000).toString();
  let mac;
  try {
    mac = secret.hmacSha256(new Uint8Array(0), encoder.encode(`${timestamp}.${body}`));
  } catch (err) {
    fail("internal", "the host could not compute the signature");
  }
  return {
    "x-riposte-key-id": secret.publicId(),
    "x-riposte-signature": `t=${timestamp},v1=${hex(mac)}`,
  };
}

/// `Retry-After` as delta-seconds or an HTTP date (RFC 9110 10.2.3).
function retryAfterMs(value) {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Math.min(Number(text) * 1000, MAX_RETRY_AFTER_MS);
  const when = Date.parse(text);
  if (Number.isNaN(when)) return undefined;
  return Math.max(0, Math.min(when - Date.now(), MAX_RETRY_AFTER_MS));
}

/// A typed failure for a non-2xx answer.
async function answerFailure(what, response) {
  const status = response.status;
  const said = (await response.text().catch(() => "")).slice(0, 200).trim();
  const message = `${what}: webhook answered ${status}${said ? `: ${said}` : ""}`;
  const after = retryAfterMs(response.headers.get("retry-after"));
  if (status === 429) fail("throttled", message, true, after);
  if (status >= 500) fail("unreachable", message, true, after);
  if (status === 408) fail("timeout", message, true);
  if (status === 401 || status === 403) fail("permission-denied", message);
  if (status === 404 || status === 410) fail("not-found", message);
  if (status === 409) fail("conflict", message);
  if (status >= 300 && status < 400) {
    fail("invalid-input", `${message} (a redirect; set the target's endpoint to the final URL)`);
  }
  fail("invalid-input", message);
}

/// Sends one request through the host's gate; transport errors become
/// typed failures.
async function send(url, init) {
  let parsed;
  try {
    parsed = new URL(url);
  } catch (err) {
    fail("invalid-input", `endpoint \`${url}\` is not a URL`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    fail("invalid-input", `endpoint \`${url}\` is not an http(s) URL`);
  }
  try {
    return await fetch(url, {
      ...init,
      redirect: "manual",
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (err) {
    const text = String(err && err.message ? err.message : err);
    if (/denied/i.test(text)) {
      fail("unreachable", `request to ${parsed.origin} refused by the host's egress gate (not granted)`);
    }
    if (/timeout|timed out|abort/i.test(text)) {
      fail("timeout", `webhook ${parsed.origin} did not answer in ${TIMEOUT_MS} ms`, true);
    }
    fail("unreachable", `webhook ${parsed.origin} unreachable: ${text}`, true);
  }
}

function checkRequest(request, kindCheck = true) {
  if (request.action !== ACTION) {
    fail("invalid-input", `${NAME} has no action \`${request.action}\`; it implements ${ACTION}`);
  }
  if (kindCheck && !KINDS.includes(request.entity.kind)) {
    fail(
      "invalid-input",
      `${ACTION} shares ${KINDS.join(", ")} indicators, not \`${request.entity.kind}\``,
    );
  }
  if (!request.target.endpoint) {
    fail("invalid-input", `target \`${request.target.id}\` has no endpoint; set it to the webhook URL`);
  }
}

/// The JSON document posted for `request`.
function payload(request) {
  const { entity, target } = request;
  return JSON.stringify({
    event: "riposte.indicator",
    action: request.action,
    task: { id: request.taskId, attempt: request.attempt, idempotency_key: request.idempotencyKey },
    indicator: { kind: entity.kind, value: entity.value },
    target: { id: target.id, provider: target.provider, account: target.account },
    duration_seconds:
      request.durationSeconds === undefined || request.durationSeconds === null
        ? null
        : Number(request.durationSeconds),
    parameters: Object.fromEntries(request.parameters),
  });
}

export const handler = {
  describe() {
    return {
      name: NAME,
      version: VERSION,
      description: "Share network indicators with a partner webhook, HMAC-signed (JavaScript)",
      actions: [
        {
          id: ACTION,
          actionType: "notify",
          description:
            "POST the indicator as JSON to the target's endpoint, signed with HMAC-SHA256 " +
            "by the target's credential (X-Riposte-Signature); revert sends a signed DELETE " +
            "for what the post created",
          entityKinds: KINDS,
          reversible: true,
          retryable: true,
          settings: [],
        },
      ],
      // The operator grants the one host of the target's endpoint.
      hosts: [],
      needsCredential: true,
    };
  },

  async execute(request) {
    checkRequest(request);
    const secret = openCredential(request);
    const body = payload(request);
    const url = request.target.endpoint;
    const response = await send(url, {
      method: "POST",
      body,
      headers: {
        "content-type": "application/json",
        "idempotency-key": request.idempotencyKey,
        "user-agent": `riposte-${NAME}/${VERSION}`,
        ...signatureHeaders(secret, body),
      },
    });
    if (response.status < 200 || response.status > 299) {
      await answerFailure(`POST ${url}`, response);
    }
    await response.text().catch(() => "");
    const location = response.headers.get("location");
    writeLog("info", `posted ${body.length} bytes to ${url}: ${response.status}`);
    return {
      detail: `webhook ${url} answered ${response.status}${location ? `, created ${location}` : ""}`,
      // 201 Created: this post made it; 200 to a repeated key: the
      // receiver already had it.
      changed: response.status !== 200 || !location,
      revertToken: location ? JSON.stringify({ delete: new URL(location, url).href }) : undefined,
      items: [],
    };
  },

  async revert(request, revertToken) {
    checkRequest(request, false);
    let url;
    try {
      url = JSON.parse(revertToken).delete;
    } catch (err) {
      url = undefined;
    }
    if (typeof url !== "string") fail("invalid-input", `revert token is not from ${ACTION}`);
    const secret = openCredential(request);
    const response = await send(url, {
      method: "DELETE",
      headers: {
        "idempotency-key": `${request.idempotencyKey}:revert`,
        "user-agent": `riposte-${NAME}/${VERSION}`,
        ...signatureHeaders(secret, ""),
      },
    });
    await response.text().catch(() => "");
    if (response.status === 404 || response.status === 410) {
      return { detail: `${url} was already gone`, changed: false, items: [] };
    }
    if (response.status < 200 || response.status > 299) {
      await answerFailure(`DELETE ${url}`, response);
    }
    return { detail: `deleted ${url}`, changed: true, items: [] };
  },

  plan(request) {
    checkRequest(request);
    return {
      changes: [
        `POST ${request.target.endpoint} signed by credential \`${request.target.credential}\` ` +
          `(Idempotency-Key ${request.idempotencyKey}): ${payload(request)}`,
      ],
      reversible: true,
    };
  },
};
