//! Tencent Cloud API 3.0 signature, `TC3-HMAC-SHA256`.
//!
//! Reference: <https://cloud.tencent.com/document/api/213/30654> (签名方法
//! v3; the same text is published under every product), English
//! <https://www.tencentcloud.com/document/api/213/33224>. Official demos:
//! <https://github.com/TencentCloud/signature-process-demo>.
//!
//! ```text
//! CanonicalRequest = METHOD \n "/" \n CanonicalQuery \n
//!                    CanonicalHeaders \n SignedHeaders \n hex(sha256(body))
//! CredentialScope  = Date "/" service "/tc3_request"
//! StringToSign     = "TC3-HMAC-SHA256" \n Timestamp \n CredentialScope \n
//!                    hex(sha256(CanonicalRequest))
//! SecretDate       = hmac_sha256("TC3" + SecretKey, Date)
//! SecretService    = hmac_sha256(SecretDate, service)
//! SecretSigning    = hmac_sha256(SecretService, "tc3_request")
//! Signature        = hex(hmac_sha256(SecretSigning, StringToSign))
//! ```
//!
//! `Date` is the UTC date of the timestamp. Only the first step needs the
//! secret and runs in the [`Credential`]; the later ones use keys scoped to
//! one day and one service and run here.
//!
//! The signer sends `X-TC-Action`, `X-TC-Version`, `X-TC-Timestamp` and,
//! when given, `X-TC-Region`, and signs `content-type`, `host` and
//! `x-tc-action` as the current documentation does. Canonical header values
//! are lowercased (the wire values are not). With temporary credentials,
//! add `X-TC-Token` with [`Request::header`].
//!
//! Requests are `POST /` with a JSON body, or `GET /` with the parameters in
//! the query; for `GET` the canonical query is the query string as sent, in
//! the order given.

use std::collections::BTreeMap;

use super::{
    Credential, Request, SignError, SignedRequest, SigningDetails, Timestamp, canonical_headers,
    canonical_request, check_key_id, check_value, hmac_sha256, invalid, sha256_hex,
};

/// The algorithm name, first line of the string to sign.
pub const ALGORITHM: &str = "TC3-HMAC-SHA256";

/// Headers this signer sets; a request may not carry them.
const SET_BY_SIGNER: &[&str] = &[
    "x-tc-action",
    "x-tc-version",
    "x-tc-timestamp",
    "x-tc-region",
];

/// The API operation a request calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Api<'a> {
    /// The product's service name, the first label of its endpoint: `cvm`,
    /// `cfw`, `waf` (also for `cfw.intl.tencentcloudapi.com`).
    pub service: &'a str,
    /// The operation name, sent as `X-TC-Action`, e.g. `DescribeInstances`.
    pub action: &'a str,
    /// The product's API version, sent as `X-TC-Version`, e.g. `2019-09-04`.
    pub version: &'a str,
    /// The region, sent as `X-TC-Region` when the API is regional.
    pub region: Option<&'a str>,
}

