//! Verifier for Alibaba Cloud signature V3, `ACS3-HMAC-SHA256`.
//!
//! Owns the server side of the scheme: parsing `Authorization`, rebuilding
//! the canonical request from the bytes received (raw query string, header
//! values, body), and checking the signature, the body hash, the signed
//! header set and the clock window. It is written from the specification in
//! `shared/reference/providers.md` §1.1 and §7 (source:
//! <https://www.alibabacloud.com/help/en/sdk/product-overview/v3-request-structure-and-signature>),
//! independently of `riposte-sdk`'s signer, and both are checked against
//! the vectors of §5.1 and §5.4 (`tests/data/signing-vectors.json`).
//!
//! The pieces ([`canonical_request`], [`string_to_sign`], [`signature`]) are
//! public so tests can sign requests for the simulator with them.
//!
//! Nonce uniqueness needs state and is checked by the caller with
//! [`Verified::nonce`].

use std::time::Duration;

use hmac::{Hmac, Mac};
use hyper::HeaderMap;
use sha2::{Digest, Sha256};

use super::error::ApiError;
use crate::encoding::{percent_decode, percent_encode};
use crate::time::parse_iso8601;

/// The algorithm name that opens `Authorization` and the string to sign.
pub const ALGORITHM: &str = "ACS3-HMAC-SHA256";

/// Headers that must be among the signed ones (the common request headers
/// of §1.1, all required there).
pub const REQUIRED_SIGNED_HEADERS: [&str; 6] = [
    "host",
    "x-acs-action",
    "x-acs-content-sha256",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-version",
];

/// A request as received: the raw pieces the signature covers.
#[derive(Debug, Clone, Copy)]
pub struct Received<'a> {
    /// The method as sent, e.g. `POST`.
    pub method: &'a str,
    /// The path of the request line, still percent-encoded.
    pub path: &'a str,
    /// The raw query string of the request line, without `?`.
    pub query: &'a str,
    /// The received headers.
    pub headers: &'a HeaderMap,
    /// The received body bytes.
    pub body: &'a [u8],
}

/// The parsed `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// `Credential=`: the AccessKeyId.
    pub access_key_id: String,
    /// `SignedHeaders=`: lowercase header names, sorted.
    pub signed_headers: Vec<String>,
    /// `Signature=`: lowercase hex HMAC-SHA256.
    pub signature: String,
}

/// What a verified request proved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The AccessKeyId that signed.
    pub access_key_id: String,
    /// The signed `x-acs-action`.
    pub action: String,
    /// The signed `x-acs-version`.
    pub version: String,
    /// The signed `x-acs-signature-nonce`, to check for reuse.
    pub nonce: String,
    /// The signed `x-acs-date`, in Unix seconds.
    pub date: i64,
}

/// Parses `ACS3-HMAC-SHA256 Credential=…,SignedHeaders=…,Signature=…`: one
/// space after the algorithm, no spaces after the commas (§1.1), each key
/// exactly once.
pub fn parse_authorization(value: &str) -> Result<Authorization, ApiError> {
    let fields = value
        .strip_prefix(ALGORITHM)
        .and_then(|rest| rest.strip_prefix(' '))
        .ok_or_else(|| {
            ApiError::incomplete_signature(format!(
                "the `Authorization` header must start with `{ALGORITHM} `"
            ))
        })?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for field in fields.split(',') {
        let (key, val) = field.split_once('=').ok_or_else(|| malformed(field))?;
        let slot = match key {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed,
            "Signature" => &mut signature,
            _ => return Err(malformed(field)),
        };
        if slot.replace(val.to_owned()).is_some() || val.is_empty() {
            return Err(malformed(field));
        }
    }
    let missing = |key: &str| {
        ApiError::incomplete_signature(format!("the `Authorization` header has no `{key}=`"))
    };
    Ok(Authorization {
        access_key_id: credential.ok_or_else(|| missing("Credential"))?,
        signed_headers: signed
            .ok_or_else(|| missing("SignedHeaders"))?
            .split(';')
            .map(str::to_owned)
            .collect(),
        signature: signature.ok_or_else(|| missing("Signature"))?,
    })
}

fn malformed(field: &str) -> ApiError {
    ApiError::incomplete_signature(format!(
        "malformed `Authorization` field `{field}` (expected `Credential=`, `SignedHeaders=`, \
         `Signature=` separated by `,` without spaces)"
    ))
}

