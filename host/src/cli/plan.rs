//! From a parsed command to the API request it makes and the way its
//! answer is shown. Pure but for reading the files a command names (and
//! stdin for `--secret-stdin`), so each subcommand's method, path, query
//! and body are tested here without a server.
//!
//! Values an operator types (entities, times, durations) are checked
//! with the model's parsers before anything is sent, so a typo is
//! reported with the same words the daemon would use, without a round
//! trip.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use http::Method;
use serde_json::{Value, json};

use super::Fail;
use super::args::{
    AllowCommand, AuditCommand, Command, ComponentCommand, HandleArgs, Paging, PolicyCommand, Role,
    RuleCommand, ScriptCommand, SignalCommand, TargetCommand, TaskCommand, TokenCommand,
};
use super::columns::{
    ALLOW_COLUMNS, AUDIT_COLUMNS, COMPONENT_COLUMNS, POLICY_COLUMNS, RULE_COLUMNS, SCRIPT_COLUMNS,
    SIGNAL_COLUMNS, TARGET_COLUMNS, TASK_COLUMNS, TOKEN_COLUMNS, VERSION_COLUMNS,
};
use super::http::{ApiRequest, Body, encode};
use super::render::Column;
use crate::model::{Entity, EntityKind, Span, Time};

/// The environment variable `target put` takes a credential secret from.
pub const TARGET_SECRET_ENV: &str = "RIPOSTE_TARGET_SECRET";

/// What a command needs from outside the command line.
pub struct Inputs<'a> {
    /// The wall clock, for expiry durations.
    pub now: Time,
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// Read only for `--secret-stdin`.
    pub stdin: &'a mut dyn BufRead,
}

/// What running a command means.
#[derive(Debug)]
pub enum Plan {
    /// One request (or one per page with `--all`), shown as `view`.
    Call(Call),
    /// `alert send` / `incident send`.
    Send(SendPlan),
}

#[derive(Debug)]
pub struct Call {
    pub request: ApiRequest,
    /// The weakest role the API accepts, for the message on a 403.
    pub role: Role,
    pub view: View,
    /// Follow `next` cursors.
    pub all: bool,
}

/// How a successful answer is shown.
pub enum View {
    /// A page: `items` as a table; `noun` names them in messages.
    Table {
        columns: &'static [Column],
        noun: &'static str,
    },
    /// One record as `key: value` lines.
    Record,
    /// `policy get`: the policy, its source and its tasks.
    PolicyDetail,
    /// `policy script`: the script version and its runs.
    PolicyScript,
    /// An answer with nothing to show (204): this message instead.
    Done(String),
    /// `script validate`: the verdict, and exit 1 when invalid.
    Validation,
    /// `token create`: the token alone on stdout, a warning on stderr.
    NewToken,
}

impl std::fmt::Debug for View {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            View::Table { noun, .. } => write!(f, "Table({noun})"),
            View::Record => f.write_str("Record"),
            View::PolicyDetail => f.write_str("PolicyDetail"),
            View::PolicyScript => f.write_str("PolicyScript"),
            View::Done(message) => write!(f, "Done({message:?})"),
            View::Validation => f.write_str("Validation"),
            View::NewToken => f.write_str("NewToken"),
        }
    }
}

/// `alert send`: where to read and where to post.
#[derive(Debug, Clone, PartialEq)]
pub struct SendPlan {
    /// `/v1/alerts/batch` or `/v1/incidents/batch`.
    pub path: &'static str,
    pub format: Option<String>,
    /// `None` for stdin.
    pub file: Option<PathBuf>,
    pub follow: bool,
    pub batch: usize,
}