/// Signs `request` for `api` at `time`.
///
/// `time` must be fresh for every attempt: Tencent refuses a timestamp more
/// than 5 minutes away from its clock (`AuthFailure.SignatureExpire`), so a
/// retry reads the clock and signs again.
///
/// The request must be `POST` or `GET` to path `/` with a content type
/// (`application/json; charset=utf-8` for `POST`,
/// `application/x-www-form-urlencoded` for `GET`); a `POST` takes no query
/// and a `GET` no body. Fails with [`SignError::InvalidRequest`] otherwise or
/// when it sets a header this signer sets, and with [`SignError::Credential`]
/// when the credential cannot compute the MAC.
///
/// ```
/// use riposte_sdk::sign::{tc3, InMemoryCredential, Request, Timestamp};
///
/// let credential = InMemoryCredential::new("AKIDexample", "secret");
/// let body = r#"{"Rules":[{"IP":"198.51.100.7","Direction":1}],"RuleType":1}"#;
/// let request = Request::new("POST", "cfw.tencentcloudapi.com", "/")
///     .body("application/json; charset=utf-8", body);
/// let api = tc3::Api {
///     service: "cfw",
///     action: "CreateBlockIgnoreRuleList",
///     version: "2019-09-04",
///     region: None,
/// };
///
/// let now = Timestamp::from_unix_seconds(1_551_113_065);
/// let signed = tc3::sign(&credential, &api, &request, now)?;
/// assert_eq!(signed.header("X-TC-Timestamp"), Some("1551113065"));
/// assert!(signed.details.authorization.contains("/2019-02-25/cfw/tc3_request, "));
/// # Ok::<(), riposte_sdk::sign::SignError>(())
/// ```
pub fn sign<C: Credential + ?Sized>(
    credential: &C,
    api: &Api<'_>,
    request: &Request,
    time: Timestamp,
) -> Result<SignedRequest, SignError> {
    let checked = request.check(SET_BY_SIGNER)?;
    check_api(api)?;
    let key_id = credential.key_id();
    check_key_id(&key_id)?;
    let content_type = checked.content_type.ok_or_else(|| {
        invalid(
            "`content-type` is required: Tencent Cloud signs it; set it with \
             `Request::body` or `Request::content_type`, e.g. `application/json; charset=utf-8`"
                .into(),
        )
    })?;
    if checked.path != "/" {
        return Err(invalid(format!(
            "path `{}` is not `/`, the only path of Tencent Cloud API 3.0",
            checked.path
        )));
    }
    let query = match checked.method.as_str() {
        "POST" if request.has_query() => {
            return Err(invalid(
                "query parameters on a `POST` are not signed by Tencent Cloud; \
                 put them in the body"
                    .into(),
            ));
        }
        "POST" => String::new(),
        "GET" if !checked.body.is_empty() => {
            return Err(invalid(
                "a `GET` to Tencent Cloud carries its parameters in the query; remove the body"
                    .into(),
            ));
        }
        "GET" => request.ordered_query(),
        other => {
            return Err(invalid(format!(
                "method `{other}` is not accepted by Tencent Cloud API 3.0; use `POST` or `GET`"
            )));
        }
    };

    // What goes on the wire: content type, the caller's headers, ours.
    let mut headers: Vec<(String, String)> = vec![("Content-Type".into(), content_type.into())];
    for &(name, value) in &checked.headers {
        headers.push((name.into(), value.into()));
    }
    headers.extend([
        ("X-TC-Action".into(), api.action.trim().into()),
        ("X-TC-Version".into(), api.version.trim().into()),
        ("X-TC-Timestamp".into(), time.unix_seconds().to_string()),
    ]);
    if let Some(region) = api.region {
        headers.push(("X-TC-Region".into(), region.trim().into()));
    }

    // Names and values both lowercase in the canonical form.
    let signed = BTreeMap::from([
        ("content-type".to_owned(), content_type.to_ascii_lowercase()),
        ("host".to_owned(), checked.host.to_ascii_lowercase()),
        (
            "x-tc-action".to_owned(),
            api.action.trim().to_ascii_lowercase(),
        ),
    ]);
    let (headers_block, signed_headers) = canonical_headers(&signed);

    let canonical_request = canonical_request(
        &checked.method,
        "/",
        &query,
        &headers_block,
        &signed_headers,
        &checked.body_sha256,
    );
    let date = time.date();
    let scope = format!("{date}/{}/tc3_request", api.service);
    let string_to_sign = format!(
        "{ALGORITHM}\n{}\n{scope}\n{}",
        time.unix_seconds(),
        sha256_hex(canonical_request.as_bytes())
    );
    let keys = SigningKeys::derive(credential, &date, api.service)?;
    let signature = hex::encode(hmac_sha256(&keys.signing, string_to_sign.as_bytes())?);
    let authorization = format!(
        "{ALGORITHM} Credential={key_id}/{scope}, SignedHeaders={signed_headers}, \
         Signature={signature}"
    );

    let details = SigningDetails {
        canonical_request,
        string_to_sign,
        signed_headers,
        signature,
        authorization,
    };
    Ok(SignedRequest::assemble(checked, &query, headers, details))
}

fn check_api(api: &Api<'_>) -> Result<(), SignError> {
    let service_ok = !api.service.is_empty()
        && api
            .service
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !service_ok {
        return Err(invalid(format!(
            "`{}` is not a Tencent Cloud service name; expected the first label of the \
             endpoint, such as `cfw` for `cfw.tencentcloudapi.com`",
            api.service.escape_default()
        )));
    }
    check_value("x-tc-action", api.action)?;
    check_value("x-tc-version", api.version)?;
    if let Some(region) = api.region {
        check_value("x-tc-region", region)?;
    }
    Ok(())
}

/// The keys derived from the secret for one day and one service.
struct SigningKeys {
    #[cfg(test)]
    date: [u8; 32],
    #[cfg(test)]
    service: [u8; 32],
    signing: [u8; 32],
}

