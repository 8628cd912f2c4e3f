//! Request authentication: the `RIPOSTE-AGENT-HMAC-SHA256` signature, the
//! clock skew and nonce reuse.
//!
//! Checks run in this order, so that nothing an unauthenticated caller
//! sends can fill the nonce cache: headers present and well formed, key id
//! known, timestamp within [`MAX_SKEW_SECONDS`], MAC equal (compared in
//! constant time), then the nonce unseen. A nonce is remembered until its
//! timestamp falls out of the window, after which the timestamp check
//! alone refuses a replay.
//!
//! Nonces live in memory, so a restart forgets them. A request signed
//! before the agent started is therefore refused too ([`Verifier::since`]):
//! a request captured before a restart cannot be replayed after it. A
//! caller whose clock runs behind the agent's is refused for that long
//! after a restart, and its retries (signed afresh) pass once the agent's
//! start is behind them.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use hmac::{Hmac, Mac};
use http::HeaderMap;
use riposte_sdk::sign::agent::{
    DATE_HEADER, MAX_SKEW_SECONDS, NONCE_HEADER, parse_authorization, string_to_sign,
};
use sha2::Sha256;

use super::AgentError;

/// Most nonces remembered at once; beyond it new requests are refused
/// until old ones expire (an attacker with the key could do worse anyway).
const MAX_NONCES: usize = 1_000_000;

/// The agent's key and the nonces it has seen.
pub struct Verifier {
    key_id: String,
    secret: Vec<u8>,
    seen: Mutex<Seen>,
    /// Requests signed earlier than this (Unix seconds) are refused.
    not_before: u64,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Seen {
    nonces: HashMap<String, u64>,
    /// Nonces in arrival order with the time they may be forgotten.
    order: VecDeque<(u64, String)>,
}

impl Verifier {
    /// A verifier for key `key_id` with `secret`.
    pub fn new(key_id: impl Into<String>, secret: Vec<u8>) -> Self {
        Self {
            key_id: key_id.into(),
            secret,
            seen: Mutex::new(Seen::default()),
            not_before: 0,
        }
    }

    /// Refuses requests signed before `unix_seconds`: the agent's start,
    /// since the nonces seen before it are gone.
    pub fn since(mut self, unix_seconds: u64) -> Self {
        self.not_before = unix_seconds;
        self
    }

