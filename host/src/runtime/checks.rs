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
    let name_ok = !info.name.is_empty()
        && info.name.len() <= 64
        && info
            .name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !name_ok {
        return Err(format!(
            "component name `{}` must be 1 to 64 lower-case ASCII letters, digits, `-` or `_`",
            info.name
        ));
    }
    if !is_semver(&info.version) {
        return Err(format!(
            "component version `{}` is not a semantic version such as `1.2.0`",
            info.version
        ));
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

/// `MAJOR.MINOR.PATCH`, optionally followed by `-pre.release` and
/// `+build` parts of ASCII letters, digits, `-` and `.`.
fn is_semver(version: &str) -> bool {
    let (core, rest) = match version.find(['-', '+']) {
        Some(at) => version.split_at(at),
        None => (version, ""),
    };
    let numbers: Vec<&str> = core.split('.').collect();
    let core_ok = numbers.len() == 3
        && numbers.iter().all(|n| {
            !n.is_empty()
                && n.len() <= 9
                && n.chars().all(|c| c.is_ascii_digit())
                && (n.len() == 1 || !n.starts_with('0'))
        });
    let rest_ok = rest.len() <= 64
        && rest
            .chars()
            .skip(1)
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '+'));
    core_ok && rest_ok && rest != "-" && rest != "+"
}

#[cfg(test)]
mod tests {
    use super::is_semver;

    #[test]
    fn versions_must_be_semantic() {
        for good in [
            "0.1.0",
            "1.20.3",
            "2.0.0-rc.1",
            "1.0.0+build.7",
            "1.0.0-alpha+001",
        ] {
            assert!(is_semver(good), "{good}");
        }
        for bad in [
            "",
            "1",
            "1.2",
            "1.2.x",
            "01.2.3",
            "1.2.3-",
            "1.2.3 ",
            "v1.2.3",
            "1.2.3-a b",
        ] {
            assert!(!is_semver(bad), "{bad}");
        }
    }
}
