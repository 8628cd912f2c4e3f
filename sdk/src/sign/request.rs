//! The request a signer takes and the one it returns, the checks every
//! provider shares and the canonical-request pieces they have in common.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;

use super::{SignError, invalid, percent_encode, percent_encode_path, sha256_hex};

/// A plain description of an HTTP request, before signing.
///
/// Build it with [`Request::new`] and the chained setters; nothing is
/// checked until a signer runs. Keep it to sign again on a retry.
#[derive(Debug, Clone)]
pub struct Request {
    method: String,
    host: String,
    path: String,
    query: Vec<(String, String)>,
    pub(super) headers: Vec<(String, String)>,
    content_type: Option<String>,
    body: Vec<u8>,
}

impl Request {
    /// A request with no query, extra headers or body.
    ///
    /// - `method`: an HTTP method; sent and signed in uppercase.
    /// - `host`: the authority exactly as the `Host` header will carry it:
    ///   a name or address, an IPv6 literal in brackets, and a port unless
    ///   it is the scheme's default. [`authority`](super::authority) builds it.
    /// - `path`: the *decoded* absolute path, such as `/` or
    ///   `/v1/{project_id}/black-white-list`; signers percent-encode each
    ///   segment. A `/` inside a segment cannot be expressed.
    pub fn new(
        method: impl Into<String>,
        host: impl Into<String>,
        path: impl Into<String>,
    ) -> Self {
        Self {
            method: method.into(),
            host: host.into(),
            path: path.into(),
            query: Vec::new(),
            headers: Vec::new(),
            content_type: None,
            body: Vec::new(),
        }
    }

    /// Adds the query parameter `name=value`, both *decoded*; signers encode
    /// them. A name may repeat, and an empty value is sent as `name=`.
    pub fn query(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((name.into(), value.into()));
        self
    }

    /// Adds a header to send. Each name may appear once (case-insensitive);
    /// `host`, `authorization`, `content-type` and the headers the signer
    /// sets itself are refused at signing time. Which headers are signed
    /// depends on the provider.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the `Content-Type` header, for requests without a body that
    /// still need one (Tencent signs it on every request).
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// Sets the body and its content type. These exact bytes are hashed and
    /// returned in [`SignedRequest::body`]; send those, never a
    /// re-serialised value.
    pub fn body(mut self, content_type: impl Into<String>, body: impl Into<Vec<u8>>) -> Self {
        self.content_type = Some(content_type.into());
        self.body = body.into();
        self
    }
}

/// A request ready for the wire, and how its signature was computed.
///
/// Not `Clone`: a signature is valid for one attempt, sign again to retry.
#[derive(Debug)]
pub struct SignedRequest {
    /// The uppercase method.
    pub method: String,
    /// The authority to send (the `Host` header value), as signed.
    pub authority: String,
    /// The encoded path and query string to send.
    pub path_and_query: String,
    /// Every header to send besides `Host`, including `Authorization`.
    pub headers: Vec<(String, String)>,
    /// The body to send, byte for byte what was hashed.
    pub body: Vec<u8>,
    /// The intermediate strings, for tests and diagnostics.
    pub details: SigningDetails,
}

impl SignedRequest {
    /// The value of header `name` (case-insensitive) among [`Self::headers`].
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The intermediate strings of one signature. None of them is secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningDetails {
    /// The canonical request, lines joined with `\n`.
    pub canonical_request: String,
    /// The string the credential's MAC was computed over.
    pub string_to_sign: String,
    /// The signed header names, lowercase, sorted, `;`-joined.
    pub signed_headers: String,
    /// The signature, lowercase hex.
    pub signature: String,
    /// The `Authorization` header value.
    pub authorization: String,
}

/// A request checked and normalised by [`Request::check`]: the common part
/// of every signer.
pub(crate) struct Checked<'a> {
    pub method: String,
    pub host: &'a str,
    /// The encoded path, as sent.
    pub path: String,
    /// Caller headers with trimmed values, in the order given.
    pub headers: Vec<(&'a str, &'a str)>,
    pub content_type: Option<&'a str>,
    pub body: &'a [u8],
    /// Lowercase hex SHA-256 of `body`.
    pub body_sha256: String,
}