impl SigningKeys {
    fn derive<C: Credential + ?Sized>(
        credential: &C,
        date: &str,
        service: &str,
    ) -> Result<Self, SignError> {
        let secret_date = credential.hmac_sha256(b"TC3", date.as_bytes())?;
        let secret_service = hmac_sha256(&secret_date, service.as_bytes())?;
        let secret_signing = hmac_sha256(&secret_service, b"tc3_request")?;
        Ok(Self {
            #[cfg(test)]
            date: secret_date,
            #[cfg(test)]
            service: secret_service,
            signing: secret_signing,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::InMemoryCredential;

    /// The doc's masked credentials are literal asterisks.
    fn credential() -> InMemoryCredential {
        InMemoryCredential::new(format!("AKID{}", "*".repeat(32)), "*".repeat(32))
    }

    const CVM: Api<'static> = Api {
        service: "cvm",
        action: "DescribeInstances",
        version: "2017-03-12",
        region: Some("ap-guangzhou"),
    };

    const DOC_BODY: &str =
        r#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;
    const DOC_TIME: Timestamp = Timestamp::from_unix_seconds(1_551_113_065);

    fn doc_request() -> Request {
        Request::new("POST", "cvm.tencentcloudapi.com", "/")
            .body("application/json; charset=utf-8", DOC_BODY)
    }

    // §5.2, including the derived keys the doc publishes.
    #[test]
    fn doc_example() {
        let keys = SigningKeys::derive(&credential(), "2019-02-25", "cvm").unwrap();
        assert_eq!(
            hex::encode(keys.date),
            "da98fb70dcf6b112dc21038d1eeeb3a95c74b4dcb12c1131f864f6066bd02be0"
        );
        assert_eq!(
            hex::encode(keys.service),
            "8d70cbefb03939f929db64d32dc2ba89b1095620119fe3e050e2b18c5bd2752f"
        );
        assert_eq!(
            hex::encode(keys.signing),
            "b596b923aad85185e2d1f6659d2a062e0a86731226e021e61bfe06f7ed05f5af"
        );

        let signed = sign(&credential(), &CVM, &doc_request(), DOC_TIME).unwrap();
        assert_eq!(
            signed.details.signature,
            "10b1a37a7301a02ca19a647ad722d5e43b4b3cff309d421d85b46093f6ab6c4f"
        );
        assert_eq!(signed.header("X-TC-Region"), Some("ap-guangzhou"));
        assert_eq!(signed.header("X-TC-Action"), Some("DescribeInstances"));
        assert_eq!(signed.header("X-TC-Version"), Some("2017-03-12"));
        assert_eq!(signed.path_and_query, "/");
    }

    // §6 #3 and the doc's note: the scope date is the UTC one, although it is
    // already the next day in UTC+8.
    #[test]
    fn scope_date_is_utc() {
        let signed = sign(&credential(), &CVM, &doc_request(), DOC_TIME).unwrap();
        assert!(
            signed
                .details
                .string_to_sign
                .contains("\n2019-02-25/cvm/tc3_request\n")
        );
        let next_day = Timestamp::from_unix_seconds(1_551_113_065 + 8 * 3600);
        let signed = sign(&credential(), &CVM, &doc_request(), next_day).unwrap();
        assert!(
            signed
                .details
                .string_to_sign
                .contains("\n2019-02-26/cvm/tc3_request\n")
        );
    }

    // §6 #8 (tencentcloud-sdk-python#16): `\uXXXX` escapes are hashed as the
    // ASCII text sent, not as the characters they stand for.
    #[test]
    fn payload_is_hashed_as_sent() {
        let signed = sign(&credential(), &CVM, &doc_request(), DOC_TIME).unwrap();
        assert_eq!(signed.body, DOC_BODY.as_bytes());
        let hash = "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064";
        assert!(signed.details.canonical_request.ends_with(hash));

        let decoded = DOC_BODY.replace(r"\u672a\u547d\u540d", "未命名");
        let request = Request::new("POST", "cvm.tencentcloudapi.com", "/")
            .body("application/json; charset=utf-8", decoded);
        let other = sign(&credential(), &CVM, &request, DOC_TIME).unwrap();
        assert!(!other.details.canonical_request.ends_with(hash));
    }

    // §6 #6 (tencentcloud-sdk-python#42): large bodies sign with TC3.
    #[test]
    fn one_megabyte_body() {
        let ips: Vec<String> = (0..80_000)
            .map(|i| format!("\"10.{}.{}.{}\"", i >> 16, (i >> 8) & 255, i & 255))
            .collect();
        let body = format!("{{\"IpList\":[{}]}}", ips.join(","));
        assert!(body.len() > 1_000_000);
        let request = Request::new("POST", "waf.tencentcloudapi.com", "/")
            .body("application/json", body.clone());
        let api = Api {
            service: "waf",
            action: "CreateIpAccessControl",
            version: "2018-01-25",
            region: None,
        };
        let signed = sign(&credential(), &api, &request, DOC_TIME).unwrap();
        assert!(
            signed
                .details
                .canonical_request
                .ends_with(&sha256_hex(body.as_bytes()))
        );
        assert!(signed.details.authorization.starts_with("TC3-HMAC-SHA256 "));
    }

    // Values are lowercased in the canonical headers only; the separator is
    // `, ` with a space.
    #[test]
    fn canonical_values_lowercase_and_authorization_format() {
        let request =
            Request::new("POST", "CVM.TencentCloudAPI.com", "/").body("Application/JSON", "{}");
        let signed = sign(&credential(), &CVM, &request, DOC_TIME).unwrap();
        assert!(signed.details.canonical_request.contains(
            "\ncontent-type:application/json\nhost:cvm.tencentcloudapi.com\nx-tc-action:describeinstances\n\n"
        ));
        assert_eq!(signed.header("Content-Type"), Some("Application/JSON"));
        assert_eq!(signed.authority, "CVM.TencentCloudAPI.com");
        let auth = &signed.details.authorization;
        assert!(auth.contains(", SignedHeaders=content-type;host;x-tc-action, Signature="));
    }

    // §6 #4: `GET` parameters are RFC 3986-encoded, in the order sent; the
    // empty body hashes to the digest of zero bytes.
    #[test]
    fn get_query_encoding() {
        let request = Request::new("GET", "cvm.tencentcloudapi.com", "/")
            .content_type("application/x-www-form-urlencoded")
            .query("Limit", "10")
            .query("Filters.0.Values.0", "a b*c~d+e/f=g 未")
            .query("Offset", "");
        let signed = sign(&credential(), &CVM, &request, DOC_TIME).unwrap();
        let query = "Limit=10&Filters.0.Values.0=a%20b%2Ac~d%2Be%2Ff%3Dg%20%E6%9C%AA&Offset=";
        assert_eq!(signed.details.canonical_request.lines().nth(2), Some(query));
        assert_eq!(signed.path_and_query, format!("/?{query}"));
        assert!(
            signed
                .details
                .canonical_request
                .ends_with("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
    }

    // §6 #12: an IPv6 endpoint is signed with its brackets and port.
    #[test]
    fn ipv6_host() {
        let request = Request::new("POST", "[::1]:8443", "/").body("application/json", "{}");
        let signed = sign(&credential(), &CVM, &request, DOC_TIME).unwrap();
        assert!(
            signed
                .details
                .canonical_request
                .contains("\nhost:[::1]:8443\n")
        );
    }

    #[test]
    fn refused_shapes() {
        let error = |request: Request| {
            sign(&credential(), &CVM, &request, DOC_TIME)
                .unwrap_err()
                .to_string()
        };
        let host = "cvm.tencentcloudapi.com";
        assert_eq!(
            error(Request::new("POST", host, "/")),
            "`content-type` is required: Tencent Cloud signs it; set it with \
             `Request::body` or `Request::content_type`, e.g. `application/json; charset=utf-8`"
        );
        assert_eq!(
            error(Request::new("POST", host, "/v1").body("application/json", "{}")),
            "path `/v1` is not `/`, the only path of Tencent Cloud API 3.0"
        );
        assert_eq!(
            error(Request::new("PUT", host, "/").body("application/json", "{}")),
            "method `PUT` is not accepted by Tencent Cloud API 3.0; use `POST` or `GET`"
        );
        assert!(
            error(
                Request::new("POST", host, "/")
                    .body("application/json", "{}")
                    .query("a", "b")
            )
            .contains("body")
        );
        assert!(
            error(Request::new("GET", host, "/").body("application/json", "{}")).contains("query")
        );
        assert!(error(doc_request().header("X-TC-Timestamp", "1")).contains("set by the signer"));

        let bad_service = Api {
            service: "CVM.x",
            ..CVM
        };
        assert!(sign(&credential(), &bad_service, &doc_request(), DOC_TIME).is_err());
    }
}
