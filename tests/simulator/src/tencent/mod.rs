//! Tencent Cloud API 3.0 as the simulator plays it.
//!
//! Owns what every Tencent call goes through: the `TC3-HMAC-SHA256`
//! verifier ([`tc3`]), the mapping of SecretIds to accounts, dispatch on
//! the signed service, `X-TC-Version` and `X-TC-Action`, and answers in
//! Tencent's shape: HTTP 200 with `{"Response":{…,"RequestId"}}`, errors
//! as `{"Response":{"Error":{"Code","Message"},"RequestId"}}`
//! (`shared/reference/providers.md` §2.2). Products: [`cfw`], [`waf`].

pub mod cfw;
pub mod tc3;
pub mod waf;

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::aliyun::acs3::Received;
use crate::aliyun::error::ApiError;
use tc3::{Verified, error};

/// A Tencent API key: its secret and the account (uin) it belongs to.
#[derive(Clone)]
pub struct TencentKey {
    /// The SecretKey.
    pub secret_key: String,
    /// The account the key acts for.
    pub account: String,
}

/// Tencent Cloud state: keys and products.
pub(crate) struct Tencent {
    keys: BTreeMap<String, (String, String)>,
    pub(crate) cfw: cfw::Cfw,
    pub(crate) waf: waf::Waf,
}

impl std::fmt::Debug for TencentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TencentKey")
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Tencent {
    /// Shows SecretIds, never secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tencent")
            .field("secret_ids", &self.keys.keys().collect::<Vec<_>>())
            .field("cfw", &self.cfw)
            .field("waf", &self.waf)
            .finish()
    }
}

impl Tencent {
    pub(crate) fn new(keys: &BTreeMap<String, TencentKey>, cfw: cfw::Cfw, waf: waf::Waf) -> Self {
        let keys = keys
            .iter()
            .map(|(id, key)| (id.clone(), (key.secret_key.clone(), key.account.clone())))
            .collect();
        Self { keys, cfw, waf }
    }

    /// Verifies the signature at server time `now`.
    pub(crate) fn authenticate(
        &self,
        request: &Received<'_>,
        now: i64,
    ) -> Result<Verified, ApiError> {
        tc3::verify(
            request,
            |id| self.keys.get(id).map(|(secret, _)| secret.clone()),
            now,
        )
    }

    /// Runs the verified request's action on the account of its key.
    pub(crate) fn dispatch(
        &mut self,
        verified: &Verified,
        request: &Received<'_>,
    ) -> Result<Map<String, Value>, ApiError> {
        let account = self
            .keys
            .get(&verified.secret_id)
            .map(|(_, account)| account.clone())
            .unwrap_or_default();
        let params: Map<String, Value> = match serde_json::from_slice(request.body) {
            Ok(Value::Object(params)) => params,
            _ => return Err(error("InvalidParameter", "the body is not a JSON object")),
        };
        let expected = match verified.service.as_str() {
            "cfw" => cfw::VERSION,
            "waf" => waf::VERSION,
            other => {
                return Err(error(
                    "InvalidAction",
                    format!("service `{other}` is not served by the simulator"),
                ));
            }
        };
        if verified.version != expected {
            return Err(error(
                "NoSuchVersion",
                format!(
                    "version `{}` of `{}` is not served (expected `{expected}`)",
                    verified.version, verified.service
                ),
            ));
        }
        match verified.service.as_str() {
            "cfw" => self.cfw.call(&account, &verified.action, &params),
            _ => self
                .waf
                .call(&account, &verified.region, &verified.action, &params),
        }
    }
}

/// The answer body for a success.
pub(crate) fn success_body(request_id: &str, fields: Map<String, Value>) -> Value {
    let mut response = fields;
    response.insert("RequestId".to_owned(), Value::String(request_id.to_owned()));
    serde_json::json!({ "Response": response })
}

/// The answer body for an error (always sent with HTTP 200).
pub(crate) fn error_body(request_id: &str, err: &ApiError) -> Value {
    serde_json::json!({
        "Response": {
            "Error": {"Code": err.code, "Message": err.message},
            "RequestId": request_id,
        }
    })
}