/// Headers no caller may set: the transport or every signer owns them.
const ALWAYS_RESERVED: &[&str] = &["host", "authorization", "content-type"];

impl Request {
    /// Validates the parts every provider shares; `reserved` lists the
    /// lowercase header names the signer sets itself.
    pub(crate) fn check(&self, reserved: &[&str]) -> Result<Checked<'_>, SignError> {
        let method = check_method(&self.method)?;
        check_authority(&self.host)?;
        let path = check_path(&self.path)?;

        let mut headers: Vec<(&str, &str)> = Vec::with_capacity(self.headers.len());
        for (name, value) in &self.headers {
            check_header(name, value)?;
            let lower = name.to_ascii_lowercase();
            if lower == "content-type" {
                return Err(invalid(
                    "set `content-type` with `Request::body` or `Request::content_type`, \
                     not as a header"
                        .into(),
                ));
            }
            if lower == "host" {
                return Err(invalid(format!(
                    "header `{name}` is not allowed; the host given to `Request::new` \
                     is sent and signed as `Host`"
                )));
            }
            if ALWAYS_RESERVED.contains(&lower.as_str()) || reserved.contains(&lower.as_str()) {
                return Err(invalid(format!(
                    "header `{name}` is set by the signer; remove it from the request"
                )));
            }
            if headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
                return Err(invalid(format!(
                    "header `{name}` is given twice; join the values with `,` in one header"
                )));
            }
            headers.push((name.as_str(), value.trim()));
        }
        if let Some(content_type) = &self.content_type {
            check_value("content-type", content_type)?;
        }

        Ok(Checked {
            method,
            host: &self.host,
            path,
            headers,
            content_type: self.content_type.as_deref().map(str::trim),
            body: &self.body,
            body_sha256: sha256_hex(&self.body),
        })
    }

    /// Query parameters, encoded and sorted by encoded name then encoded
    /// value (byte order), joined as `a=1&b=2`; the canonical and the sent
    /// query string of Alibaba and Huawei.
    pub(crate) fn sorted_query(&self) -> String {
        let mut pairs: Vec<(String, String)> = self
            .query
            .iter()
            .map(|(name, value)| (percent_encode(name), percent_encode(value)))
            .collect();
        pairs.sort();
        join_query(&pairs)
    }

    /// Query parameters, encoded, in the order given.
    pub(crate) fn ordered_query(&self) -> String {
        let pairs: Vec<(String, String)> = self
            .query
            .iter()
            .map(|(name, value)| (percent_encode(name), percent_encode(value)))
            .collect();
        join_query(&pairs)
    }

    pub(crate) fn has_query(&self) -> bool {
        !self.query.is_empty()
    }
}

fn join_query(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// `path` joined with `?query` when the query is not empty.
fn path_and_query(path: &str, query: &str) -> String {
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    }
}

fn check_method(method: &str) -> Result<String, SignError> {
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(invalid(format!(
            "`{}` is not an HTTP method; expected a word such as `GET` or `POST`",
            method.escape_default()
        )));
    }
    Ok(method.to_ascii_uppercase())
}