/// Plans `command`.
pub fn plan(command: &Command, inputs: &mut Inputs<'_>) -> Result<Plan, Fail> {
    let call = match command {
        Command::Task(command) => task(command),
        Command::Policy(command) => policy(command)?,
        Command::Script(command) => script(command)?,
        Command::Rule(command) => rule(command)?,
        Command::Allow(command) => allow(command, inputs.now)?,
        Command::Target(command) => target(command, inputs)?,
        Command::Component(command) => component(command)?,
        Command::Alert(command) => return signal("alerts", command, inputs.now),
        Command::Incident(command) => return signal("incidents", command, inputs.now),
        Command::Audit(AuditCommand::List(filter)) => {
            let request = ApiRequest::get("/v1/audit")
                .query("actor", filter.actor.as_ref())
                .query("action", filter.action.as_ref())
                .query("object", filter.object.as_ref())
                .query("since", checked_time("--since", &filter.since)?)
                .query("until", checked_time("--until", &filter.until)?);
            list(request, &filter.paging, &AUDIT_COLUMNS, "audit entries")
        }
        Command::Token(command) => token(command),
    };
    Ok(Plan::Call(call))
}

fn task(command: &TaskCommand) -> Call {
    match command {
        TaskCommand::List(filter) => {
            let request = ApiRequest::get("/v1/tasks")
                .query("status", filter.status.as_ref())
                .query("entity_kind", filter.entity_kind.as_ref())
                .query("entity", filter.entity.as_ref())
                .query("action", filter.action.as_ref())
                .query("target", filter.target.as_ref())
                .query("policy", filter.policy.as_ref());
            list(request, &filter.paging, &TASK_COLUMNS, "tasks")
        }
        TaskCommand::Get { id } => record(ApiRequest::get(path(&["tasks", id])), Role::Viewer),
        TaskCommand::Retry { id } => record(
            ApiRequest::post(path(&["tasks", id, "retry"])),
            Role::Operator,
        ),
        TaskCommand::Unblock { id } => record(
            ApiRequest::post(path(&["tasks", id, "unblock"])),
            Role::Operator,
        ),
    }
}

fn policy(command: &PolicyCommand) -> Result<Call, Fail> {
    Ok(match command {
        PolicyCommand::List(filter) => {
            if let Some(version) = &filter.version {
                check_version(version)?;
            }
            let request = ApiRequest::get("/v1/policies")
                .query("status", filter.status.as_ref())
                .query("entity_kind", filter.entity_kind.as_ref())
                .query("entity", filter.entity.as_ref())
                .query("action", filter.action.as_ref())
                .query("source", filter.source.as_ref())
                .query("script", filter.script.as_ref())
                .query("version", filter.version.as_ref())
                .query("since", checked_time("--since", &filter.since)?)
                .query("until", checked_time("--until", &filter.until)?);
            list(request, &filter.paging, &POLICY_COLUMNS, "policies")
        }
        PolicyCommand::Get { id } => Call {
            request: ApiRequest::get(path(&["policies", id])),
            role: Role::Viewer,
            view: View::PolicyDetail,
            all: false,
        },
        PolicyCommand::Script { id } => Call {
            request: ApiRequest::get(path(&["policies", id, "script"])),
            role: Role::Viewer,
            view: View::PolicyScript,
            all: false,
        },
    })
}

fn script(command: &ScriptCommand) -> Result<Call, Fail> {
    Ok(match command {
        ScriptCommand::List => table(ApiRequest::get("/v1/scripts"), &SCRIPT_COLUMNS, "scripts"),
        ScriptCommand::Versions { name } => table(
            ApiRequest::get(path(&["scripts", name, "versions"])),
            &VERSION_COLUMNS,
            "versions",
        ),
        ScriptCommand::Get { name, version } => record(
            ApiRequest::get(path(&["scripts", name, "versions", version])),
            Role::Viewer,
        ),
        ScriptCommand::Create { file } => {
            let mut request = ApiRequest::post("/v1/scripts");
            request.body = Some(spec_body(file)?);
            record(request, Role::Admin)
        }
        ScriptCommand::Publish { name, file } => {
            let mut request = ApiRequest::post(path(&["scripts", name, "versions"]));
            request.body = Some(spec_body(file)?);
            record(request, Role::Admin)
        }
        ScriptCommand::Validate { file } => {
            let mut request = ApiRequest::post("/v1/scripts/validate");
            request.body = Some(spec_body(file)?);
            Call {
                request,
                role: Role::Operator,
                view: View::Validation,
                all: false,
            }
        }
        ScriptCommand::Run { name, entity } => {
            let body = json!({ "entity": parse_entity("--entity", entity)? });
            record(
                ApiRequest::post(path(&["scripts", name, "run"])).json(&body),
                Role::Operator,
            )
        }
    })
}

