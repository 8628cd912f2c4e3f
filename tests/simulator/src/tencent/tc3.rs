//! Verifier for Tencent Cloud API 3.0 signatures, `TC3-HMAC-SHA256`.
//!
//! Written from the specification in `shared/reference/providers.md` §2.1
//! (source: <https://cloud.tencent.com/document/api/213/30654>), without
//! `riposte-sdk`, and checked against the published CVM vector and the
//! derived CFW vector of §5 (`tests/data/signing-vectors.json`).
//!
//! What it checks, in order: the `Authorization` shape
//! (`AuthFailure.InvalidAuthorization`), the SecretId
//! (`AuthFailure.SecretIdNotFound`), that `content-type` and `host` are
//! signed, the `X-TC-Timestamp` window of 5 minutes
//! (`AuthFailure.SignatureExpire`), that the scope's date is the UTC date
//! of the timestamp, then the signature (`AuthFailure.SignatureFailure`).

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::aliyun::acs3::{Received, header_value};
use crate::aliyun::error::ApiError;
use crate::time::format_iso8601;

/// The algorithm name.
pub const ALGORITHM: &str = "TC3-HMAC-SHA256";

/// Allowed distance between `X-TC-Timestamp` and server time: 5 minutes
/// (§2.1, "Timestamp skew > 5 minutes ⇒ failure").
pub const MAX_SKEW_SECONDS: i64 = 5 * 60;

/// The parsed `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// The SecretId.
    pub secret_id: String,
    /// The scope's date, `YYYY-MM-DD`.
    pub date: String,
    /// The scope's service, e.g. `cfw`.
    pub service: String,
    /// Signed header names, as listed.
    pub signed_headers: Vec<String>,
    /// Lowercase hex signature.
    pub signature: String,
}

/// What a verified request proved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The SecretId that signed.
    pub secret_id: String,
    /// The scope's service.
    pub service: String,
    /// `X-TC-Action` as sent.
    pub action: String,
    /// `X-TC-Version` as sent.
    pub version: String,
    /// `X-TC-Region`, empty when absent.
    pub region: String,
}

/// An error in Tencent's vocabulary; the status is unused (Tencent answers
/// HTTP 200).
pub fn error(code: &str, message: impl Into<String>) -> ApiError {
    ApiError::new(200, code, message)
}

/// Parses `TC3-HMAC-SHA256 Credential=ID/date/service/tc3_request,
/// SignedHeaders=a;b, Signature=hex` (`, ` between fields).
pub fn parse_authorization(value: &str) -> Result<Authorization, ApiError> {
    let bad = |why: &str| {
        error(
            "AuthFailure.InvalidAuthorization",
            format!("the `Authorization` header is not valid: {why}"),
        )
    };
    let fields = value
        .strip_prefix(ALGORITHM)
        .and_then(|rest| rest.strip_prefix(' '))
        .ok_or_else(|| bad(&format!("it must start with `{ALGORITHM} `")))?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for field in fields.split(", ") {
        let (key, val) = field
            .split_once('=')
            .ok_or_else(|| bad(&format!("field `{field}` has no `=`")))?;
        let slot = match key {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed,
            "Signature" => &mut signature,
            _ => return Err(bad(&format!("unknown field `{key}`"))),
        };
        if val.is_empty() || slot.replace(val.to_owned()).is_some() {
            return Err(bad(&format!("field `{key}` is empty or repeated")));
        }
    }
    let credential = credential.ok_or_else(|| bad("no `Credential=`"))?;
    let parts: Vec<&str> = credential.split('/').collect();
    let [secret_id, date, service, "tc3_request"] = parts.as_slice() else {
        return Err(bad(
            "`Credential` is not `SecretId/date/service/tc3_request`",
        ));
    };
    Ok(Authorization {
        secret_id: (*secret_id).to_owned(),
        date: (*date).to_owned(),
        service: (*service).to_owned(),
        signed_headers: signed
            .ok_or_else(|| bad("no `SignedHeaders=`"))?
            .split(';')
            .map(str::to_owned)
            .collect(),
        signature: signature.ok_or_else(|| bad("no `Signature=`"))?,
    })
}

/// The canonical request: the URI is always `/`; header names and values
/// are lowercased and trimmed; the query is the raw query string as sent
/// (empty for `POST`).
pub fn canonical_request(
    request: &Received<'_>,
    signed_headers: &[String],
) -> Result<String, ApiError> {
    let mut headers = String::new();
    for name in signed_headers {
        let value = header_value(request.headers, name).map_err(|_| {
            error(
                "AuthFailure.SignatureFailure",
                format!("signed header `{name}` is missing"),
            )
        })?;
        headers.push_str(&format!("{name}:{}\n", value.to_ascii_lowercase()));
    }
    Ok(format!(
        "{}\n/\n{}\n{headers}\n{}\n{}",
        request.method.to_ascii_uppercase(),
        request.query,
        signed_headers.join(";"),
        hex::encode(Sha256::digest(request.body))
    ))
}