/// Checks that `host` is what a `Host` header carries: a name or IPv4
/// address, or an IPv6 literal in brackets, each with an optional port.
fn check_authority(host: &str) -> Result<(), SignError> {
    let expected = "expected a host such as `ecs.cn-shanghai.aliyuncs.com`, \
                    optionally with `:port`, or an IPv6 literal such as `[::1]:8080`";
    let bad = || {
        invalid(format!(
            "`{}` is not a host; {expected}",
            host.escape_default()
        ))
    };
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        let (literal, after) = rest.split_once(']').ok_or_else(bad)?;
        literal.parse::<Ipv6Addr>().map_err(|_| bad())?;
        match after {
            "" => (literal, None),
            _ => (literal, Some(after.strip_prefix(':').ok_or_else(bad)?)),
        }
    } else if host.bytes().filter(|&b| b == b':').count() > 1 {
        return Err(if host.parse::<Ipv6Addr>().is_ok() {
            invalid(format!(
                "`{host}` is an IPv6 address; put it in brackets as the `Host` header \
                 does: `[{host}]`"
            ))
        } else {
            bad()
        });
    } else {
        match host.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (host, None),
        }
    };
    let name_ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b':'));
    let port_ok = port.is_none_or(|port| {
        !port.is_empty()
            && port.len() <= 5
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u16>().is_ok_and(|p| p > 0)
    });
    if name_ok && port_ok {
        Ok(())
    } else {
        Err(bad())
    }
}

/// Checks a decoded absolute path and returns it percent-encoded.
fn check_path(path: &str) -> Result<String, SignError> {
    let path_shown = path.escape_default();
    if !path.starts_with('/') {
        return Err(invalid(format!(
            "path `{path_shown}` is not absolute; expected a decoded path such as `/` or `/v1/items`"
        )));
    }
    if path.contains(['?', '#']) {
        return Err(invalid(format!(
            "path `{path_shown}` contains `?` or `#`; add query parameters with `Request::query`"
        )));
    }
    if looks_percent_encoded(path) {
        return Err(invalid(format!(
            "path `{path_shown}` looks percent-encoded; pass the decoded path, the signer encodes it"
        )));
    }
    Ok(percent_encode_path(path))
}

fn looks_percent_encoded(s: &str) -> bool {
    s.as_bytes()
        .windows(3)
        .any(|w| w[0] == b'%' && w[1].is_ascii_hexdigit() && w[2].is_ascii_hexdigit())
}

/// Checks a header name (an RFC 9110 token) and value (no control
/// characters other than tab, which would break the canonical form or let a
/// value inject another header).
fn check_header(name: &str, value: &str) -> Result<(), SignError> {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(token) {
        return Err(invalid(format!(
            "`{}` is not a header name; expected letters, digits and `-`, such as \
             `x-acs-security-token`",
            name.escape_default()
        )));
    }
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(invalid(format!(
            "header `{name}` has a control character in its value `{}`; \
             headers are single-line text",
            value.escape_default()
        )));
    }
    Ok(())
}

/// Checks a value the signer puts in header `name`, such as an API action.
pub(crate) fn check_value(name: &str, value: &str) -> Result<(), SignError> {
    if value.trim().is_empty() {
        return Err(invalid(format!("header `{name}` is empty")));
    }
    check_header(name, value)
}

/// Checks the public key id that goes into `Authorization`: visible ASCII
/// without `,`, which separates the header's fields.
pub(crate) fn check_key_id(key_id: &str) -> Result<(), SignError> {
    if key_id.is_empty() || !key_id.bytes().all(|b| b.is_ascii_graphic() && b != b',') {
        return Err(invalid(format!(
            "`{}` is not an access key id; expected visible ASCII without `,`",
            key_id.escape_default()
        )));
    }
    Ok(())
}

/// The canonical headers block and the signed-headers list for `signed`
/// (lowercase name to canonical value). Each entry is `name:value\n`, so the
/// block ends with a newline and the canonical request shows a blank line.
pub(crate) fn canonical_headers(signed: &BTreeMap<String, String>) -> (String, String) {
    let block: String = signed
        .iter()
        .map(|(name, value)| format!("{name}:{value}\n"))
        .collect();
    let names = signed
        .keys()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(";");
    (block, names)
}

