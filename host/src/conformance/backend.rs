//! What the kit runs a component against: a [`Backend`] serves the calls on
//! loopback, says what its state is, which requests it saw, and injects
//! faults. The kit knows nothing else about the provider.

use std::collections::BTreeSet;

use crate::runtime::gate::HostGrant;
use crate::runtime::secrets::SecretValue;
use crate::runtime::wit;

/// A failure a backend can make the next request suffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The credential is refused (HTTP 403 or the provider's equivalent).
    Forbidden,
    /// The caller is rate limited (HTTP 429 or the provider's equivalent).
    Throttled,
    /// The service is temporarily down (HTTP 503).
    Unavailable,
}

impl Fault {
    /// Every fault, in the order the kit injects them.
    pub const ALL: [Fault; 3] = [Fault::Forbidden, Fault::Throttled, Fault::Unavailable];

    /// How the report names it.
    pub fn describe(self) -> &'static str {
        match self {
            Fault::Forbidden => "the provider refuses the credential",
            Fault::Throttled => "the provider throttles",
            Fault::Unavailable => "the provider is unavailable",
        }
    }
}

/// One request a backend received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// How the report shows it, e.g. `POST /hooks` or `CreateDefenseRule`.
    pub summary: String,
    /// Whether a request of this kind may change the backend's state
    /// (`POST`, `PUT`, `PATCH`, `DELETE`; a provider's `Create*` API).
    pub changes_state: bool,
}

/// A service on loopback that a component can be checked against.
///
/// The kit calls these between component calls, never during one; every
/// method must be cheap and must not block for long. To check components
/// of a new provider, implement this over the provider simulator (see
/// [`super::aliyun`]) and pick it in [`super::backend_for`].
pub trait Backend: Send + Sync {
    /// How the report names the backend.
    fn name(&self) -> String;

    /// The origins the component is granted, e.g. `http://127.0.0.1:PORT`.
    fn grants(&self) -> Vec<HostGrant>;

    /// Secrets to load into the runtime, by name.
    fn secrets(&self) -> Vec<(String, SecretValue)>;

    /// The target of a call of `action`: endpoint, credential, settings.
    fn target(&self, action: &wit::ActionInfo) -> wit::Target;

    /// An entity of `kind` the backend accepts. The default is a
    /// documentation address or name of that kind.
    fn entity(&self, kind: wit::EntityKind) -> wit::Entity {
        sample_entity(kind)
    }

    /// The state a component may change, as comparable lines.
    fn state(&self) -> BTreeSet<String>;

    /// Every request received so far, oldest first.
    fn requests(&self) -> Vec<Observed>;

    /// Makes the next request suffer `fault`; false when the backend
    /// cannot play it (the check is then skipped).
    fn inject(&self, fault: Fault) -> bool;

    /// Removes faults not consumed yet.
    fn clear_faults(&self);

    /// The pause a [`Fault::Throttled`] answer asks for, when it names one
    /// (the component must pass it on as `retry-after-ms`).
    fn retry_after_ms(&self) -> Option<u64>;
}

/// A value of `kind` from the documentation ranges and names (RFC 5737,
/// RFC 3849, RFC 2606), never a real system's.
pub fn sample_entity(kind: wit::EntityKind) -> wit::Entity {
    use wit::EntityKind as K;
    let (value, attributes): (&str, &[(&str, &str)]) = match kind {
        K::Ip => ("198.51.100.7", &[]),
        K::Cidr => ("203.0.113.0/24", &[]),
        K::Domain => ("evil.example.com", &[]),
        K::Url => ("https://evil.example.com/payload.bin", &[]),
        K::FileHash => (
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            &[],
        ),
        K::File => (
            "/tmp/.cache/payload.bin",
            &[
                (
                    "sha256",
                    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                ),
                ("host", "web-01"),
            ],
        ),
        K::Process => (
            "4242",
            &[
                ("start-time", "2025-01-01T00:00:00Z"),
                ("exe", "/tmp/.cache/payload.bin"),
                ("host", "web-01"),
            ],
        ),
        K::Host => ("web-01", &[]),
        K::Container => ("3f4e8c2a9b1d", &[("host", "web-01")]),
        K::CloudResource => ("i-0123456789abcdef0", &[]),
        K::Account => ("mallory", &[]),
    };
    wit::Entity {
        kind,
        value: value.into(),
        attributes: attributes
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

/// Every entity kind of the contract, in WIT order.
pub const ALL_KINDS: [wit::EntityKind; 11] = [
    wit::EntityKind::Ip,
    wit::EntityKind::Cidr,
    wit::EntityKind::Domain,
    wit::EntityKind::Url,
    wit::EntityKind::FileHash,
    wit::EntityKind::File,
    wit::EntityKind::Process,
    wit::EntityKind::Host,
    wit::EntityKind::Container,
    wit::EntityKind::CloudResource,
    wit::EntityKind::Account,
];

/// Settings for a target: the value `known` gives for a declared setting,
/// else a placeholder for the required ones.
pub fn settings_for(
    action: &wit::ActionInfo,
    known: impl Fn(&str) -> Option<String>,
) -> Vec<(String, String)> {
    action
        .settings
        .iter()
        .filter_map(|spec| match known(&spec.name) {
            Some(value) => Some((spec.name.clone(), value)),
            None if spec.required => {
                Some((spec.name.clone(), format!("conformance-{}", spec.name)))
            }
            None => None,
        })
        .collect()
}
