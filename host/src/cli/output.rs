//! Sends a planned call and shows the answer: the raw JSON with `--json`,
//! else a table, a record or a message. Error answers become a [`Fail`]
//! that quotes the problem document and, for 401 and 403, says which
//! token was used (by where it came from, never its value) and what role
//! the request needs.

use std::process::ExitCode;

use http::StatusCode;
use serde_json::{Value, json};

use super::Fail;
use super::args::Role;
use super::columns::{POLICY_COLUMNS, TASK_COLUMNS};
use super::http::{ApiRequest, Client, Response};
use super::plan::{Call, View};
use super::render::{record, table};

/// The most pages `--all` follows: 2,000 pages of up to 500 items.
const MAX_PAGES: usize = 2000;

/// Runs `call` and prints its answer.
pub fn show(client: &Client, call: &Call, raw: bool) -> Result<ExitCode, Fail> {
    let (text, value) = if call.all {
        all_pages(client, call)?
    } else {
        let response = client.send(&call.request)?;
        let value = answer(client, call, &response)?;
        let text = if contains_secret(&value) {
            value.to_string()
        } else {
            String::from_utf8_lossy(&response.body).into_owned()
        };
        (text, value)
    };

    if raw {
        if !text.is_empty() {
            println!("{}", text.trim_end());
        }
        if let View::NewToken = call.view {
            eprintln!("{}", new_token_warning(&value));
        }
        return Ok(match call.view {
            View::Validation if !is_valid(&value) => ExitCode::from(1),
            _ => ExitCode::SUCCESS,
        });
    }

    match &call.view {
        View::Table { columns, noun } => {
            let items = items(&value);
            if items.is_empty() {
                println!("no {noun}");
            } else {
                print!("{}", table(columns, items));
            }
            if let Some(next) = next_cursor(&value) {
                eprintln!("more {noun}: add `--before {next}` for the next page, or `--all`");
            }
        }
        View::Record if value.is_object() => print!("{}", record(&value)),
        View::Record => println!("done"),
        View::Done(message) => println!("{message}"),
        View::PolicyDetail => policy_detail(&value),
        View::PolicyScript => policy_script(&value),
        View::Validation => {
            if !is_valid(&value) {
                println!("invalid:");
                for problem in value["problems"].as_array().into_iter().flatten() {
                    println!("  - {}", super::render::scalar(problem));
                }
                return Ok(ExitCode::from(1));
            }
            println!("valid");
        }
        View::NewToken => {
            // The token alone on stdout, so `$(riposte token create ...)`
            // captures just it; the rest goes to stderr.
            match value.get("token").and_then(Value::as_str) {
                Some(token) => println!("{token}"),
                None => return Err(Fail::request("the answer holds no `token`")),
            }
            eprintln!("{}", new_token_warning(&value));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Follows `next` from page to page and returns every item as one page.
fn all_pages(client: &Client, call: &Call) -> Result<(String, Value), Fail> {
    let mut request: ApiRequest = call.request.clone();
    let mut items = Vec::new();
    for _ in 0..MAX_PAGES {
        let response = client.send(&request)?;
        let page = answer(client, call, &response)?;
        items.extend(self::items(&page).iter().cloned());
        match next_cursor(&page) {
            Some(next)
                if request
                    .query
                    .iter()
                    .any(|(k, v)| *k == "before" && *v == next) =>
            {
                return Err(Fail::request(format!(
                    "the server gave the cursor `{next}` twice; stopping"
                )));
            }
            Some(next) => request = request.with_before(&next),
            None => {
                let merged = json!({ "items": items, "next": null });
                return Ok((merged.to_string(), merged));
            }
        }
    }
    Err(Fail::request(format!(
        "stopped after {MAX_PAGES} pages; narrow the filter"
    )))
}

/// The answer's JSON when it is a success, else the failure it describes.
pub fn answer(client: &Client, call: &Call, response: &Response) -> Result<Value, Fail> {
    if response.status.is_success() {
        if response.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        let mut value: Value = serde_json::from_slice(&response.body).map_err(|err| {
            Fail::request(format!(
                "the server answered {} with a body that is not JSON: {err}",
                response.status
            ))
        })?;
        redact_secrets(&mut value);
        return Ok(value);
    }
    Err(refusal(client, call.role, response))
}

/// A failure for an error answer: the problem document's title, detail
/// and errors, and what to do about 401 and 403.
pub fn refusal(client: &Client, role: Role, response: &Response) -> Fail {
    let problem: Option<Value> = response
        .content_type
        .contains("json")
        .then(|| serde_json::from_slice(&response.body).ok())
        .flatten()
        .filter(|value: &Value| value.get("title").is_some() || value.get("detail").is_some());
    let mut fail = match &problem {
        Some(problem) => {
            let title = problem["title"].as_str().unwrap_or("request refused");
            let message = match problem["detail"].as_str() {
                Some(detail) => format!("{title}: {detail}"),
                None => title.to_string(),
            };
            let mut fail = Fail::request(message);
            for error in problem["errors"].as_array().into_iter().flatten() {
                fail = fail.detail(format!("- {}", super::render::scalar(error)));
            }
            fail
        }
        None => {
            let body = String::from_utf8_lossy(&response.body);
            let first = body.lines().next().unwrap_or_default();
            let mut fail = Fail::request(format!("the server answered {}", response.status));
            if !first.trim().is_empty() {
                let first: String = first.chars().take(200).collect();
                fail = fail.detail(super::render::scalar(&Value::String(first)));
            }
            fail
        }
    };

    match response.status {
        StatusCode::UNAUTHORIZED => {
            fail = fail.hint(match &client.token {
                Some(token) => format!(
                    "{} was not accepted; it may be revoked or mistyped",
                    token.origin
                ),
                None => "no token was configured: pass `--token-file`, set RIPOSTE_TOKEN_FILE, \
                         or name `token_file` in the config file (see `riposte --help`)"
                    .to_string(),
            });
        }
        StatusCode::FORBIDDEN => {
            let used = match &client.token {
                Some(token) => token.origin.to_string(),
                None => "the request (sent without a token)".to_string(),
            };
            let needed = match role {
                Role::Viewer => "viewer, operator or admin",
                Role::Operator => "operator or admin",
                Role::Admin => "admin",
            };
            fail = fail.hint(format!(
                "{used} lacks the role this needs: {needed} (`{}` or higher)",
                role.as_str()
            ));
        }
        _ => {}
    }
    fail
}

fn items(page: &Value) -> &[Value] {
    page.get("items")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The `next` cursor, as text, when there is one.
fn next_cursor(page: &Value) -> Option<String> {
    match page.get("next")? {
        Value::Null => None,
        Value::String(text) if text.is_empty() => None,
        Value::String(text) => Some(text.clone()),
        other => Some(other.to_string()),
    }
}

fn is_valid(value: &Value) -> bool {
    value.get("valid").and_then(Value::as_bool) == Some(true)
}

fn new_token_warning(value: &Value) -> String {
    let name = value["name"].as_str().unwrap_or("?");
    let role = value["role"].as_str().unwrap_or("?");
    format!(
        "token `{name}` ({role}) created. warning: store it now (a secret manager, or a \
         file of mode 0600 for --token-file); it is shown only this once"
    )
}

fn policy_detail(value: &Value) {
    print!("{}", record(&value["policy"]));
    match &value["source"] {
        Value::Object(source) => {
            // The record's data can be large; `alert get` shows it.
            let mut summary = source.clone();
            summary.remove("data");
            println!("\nsource:");
            print!("{}", indent(&record(&Value::Object(summary))));
        }
        _ => println!("\nsource: none (a manual run)"),
    }
    let tasks = value["tasks"].as_array().map_or(&[][..], Vec::as_slice);
    if tasks.is_empty() {
        println!("\ntasks: none");
    } else {
        println!("\ntasks:");
        print!("{}", indent(&table(&TASK_COLUMNS, tasks)));
    }
}

fn policy_script(value: &Value) {
    print!("{}", record(&value["script"]));
    let runs = items(&value["runs"]);
    if runs.is_empty() {
        println!("\nruns: none");
    } else {
        println!("\nruns:");
        print!("{}", indent(&table(&POLICY_COLUMNS, runs)));
    }
    if let Some(next) = next_cursor(&value["runs"]) {
        eprintln!("more runs: `riposte policy list --version NAME@V --before {next}`");
    }
}

fn indent(text: &str) -> String {
    text.lines().map(|line| format!("  {line}\n")).collect()
}

/// Replaces the value of every `secret` field with a mark. The API never
/// sends one back; this keeps a server bug from reaching a terminal.
fn redact_secrets(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, field) in map.iter_mut() {
                if key == "secret" && field.is_string() {
                    *field = Value::String("<redacted>".into());
                } else {
                    redact_secrets(field);
                }
            }
        }
        Value::Array(list) => list.iter_mut().for_each(redact_secrets),
        _ => {}
    }
}

fn contains_secret(value: &Value) -> bool {
    match value {
        Value::Object(map) => map
            .iter()
            .any(|(key, field)| key == "secret" || contains_secret(field)),
        Value::Array(list) => list.iter().any(contains_secret),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_answers_are_redacted() {
        let mut value = json!({"credential": {"public_id": "LTAI", "secret": "s3cr3t"},
                               "items": [{"secret": "x"}]});
        redact_secrets(&mut value);
        assert!(contains_secret(&value));
        assert!(!value.to_string().contains("s3cr3t"));
        assert_eq!(value["items"][0]["secret"], "<redacted>");
    }

    #[test]
    fn cursors_may_be_text_or_numbers() {
        assert_eq!(next_cursor(&json!({"next": "abc"})).as_deref(), Some("abc"));
        assert_eq!(next_cursor(&json!({"next": 42})).as_deref(), Some("42"));
        assert_eq!(next_cursor(&json!({"next": null})), None);
        assert_eq!(next_cursor(&json!({"items": []})), None);
    }
}
