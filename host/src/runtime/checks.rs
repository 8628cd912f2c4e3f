//! What the host checks before trusting a component's description or
//! calling one of its actions.

use super::gate::HostGrant;
use super::{FailureKind, LoadedComponent, TaskFailure, wit};

/// Refuses a request the component did not declare it can serve.
pub(super) fn check_request(
    component: &LoadedComponent,
    request: &wit::ActionRequest,
) -> Result<(), TaskFailure> {
    let name = &component.info.name;
    let Some(action) = component.action(&request.action) else {
        let known: Vec<&str> = component
            .info
            .actions
            .iter()
            .map(|a| a.id.as_str())
            .collect();
        return Err(TaskFailure::new(
            FailureKind::InvalidInput,
            false,
            format!(
                "component `{name}` has no action `{}`; it implements {}",
                request.action,
                known.join(", ")
            ),
        ));
    };
    if !action.entity_kinds.contains(&request.entity.kind) {
        return Err(TaskFailure::new(
            FailureKind::InvalidInput,
            false,
            format!(
                "action `{}` does not accept `{}` entities; it accepts {}",
                action.id,
                kind_name(request.entity.kind),
                action
                    .entity_kinds
                    .iter()
                    .map(|kind| format!("`{}`", kind_name(*kind)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    Ok(())
}

/// The WIT spelling of an entity kind.
pub fn kind_name(kind: wit::EntityKind) -> &'static str {
    match kind {
        wit::EntityKind::Ip => "ip",
        wit::EntityKind::Cidr => "cidr",
        wit::EntityKind::Domain => "domain",
        wit::EntityKind::Url => "url",
        wit::EntityKind::FileHash => "file-hash",
        wit::EntityKind::File => "file",
        wit::EntityKind::Process => "process",
        wit::EntityKind::Host => "host",
        wit::EntityKind::Container => "container",
        wit::EntityKind::CloudResource => "cloud-resource",
        wit::EntityKind::Account => "account",
    }
}

/// Checks a description for what the host relies on.
pub(super) fn check_info(info: &wit::ComponentInfo) -> Result<(), String> {
    if info.name.is_empty() || info.version.is_empty() {
        return Err("name and version must not be empty".into());
    }
    if info.actions.is_empty() {
        return Err(format!("component `{}` declares no actions", info.name));
    }
    let mut seen = std::collections::HashSet::new();
    for action in &info.actions {
        let valid = !action.id.is_empty()
            && action.id.len() <= 64
            && action
                .id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            return Err(format!(
                "action id `{}` must be 1 to 64 ASCII letters, digits, `-` or `_`",
                action.id
            ));
        }
        if !seen.insert(action.id.as_str()) {
            return Err(format!("action id `{}` is declared twice", action.id));
        }
    }
    for host in &info.hosts {
        // Declared hosts are what an operator will be asked to grant; they
        // must parse, or the grant review would be meaningless.
        host.parse::<HostGrant>().map_err(|err| err.to_string())?;
    }
    Ok(())
}
