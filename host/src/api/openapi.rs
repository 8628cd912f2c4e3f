//! The OpenAPI 3.1 document, built from [`super::ROUTES`] so that it
//! lists exactly the routes the router serves.

use serde_json::{Map, Value, json};

use super::{Access, ROUTES};

/// A record schema: an object with these required fields, others allowed
/// (records gain optional fields over time).
fn record(required: &[&str], properties: Value) -> Value {
    json!({"type": "object", "required": required, "properties": properties})
}

fn page(item: &str) -> Value {
    json!({
        "type": "object",
        "required": ["items", "next"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": format!("#/components/schemas/{item}")}},
            "next": {"type": ["integer", "null"], "minimum": 0}
        }
    })
}

fn list(item: &str) -> Value {
    json!({
        "type": "object",
        "required": ["items"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": format!("#/components/schemas/{item}")}}
        }
    })
}

fn schemas() -> Value {
    let entity = json!({
        "type": "object",
        "required": ["kind", "value"],
        "properties": {"kind": {"type": "string"}, "value": {"type": "string"}}
    });
    let entity_input = json!({
        "type": "object",
        "required": ["kind", "value"],
        "additionalProperties": false,
        "properties": {
            "kind": {"type": "string", "enum": ["ip", "cidr", "domain", "url", "file-hash", "file",
                "process", "host", "container", "cloud-resource", "account"]},
            "value": {"type": "string"}
        }
    });
    let time = json!({"type": "string", "format": "date-time"});
    json!({
        "Any": {},
        "Text": {"type": "string"},
        "Status": record(&["status"], json!({"status": {"type": "string"}})),
        "Problem": {
            "type": "object",
            "required": ["type", "title", "status", "detail"],
            "properties": {
                "type": {"type": "string", "format": "uri"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "errors": {"type": "array", "items": {"type": "string"}}
            }
        },
        "Entity": entity,
        "EntityInput": entity_input,
        "Policy": record(&["id", "entity", "script", "source", "status", "actions", "created_at"], json!({
            "id": {"type": "integer"},
            "entity": {"$ref": "#/components/schemas/Entity"},
            "script": record(&["name", "version"], json!({"name": {"type": "string"}, "version": {"type": "integer"}})),
            "source": record(&["kind"], json!({"kind": {"type": "string"}})),
            "status": {"type": "string"},
            "actions": {"type": "array", "items": {"type": "string"}},
            "created_at": time,
        })),
        "PolicyPage": page("Policy"),
        "PolicyDetail": record(&["policy", "source", "tasks"], json!({
            "policy": {"$ref": "#/components/schemas/Policy"},
            "source": {"oneOf": [{"$ref": "#/components/schemas/Signal"}, {"type": "null"}]},
            "tasks": {"type": "array", "items": {"$ref": "#/components/schemas/Task"}}
        })),
        "PolicyScript": record(&["script", "runs"], json!({
            "script": {"$ref": "#/components/schemas/ScriptVersion"},
            "runs": {"$ref": "#/components/schemas/PolicyPage"}
        })),
        "Task": record(&["id", "policy_id", "action", "target", "entity", "status", "idempotency_key"], json!({
            "id": {"type": "integer"},
            "policy_id": {"type": "integer"},
            "action": {"type": "string"},
            "target": {"type": "string"},
            "entity": {"$ref": "#/components/schemas/Entity"},
            "status": {"type": "string", "enum": ["Waiting", "Executing", "Succeeded",
                "PartiallySucceeded", "Failed", "Ignored"]},
            "idempotency_key": {"type": "string"},
            "attempts": {"type": "array"},
            "failure": {"type": "object"}
        })),
        "TaskPage": page("Task"),
        "TaskAccepted": record(&["task"], json!({"task": {"type": "integer"}})),
        "ScriptSpec": {
            "type": "object",
            "required": ["name", "entity", "steps"],
            "properties": {
                "name": {"type": "string"},
                "description": {"type": "string"},
                "trigger": {"type": "string"},
                "entity": record(&["kind", "from"], json!({"kind": {"type": "string"}, "from": {"type": "string"}})),
                "steps": {"type": "array", "items": record(&["id", "action", "targets"], json!({
                    "id": {"type": "string"},
                    "action": {"type": "string"},
                    "targets": {"type": "array", "items": {"type": "string"}},
                    "duration": {"type": "string"},
                    "when": {"type": "string"},
                    "parameters": {"type": "object", "additionalProperties": {"type": "string"}}
                }))}
            }
        },
        "ScriptVersion": record(&["version", "spec", "published_at", "published_by"], json!({
            "version": {"type": "integer"},
            "spec": {"$ref": "#/components/schemas/ScriptSpec"},
            "published_at": time,
            "published_by": {"type": "string"}
        })),
        "ScriptList": list("ScriptVersion"),
        "Validation": record(&["valid", "problems"], json!({
            "valid": {"type": "boolean"},
            "problems": {"type": "array", "items": {"type": "string"}}
        })),
        "RunScript": {
            "type": "object", "required": ["entity"], "additionalProperties": false,
            "properties": {"entity": {"$ref": "#/components/schemas/EntityInput"}}
        },
        "PolicyAccepted": record(&["policy"], json!({"policy": {"type": "integer"}})),
        "Rule": record(&["name", "trigger", "script"], json!({
            "name": {"type": "string"},
            "trigger": {"type": "string", "enum": ["alert", "incident", "incident-update"]},
            "condition": {"type": ["string", "null"]},
            "script": {"type": "string"},
            "dedup_window": {"type": "string"},
            "rate_limit": {"type": ["string", "null"]},
            "enabled": {"type": "boolean"}
        })),
        "RuleList": list("Rule"),
        "AllowEntry": record(&["id", "kind", "value", "scope", "reason", "created_by", "created_at"], json!({
            "id": {"type": "integer"},
            "kind": {"type": "string"},
            "value": {"type": "string"},
            "scope": {"type": "object"},
            "expires_at": time,
            "reason": {"type": "string"},
            "created_by": {"type": "string"},
            "created_at": time
        })),
        "AllowList": list("AllowEntry"),
        "AllowInput": {
            "type": "object", "required": ["kind", "value", "reason"], "additionalProperties": false,
            "properties": {
                "kind": {"type": "string", "enum": KINDS},
                "value": {"type": "string", "minLength": 1},
                "reason": {"type": "string", "minLength": 1, "maxLength": 1024},
                "expires_at": {"type": ["string", "null"], "format": "date-time"},
                "scope": {"oneOf": [
                    {"type": "null"},
                    {"type": "object", "required": ["kind"], "additionalProperties": false,
                     "properties": {"kind": {"const": "global"}}},
                    {"type": "object", "required": ["kind", "id"], "additionalProperties": false,
                     "properties": {"kind": {"enum": ["target", "action"]}, "id": {"type": "string"}}}
                ]}
            }
        },
        "Target": record(&["id", "provider", "endpoint", "credential"], json!({
            "id": {"type": "string"},
            "provider": {"type": "string"},
            "endpoint": {"type": "string"},
            "account": {"type": "string"},
            "region": {"type": "string"},
            "resource": {"type": "string"},
            "settings": {"type": "object", "additionalProperties": {"type": "string"}},
            "credential": {"oneOf": [{"type": "null"}, record(&["name", "set"], json!({
                "name": {"type": "string"},
                "public_id": {"type": ["string", "null"]},
                "set": {"type": "boolean"}
            }))]}
        })),
        "TargetList": list("Target"),
        "TargetInput": {
            "type": "object", "required": ["provider", "endpoint"], "additionalProperties": false,
            "properties": {
                "provider": {"type": "string"},
                "endpoint": {"type": "string"},
                "account": {"type": "string"},
                "region": {"type": "string"},
                "resource": {"type": "string"},
                "settings": {"type": "object", "additionalProperties": {"type": "string"}},
                "credential": {"oneOf": [{"type": "null"}, {
                    "type": "object", "required": ["public_id", "secret"], "additionalProperties": false,
                    "properties": {"public_id": {"type": "string", "minLength": 1},
                        "secret": {"type": "string", "minLength": 1, "writeOnly": true}}
                }]}
            }
        },
        "Component": record(&["name", "version", "enabled", "actions", "hosts", "grant"], json!({
            "name": {"type": "string"},
            "version": {"type": "string"},
            "enabled": {"type": "boolean"},
            "actions": {"type": "array", "items": {"type": "object"}},
            "hosts": {"type": "array", "items": {"type": "string"}},
            "grant": {"type": "object"}
        })),
        "ComponentList": list("Component"),
        "ComponentInstall": record(&["status", "name", "version", "digest", "missing", "cache", "component"], json!({
            "status": {"type": "string", "enum": ["active", "awaiting-grant", "inactive", "unchanged"]},
            "name": {"type": "string"},
            "version": {"type": "string"},
            "digest": {"type": "string"},
            "missing": {"type": "array", "items": {"type": "string"}},
            "cache": {"type": "string", "enum": ["hit", "compiled", "rebuilt", "none"]},
            "component": reference("Component")
        })),
        "ComponentRemoved": record(&["name", "removed"], json!({
            "name": {"type": "string"},
            "removed": {"type": "array", "items": {"type": "object"}}
        })),
        "GrantInput": {
            "type": "object", "additionalProperties": false,
            "properties": {
                "hosts": {"type": "array", "items": {"type": "string", "minLength": 1}},
                "secrets": {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 128}}
            }
        },
        "GrantAnswer": record(&["activated", "component"], json!({
            "activated": {"type": ["string", "null"]},
            "component": reference("Component")
        })),
        "ActivateInput": {
            "type": "object", "additionalProperties": false, "required": ["version"],
            "properties": {"version": {"type": "string", "minLength": 1}}
        },
        "Signal": record(&["id", "kind", "key", "source", "received_at", "data"], json!({
            "id": {"type": "integer"},
            "kind": {"type": "string", "enum": ["alert", "incident"]},
            "key": {"type": "string"},
            "source": {"type": "string"},
            "received_at": time,
            "data": {}
        })),
        "SignalPage": page("Signal"),
        "IngestAnswer": {"type": "object", "properties": {
            "signal": {"type": "integer"},
            "delivery": {"type": "string", "enum": ["new", "duplicate", "updated"]},
            "opened": {"type": "array", "items": {"type": "integer"}},
            "joined": {"type": "array", "items": {"type": "integer"}},
            "tasks": {"type": "integer"},
            "skipped": {"type": "array"},
            "skipped_record": {"type": "string"}
        }},
        "BatchAnswer": record(&["results", "ingested", "duplicates", "skipped", "failed"], json!({
            "results": {"type": "array", "items": {"type": "object"}},
            "ingested": {"type": "integer"},
            "duplicates": {"type": "integer"},
            "skipped": {"type": "integer"},
            "failed": {"type": "integer"}
        })),
        "HandleInput": {"oneOf": [
            {"type": "object", "required": ["action"], "additionalProperties": false,
             "properties": {"action": {"const": "apply-recommended"}}},
            {"type": "object", "required": ["action", "script", "entity"], "additionalProperties": false,
             "properties": {"action": {"const": "run-script"}, "script": {"type": "string"},
                "entity": {"$ref": "#/components/schemas/EntityInput"}}},
            {"type": "object", "required": ["action", "entity", "reason"], "additionalProperties": false,
             "properties": {"action": {"const": "allowlist"}, "reason": {"type": "string"},
                "entity": {"$ref": "#/components/schemas/EntityInput"}, "expires_at": time}}
        ]},
        "HandleAnswer": {"type": "object"},
        "AuditEntry": record(&["id", "at", "actor", "action", "object"], json!({
            "id": {"type": "integer"},
            "at": time,
            "actor": {"type": "string"},
            "action": {"type": "string"},
            "object": {"type": "string"},
            "detail": {"type": "string"}
        })),
        "AuditPage": page("AuditEntry"),
        "Token": record(&["name", "role", "created_at", "created_by"], json!({
            "name": {"type": "string"},
            "role": {"type": "string", "enum": ["viewer", "operator", "admin"]},
            "created_at": time,
            "created_by": {"type": "string"},
            "last_used_at": {"type": ["string", "null"]}
        })),
        "TokenList": list("Token"),
        "TokenInput": {
            "type": "object", "required": ["name", "role"], "additionalProperties": false,
            "properties": {"name": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"},
                "role": {"type": "string", "enum": ["viewer", "operator", "admin"]}}
        },
        "NewToken": record(&["name", "role", "token"], json!({
            "name": {"type": "string"}, "role": {"type": "string"}, "token": {"type": "string"}
        }))
    })
}

fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// The document.
pub fn document() -> Value {
    let problem = json!({
        "description": "A problem document (RFC 9457)",
        "content": {"application/problem+json": {"schema": reference("Problem")}}
    });
    let mut paths = Map::new();
    for route in ROUTES {
        let mut parameters = Vec::new();
        for segment in route.path.split('/') {
            if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                let kind = match name {
                    "id" if !route.path.contains("targets") => {
                        json!({"type": "integer", "minimum": 0, "maximum": u64::MAX})
                    }
                    "version" => json!({"type": "integer", "minimum": 0, "maximum": u32::MAX}),
                    _ => json!({"type": "string", "minLength": 1}),
                };
                parameters
                    .push(json!({"name": name, "in": "path", "required": true, "schema": kind}));
            }
        }
        for (name, kind) in route.query {
            let schema = query_schema(name, kind);
            parameters
                .push(json!({"name": name, "in": "query", "required": false, "schema": schema}));
        }
        let mut responses = Map::new();
        let success = match route.answer {
            None => json!({"description": "Done"}),
            Some("Text") => {
                json!({"description": "OK", "content": {"text/plain": {"schema": reference("Text")}}})
            }
            Some(schema) => {
                json!({"description": "OK", "content": {"application/json": {"schema": reference(schema)}}})
            }
        };
        responses.insert(route.status.to_string(), success);
        if route.path.starts_with("/v1/alerts") || route.path.starts_with("/v1/incidents") {
            if route.method == "POST"
                && !route.path.contains("batch")
                && !route.path.contains("handle")
            {
                responses.insert(
                    "200".into(),
                    json!({"description": "The record is not an alert and was skipped",
                           "content": {"application/json": {"schema": reference("IngestAnswer")}}}),
                );
            }
            if route.path.ends_with("/handle") {
                responses.insert(
                    "200".into(),
                    json!({"description": "A repeat of an Idempotency-Key: nothing new was opened",
                           "content": {"application/json": {"schema": reference("HandleAnswer")}}}),
                );
                responses.insert(
                    "201".into(),
                    json!({"description": "The entity was allowlisted",
                           "content": {"application/json": {"schema": reference("AllowEntry")}}}),
                );
            }
        }
        if route.path == "/v1/scripts/{name}/run" {
            responses.insert(
                "200".into(),
                json!({"description": "A repeat of an Idempotency-Key: nothing new was opened",
                       "content": {"application/json": {"schema": reference("PolicyAccepted")}}}),
            );
        }
        responses.insert("default".into(), problem.clone());
        let mut operation = json!({
            "summary": route.summary,
            "operationId": operation_id(route.method, route.path),
            "parameters": parameters,
            "responses": responses,
        });
        if let Access::Role(role) = route.access {
            operation["security"] = json!([{"bearer": []}]);
            operation["x-riposte-role"] = json!(role.as_str());
        } else {
            operation["security"] = json!([]);
        }
        if let Some(body) = route.body {
            let mut content = if body == "Wasm" {
                json!({"application/wasm": {"schema": {"type": "string", "contentMediaType": "application/wasm"}}})
            } else {
                json!({"application/json": {"schema": reference(body)}})
            };
            if body == "ScriptSpec" || body == "Rule" {
                content["application/yaml"] = json!({"schema": {"type": "string"}});
            }
            if route.path.ends_with("/batch") {
                content["application/x-ndjson"] = json!({"schema": {"type": "string"}});
            }
            operation["requestBody"] = json!({"required": true, "content": content});
        }
        let entry = paths
            .entry(route.path.to_string())
            .or_insert_with(|| json!({}));
        entry[route.method.to_ascii_lowercase()] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "riposte",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Response-action host: alerts in, sandboxed actions out. Every change is \
                            audited with the name of the token that asked for it."
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}
        },
        "security": [{"bearer": []}]
    })
}

