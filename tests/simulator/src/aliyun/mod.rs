//! Alibaba Cloud's API gateway as the simulator plays it.
//!
//! Owns what every Alibaba RPC call goes through before reaching a product:
//! signature verification ([`acs3`]), the nonce cache (`SignatureNonceUsed`,
//! `shared/reference/providers.md` §1.3 and §7 item 4), parameter decoding
//! (query, then `application/x-www-form-urlencoded` body), dispatch on
//! `x-acs-version` and `x-acs-action`, and error answers in Alibaba's JSON
//! shape ([`error`]). Products: [`waf`] (WAF 3.0), [`cloudfw`] (Cloud
//! Firewall), [`ecs`] (security groups), [`slb`] (CLB and ALB access control lists), [`ddoscoo`]
//! (Anti-DDoS Proxy black and white lists), [`cdn`] (CDN IP blacklists and
//! DCDN WAF rules), [`sas`] (Security Center alert handling).

pub mod acs3;
pub mod cdn;
pub mod cloudfw;
pub mod ddoscoo;
pub mod ecs;
pub mod error;
pub mod sas;
pub mod slb;
pub mod waf;

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde_json::{Map, Value};

use crate::encoding::{form_decode, percent_decode, split_pairs};
use acs3::{Received, Verified};
use error::ApiError;
use waf::{Params, Waf};

/// Nonces are forgotten once their signed date is outside the clock window
/// (a replay would then fail on the date), checked when the cache grows past
/// this size.
const NONCE_PRUNE_AT: usize = 4096;

/// Alibaba Cloud state: credentials, spent nonces and the products.
#[derive(Debug)]
pub(crate) struct Aliyun {
    credentials: BTreeMap<String, String>,
    nonces: HashMap<(String, String), i64>,
    pub(crate) waf: Waf,
    pub(crate) cloudfw: cloudfw::Cloudfw,
    pub(crate) ecs: ecs::Ecs,
    pub(crate) slb: slb::Slb,
    pub(crate) ddoscoo: ddoscoo::Ddoscoo,
    pub(crate) cdn: cdn::Cdn,
    pub(crate) sas: sas::Sas,
}

impl Aliyun {
    /// State with these AccessKeyId → AccessKeySecret pairs and products.
    pub(crate) fn new(
        credentials: BTreeMap<String, String>,
        waf: Waf,
        cloudfw: cloudfw::Cloudfw,
        ecs: ecs::Ecs,
        slb: slb::Slb,
        ddoscoo: ddoscoo::Ddoscoo,
        cdn: cdn::Cdn,
    ) -> Self {
        Self {
            credentials,
            nonces: HashMap::new(),
            waf,
            cloudfw,
            ecs,
            slb,
            ddoscoo,
            cdn,
            sas: sas::Sas::new(Vec::new(), Vec::new(), 0),
        }
    }

    /// This state with Security Center state `sas`.
    pub(crate) fn with_sas(mut self, sas: sas::Sas) -> Self {
        self.sas = sas;
        self
    }

    /// Verifies the signature and spends the nonce.
    pub(crate) fn authenticate(
        &mut self,
        request: &Received<'_>,
        now: i64,
        max_skew: Duration,
    ) -> Result<Verified, ApiError> {
        let credentials = &self.credentials;
        let verified = acs3::verify(request, |id| credentials.get(id).cloned(), now, max_skew)?;
        self.spend_nonce(&verified, now, max_skew)?;
        Ok(verified)
    }

    fn spend_nonce(
        &mut self,
        verified: &Verified,
        now: i64,
        max_skew: Duration,
    ) -> Result<(), ApiError> {
        let key = (verified.access_key_id.clone(), verified.nonce.clone());
        if self.nonces.contains_key(&key) {
            return Err(ApiError::new(
                400,
                "SignatureNonceUsed",
                format!(
                    "the signature nonce `{}` has already been used",
                    verified.nonce
                ),
            ));
        }
        if self.nonces.len() >= NONCE_PRUNE_AT {
            let oldest = now.saturating_sub_unsigned(max_skew.as_secs());
            self.nonces.retain(|_, date| *date >= oldest);
        }
        self.nonces.insert(key, verified.date);
        Ok(())
    }