fn rule(command: &RuleCommand) -> Result<Call, Fail> {
    Ok(match command {
        RuleCommand::List => table(ApiRequest::get("/v1/rules"), &RULE_COLUMNS, "rules"),
        RuleCommand::Get { name } => record(ApiRequest::get(path(&["rules", name])), Role::Viewer),
        RuleCommand::Put { name, file } => {
            let mut request = ApiRequest::new(Method::PUT, path(&["rules", name]));
            request.body = Some(spec_body(file)?);
            record(request, Role::Admin)
        }
        RuleCommand::Delete { name } => done(
            ApiRequest::new(Method::DELETE, path(&["rules", name])),
            Role::Admin,
            format!("rule `{name}` deleted"),
        ),
        RuleCommand::Enable { name } => record(
            ApiRequest::post(path(&["rules", name, "enable"])),
            Role::Admin,
        ),
        RuleCommand::Disable { name } => record(
            ApiRequest::post(path(&["rules", name, "disable"])),
            Role::Admin,
        ),
    })
}

fn allow(command: &AllowCommand, now: Time) -> Result<Call, Fail> {
    Ok(match command {
        AllowCommand::List => table(
            ApiRequest::get("/v1/allowlist"),
            &ALLOW_COLUMNS,
            "allowlist entries",
        ),
        AllowCommand::Add {
            kind,
            value,
            reason,
            expires,
        } => {
            EntityKind::parse(kind).map_err(|err| Fail::usage(format!("`--kind`: {err}")))?;
            let mut body = json!({ "kind": kind, "value": value, "reason": reason });
            if let Some(expires) = expires {
                body["expires_at"] = Value::String(expiry(expires, now)?);
            }
            record(
                ApiRequest::post("/v1/allowlist").json(&body),
                Role::Operator,
            )
        }
        AllowCommand::Get { id } => record(ApiRequest::get(path(&["allowlist", id])), Role::Viewer),
        AllowCommand::Remove { id } => done(
            ApiRequest::new(Method::DELETE, path(&["allowlist", id])),
            Role::Operator,
            format!("allowlist entry {id} removed"),
        ),
    })
}

fn target(command: &TargetCommand, inputs: &mut Inputs<'_>) -> Result<Call, Fail> {
    Ok(match command {
        TargetCommand::List => table(ApiRequest::get("/v1/targets"), &TARGET_COLUMNS, "targets"),
        TargetCommand::Get { id } => record(ApiRequest::get(path(&["targets", id])), Role::Viewer),
        TargetCommand::Put {
            id,
            file,
            secret_stdin,
        } => {
            let body = target_body(file, *secret_stdin, inputs)?;
            record(
                ApiRequest::new(Method::PUT, path(&["targets", id])).json(&body),
                Role::Admin,
            )
        }
        TargetCommand::Delete { id } => done(
            ApiRequest::new(Method::DELETE, path(&["targets", id])),
            Role::Admin,
            format!("target `{id}` deleted"),
        ),
    })
}

