//! Request bodies and queries, parsed strictly and explained when wrong.
//!
//! Bodies are JSON (or YAML where a route takes scripts and rules);
//! unknown fields are refused where a typo would change meaning, and every
//! error names the field, as `field \`entity.value\`: ...`.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use bytes::Bytes;
use serde::de::DeserializeOwned;

use super::problem::Problem;

/// A JSON body of type `T`.
pub struct Json<T>(pub T);

/// A body that may be JSON or, with `Content-Type: application/yaml`,
/// YAML (scripts and rules, which operators keep as YAML files).
pub struct Document<T>(pub T);

/// The raw body of a JSON or JSON-lines request (the adapters tell the
/// document's shape from its content).
pub struct Raw {
    pub bytes: Bytes,
}

fn content_type(request: &Request) -> String {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(|value| {
            value
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default()
}

async fn read(request: Request) -> Result<Bytes, Problem> {
    Bytes::from_request(request, &()).await.map_err(|err| {
        let status = err.status();
        if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            Problem::new(
                status,
                "too-large",
                "Request body too large",
                "the body is larger than this route accepts; split it (batch routes take up to \
                 32 MiB, others 2 MiB)",
            )
        } else {
            Problem::bad_request(format!("the body could not be read: {err}"))
        }
    })
}

/// Parses JSON, naming the field of the first error.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    // A UTF-8 byte-order mark, as some Windows tools write, is not content.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Problem::bad_request(
            "the body is empty; expected a JSON document",
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            Problem::bad_request(format!("the body is not valid JSON: {inner}"))
        } else if path == "." || path.is_empty() {
            Problem::invalid(vec![format!(
                "body: {}",
                strip_position(&inner.to_string())
            )])
        } else {
            Problem::invalid(vec![format!(
                "field `{path}`: {}",
                strip_position(&inner.to_string())
            )])
        }
    })?;
    deserializer
        .end()
        .map_err(|err| Problem::bad_request(format!("the body is not valid JSON: {err}")))?;
    Ok(value)
}

/// Parses a JSON object into `T`. serde would also read a struct from an
/// array, field by field, which no client means.
pub fn parse_object<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some() && first != Some(&b'{') {
        return Err(Problem::invalid(vec![
            "body: expected a JSON object (`{...}`)".to_string(),
        ]));
    }
    parse_json(bytes)
}

/// serde_json appends `at line 1 column 42`, which means nothing to
/// someone who sent a one-line body.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message.to_string(),
    }
}

fn check_json_type(kind: &str) -> Result<(), Problem> {
    if kind.is_empty() || kind == "application/json" || kind.ends_with("+json") {
        Ok(())
    } else {
        Err(Problem::new(
            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            format!("the body is `{kind}`; send `application/json`"),
        ))
    }
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = Problem;

    async fn from_request(request: Request, _: &S) -> Result<Self, Problem> {
        check_json_type(&content_type(&request))?;
        let bytes = read(request).await?;
        parse_object(&bytes).map(Json)
    }
}

impl<T: DeserializeOwned + Send + 'static, S: Send + Sync> FromRequest<S> for Document<T> {
    type Rejection = Problem;

    async fn from_request(request: Request, _: &S) -> Result<Self, Problem> {
        let kind = content_type(&request);
        let yaml = matches!(
            kind.as_str(),
            "application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml"
        );
        if !yaml {
            check_json_type(&kind)?;
        }
        let bytes = read(request).await?;
        if !yaml {
            return parse_object(&bytes).map(Document);
        }
        if bytes.len() > MAX_YAML {
            return Err(Problem::new(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                "too-large",
                "Request body too large",
                format!("a YAML script or rule may be at most {MAX_YAML} bytes"),
            ));
        }
        let text = String::from_utf8(bytes.to_vec())
            .map_err(|_| Problem::bad_request("the YAML body is not UTF-8"))?;
        check_yaml_depth(&text)?;
        // The YAML parser's cost grows faster than the input; keep it off
        // the threads that answer other requests.
        tokio::task::spawn_blocking(move || serde_norway::from_str(&text))
            .await
            .map_err(|err| Problem::internal(err.to_string()))?
            .map(Document)
            .map_err(|err| Problem::invalid(vec![format!("body: {err}")]))
    }
}

impl<S: Send + Sync> FromRequest<S> for Raw {
    type Rejection = Problem;

    async fn from_request(request: Request, _: &S) -> Result<Self, Problem> {
        let kind = content_type(&request);
        let ndjson = matches!(
            kind.as_str(),
            "application/x-ndjson" | "application/jsonl" | "application/json-lines" | "text/plain"
        );
        if !ndjson {
            check_json_type(&kind)?;
        }
        let bytes = read(request).await?;
        Ok(Raw { bytes })
    }
}

/// A WebAssembly component body (`application/wasm`, or
/// `application/octet-stream`).
#[derive(Debug)]
pub struct WasmBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for WasmBody {
    type Rejection = Problem;

    async fn from_request(request: Request, _: &S) -> Result<Self, Problem> {
        let kind = content_type(&request);
        if !matches!(
            kind.as_str(),
            "application/wasm" | "application/octet-stream"
        ) {
            return Err(Problem::new(
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                format!(
                    "send the component's bytes with `Content-Type: application/wasm`, not `{kind}`"
                ),
            ));
        }
        Ok(WasmBody(read(request).await?))
    }
}

/// The largest YAML body: scripts and rules are a few KiB.
const MAX_YAML: usize = 256 << 10;

/// The deepest nesting of a YAML body, by brackets or indentation.
const MAX_YAML_DEPTH: usize = 64;

/// Refuses YAML nested deeper than [`MAX_YAML_DEPTH`] before the parser
/// sees it (its time grows with the square of the depth). Counts flow
/// brackets outside quotes, and block nesting by indentation steps.
fn check_yaml_depth(text: &str) -> Result<(), Problem> {
    let too_deep = || {
        Problem::invalid(vec![format!(
            "body: the YAML is nested more than {MAX_YAML_DEPTH} levels deep"
        )])
    };
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '[' | '{') => {
                depth += 1;
                if depth > MAX_YAML_DEPTH {
                    return Err(too_deep());
                }
            }
            (None, ']' | '}') => depth = depth.saturating_sub(1),
            (None, '\n') => {}
            _ => {}
        }
    }
    let mut indents: Vec<usize> = Vec::new();
    for line in text.lines() {
        let content = line.trim_start_matches([' ', '-']);
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let indent = line.len() - content.len();
        while indents.last().is_some_and(|&last| last >= indent) {
            indents.pop();
        }
        indents.push(indent);
        if indents.len() > MAX_YAML_DEPTH {
            return Err(too_deep());
        }
    }
    Ok(())
}

/// A query string of type `T`, unknown parameters refused.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Query(value))
            .map_err(|err| {
                let text = err.body_text();
                let text = text
                    .strip_prefix("Failed to deserialize query string: ")
                    .unwrap_or(&text);
                Problem::invalid(vec![format!("query: {text}")])
            })
    }
}

/// A path parameter, with a clear error when it has the wrong shape.
pub struct PathId<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for PathId<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| PathId(value))
            .map_err(|err| Problem::invalid(vec![format!("path: {}", err.body_text())]))
    }
}