const KINDS: [&str; 11] = [
    "ip",
    "cidr",
    "domain",
    "url",
    "file-hash",
    "file",
    "process",
    "host",
    "container",
    "cloud-resource",
    "account",
];

/// The schema of a query parameter, with the bounds and names the server
/// enforces.
fn query_schema(name: &str, kind: &str) -> Value {
    use crate::model::{PolicyStatus, TaskStatus};
    match name {
        "limit" => json!({"type": "integer", "minimum": 1, "maximum": crate::store::MAX_PAGE}),
        "since" | "until" => json!({"type": "string", "format": "date-time"}),
        "entity_kind" => json!({"type": "string", "enum": KINDS}),
        "format" => {
            let names: Vec<&str> = crate::ingest::Format::ALL
                .iter()
                .map(|f| f.as_str())
                .collect();
            json!({"type": "string", "enum": names})
        }
        "source" => json!({"type": "string", "enum":
            ["manual-handling", "incident-rule", "alert-rule", "manual-script-run"]}),
        "version" => json!({"type": "string", "pattern": "^.+@[0-9]+$"}),
        "status" => {
            let names: std::collections::BTreeSet<String> = TaskStatus::ALL
                .iter()
                .map(ToString::to_string)
                .chain(PolicyStatus::ALL.iter().map(ToString::to_string))
                .collect();
            json!({"type": "string", "enum": names})
        }
        _ if kind == "integer" => json!({"type": "integer", "minimum": 0, "maximum": u64::MAX}),
        _ => json!({"type": "string"}),
    }
}

fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_ascii_lowercase();
    for segment in path.split('/').filter(|s| !s.is_empty() && *s != "v1") {
        let segment = segment.trim_start_matches('{').trim_end_matches('}');
        id.push('_');
        id.push_str(&segment.replace(['.', '-'], "_"));
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_in_the_document_once() {
        let doc = document();
        let mut ids = std::collections::HashSet::new();
        for route in ROUTES {
            let op = &doc["paths"][route.path][route.method.to_ascii_lowercase()];
            assert!(op.is_object(), "{} {} missing", route.method, route.path);
            assert!(ids.insert(op["operationId"].as_str().unwrap().to_string()));
        }
    }

    #[test]
    fn every_schema_reference_resolves() {
        let doc = document();
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for part in text.split("#/components/schemas/").skip(1) {
            let name: String = part
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            assert!(schemas.contains_key(&name), "missing schema {name}");
        }
    }
}
