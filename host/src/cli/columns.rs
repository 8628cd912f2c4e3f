//! The columns of each list, read from the JSON the API documents in
//! `spec/api.md`. Paths with `|` name the field under each name a record
//! may carry it (a script version nests its name in `spec`).

use serde_json::Value;

use super::render::{Column, at, count, entity, join, scalar, text};

pub static TASK_COLUMNS: [Column; 10] = [
    Column {
        header: "ID",
        cell: |v| text(v, "id"),
    },
    Column {
        header: "POLICY",
        cell: |v| text(v, "policy_id"),
    },
    Column {
        header: "STATUS",
        cell: |v| text(v, "status"),
    },
    Column {
        header: "ACTION",
        cell: |v| text(v, "action"),
    },
    Column {
        header: "TARGET",
        cell: |v| text(v, "target"),
    },
    Column {
        header: "ENTITY",
        cell: |v| entity(v, "entity"),
    },
    Column {
        header: "ATTEMPTS",
        cell: |v| count(v, "attempt_count|attempts"),
    },
    Column {
        header: "REVERT",
        cell: |v| text(v, "revert.status"),
    },
    Column {
        header: "UPDATED",
        cell: |v| text(v, "updated_at"),
    },
    Column {
        header: "FAILURE",
        cell: task_failure,
    },
];

/// `kind: message` of a failure, or why a task was ignored.
fn task_failure(task: &Value) -> Option<String> {
    if let Some(failure) = at(task, "failure") {
        let kind = text(failure, "kind").unwrap_or_else(|| "failed".into());
        let message = text(failure, "message").unwrap_or_default();
        return Some(format!("{kind}: {message}"));
    }
    text(task, "ignored_reason")
}

pub static POLICY_COLUMNS: [Column; 7] = [
    Column {
        header: "ID",
        cell: |v| text(v, "id"),
    },
    Column {
        header: "STATUS",
        cell: |v| text(v, "status"),
    },
    Column {
        header: "ENTITY",
        cell: |v| entity(v, "entity"),
    },
    Column {
        header: "SCRIPT",
        cell: |v| {
            let name = text(v, "script.name")?;
            Some(match text(v, "script.version") {
                Some(version) => format!("{name}@{version}"),
                None => name,
            })
        },
    },
    Column {
        header: "SOURCE",
        cell: policy_source,
    },
    Column {
        header: "ACTIONS",
        cell: |v| join(v, "actions", "action"),
    },
    Column {
        header: "CREATED",
        cell: |v| text(v, "created_at"),
    },
];

/// `alert 12 (rule r)`, `manual (alice)`: the source kind with what
/// names it.
fn policy_source(policy: &Value) -> Option<String> {
    let source = at(policy, "source")?;
    let Some(kind) = text(source, "kind") else {
        return Some(scalar(source));
    };
    let mut parts = vec![kind];
    if let Some(alert) = text(source, "alert") {
        parts.push(alert);
    }
    for (field, label) in [("rule", "rule"), ("actor", "by")] {
        if let Some(value) = text(source, field) {
            parts.push(format!("({label} {value})"));
        }
    }
    Some(parts.join(" "))
}

pub static SCRIPT_COLUMNS: [Column; 5] = [
    Column {
        header: "NAME",
        cell: |v| text(v, "name|spec.name"),
    },
    Column {
        header: "VERSION",
        cell: |v| text(v, "version"),
    },
    Column {
        header: "PUBLISHED",
        cell: |v| text(v, "published_at|created_at"),
    },
    Column {
        header: "BY",
        cell: |v| text(v, "published_by|created_by"),
    },
    Column {
        header: "DESCRIPTION",
        cell: |v| text(v, "description|spec.description"),
    },
];

pub static VERSION_COLUMNS: [Column; 4] = [
    Column {
        header: "VERSION",
        cell: |v| text(v, "version"),
    },
    Column {
        header: "PUBLISHED",
        cell: |v| text(v, "published_at|created_at"),
    },
    Column {
        header: "BY",
        cell: |v| text(v, "published_by|created_by"),
    },
    Column {
        header: "STEPS",
        cell: |v| join(v, "steps|spec.steps", "action"),
    },
];

pub static RULE_COLUMNS: [Column; 7] = [
    Column {
        header: "NAME",
        cell: |v| text(v, "name"),
    },
    Column {
        header: "ENABLED",
        cell: |v| text(v, "enabled"),
    },
    Column {
        header: "TRIGGER",
        cell: |v| text(v, "trigger"),
    },
    Column {
        header: "SCRIPT",
        cell: |v| text(v, "script"),
    },
    Column {
        header: "DEDUP",
        cell: |v| text(v, "dedup_window"),
    },
    Column {
        header: "RATE",
        cell: |v| text(v, "rate_limit"),
    },
    Column {
        header: "CONDITION",
        cell: |v| text(v, "condition"),
    },
];

