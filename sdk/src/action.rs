//! Helpers every cloud action needs before it calls out: the address the
//! request names (checked, so that a bad entity never reaches a
//! provider), the credential of the target, names that carry the
//! idempotency key, and setting specs for `describe`.

use crate::HostCredential;
use crate::entity::{Entity, EntityKind as Kind, IpOrCidr};
use crate::failure;
use crate::types::{ActionRequest, EntityKind, Failure, FailureKind, SettingSpec};

/// The name of an entity kind as the contract spells it.
pub fn kind_name(kind: EntityKind) -> &'static str {
    match kind {
        EntityKind::Ip => "ip",
        EntityKind::Cidr => "cidr",
        EntityKind::Domain => "domain",
        EntityKind::Url => "url",
        EntityKind::FileHash => "file-hash",
        EntityKind::File => "file",
        EntityKind::Process => "process",
        EntityKind::Host => "host",
        EntityKind::Container => "container",
        EntityKind::CloudResource => "cloud-resource",
        EntityKind::Account => "account",
    }
}

/// The address or network the request's entity names, parsed by the one
/// entity parser and normalised (`::ffff:1.2.3.4` is `1.2.3.4`,
/// `10.0.0.7/32` is an address, `2001:db8::/32` stays a network).
///
/// Fails with `invalid-input`, before any request is made, when the kind
/// is not `ip` or `cidr`, when the value does not parse (empty, `.`, a
/// host name), when it is a network and `accepts_cidr` is false, and for
/// a block of every address (`0.0.0.0/0`, `::/0`).
pub fn address(request: &ActionRequest, accepts_cidr: bool) -> Result<IpOrCidr, Failure> {
    let action = &request.action;
    let accepted = if accepts_cidr {
        "`ip` or `cidr`"
    } else {
        "`ip`"
    };
    let kind = match request.entity.kind {
        EntityKind::Ip => Kind::Ip,
        EntityKind::Cidr => Kind::Cidr,
        other => {
            return Err(failure::invalid_input(format!(
                "`{action}` does not accept `{}` entities; it accepts {accepted}",
                kind_name(other)
            )));
        }
    };
    let entity = Entity::parse(kind, &request.entity.value)
        .map_err(|err| failure::invalid_input(format!("`{action}`: {err}")))?;
    match entity {
        Entity::Ip(ip) => Ok(IpOrCidr::Ip(ip)),
        Entity::Cidr(cidr) if cidr.prefix() == 0 => Err(failure::invalid_input(format!(
            "`{action}` refuses `{cidr}`: it would block every address"
        ))),
        Entity::Cidr(cidr) if accepts_cidr => Ok(IpOrCidr::Cidr(cidr)),
        Entity::Cidr(cidr) => Err(failure::invalid_input(format!(
            "`{action}` blocks single addresses only; `{cidr}` is a network"
        ))),
        other => Err(failure::invalid_input(format!(
            "`{action}` does not accept `{other}`; it accepts {accepted}"
        ))),
    }
}

/// Opens the target's credential; a missing or ungranted one is a
/// `permission-denied` failure naming it, never retried.
pub fn credential(request: &ActionRequest, component: &str) -> Result<HostCredential, Failure> {
    let name = request.target.credential.as_deref().ok_or_else(|| {
        failure::invalid_input(format!("target `{}` has no credential", request.target.id))
    })?;
    HostCredential::open(name).map_err(|_| {
        failure::new(
            FailureKind::PermissionDenied,
            format!("credential `{name}` is not granted to {component} for this target"),
        )
    })
}

/// `riposte-` followed by up to `max - 8` letters and digits of the
/// idempotency key: the same on every attempt of a task, so a name that
/// already exists after a lost answer is recognised as this task's own.
pub fn marker(request: &ActionRequest, max: usize) -> String {
    let key: String = request
        .idempotency_key
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(max.saturating_sub(8))
        .collect();
    format!("riposte-{key}")
}

/// A setting spec for `describe`.
pub fn setting(name: &str, description: &str, required: bool) -> SettingSpec {
    SettingSpec {
        name: name.into(),
        description: description.into(),
        required,
    }
}

/// A success that changed nothing and leaves nothing to revert: a revert
/// that found nothing to undo, or an execute that found the target already
/// in the requested state by someone else's doing.
pub fn unchanged(detail: String) -> crate::types::Outcome {
    crate::types::Outcome {
        detail,
        changed: false,
        revert_token: None,
        items: Vec::new(),
    }
}

/// Encodes what `revert` will need (ids only, never a credential) as the
/// outcome's revert token.
pub fn revert_token<T: serde::Serialize>(value: &T) -> Result<String, Failure> {
    serde_json::to_string(value).map_err(|err| crate::failure::internal(err.to_string()))
}

/// Decodes a revert token that `action`'s `execute` wrote; anything else
/// is `invalid-input`.
pub fn parse_revert_token<T: serde::de::DeserializeOwned>(
    token: &str,
    action: &str,
) -> Result<T, Failure> {
    serde_json::from_str(token).map_err(|err| {
        crate::failure::invalid_input(format!("revert token is not from `{action}`: {err}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Entity as WitEntity, Target};

    fn request(kind: EntityKind, value: &str) -> ActionRequest {
        ActionRequest {
            action: "Block".into(),
            task_id: "t".into(),
            idempotency_key: "key-01/ab".into(),
            attempt: 1,
            entity: WitEntity {
                kind,
                value: value.into(),
                attributes: Vec::new(),
            },
            target: Target {
                id: "t1".into(),
                provider: "p".into(),
                account: "a".into(),
                region: "r".into(),
                resource: "x".into(),
                endpoint: "http://127.0.0.1:1".into(),
                credential: None,
                settings: Vec::new(),
            },
            duration_seconds: None,
            parameters: Vec::new(),
        }
    }

    #[test]
    fn normalises_addresses_and_refuses_the_rest_before_any_call() {
        let ok = [
            (EntityKind::Ip, "::ffff:198.51.100.7", "198.51.100.7"),
            (EntityKind::Cidr, "198.51.100.7/32", "198.51.100.7"),
            (EntityKind::Cidr, "2001:db8::/32", "2001:db8::/32"),
            (EntityKind::Ip, "2001:DB8::7", "2001:db8::7"),
        ];
        for (kind, value, want) in ok {
            assert_eq!(
                address(&request(kind, value), true).unwrap().to_string(),
                want
            );
        }
        let refused = [
            (EntityKind::Ip, ""),
            (EntityKind::Ip, "."),
            (EntityKind::Ip, "evil.example"),
            (EntityKind::Cidr, "0.0.0.0/0"),
            (EntityKind::Cidr, "::/0"),
            (EntityKind::Ip, "10.0.0.0/8"),
            (EntityKind::Domain, "evil.example"),
        ];
        for (kind, value) in refused {
            let failure = address(&request(kind, value), true).unwrap_err();
            assert_eq!(failure.kind, FailureKind::InvalidInput, "{value}");
        }
        let failure = address(&request(EntityKind::Cidr, "10.0.0.0/8"), false).unwrap_err();
        assert!(
            failure.message.contains("single addresses"),
            "{}",
            failure.message
        );
    }

    #[test]
    fn markers_keep_alphanumerics_of_the_key() {
        assert_eq!(
            marker(&request(EntityKind::Ip, "1.2.3.4"), 64),
            "riposte-key01ab"
        );
        assert_eq!(
            marker(&request(EntityKind::Ip, "1.2.3.4"), 11),
            "riposte-key"
        );
    }
}