fn component(command: &ComponentCommand) -> Result<Call, Fail> {
    Ok(match command {
        ComponentCommand::List => table(
            ApiRequest::get("/v1/components"),
            &COMPONENT_COLUMNS,
            "components",
        ),
        ComponentCommand::Inspect { name } => {
            record(ApiRequest::get(path(&["components", name])), Role::Viewer)
        }
        ComponentCommand::Enable { name } => record(
            ApiRequest::post(path(&["components", name, "enable"])),
            Role::Admin,
        ),
        ComponentCommand::Disable { name } => record(
            ApiRequest::post(path(&["components", name, "disable"])),
            Role::Admin,
        ),
        ComponentCommand::Load { file, signature } => {
            let wasm = std::fs::read(file).map_err(|err| {
                Fail::usage(format!(
                    "cannot read the component {}: {err}",
                    file.display()
                ))
            })?;
            let beside = PathBuf::from(format!("{}.minisig", file.display()));
            let signature = match signature {
                Some(path) => Some(std::fs::read(path).map_err(|err| {
                    Fail::usage(format!(
                        "cannot read the signature {}: {err}",
                        path.display()
                    ))
                })?),
                None => std::fs::read(&beside).ok(),
            };
            let mut request = ApiRequest::post("/v1/components");
            if let Some(signature) = signature {
                use base64::Engine as _;
                request.headers.push((
                    "x-riposte-signature",
                    base64::engine::general_purpose::STANDARD.encode(signature),
                ));
            }
            request.body = Some(Body {
                content_type: "application/wasm",
                bytes: wasm,
            });
            record(request, Role::Admin)
        }
        ComponentCommand::Grant {
            name,
            hosts,
            secrets,
        } => record(
            ApiRequest::post(path(&["components", name, "grant"]))
                .json(&json!({"hosts": hosts, "secrets": secrets})),
            Role::Admin,
        ),
        ComponentCommand::Check { .. } => {
            return Err(Fail::usage(
                "`component check` runs locally and sends nothing to the daemon",
            ));
        }
        ComponentCommand::Activate { name, version } => record(
            ApiRequest::post(path(&["components", name, "activate"]))
                .json(&json!({"version": version})),
            Role::Admin,
        ),
        ComponentCommand::Remove {
            name,
            version,
            force,
        } => {
            let what = match version {
                Some(version) => format!("`{name}` version {version} removed"),
                None => format!("component `{name}` removed"),
            };
            let request = ApiRequest::new(Method::DELETE, path(&["components", name]))
                .query("version", version.as_ref())
                .query("force", force.then_some("true"));
            done(request, Role::Admin, what)
        }
    })
}

/// `alert ...` and `incident ...`; `kind` is `alerts` or `incidents`.
fn signal(kind: &'static str, command: &SignalCommand, now: Time) -> Result<Plan, Fail> {
    let call = match command {
        SignalCommand::Send(args) => {
            let file = (args.file != Path::new("-")).then(|| args.file.clone());
            if args.follow && file.is_none() {
                return Err(Fail::usage(
                    "`--follow` needs a file; stdin is read until it ends anyway",
                ));
            }
            let incidents = kind == "incidents" || args.incident;
            return Ok(Plan::Send(SendPlan {
                path: if incidents {
                    "/v1/incidents/batch"
                } else {
                    "/v1/alerts/batch"
                },
                format: args.format.clone(),
                file,
                follow: args.follow,
                batch: usize::try_from(args.batch).unwrap_or(500),
            }));
        }
        SignalCommand::List(paging) => list(
            ApiRequest::get(format!("/v1/{kind}")),
            paging,
            &SIGNAL_COLUMNS,
            kind,
        ),
        SignalCommand::Get { id } => record(ApiRequest::get(path(&[kind, id])), Role::Viewer),
        SignalCommand::Handle(args) => {
            let body = handle_body(args, now)?;
            record(
                ApiRequest::post(path(&[kind, &args.id, "handle"])).json(&body),
                Role::Operator,
            )
        }
    };
    Ok(Plan::Call(call))
}

/// The body of `POST /v1/alerts/{id}/handle`.
fn handle_body(args: &HandleArgs, now: Time) -> Result<Value, Fail> {
    let entity = |mode: &str| match &args.entity {
        Some(entity) => parse_entity("--entity", entity),
        None => Err(Fail::usage(format!(
            "`{mode}` needs `--entity KIND:VALUE`, such as `--entity ip:203.0.113.7`"
        ))),
    };
    let only_for_allowlist = |flag: &str, set: bool| {
        if set && !args.allowlist {
            Err(Fail::usage(format!(
                "`{flag}` goes with `--allowlist` only"
            )))
        } else {
            Ok(())
        }
    };
    only_for_allowlist("--reason", args.reason.is_some())?;
    only_for_allowlist("--expires", args.expires.is_some())?;

    if args.apply_recommended {
        if args.entity.is_some() {
            return Err(Fail::usage(
                "`--apply-recommended` takes no `--entity`: it acts on what the rules pick",
            ));
        }
        return Ok(json!({ "action": "apply-recommended" }));
    }
    if let Some(script) = &args.run_script {
        let entity = entity("--run-script")?;
        return Ok(json!({ "action": "run-script", "script": script, "entity": entity }));
    }
    if args.allowlist {
        let entity = entity("--allowlist")?;
        let Some(reason) = &args.reason else {
            return Err(Fail::usage(
                "`--allowlist` needs `--reason`, which the audit log keeps",
            ));
        };
        let mut body = json!({ "action": "allowlist", "entity": entity, "reason": reason });
        if let Some(expires) = &args.expires {
            body["expires_at"] = Value::String(expiry(expires, now)?);
        }
        return Ok(body);
    }
    Err(Fail::usage(
        "say how to handle it: `--apply-recommended`, `--run-script NAME --entity KIND:VALUE` \
         or `--allowlist --entity KIND:VALUE --reason R`",
    ))
}