    /// Runs the verified request's action at server time `now`.
    pub(crate) fn dispatch(
        &mut self,
        verified: &Verified,
        request: &Received<'_>,
        now: i64,
    ) -> Result<Map<String, Value>, ApiError> {
        let serves = match verified.version.as_str() {
            waf::VERSION => Waf::serves(&verified.action),
            cloudfw::VERSION => cloudfw::Cloudfw::serves(&verified.action),
            ecs::VERSION => ecs::Ecs::serves(&verified.action),
            ddoscoo::VERSION => ddoscoo::Ddoscoo::serves(&verified.action),
            sas::VERSION => sas::Sas::serves(&verified.action),
            version @ (cdn::CDN_VERSION | cdn::DCDN_VERSION) => {
                cdn::Cdn::serves(version, &verified.action)
            }
            version @ (slb::CLB_VERSION | slb::ALB_VERSION) => {
                slb::Slb::serves(version, &verified.action)
            }
            other => {
                return Err(ApiError::invalid_parameter(
                    "Version",
                    format!(
                        "`{other}` is not served by the simulator (WAF 3.0 is `{}`, Cloud \
                         Firewall `{}`, ECS `{}`, CLB `{}`, ALB `{}`, Anti-DDoS Proxy `{}`, CDN `{}`, \
                         DCDN `{}`, Security Center `{}`)",
                        waf::VERSION,
                        cloudfw::VERSION,
                        ecs::VERSION,
                        slb::CLB_VERSION,
                        slb::ALB_VERSION,
                        ddoscoo::VERSION,
                        cdn::CDN_VERSION,
                        cdn::DCDN_VERSION,
                        sas::VERSION
                    ),
                ));
            }
        };
        if !serves {
            return Err(ApiError::not_found(
                "InvalidAction.NotFound",
                format!(
                    "the specified action `{}` is not found for version `{}`",
                    verified.action, verified.version
                ),
            ));
        }
        let params = params(request)?;
        let (key, action) = (verified.access_key_id.as_str(), verified.action.as_str());
        match verified.version.as_str() {
            cloudfw::VERSION => self.cloudfw.call(key, action, &params),
            ecs::VERSION => self.ecs.call(key, action, &params),
            ddoscoo::VERSION => self.ddoscoo.call(action, &params, now),
            sas::VERSION => self.sas.call(action, &params, now),
            cdn::CDN_VERSION | cdn::DCDN_VERSION => self.cdn.call(action, &params),
            version @ (slb::CLB_VERSION | slb::ALB_VERSION) => {
                self.slb.call(key, version, action, &params)
            }
            _ => self.waf.call(action, &params),
        }
    }
}

/// The decoded query, then the form body when the content type is
/// `application/x-www-form-urlencoded`.
fn params(request: &Received<'_>) -> Result<Params, ApiError> {
    let query = split_pairs(request.query, percent_decode)
        .map_err(|err| ApiError::invalid_parameter("query", err))?;
    let is_form = request
        .headers
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    let form = if is_form {
        let body = std::str::from_utf8(request.body)
            .map_err(|_| ApiError::invalid_parameter("body", "the form body is not UTF-8"))?;
        split_pairs(body, form_decode).map_err(|err| ApiError::invalid_parameter("body", err))?
    } else {
        Vec::new()
    };
    Ok(Params::new(query, form))
}