/// Lowercase hex SHA-256 of `body` (HashedRequestPayload).
pub fn hash_payload(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// The canonical URI: each `/`-separated segment of the received path
/// decoded and re-encoded; an empty path is `/`.
pub fn canonical_uri(path: &str) -> Result<String, ApiError> {
    if path.is_empty() {
        return Ok("/".to_owned());
    }
    let segments = path
        .split('/')
        .map(|segment| Ok(percent_encode(&decode(segment, "path")?)))
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(segments.join("/"))
}

/// The canonical query string: the raw query split on `&`, names and values
/// percent-decoded and re-encoded (RFC 3986, uppercase hex), sorted by name
/// then value in byte order, joined with `&`. A `+` is a literal plus sign,
/// so it becomes `%2B`, never `%20`.
pub fn canonical_query(raw: &str) -> Result<String, ApiError> {
    let mut pairs = raw
        .split('&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
            Ok((
                percent_encode(&decode(name, "query")?),
                percent_encode(&decode(value, "query")?),
            ))
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    pairs.sort();
    let joined: Vec<String> = pairs
        .into_iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    Ok(joined.join("&"))
}

fn decode(text: &str, part: &str) -> Result<Vec<u8>, ApiError> {
    percent_decode(text).map_err(|err| ApiError::invalid_parameter(part, err))
}

/// The value of header `name` as canonicalised: each received value
/// trimmed; several values sorted and joined with `,` (§1.1).
pub fn header_value(headers: &HeaderMap, name: &str) -> Result<String, ApiError> {
    let mut values = headers
        .get_all(name)
        .iter()
        .map(|value| {
            value
                .to_str()
                .map(|text| text.trim().to_owned())
                .map_err(|_| {
                    ApiError::incomplete_signature(format!("header `{name}` is not visible ASCII"))
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if values.is_empty() {
        return Err(ApiError::incomplete_signature(format!(
            "signed header `{name}` is not in the request"
        )));
    }
    values.sort();
    Ok(values.join(","))
}

/// The canonical headers: `name:value\n` for exactly the signed names.
pub fn canonical_headers(headers: &HeaderMap, signed: &[String]) -> Result<String, ApiError> {
    signed
        .iter()
        .map(|name| Ok(format!("{name}:{}\n", header_value(headers, name)?)))
        .collect()
}

/// The canonical request over the received pieces, the signed header names
/// and the payload hash (§1.1).
pub fn canonical_request(
    request: &Received<'_>,
    signed_headers: &[String],
    hashed_payload: &str,
) -> Result<String, ApiError> {
    Ok(format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        request.method.to_ascii_uppercase(),
        canonical_uri(request.path)?,
        canonical_query(request.query)?,
        canonical_headers(request.headers, signed_headers)?,
        signed_headers.join(";"),
        hashed_payload
    ))
}

/// `ACS3-HMAC-SHA256\n` + hex SHA-256 of the canonical request.
pub fn string_to_sign(canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    )
}

/// Lowercase hex HMAC-SHA256 of `string_to_sign`, keyed with the raw secret.
pub fn signature(secret: &str, string_to_sign: &str) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("hmac accepts keys of any length");
    mac.update(string_to_sign.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Compares without stopping at the first difference.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Verifies a received request: `secret_of` maps an AccessKeyId to its
/// secret, `now` is the server time in Unix seconds and `max_skew` the
/// allowed distance of `x-acs-date` from it, either way.
///
/// Checks, in order: `Authorization` shape (`IncompleteSignature`), key id
/// (`InvalidAccessKeyId.NotFound`), signed header set
/// (`IncompleteSignature`), `x-acs-content-sha256` against the body
/// (`SignatureDoesNotMatch`), `x-acs-date` (`InvalidTimeStamp.Format`,
/// `InvalidTimeStamp.Expired`), then the signature (`SignatureDoesNotMatch`,
/// with the server's string to sign and canonical request in the message).
pub fn verify(
    request: &Received<'_>,
    secret_of: impl Fn(&str) -> Option<String>,
    now: i64,
    max_skew: Duration,
) -> Result<Verified, ApiError> {
    let authorization = header_value(request.headers, "authorization").map_err(|_| {
        ApiError::incomplete_signature("the `Authorization` header is missing or not ASCII")
    })?;
    let auth = parse_authorization(&authorization)?;
    let secret = secret_of(&auth.access_key_id)
        .ok_or_else(|| ApiError::access_key_not_found(&auth.access_key_id))?;
    check_signed_set(request.headers, &auth.signed_headers)?;
    let hashed = hash_payload(request.body);
    check_content_hash(request.headers, &hashed)?;
    let date = check_date(request.headers, now, max_skew)?;
    let canonical = canonical_request(request, &auth.signed_headers, &hashed)?;
    check_signature(&secret, &canonical, &auth.signature)?;
    let nonce = header_value(request.headers, "x-acs-signature-nonce")?;
    if nonce.is_empty() {
        return Err(ApiError::incomplete_signature(
            "header `x-acs-signature-nonce` is empty",
        ));
    }
    Ok(Verified {
        access_key_id: auth.access_key_id,
        action: header_value(request.headers, "x-acs-action")?,
        version: header_value(request.headers, "x-acs-version")?,
        nonce,
        date,
    })
}

/// The signed names must be lowercase, sorted and unique, include the
/// required common headers, and cover every `x-acs-*` header sent.
fn check_signed_set(headers: &HeaderMap, signed: &[String]) -> Result<(), ApiError> {
    let joined = signed.join(";");
    let well_formed = signed
        .iter()
        .all(|name| !name.is_empty() && !name.bytes().any(|b| b.is_ascii_uppercase()))
        && signed.windows(2).all(|pair| pair[0] < pair[1]);
    if !well_formed {
        return Err(ApiError::incomplete_signature(format!(
            "`SignedHeaders={joined}` must list lowercase names, sorted, each once"
        )));
    }
    let is_signed = |name: &str| signed.iter().any(|s| s == name);
    if let Some(name) = REQUIRED_SIGNED_HEADERS.iter().find(|n| !is_signed(n)) {
        return Err(ApiError::incomplete_signature(format!(
            "header `{name}` must be signed (`SignedHeaders={joined}`)"
        )));
    }
    let unsigned = headers
        .keys()
        .map(|name| name.as_str())
        .find(|name| name.starts_with("x-acs-") && !is_signed(name));
    match unsigned {
        Some(name) => Err(ApiError::incomplete_signature(format!(
            "header `{name}` is sent but not signed (`SignedHeaders={joined}`)"
        ))),
        None => Ok(()),
    }
}

fn check_content_hash(headers: &HeaderMap, hashed: &str) -> Result<(), ApiError> {
    let claimed = header_value(headers, "x-acs-content-sha256")?;
    if claimed == hashed {
        return Ok(());
    }
    Err(ApiError::signature_mismatch(format!(
        "header `x-acs-content-sha256` is `{claimed}` but the received body hashes to `{hashed}`"
    )))
}

fn check_date(headers: &HeaderMap, now: i64, max_skew: Duration) -> Result<i64, ApiError> {
    let text = header_value(headers, "x-acs-date")?;
    let date = parse_iso8601(&text).ok_or_else(|| {
        ApiError::new(
            400,
            "InvalidTimeStamp.Format",
            format!("header `x-acs-date` is `{text}`, not `yyyy-MM-ddTHH:mm:ssZ` in UTC"),
        )
    })?;
    let allowed = i64::try_from(max_skew.as_secs()).unwrap_or(i64::MAX);
    if date.abs_diff(now) > allowed.unsigned_abs() {
        return Err(ApiError::new(
            400,
            "InvalidTimeStamp.Expired",
            format!(
                "header `x-acs-date` is `{text}` but server time is `{}` (allowed skew {allowed} s)",
                crate::time::format_iso8601(now)
            ),
        ));
    }
    Ok(date)
}

fn check_signature(secret: &str, canonical: &str, claimed: &str) -> Result<(), ApiError> {
    let to_sign = string_to_sign(canonical);
    let expected = signature(secret, &to_sign);
    if constant_time_eq(expected.as_bytes(), claimed.as_bytes()) {
        return Ok(());
    }
    Err(ApiError::signature_mismatch(format!(
        "the request signature does not match the server's calculation; \
         server string to sign is:`{to_sign}`; server canonical request is:`{canonical}`"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::{HeaderName, HeaderValue};
    use serde_json::Value;

    const VECTORS: &str = include_str!("../../tests/data/signing-vectors.json");
    const SKEW: Duration = Duration::from_secs(15 * 60);

    fn vector(id: &str) -> Value {
        let all: Vec<Value> = serde_json::from_str(VECTORS).unwrap();
        all.into_iter().find(|v| v["id"] == id).unwrap()
    }

    /// A request built by hand from a vector's inputs.
    #[derive(Clone)]
    struct Raw {
        query: String,
        headers: HeaderMap,
        body: Vec<u8>,
        secret: String,
        access_key_id: String,
        now: i64,
    }

    impl Raw {
        fn received(&self) -> Received<'_> {
            Received {
                method: "POST",
                path: "/",
                query: &self.query,
                headers: &self.headers,
                body: &self.body,
            }
        }

        fn verify(&self) -> Result<Verified, ApiError> {
            let (id, secret) = (self.access_key_id.clone(), self.secret.clone());
            let lookup = move |key: &str| (key == id).then(|| secret.clone());
            verify(&self.received(), lookup, self.now, SKEW)
        }

        fn set(&mut self, name: &str, value: &str) {
            self.headers.insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }

        fn header(&self, name: &str) -> String {
            header_value(&self.headers, name).unwrap()
        }

        /// Signs the current query, headers and body again (for cases that
        /// change a value and keep a valid signature).
        fn resign(&mut self) {
            let auth = parse_authorization(&self.header("authorization")).unwrap();
            let hashed = hash_payload(&self.body);
            self.set("x-acs-content-sha256", &hashed);
            let canonical = canonical_request(&self.received(), &auth.signed_headers, &hashed);
            let sig = signature(&self.secret, &string_to_sign(&canonical.unwrap()));
            let value = format!(
                "{ALGORITHM} Credential={},SignedHeaders={},Signature={sig}",
                self.access_key_id,
                auth.signed_headers.join(";")
            );
            self.set("authorization", &value);
        }
    }

    /// The query from a vector's inputs, encoded by hand, in reverse order
    /// so the verifier has to sort.
    fn query_of(inputs: &Value) -> String {
        let mut pairs: Vec<String> = inputs["query"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| {
                let v = v.as_str().unwrap();
                format!(
                    "{}={}",
                    percent_encode(k.as_bytes()),
                    percent_encode(v.as_bytes())
                )
            })
            .collect();
        pairs.reverse();
        pairs.join("&")
    }

    fn runinstances() -> (Raw, Value) {
        let v = vector("alibaba-acs3-doc-runinstances");
        let (inputs, expected) = (&v["inputs"], &v["expected"]);
        let mut raw = Raw {
            query: query_of(inputs),
            headers: HeaderMap::new(),
            body: inputs["body"].as_str().unwrap().as_bytes().to_vec(),
            secret: inputs["access_key_secret"].as_str().unwrap().to_owned(),
            access_key_id: inputs["access_key_id"].as_str().unwrap().to_owned(),
            now: parse_iso8601(inputs["headers"]["x-acs-date"].as_str().unwrap()).unwrap(),
        };
        raw.set("host", inputs["host"].as_str().unwrap());
        for (name, value) in inputs["headers"].as_object().unwrap() {
            raw.set(name, value.as_str().unwrap());
        }
        raw.set(
            "x-acs-content-sha256",
            expected["hashed_payload"].as_str().unwrap(),
        );
        raw.set("authorization", expected["authorization"].as_str().unwrap());
        raw.set("content-length", "0");
        (raw, expected.clone())
    }

    fn waf_create() -> (Raw, Value) {
        let v = vector("DERIVED-alibaba-acs3-waf-createdefenserule-formbody");
        let (inputs, expected) = (&v["inputs"], &v["expected"]);
        let text = |key: &str| inputs[key].as_str().unwrap().to_owned();
        let mut raw = Raw {
            query: query_of(inputs),
            headers: HeaderMap::new(),
            body: text("body").into_bytes(),
            secret: text("access_key_secret"),
            access_key_id: text("access_key_id"),
            now: parse_iso8601(&text("date")).unwrap() + 60,
        };
        raw.set("host", &text("host"));
        raw.set("content-type", &text("content_type"));
        raw.set("x-acs-action", &text("action"));
        raw.set("x-acs-version", &text("version"));
        raw.set("x-acs-date", &text("date"));
        raw.set("x-acs-signature-nonce", &text("nonce"));
        raw.set(
            "x-acs-content-sha256",
            expected["hashed_payload"].as_str().unwrap(),
        );
        raw.set("authorization", expected["authorization"].as_str().unwrap());
        (raw, expected.clone())
    }

    fn assert_code(raw: &Raw, code: &str) -> ApiError {
        let err = raw.verify().expect_err(code);
        assert_eq!(err.code, code, "{err}");
        err
    }

    fn check_intermediates(raw: &Raw, expected: &Value) {
        let auth = parse_authorization(&raw.header("authorization")).unwrap();
        let hashed = hash_payload(&raw.body);
        assert_eq!(hashed, expected["hashed_payload"]);
        let canonical = canonical_request(&raw.received(), &auth.signed_headers, &hashed).unwrap();
        assert_eq!(canonical, expected["canonical_request"]);
        let to_sign = string_to_sign(&canonical);
        assert_eq!(
            to_sign,
            format!(
                "{ALGORITHM}\n{}",
                expected["hashed_canonical_request"].as_str().unwrap()
            )
        );
        assert_eq!(signature(&raw.secret, &to_sign), expected["signature"]);
    }

    #[test]
    fn accepts_the_published_runinstances_vector() {
        let (raw, expected) = runinstances();
        check_intermediates(&raw, &expected);
        assert_eq!(
            expected["string_to_sign"],
            string_to_sign(expected["canonical_request"].as_str().unwrap())
        );
        let verified = raw.verify().unwrap();
        assert_eq!(verified.access_key_id, "YourAccessKeyId");
        assert_eq!(verified.action, "RunInstances");
        assert_eq!(verified.version, "2014-05-26");
        assert_eq!(verified.nonce, "3156853299f313e23d1673dc12e1703d");
        assert_eq!(verified.date, 1_698_315_752);
    }

    #[test]
    fn accepts_the_derived_waf_vector() {
        let (raw, expected) = waf_create();
        check_intermediates(&raw, &expected);
        let verified = raw.verify().unwrap();
        assert_eq!(verified.action, "CreateDefenseRule");
        assert_eq!(verified.version, "2021-10-01");
    }

    #[test]
    fn rejects_a_one_byte_body_change() {
        let (mut raw, _) = waf_create();
        *raw.body.last_mut().unwrap() = b'E';
        let err = assert_code(&raw, "SignatureDoesNotMatch");
        assert!(err.message.contains("x-acs-content-sha256"), "{err}");

        // Also with a matching body-hash header: the signature catches it.
        let (mut raw, _) = waf_create();
        *raw.body.last_mut().unwrap() = b'E';
        let hashed = hash_payload(&raw.body);
        raw.set("x-acs-content-sha256", &hashed);
        let err = assert_code(&raw, "SignatureDoesNotMatch");
        assert!(
            err.message
                .contains("server string to sign is:`ACS3-HMAC-SHA256\n")
        );
    }

    #[test]
    fn rejects_a_one_byte_query_change() {
        let (mut raw, _) = waf_create();
        raw.query = raw.query.replace("TemplateId=1122", "TemplateId=1123");
        let err = assert_code(&raw, "SignatureDoesNotMatch");
        assert!(err.message.contains("TemplateId=1123"), "{err}");
    }

    #[test]
    fn rejects_a_one_byte_signed_header_change() {
        for (name, changed) in [
            ("x-acs-action", "RunInstancez"),
            ("host", "ecs.cn-shanghai.aliyuncs.con"),
            ("x-acs-signature-nonce", "3156853299f313e23d1673dc12e1703e"),
        ] {
            let (mut raw, _) = runinstances();
            raw.set(name, changed);
            assert_code(&raw, "SignatureDoesNotMatch");
        }
    }

    #[test]
    fn rejects_a_one_byte_signature_change() {
        let (mut raw, _) = runinstances();
        let mut auth = raw.header("authorization");
        assert_eq!(auth.pop(), Some('0'));
        auth.push('1');
        raw.set("authorization", &auth);
        assert_code(&raw, "SignatureDoesNotMatch");
        // Uppercase hex is a different signature string.
        let (mut raw, _) = runinstances();
        let auth = raw.header("authorization").replace("06563a9e", "06563A9E");
        raw.set("authorization", &auth);
        assert_code(&raw, "SignatureDoesNotMatch");
    }

    #[test]
    fn plus_for_space_is_a_signature_mismatch() {
        let (mut raw, _) = runinstances();
        raw.query = "ImageId=win%202019&RegionId=cn-shanghai".to_owned();
        raw.resign();
        raw.verify().unwrap();
        raw.query = "ImageId=win+2019&RegionId=cn-shanghai".to_owned();
        let err = assert_code(&raw, "SignatureDoesNotMatch");
        assert!(err.message.contains("ImageId=win%2B2019"), "{err}");
    }

    #[test]
    fn reencodes_lowercase_hex_and_sorts_by_name_then_value() {
        assert_eq!(
            canonical_query("b=%2a&a=2&a=1&c").unwrap(),
            "a=1&a=2&b=%2A&c="
        );
        assert_eq!(
            canonical_query("InstanceId.2=x&InstanceId.10=y").unwrap(),
            "InstanceId.10=y&InstanceId.2=x"
        );
        assert_eq!(canonical_query("").unwrap(), "");
        assert_eq!(
            canonical_query("a=%zz").unwrap_err().code,
            "InvalidParameter"
        );
        assert_eq!(canonical_uri("").unwrap(), "/");
        assert_eq!(canonical_uri("/a%2fb/c d").unwrap(), "/a%2Fb/c%20d");
    }

    #[test]
    fn joins_repeated_header_values_sorted() {
        let mut headers = HeaderMap::new();
        headers.append("x-acs-meta", HeaderValue::from_static(" b "));
        headers.append("x-acs-meta", HeaderValue::from_static("a"));
        assert_eq!(header_value(&headers, "x-acs-meta").unwrap(), "a,b");
    }

    #[test]
    fn rejects_malformed_authorization() {
        let (raw, _) = runinstances();
        let good = raw.header("authorization");
        let spaced = good.replace(",", ", ");
        let variants = [
            good.replace("ACS3-HMAC-SHA256 ", "ACS3-HMAC-SHA1 "),
            spaced,
            good.replace("Credential=", "Cred="),
            good.split(",Signature=").next().unwrap().to_owned(),
            format!("{good},Signature=00"),
            good.replace("Credential=YourAccessKeyId", "Credential="),
        ];
        for bad in variants {
            let mut raw = raw.clone();
            raw.set("authorization", &bad);
            assert_code(&raw, "IncompleteSignature");
        }
        let mut raw = raw.clone();
        raw.headers.remove("authorization");
        assert_code(&raw, "IncompleteSignature");
    }

    #[test]
    fn rejects_an_unknown_access_key() {
        let (mut raw, _) = runinstances();
        raw.access_key_id = "Other".to_owned();
        let err = assert_code(&raw, "InvalidAccessKeyId.NotFound");
        assert_eq!(err.status, 404);
    }

    #[test]
    fn requires_the_common_headers_signed() {
        let (raw, _) = runinstances();
        let good = raw.header("authorization");
        for bad in [
            good.replace("host;", ""),
            good.replace(";x-acs-date", ""),
            good.replace(";x-acs-content-sha256", ""),
            good.replace(
                "x-acs-action;x-acs-content-sha256",
                "x-acs-content-sha256;x-acs-action",
            ),
            good.replace("host;", "Host;"),
        ] {
            let mut raw = raw.clone();
            raw.set("authorization", &bad);
            assert_code(&raw, "IncompleteSignature");
        }
        // An unsigned `x-acs-*` header (e.g. a security token) is refused.
        let mut raw = raw.clone();
        raw.set("x-acs-security-token", "token");
        let err = assert_code(&raw, "IncompleteSignature");
        assert!(err.message.contains("`x-acs-security-token`"), "{err}");
    }

    #[test]
    fn enforces_the_clock_window() {
        let (mut raw, _) = runinstances();
        let date = raw.now;
        for (now, ok) in [
            (date + 14 * 60, true),
            (date - 14 * 60, true),
            (date + 15 * 60, true),
            (date + 16 * 60, false),
            (date - 16 * 60, false),
        ] {
            raw.now = now;
            match raw.verify() {
                Ok(_) => assert!(ok, "{now}"),
                Err(err) => {
                    assert!(!ok, "{now}: {err}");
                    assert_eq!(err.code, "InvalidTimeStamp.Expired");
                }
            }
        }
        raw.now = date;
        raw.set("x-acs-date", "2023-10-26T10:22:32+00:00");
        assert_code(&raw, "InvalidTimeStamp.Format");
    }

    #[test]
    fn signed_header_values_are_trimmed() {
        let (mut raw, _) = runinstances();
        raw.set("x-acs-action", "  RunInstances ");
        raw.verify().unwrap();
    }
}
