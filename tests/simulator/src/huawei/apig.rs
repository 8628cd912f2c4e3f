//! Verifier for Huawei Cloud APIG AK/SK signatures, `SDK-HMAC-SHA256`.
//!
//! Written from `shared/reference/providers.md` §3.1 (source:
//! <https://support.huaweicloud.com/devg-apisign/api-sign-algorithm-002.html>
//! to `-005.html`), without `riposte-sdk`, and checked against the
//! published VPC vector and the derived CFW vector of §5.
//!
//! The canonical URI is the received path, each segment decoded and
//! re-encoded, with a `/` appended for signing; the query is sorted and
//! re-encoded with `name=` kept for empty values; header values are
//! trimmed, not lowercased; the gateway recomputes over exactly the listed
//! `SignedHeaders`, which must include `x-sdk-date`. A bad signature is
//! answered 401 `APIGW.0301` with the server's canonical request, lines
//! joined by `|`, as the real gateway does (§3.1); an `X-Sdk-Date` more
//! than 15 minutes from server time is 401 `APIGW.0301` "signature
//! expired".

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::aliyun::acs3::{Received, canonical_query, canonical_uri, header_value};
use crate::aliyun::error::ApiError;
use crate::time::parse_iso8601;

/// The algorithm name.
pub const ALGORITHM: &str = "SDK-HMAC-SHA256";

/// Allowed distance between `X-Sdk-Date` and server time (§3.1).
pub const MAX_SKEW_SECONDS: i64 = 15 * 60;

/// The parsed `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// The AK.
    pub access_key: String,
    /// Signed header names.
    pub signed_headers: Vec<String>,
    /// Lowercase hex signature.
    pub signature: String,
}

/// An authentication error (401 `APIGW.0301`).
pub fn auth_error(message: impl Into<String>) -> ApiError {
    ApiError::new(
        401,
        "APIGW.0301",
        format!(
            "Incorrect IAM authentication information: {}",
            message.into()
        ),
    )
}

/// Parses `SDK-HMAC-SHA256 Access=AK, SignedHeaders=a;b, Signature=hex`.
pub fn parse_authorization(value: &str) -> Result<Authorization, ApiError> {
    let fields = value
        .strip_prefix(ALGORITHM)
        .and_then(|rest| rest.strip_prefix(' '))
        .ok_or_else(|| auth_error(format!("Authorization must start with `{ALGORITHM} `")))?;
    let (mut access, mut signed, mut signature) = (None, None, None);
    for field in fields.split(", ") {
        let (key, val) = field
            .split_once('=')
            .ok_or_else(|| auth_error(format!("malformed Authorization field `{field}`")))?;
        let slot = match key {
            "Access" => &mut access,
            "SignedHeaders" => &mut signed,
            "Signature" => &mut signature,
            _ => return Err(auth_error(format!("unknown Authorization field `{key}`"))),
        };
        if val.is_empty() || slot.replace(val.to_owned()).is_some() {
            return Err(auth_error(format!(
                "Authorization field `{key}` empty or repeated"
            )));
        }
    }
    Ok(Authorization {
        access_key: access.ok_or_else(|| auth_error("Authorization has no `Access=`"))?,
        signed_headers: signed
            .ok_or_else(|| auth_error("Authorization has no `SignedHeaders=`"))?
            .split(';')
            .map(str::to_owned)
            .collect(),
        signature: signature.ok_or_else(|| auth_error("Authorization has no `Signature=`"))?,
    })
}

/// The canonical request over the received pieces.
pub fn canonical_request(
    request: &Received<'_>,
    signed_headers: &[String],
) -> Result<String, ApiError> {
    let mut uri = canonical_uri(request.path)?;
    if !uri.ends_with('/') {
        uri.push('/');
    }
    let mut headers = String::new();
    for name in signed_headers {
        let value = header_value(request.headers, name)
            .map_err(|_| auth_error(format!("signed header `{name}` is not in the request")))?;
        headers.push_str(&format!("{name}:{value}\n"));
    }
    Ok(format!(
        "{}\n{uri}\n{}\n{headers}\n{}\n{}",
        request.method.to_ascii_uppercase(),
        canonical_query(request.query)?,
        signed_headers.join(";"),
        hex::encode(Sha256::digest(request.body))
    ))
}

/// `SDK-HMAC-SHA256\n<X-Sdk-Date>\n<hex sha256 of the canonical request>`.
pub fn string_to_sign(date: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{date}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    )
}

