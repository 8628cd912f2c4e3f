//! Huawei Cloud APIG AK/SK signature, `SDK-HMAC-SHA256`.
//!
//! Reference:
//! <https://support.huaweicloud.com/devg-apisign/api-sign-algorithm-001.html>
//! to `-005.html` (international:
//! <https://support.huaweicloud.com/intl/en-us/devg-apisign/api-sign-algorithm-002.html>).
//!
//! ```text
//! CanonicalRequest = METHOD \n CanonicalURI \n CanonicalQuery \n
//!                    CanonicalHeaders \n SignedHeaders \n hex(sha256(body))
//! StringToSign     = "SDK-HMAC-SHA256" \n X-Sdk-Date \n
//!                    hex(sha256(CanonicalRequest))
//! Signature        = hex(hmac_sha256(SK, StringToSign))
//! ```
//!
//! The canonical URI is the encoded path with a trailing `/` added for
//! signing only: `/v1/{project_id}/vpcs` is signed as
//! `/v1/{project_id}/vpcs/` and sent as it is.
//!
//! The signer sends and signs `X-Sdk-Date`, and signs every header it sends:
//! `host`, `content-type` when set, and all headers of the request (such as
//! `X-Project-Id`, or `X-Security-Token` with temporary credentials). The
//! gateway recomputes over whatever `SignedHeaders` lists. The official SDKs
//! leave `content-type` unsigned; the published example signs it, and so do
//! we. The optional `X-Sdk-Content-Sha256` header is not supported: the body
//! is always hashed.

use std::collections::BTreeMap;

use super::{
    Credential, Request, SignError, SignedRequest, SigningDetails, Timestamp, canonical_headers,
    canonical_request, check_key_id, invalid, sha256_hex,
};

/// The algorithm name, first line of the string to sign.
pub const ALGORITHM: &str = "SDK-HMAC-SHA256";

/// Headers this signer sets; a request may not carry them.
const SET_BY_SIGNER: &[&str] = &["x-sdk-date"];