impl SignedRequest {
    /// Puts the signer's output together; `headers` must not yet hold
    /// `Authorization`, which is appended last.
    pub(crate) fn assemble(
        checked: Checked<'_>,
        query: &str,
        mut headers: Vec<(String, String)>,
        details: SigningDetails,
    ) -> Self {
        headers.push(("Authorization".into(), details.authorization.clone()));
        Self {
            path_and_query: path_and_query(&checked.path, query),
            method: checked.method,
            authority: checked.host.to_owned(),
            headers,
            body: checked.body.to_vec(),
            details,
        }
    }
}

/// The six-part canonical request shared by all three providers.
pub(crate) fn canonical_request(
    method: &str,
    uri: &str,
    query: &str,
    headers_block: &str,
    signed_headers: &str,
    payload_sha256: &str,
) -> String {
    format!("{method}\n{uri}\n{query}\n{headers_block}\n{signed_headers}\n{payload_sha256}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authority_check_table() {
        for ok in [
            "ecs.cn-shanghai.aliyuncs.com",
            "127.0.0.1:8080",
            "[::1]",
            "[::1]:8080",
            "[2001:db8::1]:443",
            "localhost",
        ] {
            assert!(check_authority(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "::1",
            "::1:8080",
            "[::1",
            "[::1]8080",
            "[nope]:80",
            "a b",
            "a/b",
            "a@b",
            "host:",
            "host:0",
            "host:65536",
            "host:+1",
            "[::1]:",
        ] {
            assert!(check_authority(bad).is_err(), "{bad}");
        }
        let error = check_authority("::1").unwrap_err().to_string();
        assert_eq!(
            error,
            "`::1` is an IPv6 address; put it in brackets as the `Host` header does: `[::1]`"
        );
    }

    #[test]
    fn request_check_refuses_misuse() {
        let base = || Request::new("POST", "example.com", "/");
        let error = |request: Request| request.check(&["x-acs-date"]).err().map(|e| e.to_string());

        assert_eq!(error(base()), None);
        assert_eq!(
            error(base().header("Host", "other.example")).as_deref(),
            Some(
                "header `Host` is not allowed; the host given to `Request::new` is sent \
                 and signed as `Host`"
            )
        );
        assert!(error(base().header("X-Acs-Date", "x")).is_some());
        assert!(error(base().header("Authorization", "x")).is_some());
        assert!(error(base().header("Content-Type", "text/plain")).is_some());
        assert!(error(base().header("x-a", "1").header("X-A", "2")).is_some());
        assert!(error(base().header("x-a", "1\r\nx-b: 2")).is_some());
        assert!(error(base().header("bad name", "1")).is_some());
        assert!(error(Request::new("P O", "example.com", "/")).is_some());
        assert!(error(Request::new("GET", "example.com", "v1")).is_some());
        assert!(error(Request::new("GET", "example.com", "/a?b=c")).is_some());
        assert!(error(Request::new("GET", "example.com", "/a%20b")).is_some());

        let request = Request::new("get", "example.com", "/a b").header("x-a", "  v  ");
        let checked = request.check(&[]).unwrap();
        assert_eq!(checked.method, "GET");
        assert_eq!(checked.path, "/a%20b");
        assert_eq!(checked.headers, vec![("x-a", "v")]);
    }

    // Repeated and empty parameters; sorting by encoded name (`%5B` < `Z`
    // although `[` > `Z`), then by encoded value.
    #[test]
    fn query_sorting_and_empty_values() {
        let request = Request::new("GET", "example.com", "/")
            .query("b", "2")
            .query("a", "")
            .query("b", "1")
            .query("Z", "z")
            .query("[", "x")
            .query("InstanceId.2", "i2")
            .query("InstanceId.10", "i10");
        assert_eq!(
            request.sorted_query(),
            "%5B=x&InstanceId.10=i10&InstanceId.2=i2&Z=z&a=&b=1&b=2"
        );
        assert_eq!(
            request.ordered_query(),
            "b=2&a=&b=1&Z=z&%5B=x&InstanceId.2=i2&InstanceId.10=i10"
        );
    }
}
