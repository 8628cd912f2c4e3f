//! Alibaba Cloud signature V3, `ACS3-HMAC-SHA256`.
//!
//! Reference:
//! <https://www.alibabacloud.com/help/en/sdk/product-overview/v3-request-structure-and-signature>
//! (Chinese:
//! <https://help.aliyun.com/zh/sdk/product-overview/v3-request-structure-and-signature>).
//! The legacy V2 RPC signature (HMAC-SHA1 over the query) is discontinued
//! and not implemented.
//!
//! ```text
//! CanonicalRequest = METHOD \n CanonicalURI \n CanonicalQuery \n
//!                    CanonicalHeaders \n SignedHeaders \n hex(sha256(body))
//! StringToSign     = "ACS3-HMAC-SHA256" \n hex(sha256(CanonicalRequest))
//! Signature        = hex(hmac_sha256(AccessKeySecret, StringToSign))
//! ```
//!
//! The signer sends and signs `x-acs-action`, `x-acs-version`,
//! `x-acs-date`, `x-acs-signature-nonce` and `x-acs-content-sha256`, and signs
//! `host`, `content-type` and every `x-acs-*` header of the request, as the
//! official SDKs do. With STS credentials, add `x-acs-security-token` with
//! [`Request::header`]; it is signed like any `x-acs-*` header.
//!
//! RPC-style APIs (WAF, Cloud Firewall, Security Center) use the path `/`,
//! scalar parameters in the query and `formData` parameters in a form body
//! built by [`form_urlencode`](super::form_urlencode).

use std::collections::BTreeMap;

use super::{
    Credential, Nonce, Request, SignError, SignedRequest, SigningDetails, Timestamp,
    canonical_headers, canonical_request, check_key_id, check_value, sha256_hex,
};

/// The algorithm name, first line of the string to sign.
pub const ALGORITHM: &str = "ACS3-HMAC-SHA256";

/// Headers this signer sets; a request may not carry them.
const SET_BY_SIGNER: &[&str] = &[
    "x-acs-action",
    "x-acs-version",
    "x-acs-date",
    "x-acs-signature-nonce",
    "x-acs-content-sha256",
];

/// The API operation a request calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Api<'a> {
    /// The operation name, sent as `x-acs-action`, e.g. `CreateDefenseRule`.
    pub action: &'a str,
    /// The product's API version, sent as `x-acs-version`, e.g. `2021-10-01`.
    pub version: &'a str,
}