/// Lowercase hex HMAC-SHA256 keyed with the raw SK.
pub fn signature(secret_key: &str, string_to_sign: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret_key.as_bytes())
        .expect("hmac accepts keys of any length");
    mac.update(string_to_sign.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Parses `YYYYMMDDTHHMMSSZ` into Unix seconds.
pub fn parse_basic_date(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    parse_iso8601(&format!(
        "{}-{}-{}T{}:{}:{}Z",
        text.get(0..4)?,
        text.get(4..6)?,
        text.get(6..8)?,
        text.get(9..11)?,
        text.get(11..13)?,
        text.get(13..15)?
    ))
}

/// Verifies a request against `secret_of` (AK → SK) at server time `now`;
/// returns the AK.
pub fn verify(
    request: &Received<'_>,
    secret_of: impl Fn(&str) -> Option<String>,
    now: i64,
) -> Result<String, ApiError> {
    let value = header_value(request.headers, "authorization")
        .map_err(|_| auth_error("the Authorization header is missing"))?;
    let auth = parse_authorization(&value)?;
    let secret = secret_of(&auth.access_key)
        .ok_or_else(|| auth_error(format!("ak {} not exist", auth.access_key)))?;
    if !auth.signed_headers.iter().any(|name| name == "x-sdk-date") {
        return Err(auth_error("header `x-sdk-date` must be signed"));
    }
    let date = header_value(request.headers, "x-sdk-date")
        .map_err(|_| auth_error("header `X-Sdk-Date` is missing"))?;
    let at = parse_basic_date(&date)
        .ok_or_else(|| auth_error(format!("X-Sdk-Date `{date}` is not `YYYYMMDDTHHMMSSZ`")))?;
    if (at - now).abs() > MAX_SKEW_SECONDS {
        return Err(auth_error(format!(
            "signature expired, signature time {date}, server time {}",
            crate::time::format_iso8601(now)
        )));
    }
    let canonical = canonical_request(request, &auth.signed_headers)?;
    let expected = signature(&secret, &string_to_sign(&date, &canonical));
    let matches = expected.len() == auth.signature.len()
        && expected
            .bytes()
            .zip(auth.signature.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0;
    if !matches {
        return Err(auth_error(format!(
            "verify aksk signature fail, canonicalRequest: {}",
            canonical.replace('\n', "|")
        )));
    }
    Ok(auth.access_key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::HeaderMap;
    use hyper::header::{HeaderName, HeaderValue};
    use serde_json::Value;

    const VECTORS: &str = include_str!("../../tests/data/signing-vectors.json");

    fn vector(id: &str) -> Value {
        let all: Vec<Value> = serde_json::from_str(VECTORS).unwrap();
        all.into_iter().find(|v| v["id"] == id).unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn reproduces_the_published_vpc_vector() {
        let v = vector("huawei-sdk-hmac-sha256-doc-vpcs");
        let (inputs, expected) = (&v["inputs"], &v["expected"]);
        let authorization = expected["authorization"].as_str().unwrap();
        let headers = headers(&[
            ("host", "service.region.example.com"),
            ("content-type", "application/json"),
            ("x-sdk-date", "20191115T033655Z"),
            ("authorization", authorization),
        ]);
        // The query arrives in reverse order: the verifier sorts.
        let request = Received {
            method: "GET",
            path: "/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs",
            query: "marker=13551d6b-755d-4757-b956-536f674975c0&limit=2",
            headers: &headers,
            body: b"",
        };
        let auth = parse_authorization(authorization).unwrap();
        assert_eq!(
            canonical_request(&request, &auth.signed_headers).unwrap(),
            expected["canonical_request"].as_str().unwrap()
        );
        let secret = inputs["secret_key"].as_str().unwrap().to_owned();
        let now = parse_basic_date("20191115T033655Z").unwrap();
        assert_eq!(
            verify(&request, |_| Some(secret.clone()), now).unwrap(),
            "QTWAOYTTINDUT2QVKYUC"
        );

        let err = verify(&request, |_| Some(secret.clone()), now + 901).unwrap_err();
        assert!(err.message.contains("signature expired"), "{err}");
        let err = verify(&request, |_| None, now).unwrap_err();
        assert_eq!((err.status, err.code.as_str()), (401, "APIGW.0301"));
    }

    #[test]
    fn reproduces_the_derived_cfw_vector_and_echoes_the_canonical_request() {
        let v = vector("DERIVED-huawei-cfw-addblackwhitelist");
        let (inputs, expected) = (&v["inputs"], &v["expected"]);
        let authorization = expected["authorization"].as_str().unwrap();
        let headers = headers(&[
            ("host", "cfw.cn-north-4.myhuaweicloud.com"),
            ("content-type", "application/json"),
            ("x-sdk-date", "20191115T033655Z"),
            ("authorization", authorization),
        ]);
        let body = inputs["body"].as_str().unwrap().as_bytes();
        let request = Received {
            method: "POST",
            path: "/v1/9d80d070b6d44942af73c9c3d38e0429/black-white-list",
            query: "",
            headers: &headers,
            body,
        };
        let secret = inputs["secret_key"].as_str().unwrap().to_owned();
        let now = parse_basic_date("20191115T033655Z").unwrap();
        verify(&request, |_| Some(secret.clone()), now).unwrap();

        let mut tampered = body.to_vec();
        tampered[5] ^= 1;
        let request = Received {
            body: &tampered,
            ..request
        };
        let err = verify(&request, |_| Some(secret.clone()), now).unwrap_err();
        assert!(
            err.message.contains(
                "canonicalRequest: POST|/v1/9d80d070b6d44942af73c9c3d38e0429/black-white-list/||"
            ),
            "{err}"
        );
    }

    #[test]
    fn parses_only_the_basic_date_form() {
        assert_eq!(
            parse_basic_date("20191115T033655Z"),
            parse_iso8601("2019-11-15T03:36:55Z")
        );
        for bad in [
            "2019-11-15T03:36:55Z",
            "20191115T033655",
            "20191315T033655Z",
            "20191115 033655Z",
        ] {
            assert_eq!(parse_basic_date(bad), None, "{bad}");
        }
    }
}