/// The answer body for a success: `RequestId` and the action's fields.
pub(crate) fn success_body(request_id: &str, fields: Map<String, Value>) -> Value {
    let mut body = Map::new();
    body.insert("RequestId".to_owned(), Value::String(request_id.to_owned()));
    body.extend(fields);
    Value::Object(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::HeaderMap;
    use hyper::header::HeaderValue;

    fn received<'a>(query: &'a str, headers: &'a HeaderMap, body: &'a [u8]) -> Received<'a> {
        Received {
            method: "POST",
            path: "/",
            query,
            headers,
            body,
        }
    }

    #[test]
    fn form_body_params_are_form_decoded() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "content-type",
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        let body = b"Rules=%5B1%5D&Name=a+b";
        let decoded = params(&received("InstanceId=i%2B1", &headers, body)).unwrap();
        let expected = Params::new(
            vec![("InstanceId".into(), "i+1".into())],
            vec![
                ("Rules".into(), "[1]".into()),
                ("Name".into(), "a b".into()),
            ],
        );
        assert_eq!(format!("{decoded:?}"), format!("{expected:?}"));
        // Without the form content type the body is not read as parameters.
        let decoded = params(&received("", &HeaderMap::new(), body)).unwrap();
        assert_eq!(format!("{decoded:?}"), format!("{:?}", Params::default()));
    }

    #[test]
    fn reused_nonces_are_refused() {
        let mut aliyun = Aliyun::new(
            BTreeMap::new(),
            Waf::new(BTreeMap::new(), 1),
            cloudfw::Cloudfw::new(1, 10),
            ecs::Ecs::new(BTreeMap::new(), 1),
            slb::Slb::new(BTreeMap::new(), None),
            ddoscoo::Ddoscoo::new(Default::default(), 1),
            cdn::Cdn::new(Default::default(), Default::default(), 1),
        );
        let verified = Verified {
            access_key_id: "AK".into(),
            action: "CreateDefenseRule".into(),
            version: waf::VERSION.into(),
            nonce: "n1".into(),
            date: 1000,
        };
        let skew = Duration::from_secs(900);
        aliyun.spend_nonce(&verified, 1000, skew).unwrap();
        let err = aliyun.spend_nonce(&verified, 1000, skew).unwrap_err();
        assert_eq!((err.status, err.code.as_str()), (400, "SignatureNonceUsed"));
        let other_key = Verified {
            access_key_id: "AK2".into(),
            ..verified
        };
        aliyun.spend_nonce(&other_key, 1000, skew).unwrap();
    }

    #[test]
    fn prunes_only_nonces_outside_the_window() {
        let mut aliyun = Aliyun::new(
            BTreeMap::new(),
            Waf::new(BTreeMap::new(), 1),
            cloudfw::Cloudfw::new(1, 10),
            ecs::Ecs::new(BTreeMap::new(), 1),
            slb::Slb::new(BTreeMap::new(), None),
            ddoscoo::Ddoscoo::new(Default::default(), 1),
            cdn::Cdn::new(Default::default(), Default::default(), 1),
        );
        let skew = Duration::from_secs(900);
        for i in 0..NONCE_PRUNE_AT {
            let date = if i == 0 { 5000 } else { 0 };
            aliyun.nonces.insert(("AK".into(), format!("n{i}")), date);
        }
        let verified = Verified {
            access_key_id: "AK".into(),
            action: String::new(),
            version: String::new(),
            nonce: "fresh".into(),
            date: 5000,
        };
        aliyun.spend_nonce(&verified, 5000, skew).unwrap();
        assert_eq!(aliyun.nonces.len(), 2);
    }

    #[test]
    fn dispatch_refuses_unknown_versions_and_actions() {
        let mut aliyun = Aliyun::new(
            BTreeMap::new(),
            Waf::new(BTreeMap::new(), 1),
            cloudfw::Cloudfw::new(1, 10),
            ecs::Ecs::new(BTreeMap::new(), 1),
            slb::Slb::new(BTreeMap::new(), None),
            ddoscoo::Ddoscoo::new(Default::default(), 1),
            cdn::Cdn::new(Default::default(), Default::default(), 1),
        );
        let headers = HeaderMap::new();
        let mut verified = Verified {
            access_key_id: "AK".into(),
            action: "DescribeInstance".into(),
            version: "2019-09-10".into(),
            nonce: "n".into(),
            date: 0,
        };
        let request = received("", &headers, b"");
        let err = aliyun.dispatch(&verified, &request, 0).unwrap_err();
        assert_eq!(err.code, "InvalidParameter");
        verified.version = waf::VERSION.into();
        let err = aliyun.dispatch(&verified, &request, 0).unwrap_err();
        assert_eq!(
            (err.status, err.code.as_str()),
            (404, "InvalidAction.NotFound")
        );
    }
}