/// `TC3-HMAC-SHA256\n<timestamp>\n<scope>\n<hex sha256 of the canonical
/// request>`.
pub fn string_to_sign(timestamp: i64, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{timestamp}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    )
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("hmac accepts keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The signing key: `"TC3" + secret` → date → service → `tc3_request`.
pub fn signing_key(secret_key: &str, date: &str, service: &str) -> Vec<u8> {
    let secret_date = hmac(format!("TC3{secret_key}").as_bytes(), date.as_bytes());
    let secret_service = hmac(&secret_date, service.as_bytes());
    hmac(&secret_service, b"tc3_request")
}

/// The lowercase hex signature of `string_to_sign`.
pub fn signature(secret_key: &str, date: &str, service: &str, string_to_sign: &str) -> String {
    hex::encode(hmac(
        &signing_key(secret_key, date, service),
        string_to_sign.as_bytes(),
    ))
}

/// Verifies a received request against `secret_of` (SecretId → SecretKey)
/// at server time `now` (Unix seconds).
pub fn verify(
    request: &Received<'_>,
    secret_of: impl Fn(&str) -> Option<String>,
    now: i64,
) -> Result<Verified, ApiError> {
    let value = header_value(request.headers, "authorization").map_err(|_| {
        error(
            "AuthFailure.InvalidAuthorization",
            "the `Authorization` header is missing",
        )
    })?;
    let auth = parse_authorization(&value)?;
    let secret = secret_of(&auth.secret_id).ok_or_else(|| {
        error(
            "AuthFailure.SecretIdNotFound",
            format!("SecretId `{}` does not exist", auth.secret_id),
        )
    })?;
    for required in ["content-type", "host"] {
        if !auth.signed_headers.iter().any(|name| name == required) {
            return Err(error(
                "AuthFailure.SignatureFailure",
                format!("header `{required}` must be signed"),
            ));
        }
    }
    let timestamp_text = header_value(request.headers, "x-tc-timestamp")
        .map_err(|_| error("MissingParameter", "header `X-TC-Timestamp` is missing"))?;
    let timestamp: i64 = timestamp_text.parse().map_err(|_| {
        error(
            "InvalidParameterValue",
            format!("`X-TC-Timestamp` `{timestamp_text}` is not an integer"),
        )
    })?;
    if (timestamp - now).abs() > MAX_SKEW_SECONDS {
        return Err(error(
            "AuthFailure.SignatureExpire",
            format!(
                "signature expired: timestamp {timestamp} is more than {MAX_SKEW_SECONDS} s \
                 from server time {now}"
            ),
        ));
    }
    let utc_date = &format_iso8601(timestamp)[..10];
    if auth.date != utc_date {
        return Err(error(
            "AuthFailure.SignatureFailure",
            format!(
                "the credential scope date `{}` is not the UTC date `{utc_date}` of the timestamp",
                auth.date
            ),
        ));
    }
    let canonical = canonical_request(request, &auth.signed_headers)?;
    let scope = format!("{}/{}/tc3_request", auth.date, auth.service);
    let expected = signature(
        &secret,
        &auth.date,
        &auth.service,
        &string_to_sign(timestamp, &scope, &canonical),
    );
    if !constant_time_eq(expected.as_bytes(), auth.signature.as_bytes()) {
        return Err(error(
            "AuthFailure.SignatureFailure",
            "the provided credentials could not be validated; check the signature",
        ));
    }
    let header = |name: &str| header_value(request.headers, name).unwrap_or_default();
    let action = header("x-tc-action");
    if action.is_empty() {
        return Err(error("MissingParameter", "header `X-TC-Action` is missing"));
    }
    Ok(Verified {
        secret_id: auth.secret_id,
        service: auth.service,
        action,
        version: header("x-tc-version"),
        region: header("x-tc-region"),
    })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
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

    /// The request of a vector, with its published `Authorization`.
    fn request_of(v: &Value, authorization: &str) -> (HeaderMap, Vec<u8>) {
        let inputs = &v["inputs"];
        let timestamp = inputs["timestamp"].as_i64().unwrap().to_string();
        let content_type = inputs["content_type"]
            .as_str()
            .unwrap_or("application/json; charset=utf-8");
        let headers = headers(&[
            ("content-type", content_type),
            ("host", inputs["host"].as_str().unwrap()),
            ("x-tc-action", inputs["action"].as_str().unwrap()),
            ("x-tc-version", inputs["version"].as_str().unwrap()),
            ("x-tc-timestamp", &timestamp),
            ("authorization", authorization),
        ]);
        (
            headers,
            inputs["payload"].as_str().unwrap().as_bytes().to_vec(),
        )
    }

    fn received<'a>(headers: &'a HeaderMap, body: &'a [u8]) -> Received<'a> {
        Received {
            method: "POST",
            path: "/",
            query: "",
            headers,
            body,
        }
    }

    #[test]
    fn reproduces_the_published_cvm_vector() {
        let v = vector("tencent-tc3-doc-current-cvm-describeinstances");
        let expected = &v["expected"];
        let authorization = expected["authorization"].as_str().unwrap();
        let (headers, body) = request_of(&v, authorization);
        let request = received(&headers, &body);
        let auth = parse_authorization(authorization).unwrap();
        let canonical = canonical_request(&request, &auth.signed_headers).unwrap();
        assert_eq!(canonical, expected["canonical_request"].as_str().unwrap());
        let secret = v["inputs"]["secret_key"].as_str().unwrap();
        assert_eq!(
            hex::encode(signing_key(secret, "2019-02-25", "cvm")),
            expected["secret_signing_hex"].as_str().unwrap()
        );
        let now = v["inputs"]["timestamp"].as_i64().unwrap();
        let verified = verify(&request, |_| Some(secret.to_owned()), now).unwrap();
        assert_eq!(verified.action, "DescribeInstances");
        assert_eq!(verified.service, "cvm");
    }

    #[test]
    fn reproduces_the_derived_cfw_vector() {
        let v = vector("DERIVED-tencent-tc3-cfw-createblockignorerulelist");
        let expected = &v["expected"];
        let id = v["inputs"]["secret_id"].as_str().unwrap();
        let signature = expected["signature"].as_str().unwrap();
        let authorization = format!(
            "{ALGORITHM} Credential={id}/2019-02-25/cfw/tc3_request, \
             SignedHeaders=content-type;host;x-tc-action, Signature={signature}"
        );
        let (headers, body) = request_of(&v, &authorization);
        let secret = v["inputs"]["secret_key"].as_str().unwrap().to_owned();
        let request = received(&headers, &body);
        let canonical = canonical_request(
            &request,
            &parse_authorization(&authorization).unwrap().signed_headers,
        )
        .unwrap();
        assert_eq!(canonical, expected["canonical_request"].as_str().unwrap());
        verify(&request, |_| Some(secret.clone()), 1_551_113_065).unwrap();

        // One byte of body changed: refused.
        let mut tampered = body.clone();
        tampered[10] ^= 1;
        let err = verify(
            &received(&headers, &tampered),
            |_| Some(secret.clone()),
            1_551_113_065,
        )
        .unwrap_err();
        assert_eq!(err.code, "AuthFailure.SignatureFailure");
    }

    #[test]
    fn enforces_the_five_minute_window_and_known_ids() {
        let v = vector("DERIVED-tencent-tc3-cfw-createblockignorerulelist");
        let signature = v["expected"]["signature"].as_str().unwrap();
        let authorization = format!(
            "{ALGORITHM} Credential=AKID********************************/2019-02-25/cfw/tc3_request, \
             SignedHeaders=content-type;host;x-tc-action, Signature={signature}"
        );
        let (headers, body) = request_of(&v, &authorization);
        let request = received(&headers, &body);
        let secret = || Some("********************************".to_owned());
        verify(&request, |_| secret(), 1_551_113_065 + 299).unwrap();
        let err = verify(&request, |_| secret(), 1_551_113_065 + 301).unwrap_err();
        assert_eq!(err.code, "AuthFailure.SignatureExpire");
        let err = verify(&request, |_| secret(), 1_551_113_065 - 301).unwrap_err();
        assert_eq!(err.code, "AuthFailure.SignatureExpire");
        let err = verify(&request, |_| None, 1_551_113_065).unwrap_err();
        assert_eq!(err.code, "AuthFailure.SecretIdNotFound");
    }

    #[test]
    fn rejects_malformed_authorization() {
        for bad in [
            "TC3-HMAC-SHA256 Credential=a/2019-02-25/cfw/tc3_request,SignedHeaders=host,Signature=x",
            "TC3-HMAC-SHA1 Credential=a/2019-02-25/cfw/tc3_request, SignedHeaders=host, Signature=x",
            "TC3-HMAC-SHA256 Credential=a/2019-02-25/cfw, SignedHeaders=host, Signature=x",
            "TC3-HMAC-SHA256 Credential=a/2019-02-25/cfw/tc3_request, Signature=x",
        ] {
            let err = parse_authorization(bad).unwrap_err();
            assert_eq!(err.code, "AuthFailure.InvalidAuthorization", "{bad}");
        }
    }
}
