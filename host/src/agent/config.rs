//! The agent's configuration file (YAML).
//!
//! ```yaml
//! listen: 127.0.0.1:8641        # the API; put it on the management network
//! state_dir: /var/lib/riposte-agent   # quarantine store, audit log, key
//! key_id: agent-web-01          # the key id callers sign with
//! secret_file: /var/lib/riposte-agent/agent.key   # created (0600) when absent
//! allow: [kill, quarantine, container, scan, snapshot, net, dns]
//! protected_paths: [/etc/passwd, /etc/shadow, /usr/lib/systemd]
//! docker_socket: /var/run/docker.sock
//! nft:
//!   command: [nft]              # or e.g. [nsenter, --net=/run/netns/edge, nft]
//!   table: riposte              # an `inet` table the agent owns
//! dns:
//!   file: /etc/hosts            # the file with the managed section
//!   format: hosts               # or dnsmasq
//! scan:
//!   max_files: 100000
//!   max_file_bytes: 268435456
//! ```
//!
//! Every field has a default; unknown fields are refused. `allow` is empty
//! by default: an agent does nothing it was not told it may do.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::scan::ScanLimits;

/// The largest configuration file read.
const MAX_CONFIG: u64 = 1 << 20;

/// A kind of action the agent may be allowed to carry out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Capability {
    /// Kill processes.
    Kill,
    /// Quarantine and restore files.
    Quarantine,
    /// Stop and start containers.
    Container,
    /// Deep clean: scan and quarantine matches.
    Scan,
    /// Collect host snapshots.
    Snapshot,
    /// Change the nftables block and allow sets.
    Net,
    /// Change the managed resolver section.
    Dns,
}

impl Capability {
    /// Every capability.
    pub const ALL: [Capability; 7] = [
        Capability::Kill,
        Capability::Quarantine,
        Capability::Container,
        Capability::Scan,
        Capability::Snapshot,
        Capability::Net,
        Capability::Dns,
    ];

    /// The name used in `allow`.
    pub fn name(self) -> &'static str {
        match self {
            Capability::Kill => "kill",
            Capability::Quarantine => "quarantine",
            Capability::Container => "container",
            Capability::Scan => "scan",
            Capability::Snapshot => "snapshot",
            Capability::Net => "net",
            Capability::Dns => "dns",
        }
    }
}

/// How blocked domains are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DnsFormat {
    /// `/etc/hosts` lines: `0.0.0.0 name` and `:: name`.
    Hosts,
    /// dnsmasq lines: `address=/name/0.0.0.0`, `address=/name/::` and, for
    /// allowed names, `server=/name/#` (use the normal upstream).
    Dnsmasq,
}

/// The nftables settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NftConfig {
    /// The command that runs `nft`, with any prefix (e.g. `nsenter`).
    #[serde(default = "default_nft_command")]
    pub command: Vec<String>,
    /// The `inet` table the agent owns.
    #[serde(default = "default_table")]
    pub table: String,
}

impl Default for NftConfig {
    fn default() -> Self {
        Self {
            command: default_nft_command(),
            table: default_table(),
        }
    }
}

fn default_nft_command() -> Vec<String> {
    vec!["nft".to_owned()]
}

fn default_table() -> String {
    "riposte".to_owned()
}

/// The resolver settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsConfig {
    /// The file holding the managed section.
    #[serde(default = "default_dns_file")]
    pub file: PathBuf,
    /// Its format.
    #[serde(default = "default_dns_format")]
    pub format: DnsFormat,
}

impl Default for DnsConfig {
    fn default() -> Self {
        Self {
            file: default_dns_file(),
            format: default_dns_format(),
        }
    }
}

fn default_dns_file() -> PathBuf {
    PathBuf::from("/etc/hosts")
}

fn default_dns_format() -> DnsFormat {
    DnsFormat::Hosts
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScan {
    #[serde(default = "default_max_files")]
    max_files: u64,
    #[serde(default = "default_max_file_bytes")]
    max_file_bytes: u64,
}

impl Default for RawScan {
    fn default() -> Self {
        Self {
            max_files: default_max_files(),
            max_file_bytes: default_max_file_bytes(),
        }
    }
}

fn default_max_files() -> u64 {
    100_000
}

fn default_max_file_bytes() -> u64 {
    256 << 20
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default = "default_listen")]
    listen: SocketAddr,
    #[serde(default = "default_state_dir")]
    state_dir: PathBuf,
    #[serde(default = "default_key_id")]
    key_id: String,
    #[serde(default)]
    secret_file: Option<PathBuf>,
    #[serde(default)]
    allow: BTreeSet<Capability>,
    #[serde(default)]
    protected_paths: Vec<PathBuf>,
    #[serde(default = "default_docker_socket")]
    docker_socket: PathBuf,
    #[serde(default)]
    nft: NftConfig,
    #[serde(default)]
    dns: DnsConfig,
    #[serde(default)]
    scan: RawScan,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8641))
}

fn default_state_dir() -> PathBuf {
    PathBuf::from("riposte-agent")
}

fn default_key_id() -> String {
    "riposte-agent".to_owned()
}

fn default_docker_socket() -> PathBuf {
    PathBuf::from("/var/run/docker.sock")
}

/// Paths quarantine always refuses, on top of `protected_paths`: the
/// files a host cannot boot or log in without.
pub const ALWAYS_PROTECTED: &[&str] = &[
    "/etc/passwd",
    "/etc/shadow",
    "/etc/group",
    "/etc/sudoers",
    "/etc/fstab",
    "/boot",
    "/proc",
    "/sys",
    "/dev",
];

