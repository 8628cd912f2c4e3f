//! The riposte endpoint agent's request signature, `RIPOSTE-AGENT-HMAC-SHA256`.
//!
//! A caller signs every request to an agent with the agent's key; the agent
//! recomputes the MAC and refuses (401) a request whose signature differs,
//! whose timestamp is further than [`MAX_SKEW_SECONDS`] from its clock, or
//! whose nonce it has already seen inside that window.
//!
//! String to sign, lines joined by `\n`:
//!
//! ```text
//! RIPOSTE-AGENT-HMAC-SHA256
//! <method, upper case>
//! <path and query, exactly as sent>
//! <timestamp, decimal Unix seconds>
//! <nonce, 32 lower-case hex digits>
//! <lower-case hex SHA-256 of the body>
//! ```
//!
//! The MAC is HMAC-SHA256 keyed with the secret's bytes, in lower-case hex.
//! Headers on the wire:
//!
//! ```text
//! x-riposte-date: 1764900000
//! x-riposte-nonce: 0f1e2d3c4b5a69788796a5b4c3d2e1f0
//! authorization: RIPOSTE-AGENT-HMAC-SHA256 Credential=<key id>, Signature=<hex mac>
//! ```

use sha2::{Digest, Sha256};

use super::{Credential, Nonce, SignError, Timestamp, invalid};

/// The algorithm name, first line of the string to sign and of the
/// `authorization` header.
pub const ALGORITHM: &str = "RIPOSTE-AGENT-HMAC-SHA256";

/// The header carrying the timestamp.
pub const DATE_HEADER: &str = "x-riposte-date";

/// The header carrying the nonce.
pub const NONCE_HEADER: &str = "x-riposte-nonce";

/// How far a request's timestamp may be from the agent's clock, either way.
pub const MAX_SKEW_SECONDS: u64 = 300;

/// The headers that authenticate one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentSignature {
    /// `(name, value)` pairs to send: date, nonce and authorization.
    pub headers: Vec<(String, String)>,
    /// The string that was signed, for tests and diagnostics.
    pub string_to_sign: String,
}

/// The string to sign for one request.
pub fn string_to_sign(
    method: &str,
    path_and_query: &str,
    timestamp: u64,
    nonce: &str,
    body: &[u8],
) -> String {
    let body_hash = hex::encode(Sha256::digest(body));
    format!(
        "{ALGORITHM}\n{}\n{path_and_query}\n{timestamp}\n{nonce}\n{body_hash}",
        method.to_ascii_uppercase()
    )
}

/// Signs one request. `nonce` must be fresh for every attempt.
pub fn sign(
    credential: &dyn Credential,
    method: &str,
    path_and_query: &str,
    now: Timestamp,
    nonce: Nonce,
    body: &[u8],
) -> Result<AgentSignature, SignError> {
    if !path_and_query.starts_with('/') {
        return Err(invalid(format!(
            "path `{path_and_query}` must start with `/`"
        )));
    }
    let key_id = credential.key_id();
    if key_id.is_empty() || !key_id.bytes().all(|b| b.is_ascii_graphic() && b != b',') {
        return Err(invalid(format!(
            "agent key id `{key_id}` must be non-empty printable ASCII without commas"
        )));
    }
    let nonce = hex_nonce(&nonce)?;
    let timestamp = now.unix_seconds();
    let text = string_to_sign(method, path_and_query, timestamp, &nonce, body);
    let mac = credential.hmac_sha256(b"", text.as_bytes())?;
    Ok(AgentSignature {
        headers: vec![
            (DATE_HEADER.to_owned(), timestamp.to_string()),
            (NONCE_HEADER.to_owned(), nonce),
            (
                "authorization".to_owned(),
                format!(
                    "{ALGORITHM} Credential={key_id}, Signature={}",
                    hex::encode(mac)
                ),
            ),
        ],
        string_to_sign: text,
    })
}

/// The key id and the hex MAC of an `authorization` header value.
pub fn parse_authorization(value: &str) -> Result<(&str, &str), String> {
    let rest = value
        .strip_prefix(ALGORITHM)
        .and_then(|rest| rest.strip_prefix(' '))
        .ok_or_else(|| format!("authorization must start with `{ALGORITHM} `"))?;
    let mut key_id = None;
    let mut signature = None;
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(value) = part.strip_prefix("Credential=") {
            key_id = Some(value);
        } else if let Some(value) = part.strip_prefix("Signature=") {
            signature = Some(value);
        } else {
            return Err(format!(
                "authorization has `{part}`; expected `Credential=` and `Signature=`"
            ));
        }
    }
    match (key_id, signature) {
        (Some(key_id), Some(signature)) if !key_id.is_empty() && signature.len() == 64 => {
            Ok((key_id, signature))
        }
        _ => Err(
            "authorization needs `Credential=<key id>` and a 64-digit hex \
                  `Signature=`"
                .to_owned(),
        ),
    }
}

/// The nonce as 32 lower-case hex digits: [`Nonce::from_random_bytes`]
/// makes a hex nonce; anything else is refused so the agent can check the
/// form.
fn hex_nonce(nonce: &Nonce) -> Result<String, SignError> {
    let value = nonce.as_str().to_ascii_lowercase();
    if value.len() == 32 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(value)
    } else {
        Err(invalid(format!(
            "agent nonce `{}` must be 32 hex digits",
            nonce.as_str()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::InMemoryCredential;
    use hmac::{Hmac, Mac};

    #[test]
    fn the_mac_is_hmac_sha256_of_the_documented_string() {
        let credential = InMemoryCredential::new("agent-1", "s3cret");
        let nonce = Nonce::from_random_bytes([0xab; 16]);
        let signed = sign(
            &credential,
            "post",
            "/v1/process/kill",
            Timestamp::from_unix_seconds(1_764_900_000),
            nonce,
            b"{\"pid\":42}",
        )
        .unwrap();
        let expected_text = format!(
            "RIPOSTE-AGENT-HMAC-SHA256\nPOST\n/v1/process/kill\n1764900000\n{}\n{}",
            "ab".repeat(16),
            hex::encode(Sha256::digest(b"{\"pid\":42}"))
        );
        assert_eq!(signed.string_to_sign, expected_text);
        let mut mac = Hmac::<Sha256>::new_from_slice(b"s3cret").unwrap();
        mac.update(expected_text.as_bytes());
        let expected = hex::encode(mac.finalize().into_bytes());
        let authorization = &signed.headers[2].1;
        assert_eq!(
            parse_authorization(authorization).unwrap(),
            ("agent-1", expected.as_str())
        );
        assert_eq!(signed.headers[0], (DATE_HEADER.into(), "1764900000".into()));
    }

    #[test]
    fn malformed_authorization_headers_are_named() {
        assert!(parse_authorization("Bearer x").is_err());
        assert!(parse_authorization("RIPOSTE-AGENT-HMAC-SHA256 Credential=a").is_err());
        assert!(
            parse_authorization("RIPOSTE-AGENT-HMAC-SHA256 Credential=a, Signature=00")
                .unwrap_err()
                .contains("64-digit")
        );
    }

    #[test]
    fn a_relative_path_or_odd_nonce_is_refused() {
        let credential = InMemoryCredential::new("agent-1", "s3cret");
        let now = Timestamp::from_unix_seconds(1);
        let nonce = Nonce::from_random_bytes([1; 16]);
        assert!(sign(&credential, "POST", "v1", now, nonce, b"").is_err());
        let odd = Nonce::new("not-hex-not-hex-not-hex-not-hex0").unwrap();
        assert!(sign(&credential, "POST", "/v1", now, odd, b"").is_err());
    }
}
