//! Huawei Cloud's API gateway (APIG) as the simulator plays it.
//!
//! Owns what every Huawei call goes through: the `SDK-HMAC-SHA256`
//! verifier ([`apig`]), the mapping of AKs and projects to accounts,
//! routing by method and path, and error answers in Huawei's shape:
//! the HTTP status with `{"error_code","error_msg","request_id"}`
//! (`shared/reference/providers.md` §3). A path whose project belongs to
//! another account than the AK's is refused with 403 `APIGW.0310`
//! (project unavailable, §3.1); an unknown route is 404 `APIGW.0101`.
//! Products: [`cfw`], [`waf`].

pub mod apig;
pub mod cfw;
pub mod waf;

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::aliyun::acs3::Received;
use crate::aliyun::error::ApiError;
use crate::encoding::{percent_decode, split_pairs};

/// A Huawei AK's secret and the account it belongs to.
#[derive(Clone)]
pub struct HuaweiKey {
    /// The SK.
    pub secret_key: String,
    /// The account (domain) the key acts for.
    pub account: String,
}

impl std::fmt::Debug for HuaweiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HuaweiKey")
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

/// An operation the simulator serves, from the method and path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `POST /v1/{project}/black-white-list`.
    AddBlackWhiteList { project: String },
    /// `GET /v1/{project}/black-white-lists`.
    ListBlackWhiteLists { project: String },
    /// `DELETE /v1/{project}/black-white-list/{list_id}`.
    DeleteBlackWhiteList { project: String, list_id: String },
    /// `POST /v1/{project}/waf/policy/{policy}/whiteblackip`.
    CreateWhiteblackipRule { project: String, policy: String },
    /// `GET /v1/{project}/waf/policy/{policy}/whiteblackip`.
    ListWhiteblackipRule { project: String, policy: String },
    /// `DELETE /v1/{project}/waf/policy/{policy}/whiteblackip/{rule}`.
    DeleteWhiteBlackIpRule {
        project: String,
        policy: String,
        rule: String,
    },
}

impl Route {
    /// Matches `method` and the raw `path`; `None` for anything else.
    pub fn parse(method: &str, path: &str) -> Option<Self> {
        let segments: Vec<String> = path
            .trim_end_matches('/')
            .split('/')
            .map(|segment| String::from_utf8(percent_decode(segment).ok()?).ok())
            .collect::<Option<_>>()?;
        let parts: Vec<&str> = segments.iter().map(String::as_str).collect();
        let owned = |s: &str| s.to_owned();
        Some(match (method, parts.as_slice()) {
            ("POST", ["", "v1", p, "black-white-list"]) => {
                Route::AddBlackWhiteList { project: owned(p) }
            }
            ("GET", ["", "v1", p, "black-white-lists"]) => {
                Route::ListBlackWhiteLists { project: owned(p) }
            }
            ("DELETE", ["", "v1", p, "black-white-list", id]) => Route::DeleteBlackWhiteList {
                project: owned(p),
                list_id: owned(id),
            },
            ("POST", ["", "v1", p, "waf", "policy", policy, "whiteblackip"]) => {
                Route::CreateWhiteblackipRule {
                    project: owned(p),
                    policy: owned(policy),
                }
            }
            ("GET", ["", "v1", p, "waf", "policy", policy, "whiteblackip"]) => {
                Route::ListWhiteblackipRule {
                    project: owned(p),
                    policy: owned(policy),
                }
            }
            ("DELETE", ["", "v1", p, "waf", "policy", policy, "whiteblackip", rule]) => {
                Route::DeleteWhiteBlackIpRule {
                    project: owned(p),
                    policy: owned(policy),
                    rule: owned(rule),
                }
            }
            _ => return None,
        })
    }

    /// The operation's name in Huawei's API reference.
    pub fn name(&self) -> &'static str {
        match self {
            Route::AddBlackWhiteList { .. } => "AddBlackWhiteList",
            Route::ListBlackWhiteLists { .. } => "ListBlackWhiteLists",
            Route::DeleteBlackWhiteList { .. } => "DeleteBlackWhiteList",
            Route::CreateWhiteblackipRule { .. } => "CreateWhiteblackipRule",
            Route::ListWhiteblackipRule { .. } => "ListWhiteblackipRule",
            Route::DeleteWhiteBlackIpRule { .. } => "DeleteWhiteBlackIpRule",
        }
    }

    fn project(&self) -> &str {
        match self {
            Route::AddBlackWhiteList { project }
            | Route::ListBlackWhiteLists { project }
            | Route::DeleteBlackWhiteList { project, .. }
            | Route::CreateWhiteblackipRule { project, .. }
            | Route::ListWhiteblackipRule { project, .. }
            | Route::DeleteWhiteBlackIpRule { project, .. } => project,
        }
    }
}

/// The operation name for the record of handled requests.
pub(crate) fn operation_name(method: &str, path: &str) -> String {
    Route::parse(method, path).map_or_else(
        || format!("{method} {path}"),
        |route| route.name().to_owned(),
    )
}

