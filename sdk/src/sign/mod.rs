//! Request signers for the cloud APIs that riposte components call.
//!
//! Each provider module turns a plain [`Request`] into a [`SignedRequest`]:
//! the exact method, authority, path, headers and body to put on the wire,
//! together with the intermediate strings (canonical request, string to sign)
//! for tests and for comparing with the canonical request a provider echoes
//! back when it refuses a signature.
//!
//! - [`acs3`]: Alibaba Cloud `ACS3-HMAC-SHA256` (signature V3);
//! - [`tc3`]: Tencent Cloud `TC3-HMAC-SHA256` (API 3.0);
//! - [`huawei`]: Huawei Cloud APIG `SDK-HMAC-SHA256`.
//! - [`agent`]: the riposte endpoint agent's `RIPOSTE-AGENT-HMAC-SHA256`.
//!
//! The secret does not have to live in this process: signers only ask a
//! [`Credential`] for HMACs. In a riposte component the credential is a
//! handle to a secret held by the host; natively, [`InMemoryCredential`]
//! holds the secret itself.
//!
//! # Fresh inputs for every attempt
//!
//! Signers never read a clock or a random source: the caller passes the
//! [`Timestamp`] and, for Alibaba, a [`Nonce`]. Both must be fresh for every
//! attempt, retries included. Providers refuse a reused nonce
//! (`SignatureNonceUsed`) and a date more than 5 to 15 minutes old, so a
//! request signed once and re-sent later fails. [`Nonce`] is consumed by the
//! signer and [`SignedRequest`] is not `Clone`: keep the [`Request`] and sign
//! it again for each attempt.
//!
//! # What goes on the wire
//!
//! Send [`SignedRequest`] exactly: its `authority` as the request authority
//! (the `Host` header), its `path_and_query`, every entry of `headers` and its
//! `body` bytes. Signers hash the body they return, so the bytes hashed are
//! the bytes sent.
//!
//! ```
//! use riposte_sdk::sign::{acs3, InMemoryCredential, Nonce, Request, Timestamp};
//!
//! let credential = InMemoryCredential::new("AccessKeyId", "AccessKeySecret");
//! let request = Request::new("POST", "ecs.cn-shanghai.aliyuncs.com", "/")
//!     .query("RegionId", "cn-shanghai");
//! let api = acs3::Api { action: "DescribeInstances", version: "2014-05-26" };
//!
//! // One attempt: a fresh time and nonce (from wasi clocks and random).
//! let now = Timestamp::from_unix_seconds(1_698_315_752);
//! let nonce = Nonce::from_random_bytes([7; 16]);
//! let signed = acs3::sign(&credential, &api, &request, now, nonce)?;
//! assert_eq!(signed.path_and_query, "/?RegionId=cn-shanghai");
//! assert!(signed.header("authorization").is_some());
//! # Ok::<(), riposte_sdk::sign::SignError>(())
//! ```

pub mod acs3;
pub mod agent;
pub mod huawei;
pub mod tc3;

mod request;
mod time;

pub use request::{Request, SignedRequest, SigningDetails};
pub use time::{Nonce, Timestamp};

use std::fmt;
use std::net::Ipv6Addr;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use request::{canonical_headers, canonical_request, check_key_id, check_value};

/// A credential whose secret may live outside this process (in riposte, in
/// the host).
///
/// Implementations must be deterministic: the same prefix and data always
/// give the same MAC.
pub trait Credential {
    /// Public key id (Alibaba `AccessKeyId`, Tencent `SecretId`, Huawei AK).
    fn key_id(&self) -> String;

    /// HMAC-SHA256 keyed with the bytes of `key_prefix` followed by the bytes
    /// of the secret, over `data`.
    ///
    /// Tencent derives its first key from `"TC3" + secret`; the other
    /// providers use an empty prefix. Fails with [`SignError::Credential`]
    /// when the secret cannot be used (e.g. the host revoked the handle).
    fn hmac_sha256(&self, key_prefix: &[u8], data: &[u8]) -> Result<[u8; 32], SignError>;
}

/// Why a request could not be signed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignError {
    /// The request cannot be signed as described: a malformed host, header,
    /// path or nonce, or a shape the provider does not accept. The message
    /// names the bad value and what was expected.
    InvalidRequest(String),
    /// The credential could not compute an HMAC.
    Credential(String),
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignError::InvalidRequest(message) => f.write_str(message),
            SignError::Credential(message) => write!(f, "credential cannot sign: {message}"),
        }
    }
}

impl std::error::Error for SignError {}

impl SignError {
    /// The error a [`Credential`] implementation returns when it cannot
    /// compute a MAC; `message` says why, without any secret material.
    pub fn new(message: impl Into<String>) -> Self {
        SignError::Credential(message.into())
    }
}

fn invalid(message: String) -> SignError {
    SignError::InvalidRequest(message)
}

/// A secret held in memory, for native tools and tests.
///
/// Its `Debug` output shows the key id only, never the secret.
#[derive(Clone)]
pub struct InMemoryCredential {
    key_id: String,
    secret: String,
}

impl InMemoryCredential {
    /// A credential from a key id and its secret.
    pub fn new(key_id: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            key_id: key_id.into(),
            secret: secret.into(),
        }
    }
}

