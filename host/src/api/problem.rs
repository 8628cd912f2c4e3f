//! Errors as RFC 9457 problem documents: a type URI, a short title, the
//! HTTP status, a detail a person can act on, and for invalid input one
//! line per field.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::engine::EngineError;
use crate::registry::RegistryError;
use crate::store::StoreError;

/// Where problem types are documented; each type is `BASE` + its slug.
pub const PROBLEM_BASE: &str = "https://riposte.dev/problems/";

/// An error answer.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

impl Problem {
    pub fn new(
        status: StatusCode,
        slug: &str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            kind: format!("{PROBLEM_BASE}{slug}"),
            title,
            status: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    /// 400: the request is malformed (not JSON, wrong content type, bad
    /// query).
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "Bad request",
            detail,
        )
    }

    /// 422: the request is well formed but names invalid values; one line
    /// per field in `errors`.
    pub fn invalid(errors: Vec<String>) -> Self {
        let detail = match errors.as_slice() {
            [one] => one.clone(),
            _ => format!("{} fields are invalid; see `errors`", errors.len()),
        };
        Self {
            errors,
            ..Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-input",
                "Invalid input",
                detail,
            )
        }
    }

    pub fn not_found(what: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            format!("{what} not found"),
        )
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", "Conflict", detail)
    }

    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            detail,
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).expect("problems serialize");
        let mut response = (status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}

impl From<EngineError> for Problem {
    fn from(err: EngineError) -> Self {
        match err {
            EngineError::Invalid(errors) => Problem::invalid(errors),
            EngineError::NotFound(what) => Problem::not_found(what),
            EngineError::Conflict(why) => Problem::conflict(why),
            EngineError::Store(err) => err.into(),
        }
    }
}

impl From<StoreError> for Problem {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound(what) => Problem::not_found(what),
            StoreError::Conflict(why) => Problem::conflict(why),
            StoreError::Invalid(why) => Problem::invalid(vec![why]),
            other => {
                tracing::error!(error = %other, "store error while answering a request");
                Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store-unavailable",
                    "Store unavailable",
                    "the store could not complete the request; it was not applied. Retry later, \
                     and see the daemon's log",
                )
            }
        }
    }
}

impl From<RegistryError> for Problem {
    fn from(err: RegistryError) -> Self {
        match err {
            RegistryError::TooLarge { .. } => Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-large",
                "Component too large",
                err.to_string(),
            ),
            RegistryError::Signature(_) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "bad-signature",
                "Signature refused",
                err.to_string(),
            ),
            RegistryError::Invalid(_) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-component",
                "Invalid component",
                format!("the component was refused and nothing changed: {err}"),
            ),
            RegistryError::Conflict(why) => Problem::conflict(why),
            RegistryError::NotFound(what) => Problem::not_found(what),
            RegistryError::BadRequest(why) => Problem::invalid(vec![why]),
            RegistryError::Store(err) => err.into(),
            RegistryError::Io(why) => {
                tracing::error!(error = %why, "registry i/o error while answering a request");
                Problem::internal(format!("the component could not be stored: {why}"))
            }
        }
    }
}