/// Signs `request` at `time`.
///
/// `time` must be fresh for every attempt: the gateway refuses an
/// `X-Sdk-Date` more than 15 minutes away from its clock (`APIGW.0301`
/// "signature expired"), so a retry, or any later call of a long-running
/// component, reads the clock and signs again.
///
/// Fails with [`SignError::InvalidRequest`] when the request is malformed or
/// sets `X-Sdk-Date` or `X-Sdk-Content-Sha256`, and with
/// [`SignError::Credential`] when the credential cannot compute the MAC.
///
/// ```
/// use riposte_sdk::sign::{huawei, InMemoryCredential, Request, Timestamp};
///
/// let credential = InMemoryCredential::new("QTWAOYTTINDUT2QVKYUC", "secret");
/// let project = "9d80d070b6d44942af73c9c3d38e0429";
/// let body = r#"{"object_id":"cfebd347","list_type":4,"address":"198.51.100.7"}"#;
/// let request = Request::new(
///     "POST",
///     "cfw.cn-north-4.myhuaweicloud.com",
///     format!("/v1/{project}/black-white-list"),
/// )
/// .body("application/json", body);
///
/// let now = Timestamp::from_unix_seconds(1_573_789_015);
/// let signed = huawei::sign(&credential, &request, now)?;
/// assert_eq!(signed.header("X-Sdk-Date"), Some("20191115T033655Z"));
/// assert_eq!(signed.path_and_query, format!("/v1/{project}/black-white-list"));
/// # Ok::<(), riposte_sdk::sign::SignError>(())
/// ```
pub fn sign<C: Credential + ?Sized>(
    credential: &C,
    request: &Request,
    time: Timestamp,
) -> Result<SignedRequest, SignError> {
    if let Some((name, _)) = request
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("x-sdk-content-sha256"))
    {
        return Err(invalid(format!(
            "header `{name}` is not supported; the signer always hashes the body"
        )));
    }
    let checked = request.check(SET_BY_SIGNER)?;
    let key_id = credential.key_id();
    check_key_id(&key_id)?;
    let date = time.iso8601_basic();

    // What goes on the wire: content type, the caller's headers, ours.
    let mut headers: Vec<(String, String)> = Vec::new();
    if let Some(content_type) = checked.content_type {
        headers.push(("Content-Type".into(), content_type.into()));
    }
    for &(name, value) in &checked.headers {
        headers.push((name.into(), value.into()));
    }
    headers.push(("X-Sdk-Date".into(), date.clone()));

    // Sign everything sent, `Host` included.
    let mut signed = BTreeMap::new();
    signed.insert("host".to_owned(), checked.host.to_owned());
    for (name, value) in &headers {
        signed.insert(name.to_ascii_lowercase(), value.clone());
    }
    let (headers_block, signed_headers) = canonical_headers(&signed);

    // The trailing slash is part of the signed URI only.
    let mut uri = checked.path.clone();
    if !uri.ends_with('/') {
        uri.push('/');
    }
    let query = request.sorted_query();
    let canonical_request = canonical_request(
        &checked.method,
        &uri,
        &query,
        &headers_block,
        &signed_headers,
        &checked.body_sha256,
    );
    let string_to_sign = format!(
        "{ALGORITHM}\n{date}\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    let signature = hex::encode(credential.hmac_sha256(b"", string_to_sign.as_bytes())?);
    let authorization = format!(
        "{ALGORITHM} Access={key_id}, SignedHeaders={signed_headers}, Signature={signature}"
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

    fn credential() -> InMemoryCredential {
        InMemoryCredential::new(
            "QTWAOYTTINDUT2QVKYUC",
            "MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc",
        )
    }

    /// 20191115T033655Z, the doc example's date.
    const DOC_TIME: Timestamp = Timestamp::from_unix_seconds(1_573_789_015);

    fn signed(request: &Request) -> SignedRequest {
        sign(&credential(), request, DOC_TIME).unwrap()
    }

    fn canonical_line(signed: &SignedRequest, line: usize) -> &str {
        signed.details.canonical_request.lines().nth(line).unwrap()
    }

    // §5.3, the published example.
    #[test]
    fn doc_example() {
        let request = Request::new(
            "GET",
            "service.region.example.com",
            "/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs",
        )
        .content_type("application/json")
        .query("marker", "13551d6b-755d-4757-b956-536f674975c0")
        .query("limit", "2");
        let signed = signed(&request);
        assert_eq!(
            signed.details.signature,
            "7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe"
        );
        assert_eq!(signed.header("X-Sdk-Date"), Some("20191115T033655Z"));
        assert_eq!(
            signed.path_and_query,
            "/v1/77b6a44cba5143ab91d13ab9a8ff44fd/vpcs?limit=2&marker=13551d6b-755d-4757-b956-536f674975c0"
        );
    }

    // The canonical URI ends with `/`; the path sent does not gain one.
    #[test]
    fn trailing_slash_on_canonical_uri_only() {
        for (path, canonical, sent) in [
            (
                "/v1/p/black-white-list",
                "/v1/p/black-white-list/",
                "/v1/p/black-white-list",
            ),
            ("/v1/p/items/", "/v1/p/items/", "/v1/p/items/"),
            ("/", "/", "/"),
            ("/v1/a b", "/v1/a%20b/", "/v1/a%20b"),
        ] {
            let signed = signed(&Request::new(
                "DELETE",
                "cfw.cn-north-4.myhuaweicloud.com",
                path,
            ));
            assert_eq!(canonical_line(&signed, 1), canonical, "{path}");
            assert_eq!(signed.path_and_query, sent, "{path}");
        }
    }

    // §6 #9 (huaweicloud-sdk-java-v3#44): every call carries its own date;
    // a component running for 16 minutes must not reuse the first one.
    #[test]
    fn each_call_has_a_fresh_date() {
        let request = Request::new(
            "GET",
            "cfw.cn-north-4.myhuaweicloud.com",
            "/v1/p/black-white-lists",
        );
        let first = signed(&request);
        let later = sign(
            &credential(),
            &request,
            Timestamp::from_unix_seconds(DOC_TIME.unix_seconds() + 16 * 60),
        )
        .unwrap();
        assert_eq!(later.header("X-Sdk-Date"), Some("20191115T035255Z"));
        assert!(
            later
                .details
                .string_to_sign
                .starts_with("SDK-HMAC-SHA256\n20191115T035255Z\n")
        );
        assert_ne!(first.details.signature, later.details.signature);
    }

    // §6 #4 and the doc: RFC 3986 encoding, `name=` kept for empty values,
    // repeated names sorted by value.
    #[test]
    fn query_encoding_empty_and_repeated() {
        let request = Request::new(
            "GET",
            "waf.cn-north-4.myhuaweicloud.com",
            "/v1/p/waf/policy",
        )
        .query("name", "a b*c~d+e/f=g 阻断")
        .query("parm2", "")
        .query("id", "2")
        .query("id", "1");
        let signed = signed(&request);
        assert_eq!(
            canonical_line(&signed, 2),
            "id=1&id=2&name=a%20b%2Ac~d%2Be%2Ff%3Dg%20%E9%98%BB%E6%96%AD&parm2="
        );
    }

    // §6 #12: the IPv6 host with its port is signed as sent, and an IPv6
    // CIDR in the query is encoded once.
    #[test]
    fn ipv6_host_and_values() {
        let request = Request::new("GET", "[2001:db8::10]:8443", "/v1/p/black-white-lists")
            .query("address", "2001:db8::1/128");
        let signed = signed(&request);
        assert!(
            signed
                .details
                .canonical_request
                .contains("\nhost:[2001:db8::10]:8443\n")
        );
        assert_eq!(
            canonical_line(&signed, 2),
            "address=2001%3Adb8%3A%3A1%2F128"
        );
    }

    // Everything sent is signed; empty bodies hash to the digest of zero
    // bytes; the authorization separator is `, `.
    #[test]
    fn signs_every_header_sent() {
        let request = Request::new(
            "DELETE",
            "cfw.cn-north-4.myhuaweicloud.com",
            "/v1/p/black-white-list/id",
        )
        .header("X-Project-Id", "p")
        .header("X-Security-Token", "token");
        let signed = signed(&request);
        assert_eq!(
            signed.details.signed_headers,
            "host;x-project-id;x-sdk-date;x-security-token"
        );
        assert!(
            signed
                .details
                .canonical_request
                .ends_with("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        );
        assert!(
            signed
                .details
                .authorization
                .starts_with("SDK-HMAC-SHA256 Access=QTWAOYTTINDUT2QVKYUC, SignedHeaders=host;")
        );
        assert!(signed.details.authorization.contains(", Signature="));
    }

    #[test]
    fn refused_headers() {
        let error = |request: Request| {
            sign(&credential(), &request, DOC_TIME)
                .unwrap_err()
                .to_string()
        };
        let base = || Request::new("GET", "cfw.cn-north-4.myhuaweicloud.com", "/");
        assert_eq!(
            error(base().header("X-Sdk-Content-Sha256", "UNSIGNED-PAYLOAD")),
            "header `X-Sdk-Content-Sha256` is not supported; the signer always hashes the body"
        );
        assert_eq!(
            error(base().header("X-Sdk-Date", "20191115T033655Z")),
            "header `X-Sdk-Date` is set by the signer; remove it from the request"
        );
    }
}