impl fmt::Debug for InMemoryCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InMemoryCredential")
            .field("key_id", &self.key_id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl Credential for InMemoryCredential {
    fn key_id(&self) -> String {
        self.key_id.clone()
    }

    fn hmac_sha256(&self, key_prefix: &[u8], data: &[u8]) -> Result<[u8; 32], SignError> {
        let mut key = Vec::with_capacity(key_prefix.len() + self.secret.len());
        key.extend_from_slice(key_prefix);
        key.extend_from_slice(self.secret.as_bytes());
        hmac_sha256(&key, data)
    }
}

/// HMAC-SHA256 with a key held locally (derived keys, test credentials).
pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> Result<[u8; 32], SignError> {
    // HMAC accepts keys of any length; the error branch is unreachable but
    // costs nothing to report.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .map_err(|_| SignError::Credential("hmac key has an invalid length".into()))?;
    mac.update(data);
    Ok(mac.finalize().into_bytes().into())
}

/// Lowercase hex SHA-256 of `data`, the form every provider here uses for
/// payload and canonical-request hashes.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Percent-encodes `value` as RFC 3986 asks for a URI component.
///
/// The unreserved characters `A-Z a-z 0-9 - _ . ~` stay as they are; every
/// other byte of the UTF-8 form becomes `%XX` with uppercase hex. So a space
/// is `%20` (never `+`), `*` is `%2A`, `/` is `%2F` and `~` stays `~`. All
/// three providers use this encoding for query names and values and for
/// path segments.
pub fn percent_encode(value: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(value.len());
    for &byte in value.as_bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
    out
}

/// Percent-encodes each `/`-separated segment of a decoded path, keeping the
/// slashes: `/a b/c` becomes `/a%20b/c`.
pub fn percent_encode_path(path: &str) -> String {
    path.split('/')
        .map(percent_encode)
        .collect::<Vec<_>>()
        .join("/")
}

/// An `application/x-www-form-urlencoded` body, `k1=v1&k2=v2` in the given
/// order, with names and values encoded by [`percent_encode`].
///
/// This is the body Alibaba expects for `formData` parameters such as WAF
/// `Rules`. Pass the result to [`Request::body`] unchanged.
pub fn form_urlencode<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                percent_encode(k.as_ref()),
                percent_encode(v.as_ref())
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The authority (`Host` header value) for `host` and `port`, as signers
/// expect it in [`Request::new`].
///
/// An IPv6 literal is put in brackets and `port` is left out when it equals
/// `default_port` (80 for `http`, 443 for `https`), as clients send it:
/// `authority("::1", Some(8080), 80)` is `[::1]:8080`.
pub fn authority(host: &str, port: Option<u16>, default_port: u16) -> String {
    let mut out = if host.parse::<Ipv6Addr>().is_ok() {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    if let Some(port) = port.filter(|&port| port != default_port) {
        out.push_str(&format!(":{port}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoding_follows_rfc_3986() {
        // Alibaba SDK vector: {"test":" ~/*-+"} -> test=%20~%2F%2A-%2B.
        assert_eq!(percent_encode(" ~/*-+"), "%20~%2F%2A-%2B");
        assert_eq!(percent_encode("a=b&c"), "a%3Db%26c");
        assert_eq!(percent_encode("AZaz09-_.~"), "AZaz09-_.~");
        // Non-ASCII: every UTF-8 byte, uppercase hex.
        assert_eq!(percent_encode("未命名"), "%E6%9C%AA%E5%91%BD%E5%90%8D");
        assert_eq!(percent_encode("%"), "%25");
        assert_eq!(percent_encode_path("/a b/c*d/"), "/a%20b/c%2Ad/");
    }

    #[test]
    fn form_body_is_rfc_3986_encoded() {
        assert_eq!(
            form_urlencode(&[("Rules", r#"[{"a":"b c"}]"#), ("X", "1")]),
            "Rules=%5B%7B%22a%22%3A%22b%20c%22%7D%5D&X=1"
        );
    }

    #[test]
    fn sha256_of_empty_body() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn in_memory_credential_hides_its_secret() {
        let credential = InMemoryCredential::new("AKID", "very-secret");
        let debug = format!("{credential:?}");
        assert!(debug.contains("AKID"));
        assert!(!debug.contains("very-secret"));
    }

    #[test]
    fn in_memory_credential_prefixes_the_key() {
        let credential = InMemoryCredential::new("id", "secret");
        let prefixed = credential.hmac_sha256(b"TC3", b"data").unwrap();
        assert_eq!(prefixed, hmac_sha256(b"TC3secret", b"data").unwrap());
        assert_ne!(prefixed, credential.hmac_sha256(b"", b"data").unwrap());
    }

    // §6 #12 (aws-cli#8869): the signed host must equal the sent `Host`
    // header, brackets kept, default port left out.
    #[test]
    fn authority_brackets_ipv6_and_drops_default_port() {
        assert_eq!(authority("::1", Some(8080), 80), "[::1]:8080");
        assert_eq!(authority("::1", Some(443), 443), "[::1]");
        assert_eq!(authority("::1", None, 443), "[::1]");
        assert_eq!(authority("127.0.0.1", Some(9000), 80), "127.0.0.1:9000");
        assert_eq!(
            authority("cvm.tencentcloudapi.com", Some(443), 443),
            "cvm.tencentcloudapi.com"
        );
    }
}