/// Huawei Cloud state: keys, projects and products.
pub(crate) struct Huawei {
    keys: BTreeMap<String, HuaweiKey>,
    /// project id → account.
    projects: BTreeMap<String, String>,
    pub(crate) cfw: cfw::Cfw,
    pub(crate) waf: waf::Waf,
}

impl std::fmt::Debug for Huawei {
    /// Shows AKs and projects, never secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Huawei")
            .field("access_keys", &self.keys.keys().collect::<Vec<_>>())
            .field("projects", &self.projects)
            .field("cfw", &self.cfw)
            .field("waf", &self.waf)
            .finish()
    }
}

impl Huawei {
    pub(crate) fn new(
        keys: BTreeMap<String, HuaweiKey>,
        projects: BTreeMap<String, String>,
        cfw: cfw::Cfw,
        waf: waf::Waf,
    ) -> Self {
        Self {
            keys,
            projects,
            cfw,
            waf,
        }
    }

    /// Verifies the signature; returns the AK's account.
    pub(crate) fn authenticate(
        &self,
        request: &Received<'_>,
        now: i64,
    ) -> Result<String, ApiError> {
        let access_key = apig::verify(
            request,
            |ak| self.keys.get(ak).map(|key| key.secret_key.clone()),
            now,
        )?;
        Ok(self.keys[&access_key].account.clone())
    }

    /// Routes and runs a verified request for `account`.
    pub(crate) fn dispatch(
        &mut self,
        account: &str,
        request: &Received<'_>,
    ) -> Result<Value, ApiError> {
        let route = Route::parse(request.method, request.path).ok_or_else(|| {
            ApiError::new(
                404,
                "APIGW.0101",
                "The API does not exist or has not been published in the environment",
            )
        })?;
        let project = route.project();
        if self
            .projects
            .get(project)
            .is_none_or(|owner| owner != account)
        {
            return Err(ApiError::new(
                403,
                "APIGW.0310",
                format!(
                    "The project is unavailable: project `{project}` does not belong to the account of this AK"
                ),
            ));
        }
        let query: BTreeMap<String, String> = split_pairs(request.query, percent_decode)
            .map_err(|err| {
                ApiError::new(
                    400,
                    "APIGW.0201",
                    format!("Request parameters are invalid: {err}"),
                )
            })?
            .into_iter()
            .collect();
        let body = || -> Result<Map<String, Value>, ApiError> {
            match serde_json::from_slice(request.body) {
                Ok(Value::Object(body)) => Ok(body),
                _ => Err(ApiError::new(
                    400,
                    "APIGW.0201",
                    "Request parameters are invalid: the body is not a JSON object",
                )),
            }
        };
        match &route {
            Route::AddBlackWhiteList { project } => self.cfw.add(project, &body()?),
            Route::ListBlackWhiteLists { project } => self.cfw.list(project, &query),
            Route::DeleteBlackWhiteList { project, list_id } => self.cfw.delete(project, list_id),
            Route::CreateWhiteblackipRule { project, policy } => {
                self.waf.create(project, policy, &body()?)
            }
            Route::ListWhiteblackipRule { project, policy } => {
                self.waf.list(project, policy, &query)
            }
            Route::DeleteWhiteBlackIpRule {
                project,
                policy,
                rule,
            } => self.waf.delete(project, policy, rule),
        }
    }
}

/// The error body.
pub(crate) fn error_body(request_id: &str, err: &ApiError) -> Value {
    serde_json::json!({"error_code": err.code, "error_msg": err.message, "request_id": request_id})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_by_method_and_path() {
        let cases = [
            ("POST", "/v1/p/black-white-list", Some("AddBlackWhiteList")),
            (
                "GET",
                "/v1/p/black-white-lists",
                Some("ListBlackWhiteLists"),
            ),
            (
                "DELETE",
                "/v1/p/black-white-list/x-1",
                Some("DeleteBlackWhiteList"),
            ),
            (
                "POST",
                "/v1/p/waf/policy/q/whiteblackip",
                Some("CreateWhiteblackipRule"),
            ),
            (
                "GET",
                "/v1/p/waf/policy/q/whiteblackip/",
                Some("ListWhiteblackipRule"),
            ),
            (
                "DELETE",
                "/v1/p/waf/policy/q/whiteblackip/r",
                Some("DeleteWhiteBlackIpRule"),
            ),
            ("PUT", "/v1/p/black-white-list", None),
            ("POST", "/v2/p/black-white-list", None),
        ];
        for (method, path, name) in cases {
            assert_eq!(
                Route::parse(method, path).map(|r| r.name()),
                name,
                "{method} {path}"
            );
        }
        assert_eq!(
            Route::parse("DELETE", "/v1/p/black-white-list/a%3Ab"),
            Some(Route::DeleteBlackWhiteList {
                project: "p".into(),
                list_id: "a:b".into()
            })
        );
    }
}