    /// Checks one request at Unix time `now`; answers the key id.
    pub fn verify(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &HeaderMap,
        body: &[u8],
        now: u64,
    ) -> Result<&str, AgentError> {
        let header = |name: &str| -> Result<&str, AgentError> {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .ok_or_else(|| AgentError::Unauthorized(format!("header `{name}` is missing")))
        };
        let authorization = header("authorization")?;
        let (key_id, signature) =
            parse_authorization(authorization).map_err(AgentError::Unauthorized)?;
        let date = header(DATE_HEADER)?;
        let nonce = header(NONCE_HEADER)?;
        if key_id != self.key_id {
            return Err(AgentError::Unauthorized(format!(
                "key id `{key_id}` is not this agent's"
            )));
        }
        let timestamp: u64 = date.parse().map_err(|_| {
            AgentError::Unauthorized(format!(
                "`{DATE_HEADER}` is `{date}`; expected Unix seconds"
            ))
        })?;
        if timestamp.abs_diff(now) > MAX_SKEW_SECONDS {
            return Err(AgentError::Unauthorized(format!(
                "request time {timestamp} is {}s from the agent's clock {now}; at most \
                 {MAX_SKEW_SECONDS}s is accepted",
                timestamp.abs_diff(now)
            )));
        }
        if timestamp < self.not_before {
            return Err(AgentError::Unauthorized(format!(
                "request time {timestamp} is before the agent started ({}); requests signed \
                 before a restart are refused, sign it again",
                self.not_before
            )));
        }
        if nonce.len() != 32 || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(AgentError::Unauthorized(format!(
                "`{NONCE_HEADER}` must be 32 hex digits"
            )));
        }
        let signature = hex::decode(signature)
            .map_err(|_| AgentError::Unauthorized("the signature is not hex".to_owned()))?;
        let text = string_to_sign(method, path_and_query, timestamp, nonce, body);
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret)
            .map_err(|err| AgentError::Internal(format!("agent key: {err}")))?;
        mac.update(text.as_bytes());
        mac.verify_slice(&signature).map_err(|_| {
            AgentError::Unauthorized(
                "the signature does not match the request (method, path, time, nonce and \
                 body hash)"
                    .to_owned(),
            )
        })?;
        self.remember(nonce, timestamp + MAX_SKEW_SECONDS, now)?;
        Ok(&self.key_id)
    }

    fn remember(&self, nonce: &str, forget_after: u64, now: u64) -> Result<(), AgentError> {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        while seen.order.front().is_some_and(|(until, _)| *until < now) {
            if let Some((_, old)) = seen.order.pop_front() {
                seen.nonces.remove(&old);
            }
        }
        let nonce = nonce.to_ascii_lowercase();
        if seen.nonces.contains_key(&nonce) {
            return Err(AgentError::Unauthorized(format!(
                "nonce {nonce} was already used; sign every request with a fresh nonce"
            )));
        }
        if seen.nonces.len() >= MAX_NONCES {
            return Err(AgentError::Unavailable(
                "too many requests in the replay window; try again later".to_owned(),
            ));
        }
        seen.nonces.insert(nonce.clone(), forget_after);
        // Expiry times are not monotonic in arrival order (clocks skew), so
        // the queue keeps the latest one seen: nothing is forgotten early.
        let until = seen
            .order
            .back()
            .map_or(forget_after, |(last, _)| forget_after.max(*last));
        seen.order.push_back((until, nonce));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use riposte_sdk::sign::agent::sign;
    use riposte_sdk::sign::{InMemoryCredential, Nonce, Timestamp};

    const NOW: u64 = 1_764_900_000;

    fn signed(at: u64, nonce: u8, body: &[u8]) -> HeaderMap {
        let credential = InMemoryCredential::new("web-01", "agent-secret");
        let signature = sign(
            &credential,
            "POST",
            "/v1/process/kill",
            Timestamp::from_unix_seconds(at),
            Nonce::from_random_bytes([nonce; 16]),
            body,
        )
        .unwrap();
        let mut headers = HeaderMap::new();
        for (name, value) in signature.headers {
            headers.insert(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        headers
    }

    fn verifier() -> Verifier {
        Verifier::new("web-01", b"agent-secret".to_vec())
    }

    #[test]
    fn a_signed_request_passes_once() {
        let verifier = verifier();
        let headers = signed(NOW, 1, b"{}");
        let path = "/v1/process/kill";
        assert_eq!(
            verifier.verify("POST", path, &headers, b"{}", NOW).unwrap(),
            "web-01"
        );
        let replay = verifier.verify("POST", path, &headers, b"{}", NOW + 1);
        assert!(matches!(replay, Err(AgentError::Unauthorized(m)) if m.contains("already used")));
    }

    #[test]
    fn tampering_and_stale_times_are_refused() {
        let verifier = verifier();
        let path = "/v1/process/kill";
        let headers = signed(NOW, 2, b"{\"pid\":42}");
        let body = verifier.verify("POST", path, &headers, b"{\"pid\":43}", NOW);
        assert!(matches!(body, Err(AgentError::Unauthorized(m)) if m.contains("does not match")));
        let route = verifier.verify(
            "POST",
            "/v1/file/quarantine",
            &headers,
            b"{\"pid\":42}",
            NOW,
        );
        assert!(route.is_err());
        let old = signed(NOW - MAX_SKEW_SECONDS - 1, 3, b"");
        let stale = verifier.verify("POST", path, &old, b"", NOW);
        assert!(matches!(stale, Err(AgentError::Unauthorized(m)) if m.contains("clock")));
        let future = signed(NOW + MAX_SKEW_SECONDS + 1, 4, b"");
        assert!(verifier.verify("POST", path, &future, b"", NOW).is_err());
        // A refused request does not burn its nonce: the genuine one passes.
        assert!(
            verifier
                .verify("POST", path, &headers, b"{\"pid\":42}", NOW)
                .is_ok()
        );
    }

    #[test]
    fn other_keys_and_missing_headers_are_refused() {
        let other = Verifier::new("web-02", b"agent-secret".to_vec());
        let headers = signed(NOW, 5, b"");
        let err = other
            .verify("POST", "/v1/process/kill", &headers, b"", NOW)
            .unwrap_err();
        assert!(err.to_string().contains("web-01"), "{err}");
        let wrong_secret = Verifier::new("web-01", b"another".to_vec());
        assert!(
            wrong_secret
                .verify("POST", "/v1/process/kill", &headers, b"", NOW)
                .is_err()
        );
        let mut bare = headers.clone();
        bare.remove(NONCE_HEADER);
        let err = verifier()
            .verify("POST", "/v1/process/kill", &bare, b"", NOW)
            .unwrap_err();
        assert!(err.to_string().contains(NONCE_HEADER), "{err}");
    }

    #[test]
    fn a_request_signed_before_the_agent_started_is_refused() {
        let restarted = verifier().since(NOW);
        let captured = signed(NOW - 10, 8, b"");
        let err = restarted
            .verify("POST", "/v1/process/kill", &captured, b"", NOW + 1)
            .unwrap_err();
        assert!(
            err.to_string().contains("before the agent started"),
            "{err}"
        );
        let fresh = signed(NOW + 1, 9, b"");
        assert!(
            restarted
                .verify("POST", "/v1/process/kill", &fresh, b"", NOW + 1)
                .is_ok()
        );
    }

    #[test]
    fn nonces_are_forgotten_only_after_the_window() {
        let verifier = verifier();
        let path = "/v1/process/kill";
        let first = signed(NOW, 6, b"");
        verifier.verify("POST", path, &first, b"", NOW).unwrap();
        let later = NOW + 2 * MAX_SKEW_SECONDS + 1;
        let fresh = signed(later, 7, b"");
        verifier.verify("POST", path, &fresh, b"", later).unwrap();
        let seen = verifier.seen.lock().unwrap();
        assert_eq!(seen.nonces.len(), 1, "the first nonce is out of the window");
    }
}
