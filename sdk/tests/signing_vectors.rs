//! Every signing vector of `data/signing-vectors.json` (a verbatim copy of
//! the reference file beside `providers.md`), reproduced by the signers:
//! canonical request, string to sign, signature and `Authorization` where
//! the vector gives them.
//!
//! Vectors marked `"published": true` come from the providers' own
//! documentation; the `DERIVED-*` ones were computed for our requests and
//! guard against regressions only.

use riposte_sdk::sign::{
    InMemoryCredential, Nonce, Request, SignedRequest, Timestamp, acs3, huawei, sha256_hex, tc3,
};
use serde_json::Value;

const VECTORS: &str = include_str!("data/signing-vectors.json");

/// The string at `path` (object keys) of `value`, or `None`.
fn get<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(value, |value, key| value.get(key))
        .and_then(Value::as_str)
}

/// The string at `path`, which the vector must have.
fn must<'a>(value: &'a Value, path: &[&str]) -> &'a str {
    get(value, path).unwrap_or_else(|| panic!("vector has no string at {path:?}"))
}

/// `(name, value)` pairs of the JSON object at `key` of `inputs`.
fn pairs(inputs: &Value, key: &str) -> Vec<(String, String)> {
    inputs
        .get(key)
        .and_then(Value::as_object)
        .map(|object| {
            object
                .iter()
                .map(|(name, value)| (name.clone(), value.as_str().unwrap().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// The header `name` (case-insensitive) of the vector's `headers`.
fn header(inputs: &Value, name: &str) -> Option<String> {
    pairs(inputs, "headers")
        .into_iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value)
}

/// Splits `https://host/path?a=1&b=2` into host, path and query pairs. The
/// vectors' URLs need no decoding.
fn split_url(url: &str) -> (String, String, Vec<(String, String)>) {
    let rest = url.strip_prefix("https://").expect("https url");
    let (authority, path_and_query) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let query = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (name.to_owned(), value.to_owned())
        })
        .collect();
    (authority.to_owned(), path.to_owned(), query)
}

fn with_query(mut request: Request, query: Vec<(String, String)>) -> Request {
    for (name, value) in query {
        request = request.query(name, value);
    }
    request
}

fn sign_alibaba(inputs: &Value) -> SignedRequest {
    let credential = InMemoryCredential::new(
        must(inputs, &["access_key_id"]),
        must(inputs, &["access_key_secret"]),
    );
    let action = get(inputs, &["action"]).map(str::to_owned);
    let action = action.or_else(|| header(inputs, "x-acs-action")).unwrap();
    let version = get(inputs, &["version"]).map(str::to_owned);
    let version = version.or_else(|| header(inputs, "x-acs-version")).unwrap();
    let date = get(inputs, &["date"]).map(str::to_owned);
    let date = date.or_else(|| header(inputs, "x-acs-date")).unwrap();
    let nonce = get(inputs, &["nonce"]).map(str::to_owned);
    let nonce = nonce
        .or_else(|| header(inputs, "x-acs-signature-nonce"))
        .unwrap();

    let path = get(inputs, &["canonical_uri"]).unwrap_or("/");
    let mut request = Request::new(must(inputs, &["method"]), must(inputs, &["host"]), path);
    request = with_query(request, pairs(inputs, "query"));
    let body = must(inputs, &["body"]);
    if let Some(content_type) = get(inputs, &["content_type"]) {
        request = request.body(content_type, body);
    } else {
        assert!(body.is_empty(), "a body needs a content type");
    }

    let api = acs3::Api {
        action: &action,
        version: &version,
    };
    let time: Timestamp = date.parse().unwrap();
    let nonce = Nonce::new(nonce).unwrap();
    acs3::sign(&credential, &api, &request, time, nonce).unwrap()
}

fn sign_tencent(inputs: &Value) -> SignedRequest {
    let credential =
        InMemoryCredential::new(must(inputs, &["secret_id"]), must(inputs, &["secret_key"]));
    // The derived vector leaves out the method and content type; its
    // canonical request shows the defaults of a TC3 `POST`.
    let method = get(inputs, &["method"]).unwrap_or("POST");
    let content_type = get(inputs, &["content_type"]).unwrap_or("application/json; charset=utf-8");
    let request = Request::new(method, must(inputs, &["host"]), "/")
        .body(content_type, must(inputs, &["payload"]));
    let api = tc3::Api {
        service: must(inputs, &["service"]),
        action: must(inputs, &["action"]),
        version: must(inputs, &["version"]),
        region: get(inputs, &["region"]),
    };
    let timestamp = inputs["timestamp"].as_u64().expect("numeric timestamp");
    let signed = tc3::sign(
        &credential,
        &api,
        &request,
        Timestamp::from_unix_seconds(timestamp),
    )
    .unwrap();
    if let Some(expected) = get(inputs, &["signed_headers"]) {
        assert_eq!(signed.details.signed_headers, expected);
    }
    signed
}

fn sign_huawei(inputs: &Value) -> SignedRequest {
    let credential =
        InMemoryCredential::new(must(inputs, &["access_key"]), must(inputs, &["secret_key"]));
    let (host, path, query) = split_url(must(inputs, &["url"]));
    if let Some(given) = header(inputs, "host") {
        assert_eq!(given, host);
    }
    let date = get(inputs, &["x_sdk_date"]).map(str::to_owned);
    let date = date.or_else(|| header(inputs, "x-sdk-date")).unwrap();
    // The derived vector gives no content type; its canonical request signs
    // `application/json`, as does the published one.
    let content_type = header(inputs, "content-type").unwrap_or("application/json".into());

    let request = Request::new(must(inputs, &["method"]), host, path)
        .body(content_type, must(inputs, &["body"]));
    let request = with_query(request, query);
    huawei::sign(&credential, &request, date.parse().unwrap()).unwrap()
}

#[test]
fn every_vector_reproduces() {
    let vectors: Vec<Value> = serde_json::from_str(VECTORS).unwrap();
    let mut checked = Vec::new();

    for vector in &vectors {
        let id = must(vector, &["id"]);
        let inputs = &vector["inputs"];
        let expected = &vector["expected"];
        let signed = if id.contains("alibaba-acs3") {
            sign_alibaba(inputs)
        } else if id.contains("tencent-tc3") {
            sign_tencent(inputs)
        } else if id.contains("huawei") {
            sign_huawei(inputs)
        } else {
            panic!("vector `{id}` names no provider this test knows");
        };
        let details = &signed.details;

        assert_eq!(
            details.canonical_request,
            must(expected, &["canonical_request"]),
            "{id}"
        );
        if let Some(hash) = get(expected, &["hashed_canonical_request"]) {
            assert_eq!(
                sha256_hex(details.canonical_request.as_bytes()),
                hash,
                "{id}"
            );
        }
        for key in ["hashed_payload", "hashed_request_payload"] {
            if let Some(hash) = get(expected, &[key]) {
                assert_eq!(sha256_hex(&signed.body), hash, "{id}");
            }
        }
        if let Some(string_to_sign) = get(expected, &["string_to_sign"]) {
            assert_eq!(details.string_to_sign, string_to_sign, "{id}");
        }
        if let Some(scope) = get(expected, &["credential_scope"]) {
            assert!(
                details.string_to_sign.contains(&format!("\n{scope}\n")),
                "{id}"
            );
        }
        assert_eq!(details.signature, must(expected, &["signature"]), "{id}");
        if let Some(authorization) = get(expected, &["authorization"]) {
            assert_eq!(details.authorization, authorization, "{id}");
            assert_eq!(signed.header("authorization"), Some(authorization), "{id}");
        }
        checked.push(id);
    }

    // Three published vectors and three derived ones: a vector dropped from
    // the file would otherwise pass unnoticed.
    assert_eq!(checked.len(), 6, "{checked:?}");
    let published = vectors.iter().filter(|v| v["published"] == true).count();
    assert_eq!(published, 3);
}