pub static ALLOW_COLUMNS: [Column; 7] = [
    Column {
        header: "ID",
        cell: |v| text(v, "id"),
    },
    Column {
        header: "KIND",
        cell: |v| text(v, "kind"),
    },
    Column {
        header: "VALUE",
        cell: |v| text(v, "value"),
    },
    Column {
        header: "SCOPE",
        cell: |v| {
            let scope = at(v, "scope")?;
            match (text(scope, "kind"), text(scope, "id")) {
                (Some(kind), Some(id)) => Some(format!("{kind}:{id}")),
                (Some(kind), None) => Some(kind),
                _ => Some(scalar(scope)),
            }
        },
    },
    Column {
        header: "EXPIRES",
        cell: |v| text(v, "expires_at"),
    },
    Column {
        header: "BY",
        cell: |v| text(v, "created_by"),
    },
    Column {
        header: "REASON",
        cell: |v| text(v, "reason"),
    },
];

pub static TARGET_COLUMNS: [Column; 6] = [
    Column {
        header: "ID",
        cell: |v| text(v, "id"),
    },
    Column {
        header: "PROVIDER",
        cell: |v| text(v, "provider"),
    },
    Column {
        header: "ENDPOINT",
        cell: |v| text(v, "endpoint"),
    },
    Column {
        header: "ACCOUNT",
        cell: |v| text(v, "account"),
    },
    Column {
        header: "REGION",
        cell: |v| text(v, "region"),
    },
    Column {
        header: "CREDENTIAL",
        cell: |v| {
            let credential = at(v, "credential")?;
            let id = text(credential, "public_id").unwrap_or_else(|| "?".into());
            match credential.get("set").and_then(Value::as_bool) {
                Some(false) => Some(format!("{id} (no secret)")),
                _ => Some(id),
            }
        },
    },
];

pub static COMPONENT_COLUMNS: [Column; 6] = [
    Column {
        header: "NAME",
        cell: |v| text(v, "name"),
    },
    Column {
        header: "ACTIVE",
        cell: |v| text(v, "version"),
    },
    Column {
        header: "ENABLED",
        cell: |v| text(v, "enabled"),
    },
    Column {
        header: "OTHER VERSIONS",
        cell: other_versions,
    },
    Column {
        header: "ACTIONS",
        cell: |v| join(v, "actions", "id"),
    },
    Column {
        header: "HOSTS",
        cell: |v| join(v, "hosts", "host"),
    },
];

/// The installed versions that are not active, with their status unless
/// merely inactive (`0.3.0 (awaiting-grant)`).
fn other_versions(component: &Value) -> Option<String> {
    let versions = component.get("versions")?.as_array()?;
    let others: Vec<String> = versions
        .iter()
        .filter(|v| v.get("status").and_then(Value::as_str) != Some("active"))
        .map(|v| {
            let version = text(v, "version").unwrap_or_default();
            match v.get("status").and_then(Value::as_str) {
                Some("inactive") | None => version,
                Some(status) => format!("{version} ({status})"),
            }
        })
        .collect();
    (!others.is_empty()).then(|| others.join(", "))
}

pub static SIGNAL_COLUMNS: [Column; 8] = [
    Column {
        header: "ID",
        cell: |v| text(v, "id"),
    },
    Column {
        header: "SOURCE",
        cell: |v| text(v, "source"),
    },
    // From the normalized alert every adapter writes.
    Column {
        header: "SEVERITY",
        cell: |v| text(v, "data.severity"),
    },
    Column {
        header: "TITLE",
        cell: |v| text(v, "data.title"),
    },
    Column {
        header: "SRC",
        cell: |v| text(v, "data.src_ip"),
    },
    Column {
        header: "RECEIVED",
        cell: |v| text(v, "received_at"),
    },
    Column {
        header: "UPDATES",
        cell: |v| text(v, "updates"),
    },
    Column {
        header: "POLICIES",
        cell: |v| join(v, "policies", "id"),
    },
];

pub static AUDIT_COLUMNS: [Column; 6] = [
    Column {
        header: "ID",
        cell: |v| text(v, "id"),
    },
    Column {
        header: "AT",
        cell: |v| text(v, "at"),
    },
    Column {
        header: "ACTOR",
        cell: |v| text(v, "actor"),
    },
    Column {
        header: "ACTION",
        cell: |v| text(v, "action"),
    },
    Column {
        header: "OBJECT",
        cell: |v| text(v, "object"),
    },
    Column {
        header: "DETAIL",
        cell: |v| text(v, "detail"),
    },
];

pub static TOKEN_COLUMNS: [Column; 5] = [
    Column {
        header: "NAME",
        cell: |v| text(v, "name"),
    },
    Column {
        header: "ROLE",
        cell: |v| text(v, "role"),
    },
    Column {
        header: "CREATED",
        cell: |v| text(v, "created_at"),
    },
    Column {
        header: "BY",
        cell: |v| text(v, "created_by"),
    },
    Column {
        header: "LAST USED",
        cell: |v| text(v, "last_used_at"),
    },
];