/// A checked agent configuration.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// Where the API listens.
    pub listen: SocketAddr,
    /// The quarantine store, audit log and default key file live here.
    pub state_dir: PathBuf,
    /// The key id callers sign with.
    pub key_id: String,
    /// The file holding the secret (created when absent); defaults to
    /// `state_dir/agent.key`.
    pub secret_file: PathBuf,
    /// What the agent may do.
    pub allow: BTreeSet<Capability>,
    /// Files and directories quarantine refuses (with everything below).
    pub protected_paths: Vec<PathBuf>,
    /// The Docker Engine socket.
    pub docker_socket: PathBuf,
    /// nftables.
    pub nft: NftConfig,
    /// The resolver's managed section.
    pub dns: DnsConfig,
    /// Deep-clean bounds.
    pub scan: ScanLimits,
}

impl AgentConfig {
    /// The defaults, with the state in `state_dir` and nothing allowed.
    pub fn new(state_dir: impl Into<PathBuf>) -> Self {
        let raw: Raw = serde_norway::from_str("{}").expect("the defaults parse");
        let mut config = Self::from_raw(raw).expect("the defaults are valid");
        config.state_dir = state_dir.into();
        config.secret_file = config.state_dir.join("agent.key");
        config
    }

    /// Reads a configuration file.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = read_bounded(path)?;
        Self::parse(&text).map_err(|err| format!("{}: {err}", path.display()))
    }

    /// Parses configuration text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let deserializer = serde_norway::Deserializer::from_str(text);
        let raw: Raw = serde_path_to_error::deserialize(deserializer).map_err(|err| {
            let path = err.path().to_string();
            if path == "." {
                err.inner().to_string()
            } else {
                format!("field `{path}`: {}", err.inner())
            }
        })?;
        Self::from_raw(raw)
    }

    fn from_raw(raw: Raw) -> Result<Self, String> {
        if raw.key_id.is_empty()
            || !raw
                .key_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        {
            return Err(format!(
                "field `key_id`: `{}` is not a key id; expected letters, digits, `-`, `_` or `.`",
                raw.key_id
            ));
        }
        for path in &raw.protected_paths {
            if !path.is_absolute() {
                return Err(format!(
                    "field `protected_paths`: `{}` is relative; expected an absolute path",
                    path.display()
                ));
            }
        }
        if raw.nft.command.is_empty() {
            return Err("field `nft.command`: empty; expected e.g. [nft]".into());
        }
        if raw.nft.table.is_empty()
            || !raw
                .nft
                .table
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(format!(
                "field `nft.table`: `{}` is not a table name; expected letters, digits or `_`",
                raw.nft.table
            ));
        }
        if raw.scan.max_files == 0 {
            return Err("field `scan.max_files`: expected at least 1".into());
        }
        let secret_file = raw
            .secret_file
            .unwrap_or_else(|| raw.state_dir.join("agent.key"));
        Ok(Self {
            listen: raw.listen,
            state_dir: raw.state_dir,
            key_id: raw.key_id,
            secret_file,
            allow: raw.allow,
            protected_paths: raw.protected_paths,
            docker_socket: raw.docker_socket,
            nft: raw.nft,
            dns: raw.dns,
            scan: ScanLimits {
                max_files: raw.scan.max_files,
                max_file_bytes: raw.scan.max_file_bytes,
            },
        })
    }

    /// Allows everything (the demo's agent, and tests).
    pub fn allow_all(mut self) -> Self {
        self.allow = Capability::ALL.into_iter().collect();
        self
    }
}

fn read_bounded(path: &Path) -> Result<String, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|err| format!("{}: {err}", path.display()))?;
    let mut text = String::new();
    file.take(MAX_CONFIG + 1)
        .read_to_string(&mut text)
        .map_err(|err| format!("{}: {err}", path.display()))?;
    if text.len() as u64 > MAX_CONFIG {
        return Err(format!(
            "{}: larger than {MAX_CONFIG} bytes; expected a small YAML file",
            path.display()
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_allow_nothing_and_listen_on_loopback() {
        let config = AgentConfig::parse("{}").unwrap();
        assert!(config.allow.is_empty());
        assert!(config.listen.ip().is_loopback());
        assert_eq!(config.secret_file, PathBuf::from("riposte-agent/agent.key"));
        assert_eq!(config.dns.format, DnsFormat::Hosts);
    }

    #[test]
    fn a_full_file_parses() {
        let config = AgentConfig::parse(
            "listen: 127.0.0.1:9000\nstate_dir: /var/lib/ra\nkey_id: web-01\n\
             allow: [kill, net]\nprotected_paths: [/srv/keep]\n\
             nft: {command: [nsenter, --net=/run/netns/x, nft], table: edge}\n\
             dns: {file: /etc/dnsmasq.d/riposte.conf, format: dnsmasq}\n",
        )
        .unwrap();
        assert_eq!(
            config.allow,
            [Capability::Kill, Capability::Net].into_iter().collect()
        );
        assert_eq!(config.secret_file, PathBuf::from("/var/lib/ra/agent.key"));
        assert_eq!(config.nft.command[0], "nsenter");
        assert_eq!(config.dns.format, DnsFormat::Dnsmasq);
    }

    #[test]
    fn mistakes_name_their_field() {
        let cases = [
            ("allow: [kil]", "allow"),
            ("alow: [kill]", "alow"),
            ("protected_paths: [etc]", "protected_paths"),
            ("key_id: 'a b'", "key_id"),
            ("nft: {table: 'x;y'}", "nft.table"),
            ("nft: {command: []}", "nft.command"),
            ("listen: nowhere", "listen"),
        ];
        for (text, field) in cases {
            let err = AgentConfig::parse(text).unwrap_err();
            assert!(err.contains(field), "{text}: {err}");
        }
    }
}