fn token(command: &TokenCommand) -> Call {
    match command {
        TokenCommand::List => Call {
            role: Role::Admin,
            ..table(ApiRequest::get("/v1/tokens"), &TOKEN_COLUMNS, "tokens")
        },
        TokenCommand::Create { name, role } => Call {
            request: ApiRequest::post("/v1/tokens")
                .json(&json!({ "name": name, "role": role.as_str() })),
            role: Role::Admin,
            view: View::NewToken,
            all: false,
        },
        TokenCommand::Revoke { name } => done(
            ApiRequest::new(Method::DELETE, path(&["tokens", name])),
            Role::Admin,
            format!("token `{name}` revoked"),
        ),
    }
}

/// `/v1/` and the segments, each percent-encoded.
fn path(segments: &[&str]) -> String {
    let mut path = String::from("/v1");
    for segment in segments {
        path.push('/');
        path.push_str(&encode(segment));
    }
    path
}

fn list(
    request: ApiRequest,
    paging: &Paging,
    columns: &'static [Column],
    noun: &'static str,
) -> Call {
    let request = request
        .query("limit", paging.limit)
        .query("before", paging.before.as_ref());
    Call {
        all: paging.all,
        ..table(request, columns, noun)
    }
}

fn table(request: ApiRequest, columns: &'static [Column], noun: &'static str) -> Call {
    Call {
        request,
        role: Role::Viewer,
        view: View::Table { columns, noun },
        all: false,
    }
}

fn record(request: ApiRequest, role: Role) -> Call {
    Call {
        request,
        role,
        view: View::Record,
        all: false,
    }
}

fn done(request: ApiRequest, role: Role, message: String) -> Call {
    Call {
        request,
        role,
        view: View::Done(message),
        all: false,
    }
}

/// A script or rule file as a request body: JSON when it parses as JSON,
/// else YAML, each with its content type. The text is sent as written, so
/// the daemon's error positions match the file.
fn spec_body(file: &Path) -> Result<Body, Fail> {
    let bytes = read_file(file)?;
    if std::str::from_utf8(&bytes).is_err() {
        return Err(Fail::usage(format!(
            "`{}` is not UTF-8 text; expected a YAML or JSON document",
            file.display()
        )));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Fail::usage(format!(
            "`{}` is empty; expected a YAML or JSON document",
            file.display()
        )));
    }
    let content_type = if serde_json::from_slice::<Value>(&bytes).is_ok() {
        "application/json"
    } else {
        "application/yaml"
    };
    Ok(Body {
        content_type,
        bytes,
    })
}