/// Signs `request` for `api` at `time` with `nonce`.
///
/// `time` and `nonce` must be fresh for every attempt: Alibaba refuses a
/// date more than 15 minutes away from its clock (`InvalidTimeStamp.Expired`)
/// and a nonce it has seen (`SignatureNonceUsed`). On a retry, read the clock
/// and draw a nonce again and sign again.
///
/// Fails with [`SignError::InvalidRequest`] when the request is malformed or
/// sets a header listed in the module docs, and with
/// [`SignError::Credential`] when the credential cannot compute the MAC.
///
/// ```
/// use riposte_sdk::sign::{
///     InMemoryCredential, Nonce, Request, Timestamp, acs3, form_urlencode,
/// };
///
/// let credential = InMemoryCredential::new("AccessKeyId", "AccessKeySecret");
/// let rules = r#"[{"name":"blk-1","status":1,"remoteAddr":["198.51.100.7"]}]"#;
/// let form = form_urlencode(&[("Rules", rules)]);
/// let request = Request::new("POST", "wafopenapi.cn-hangzhou.aliyuncs.com", "/")
///     .query("InstanceId", "waf_v2_public_cn-test")
///     .query("DefenseScene", "ip_blacklist")
///     .body("application/x-www-form-urlencoded", form);
/// let api = acs3::Api { action: "CreateDefenseRule", version: "2021-10-01" };
///
/// let signed = acs3::sign(
///     &credential,
///     &api,
///     &request,
///     Timestamp::from_unix_seconds(1_698_315_752),
///     Nonce::from_random_bytes([42; 16]),
/// )?;
/// assert_eq!(signed.header("x-acs-date"), Some("2023-10-26T10:22:32Z"));
/// let authorization = signed.header("authorization").unwrap();
/// assert!(authorization.starts_with("ACS3-HMAC-SHA256 Credential=AccessKeyId,"));
/// # Ok::<(), riposte_sdk::sign::SignError>(())
/// ```
pub fn sign<C: Credential + ?Sized>(
    credential: &C,
    api: &Api<'_>,
    request: &Request,
    time: Timestamp,
    nonce: Nonce,
) -> Result<SignedRequest, SignError> {
    let checked = request.check(SET_BY_SIGNER)?;
    check_value("x-acs-action", api.action)?;
    check_value("x-acs-version", api.version)?;
    let key_id = credential.key_id();
    check_key_id(&key_id)?;

    // What goes on the wire: content type, the caller's headers, ours.
    let mut headers: Vec<(String, String)> = Vec::new();
    if let Some(content_type) = checked.content_type {
        headers.push(("content-type".into(), content_type.into()));
    }
    for &(name, value) in &checked.headers {
        headers.push((name.into(), value.into()));
    }
    headers.extend([
        ("x-acs-action".into(), api.action.trim().into()),
        ("x-acs-version".into(), api.version.trim().into()),
        ("x-acs-date".into(), time.iso8601()),
        ("x-acs-signature-nonce".into(), nonce.as_str().into()),
        ("x-acs-content-sha256".into(), checked.body_sha256.clone()),
    ]);

    // Sign `host`, `content-type` and every `x-acs-*` header.
    let mut signed = BTreeMap::new();
    signed.insert("host".to_owned(), checked.host.to_owned());
    for (name, value) in &headers {
        let name = name.to_ascii_lowercase();
        if name == "content-type" || name.starts_with("x-acs-") {
            signed.insert(name, value.clone());
        }
    }
    let (headers_block, signed_headers) = canonical_headers(&signed);

    let query = request.sorted_query();
    let canonical_request = canonical_request(
        &checked.method,
        &checked.path,
        &query,
        &headers_block,
        &signed_headers,
        &checked.body_sha256,
    );
    let string_to_sign = format!("{ALGORITHM}\n{}", sha256_hex(canonical_request.as_bytes()));
    let signature = hex::encode(credential.hmac_sha256(b"", string_to_sign.as_bytes())?);
    // No spaces after the commas, unlike Tencent and Huawei.
    let authorization = format!(
        "{ALGORITHM} Credential={key_id},SignedHeaders={signed_headers},Signature={signature}"
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sign::InMemoryCredential;

    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn credential() -> InMemoryCredential {
        InMemoryCredential::new("YourAccessKeyId", "YourAccessKeySecret")
    }

    const API: Api<'static> = Api {
        action: "RunInstances",
        version: "2014-05-26",
    };

    fn at(seconds: u64, nonce: &str) -> (Timestamp, Nonce) {
        (
            Timestamp::from_unix_seconds(seconds),
            Nonce::new(nonce).unwrap(),
        )
    }

    fn sign_at(request: &Request, seconds: u64, nonce: &str) -> SignedRequest {
        let (time, nonce) = at(seconds, nonce);
        sign(&credential(), &API, request, time, nonce).unwrap()
    }

    /// The query line of the canonical request.
    fn canonical_query(signed: &SignedRequest) -> &str {
        signed.details.canonical_request.lines().nth(2).unwrap()
    }

    // §5.1, the published RunInstances example.
    #[test]
    fn doc_example() {
        let request = Request::new("POST", "ecs.cn-shanghai.aliyuncs.com", "/")
            .query(
                "ImageId",
                "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd",
            )
            .query("RegionId", "cn-shanghai");
        let signed = sign_at(&request, 1_698_315_752, "3156853299f313e23d1673dc12e1703d");
        assert_eq!(
            signed.details.signature,
            "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
        );
        assert_eq!(signed.header("x-acs-content-sha256"), Some(EMPTY_SHA256));
        assert_eq!(signed.header("content-type"), None);
        assert_eq!(
            signed.path_and_query,
            "/?ImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai"
        );
        assert_eq!(signed.authority, "ecs.cn-shanghai.aliyuncs.com");
        assert_eq!(
            signed.header("authorization"),
            Some(signed.details.authorization.as_str())
        );
    }

    // §6 #2 (alibaba-cloud-sdk-go#39): a retry must carry a new nonce, a new
    // date and so a new signature.
    #[test]
    fn each_attempt_has_its_own_nonce_date_and_signature() {
        let request = Request::new("POST", "ecs.cn-shanghai.aliyuncs.com", "/");
        let first = sign_at(&request, 1_698_315_752, "aaaa");
        let retry = sign_at(&request, 1_698_315_752 + 31, "bbbb");
        assert_ne!(
            first.header("x-acs-signature-nonce"),
            retry.header("x-acs-signature-nonce")
        );
        assert_ne!(first.header("x-acs-date"), retry.header("x-acs-date"));
        assert_ne!(first.details.signature, retry.details.signature);
        assert_eq!(retry.header("x-acs-date"), Some("2023-10-26T10:23:03Z"));
    }

    // §6 #4 (aliyun-openapi-go-sdk#1): RFC 3986, never form encoding.
    #[test]
    fn query_values_are_rfc_3986_encoded() {
        let request = Request::new("POST", "ecs.aliyuncs.com", "/")
            .query("test", " ~/*-+")
            .query("Description", "a b*c~d+e/f=g 阻断");
        let signed = sign_at(&request, 1_698_315_752, "n");
        assert_eq!(
            canonical_query(&signed),
            "Description=a%20b%2Ac~d%2Be%2Ff%3Dg%20%E9%98%BB%E6%96%AD&test=%20~%2F%2A-%2B"
        );
        // The query sent is the one signed.
        assert_eq!(
            signed.path_and_query,
            format!("/?{}", canonical_query(&signed))
        );
    }

    // Flattened arrays sort in byte order (`.10` before `.2`, doc example);
    // empty values keep their `=`; repeated names sort by value.
    #[test]
    fn flattened_repeated_and_empty_parameters() {
        let request = Request::new("POST", "ecs.aliyuncs.com", "/")
            .query("InstanceId.2", "i-2")
            .query("InstanceId.10", "i-10")
            .query("InstanceId.1", "i-1")
            .query("Empty", "")
            .query("Tag", "b")
            .query("Tag", "a");
        let signed = sign_at(&request, 1_698_315_752, "n");
        assert_eq!(
            canonical_query(&signed),
            "Empty=&InstanceId.1=i-1&InstanceId.10=i-10&InstanceId.2=i-2&Tag=a&Tag=b"
        );
    }

    // §6 #12: IPv6 payload values are encoded once; the IPv6 host is signed
    // exactly as sent, brackets and port kept.
    #[test]
    fn ipv6_host_and_values() {
        let request =
            Request::new("POST", "[::1]:8080", "/").query("SourceCidrIp", "2001:db8::1/128");
        let signed = sign_at(&request, 1_698_315_752, "n");
        assert_eq!(
            canonical_query(&signed),
            "SourceCidrIp=2001%3Adb8%3A%3A1%2F128"
        );
        assert!(
            signed
                .details
                .canonical_request
                .contains("\nhost:[::1]:8080\n")
        );
        assert_eq!(signed.authority, "[::1]:8080");

        let bare = Request::new("POST", "::1", "/");
        let (time, nonce) = at(1_698_315_752, "n");
        assert!(sign(&credential(), &API, &bare, time, nonce).is_err());
    }

    // §6 #8: the body hashed is the body returned, byte for byte.
    #[test]
    fn body_hash_matches_the_bytes_sent() {
        let body = br#"{"name":"\u672a\u547d\u540d"}"#.to_vec();
        let request =
            Request::new("POST", "ecs.aliyuncs.com", "/").body("application/json", body.clone());
        let signed = sign_at(&request, 1_698_315_752, "n");
        assert_eq!(signed.body, body);
        let hash = sha256_hex(&signed.body);
        assert_eq!(signed.header("x-acs-content-sha256"), Some(hash.as_str()));
        assert!(signed.details.canonical_request.ends_with(&hash));
        assert!(
            signed
                .details
                .signed_headers
                .starts_with("content-type;host;")
        );
    }

    // ROA-style APIs sign the encoded path; the empty body hash is the one
    // of zero bytes on GET and DELETE.
    #[test]
    fn roa_path_and_empty_body() {
        let request = Request::new("DELETE", "cs.aliyuncs.com", "/api/v1/clusters/c 1");
        let signed = sign_at(&request, 1_698_315_752, "n");
        assert_eq!(signed.path_and_query, "/api/v1/clusters/c%201");
        assert!(
            signed
                .details
                .canonical_request
                .starts_with("DELETE\n/api/v1/clusters/c%201\n\n")
        );
        assert!(signed.details.canonical_request.ends_with(EMPTY_SHA256));
    }

    #[test]
    fn security_token_and_other_headers() {
        let request = Request::new("POST", "ecs.aliyuncs.com", "/")
            .header("x-acs-security-token", "sts-token")
            .header("User-Agent", "riposte");
        let signed = sign_at(&request, 1_698_315_752, "n");
        assert!(
            signed
                .details
                .signed_headers
                .contains("x-acs-security-token")
        );
        assert!(!signed.details.signed_headers.contains("user-agent"));
        assert_eq!(signed.header("user-agent"), Some("riposte"));

        let clash = Request::new("POST", "ecs.aliyuncs.com", "/").header("x-acs-date", "x");
        let (time, nonce) = at(1_698_315_752, "n");
        assert_eq!(
            sign(&credential(), &API, &clash, time, nonce)
                .unwrap_err()
                .to_string(),
            "header `x-acs-date` is set by the signer; remove it from the request"
        );
    }
}