/// A target file (JSON or YAML) as JSON, with the credential's secret
/// taken from stdin or the environment when asked. The secret is never
/// echoed, not even in an error.
fn target_body(file: &Path, secret_stdin: bool, inputs: &mut Inputs<'_>) -> Result<Value, Fail> {
    let bytes = read_file(file)?;
    let mut target: Value = serde_json::from_slice(&bytes)
        .or_else(|_| serde_norway::from_slice(&bytes))
        .map_err(|err| {
            Fail::usage(format!(
                "`{}` is not a JSON or YAML target: {err}",
                file.display()
            ))
        })?;
    if !target.is_object() {
        return Err(Fail::usage(format!(
            "`{}` is not a target; expected an object such as \
             {{\"provider\": \"aliyun\", \"endpoint\": \"...\"}}",
            file.display()
        )));
    }

    let secret = if secret_stdin {
        let mut line = String::new();
        inputs
            .stdin
            .read_line(&mut line)
            .map_err(|err| Fail::usage(format!("cannot read the secret from stdin: {err}")))?;
        Some(line.trim_end_matches(['\r', '\n']).to_string())
    } else {
        (inputs.env)(TARGET_SECRET_ENV)
    };
    let Some(secret) = secret else {
        return Ok(target);
    };
    let from = if secret_stdin {
        "stdin".to_string()
    } else {
        format!("env {TARGET_SECRET_ENV}")
    };
    if secret.is_empty() {
        return Err(Fail::usage(format!("the secret from {from} is empty")));
    }
    let has_public_id = target
        .pointer("/credential/public_id")
        .and_then(Value::as_str)
        .is_some_and(|id| !id.is_empty());
    if !has_public_id {
        return Err(Fail::usage(format!(
            "a secret came from {from}, but `{}` has no `credential.public_id` to go with it",
            file.display()
        ))
        .hint("add `credential: {public_id: LTAI...}` to the target file"));
    }
    target["credential"]["secret"] = Value::String(secret);
    Ok(target)
}

fn read_file(file: &Path) -> Result<Vec<u8>, Fail> {
    std::fs::read(file)
        .map_err(|err| Fail::usage(format!("cannot read `{}`: {err}", file.display())))
}

/// `KIND:VALUE` as the API's entity object, normalized by the model's
/// parser. The kind ends at the first colon, so IPv6 values keep theirs.
pub fn parse_entity(flag: &str, text: &str) -> Result<Value, Fail> {
    let example = "such as `ip:203.0.113.7` or `domain:evil.example`";
    let Some((kind, value)) = text.split_once(':') else {
        return Err(Fail::usage(format!(
            "`{flag} {text}` is not KIND:VALUE; expected an entity {example}"
        )));
    };
    let kind = EntityKind::parse(kind).map_err(|err| Fail::usage(format!("`{flag}`: {err}")))?;
    let entity =
        Entity::parse(kind, value).map_err(|err| Fail::usage(format!("`{flag}`: {err}")))?;
    Ok(json!({ "kind": kind.as_str(), "value": entity.value }))
}

/// An expiry as an absolute RFC 3339 UTC time: an RFC 3339 time as given
/// (converted to UTC), or a duration such as `7d` counted from `now`.
/// Refused when it is not in the future.
pub fn expiry(text: &str, now: Time) -> Result<String, Fail> {
    let at = match (Time::parse(text), Span::parse(text)) {
        (Ok(at), _) => at,
        (Err(_), Ok(span)) => now.plus(span.duration()),
        (Err(_), Err(_)) => {
            return Err(Fail::usage(format!(
                "`--expires {text}` is neither an RFC 3339 time nor a duration; expected \
                 for example `7d`, `12h` or `2026-12-31T00:00:00Z`"
            )));
        }
    };
    if at <= now {
        return Err(Fail::usage(format!(
            "`--expires {text}` is in the past ({at}); give a later time or a duration such as `7d`"
        )));
    }
    Ok(at.to_string())
}

/// Checks an RFC 3339 time an operator gave for a filter.
fn checked_time<'t>(flag: &str, value: &'t Option<String>) -> Result<Option<&'t String>, Fail> {
    if let Some(text) = value {
        Time::parse(text).map_err(|err| Fail::usage(format!("`{flag}`: {err}")))?;
    }
    Ok(value.as_ref())
}

fn check_version(version: &str) -> Result<(), Fail> {
    let valid = version
        .rsplit_once('@')
        .is_some_and(|(name, number)| !name.is_empty() && number.parse::<u32>().is_ok());
    if valid {
        Ok(())
    } else {
        Err(Fail::usage(format!(
            "`--version {version}` is not NAME@VERSION; expected for example `block-attacker@3`"
        )))
    }
}

#[cfg(test)]
mod tests;
