//! Blocking and allowing addresses with nftables sets.
//!
//! The agent owns one `inet` table (default `riposte`) with four interval
//! sets with per-element timeouts (`block4`, `block6`, `allow4`, `allow6`)
//! and two chains hooked at input and output, priority -10, that accept
//! what the allow sets hold and drop what the block sets hold, allow
//! first. The table is created when missing and never flushed, so the
//! elements survive an agent restart; nothing outside the table is
//! touched.
//!
//! Every change is one `nft -f -` script, so a failure changes nothing.

use std::io::Write;
use std::process::{Command, Stdio};

use riposte_sdk::agent::{NetReport, NetRequest, Verdict};
use riposte_sdk::entity::IpOrCidr;

use super::AgentError;
use super::config::NftConfig;

/// The longest element timeout accepted (one year).
const MAX_TIMEOUT_SECONDS: u64 = 365 * 86_400;

/// The nftables side of the agent.
#[derive(Debug, Clone)]
pub struct Nft {
    config: NftConfig,
}

impl Nft {
    /// Uses `config.command` to run nft.
    pub fn new(config: NftConfig) -> Self {
        Self { config }
    }

    /// The script that creates the table, sets and chains.
    pub fn setup_script(&self) -> Vec<String> {
        let t = &self.config.table;
        let mut lines = vec![format!("add table inet {t}")];
        for (set, kind) in [
            ("block4", "ipv4_addr"),
            ("block6", "ipv6_addr"),
            ("allow4", "ipv4_addr"),
            ("allow6", "ipv6_addr"),
        ] {
            lines.push(format!(
                "add set inet {t} {set} {{ type {kind}; flags interval, timeout; }}"
            ));
        }
        // Forwarded traffic (containers, routed hosts) is matched on both
        // ends.
        let chains: [(&str, &[&str]); 3] = [
            ("input", &["saddr"]),
            ("output", &["daddr"]),
            ("forward", &["saddr", "daddr"]),
        ];
        for (chain, ends) in chains {
            lines.push(format!(
                "add chain inet {t} {chain} {{ type filter hook {chain} priority -10; policy accept; }}"
            ));
            lines.push(format!("flush chain inet {t} {chain}"));
            for (verdict, sets) in [
                ("accept", ["allow4", "allow6"]),
                ("drop", ["block4", "block6"]),
            ] {
                for end in ends {
                    lines.push(format!(
                        "add rule inet {t} {chain} ip {end} @{} {verdict}",
                        sets[0]
                    ));
                    lines.push(format!(
                        "add rule inet {t} {chain} ip6 {end} @{} {verdict}",
                        sets[1]
                    ));
                }
            }
        }
        lines
    }

    /// Creates the table, sets and chains when missing; the chains' rules
    /// are rewritten (flush then add in one transaction), set elements kept.
    pub fn ensure(&self) -> Result<(), AgentError> {
        self.run(&self.setup_script())
    }

    /// The script that adds the request's element.
    pub fn add_script(
        &self,
        request: &NetRequest,
    ) -> Result<(String, String, Vec<String>), AgentError> {
        let (set, element) = self.element(request)?;
        let timeout = match request.timeout_seconds {
            Some(0) => {
                return Err(AgentError::InvalidInput(
                    "`timeout_seconds` is 0; expected at least 1, or none for no timeout".into(),
                ));
            }
            Some(seconds) if seconds > MAX_TIMEOUT_SECONDS => {
                return Err(AgentError::InvalidInput(format!(
                    "`timeout_seconds` is {seconds}; expected at most {MAX_TIMEOUT_SECONDS}"
                )));
            }
            Some(seconds) => format!(" timeout {seconds}s"),
            None => String::new(),
        };
        let t = &self.config.table;
        // `add element` of a present element is not an error and does not
        // reset its timeout; delete-then-add would, so a repeat keeps the
        // first expiry (the host keeps its own timer anyway).
        let script = vec![format!(
            "add element inet {t} {set} {{ {element}{timeout} }}"
        )];
        Ok((set, element, script))
    }

    /// Adds the request's element; `changed` is false when it was there.
    pub fn add(&self, request: &NetRequest) -> Result<NetReport, AgentError> {
        let (set, element, script) = self.add_script(request)?;
        let present = self.contains(&set, &element)?;
        if !present {
            self.run(&script)?;
        }
        Ok(NetReport {
            set: format!("inet {} {set}", self.config.table),
            element,
            changed: !present,
            commands: if present { Vec::new() } else { script },
        })
    }

    /// Removes the request's element; `changed` is false when it was gone
    /// (expired or removed).
    pub fn remove(&self, request: &NetRequest) -> Result<NetReport, AgentError> {
        let (set, element) = self.element(request)?;
        let present = self.contains(&set, &element)?;
        let script = vec![format!(
            "delete element inet {} {set} {{ {element} }}",
            self.config.table
        )];
        if present {
            self.run(&script)?;
        }
        Ok(NetReport {
            set: format!("inet {} {set}", self.config.table),
            element,
            changed: present,
            commands: if present { script } else { Vec::new() },
        })
    }

    fn element(&self, request: &NetRequest) -> Result<(String, String), AgentError> {
        let address = IpOrCidr::parse(&request.address).map_err(|err| {
            AgentError::InvalidInput(format!("`address` `{}`: {err}", request.address))
        })?;
        let (v4, text) = match address {
            IpOrCidr::Ip(ip) => (ip.is_ipv4(), ip.to_string()),
            IpOrCidr::Cidr(cidr) if cidr.prefix() == 0 => {
                return Err(AgentError::InvalidInput(format!(
                    "`{cidr}` would match every address; refused"
                )));
            }
            IpOrCidr::Cidr(cidr) => (cidr.addr().is_ipv4(), cidr.to_string()),
        };
        let set = match (request.verdict, v4) {
            (Verdict::Block, true) => "block4",
            (Verdict::Block, false) => "block6",
            (Verdict::Allow, true) => "allow4",
            (Verdict::Allow, false) => "allow6",
        };
        Ok((set.to_owned(), text))
    }

    /// Whether `element` is in `set` (`nft get element` fails when not).
    fn contains(&self, set: &str, element: &str) -> Result<bool, AgentError> {
        let line = format!(
            "get element inet {} {set} {{ {element} }}",
            self.config.table
        );
        match self.run(&[line]) {
            Ok(()) => Ok(true),
            Err(AgentError::Internal(message)) if message.contains("No such file or directory") => {
                Ok(false)
            }
            Err(err) => Err(err),
        }
    }

    fn run(&self, script: &[String]) -> Result<(), AgentError> {
        let (program, prefix) = self
            .config
            .command
            .split_first()
            .ok_or_else(|| AgentError::Internal("nft command is empty".into()))?;
        let mut child = Command::new(program)
            .args(prefix)
            .args(["-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|err| {
                AgentError::Unavailable(format!(
                    "cannot run `{}`: {err}; install nftables or set `nft.command`",
                    self.config.command.join(" ")
                ))
            })?;
        let mut text = script.join("\n");
        text.push('\n');
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(text.as_bytes())
                .map_err(|err| AgentError::Internal(format!("writing to nft: {err}")))?;
        }
        let output = child
            .wait_with_output()
            .map_err(|err| AgentError::Internal(format!("waiting for nft: {err}")))?;
        if output.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first: String = stderr.lines().take(3).collect::<Vec<_>>().join(" | ");
        if stderr.contains("Operation not permitted") {
            return Err(AgentError::Unavailable(format!(
                "nft is not permitted here (needs CAP_NET_ADMIN): {first}"
            )));
        }
        Err(AgentError::Internal(format!("nft failed: {first}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nft() -> Nft {
        Nft::new(NftConfig::default())
    }

    fn request(address: &str, verdict: Verdict, timeout: Option<u64>) -> NetRequest {
        NetRequest {
            idempotency_key: "k".into(),
            address: address.into(),
            verdict,
            timeout_seconds: timeout,
        }
    }

    #[test]
    fn elements_go_to_the_set_of_their_family_and_verdict() {
        let (set, element, script) = nft()
            .add_script(&request("198.51.100.7", Verdict::Block, Some(3600)))
            .unwrap();
        assert_eq!((set.as_str(), element.as_str()), ("block4", "198.51.100.7"));
        assert_eq!(
            script,
            ["add element inet riposte block4 { 198.51.100.7 timeout 3600s }"]
        );
        let (set, element, script) = nft()
            .add_script(&request("2001:db8::/32", Verdict::Allow, None))
            .unwrap();
        assert_eq!(
            (set.as_str(), element.as_str()),
            ("allow6", "2001:db8::/32")
        );
        assert_eq!(
            script,
            ["add element inet riposte allow6 { 2001:db8::/32 }"]
        );
    }

    #[test]
    fn the_setup_script_allows_before_it_drops() {
        let script = nft().setup_script();
        let input: Vec<&String> = script
            .iter()
            .filter(|l| l.starts_with("add rule inet riposte input"))
            .collect();
        assert_eq!(input.len(), 4);
        let forward = script
            .iter()
            .filter(|l| l.starts_with("add rule inet riposte forward"))
            .count();
        assert_eq!(forward, 8, "both ends of forwarded traffic");
        assert!(input[0].ends_with("@allow4 accept"));
        assert!(input[3].ends_with("@block6 drop"));
        assert!(script.iter().any(|l| l.contains("flags interval, timeout")));
    }

    #[test]
    fn bad_addresses_and_timeouts_are_refused_before_nft_runs() {
        for (address, timeout) in [
            ("0.0.0.0/0", None),
            ("evil.example.com", None),
            ("198.51.100.7; flush ruleset", None),
            ("198.51.100.7", Some(0)),
            ("198.51.100.7", Some(MAX_TIMEOUT_SECONDS + 1)),
        ] {
            let err = nft()
                .add_script(&request(address, Verdict::Block, timeout))
                .unwrap_err();
            assert!(
                matches!(err, AgentError::InvalidInput(_)),
                "{address}: {err}"
            );
        }
    }

    /// A network namespace held open by an `unshare -n sleep` child, so
    /// nft runs against a private ruleset and never the host's.
    struct Namespace(std::process::Child);

    impl Namespace {
        fn create() -> Option<Self> {
            let child = Command::new("unshare")
                .args(["-n", "sleep", "60"])
                .spawn()
                .ok()?;
            let namespace = Self(child);
            // Wait until the child is inside its own namespace.
            let own = std::fs::read_link("/proc/self/ns/net").ok()?;
            for _ in 0..200 {
                let theirs = std::fs::read_link(format!("/proc/{}/ns/net", namespace.0.id()));
                if theirs.is_ok_and(|ns| ns != own) {
                    return Some(namespace);
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            None
        }

        fn nft(&self) -> Vec<String> {
            vec![
                "nsenter".into(),
                format!("--net=/proc/{}/ns/net", self.0.id()),
                "nft".into(),
            ]
        }

        fn ruleset(&self) -> String {
            let mut command = self.nft();
            command.extend(["list".into(), "ruleset".into()]);
            let output = Command::new(&command[0])
                .args(&command[1..])
                .output()
                .unwrap();
            String::from_utf8_lossy(&output.stdout).into_owned()
        }
    }

    impl Drop for Namespace {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    #[test]
    fn elements_come_and_go_in_a_private_network_namespace() {
        let usable = Command::new("nft").arg("--version").output().is_ok();
        let namespace = usable.then(Namespace::create).flatten();
        let Some(namespace) = namespace else {
            // CI installs nftables and runs as root: there this must run.
            assert!(
                std::env::var_os("CI").is_none(),
                "nft or a private network namespace is unavailable in CI"
            );
            eprintln!("skipped: nft or `unshare -n` is unavailable here");
            return;
        };
        let nft = Nft::new(NftConfig {
            command: namespace.nft(),
            table: "riposte".into(),
        });
        nft.ensure().unwrap();
        nft.ensure().unwrap();
        let block = request("198.51.100.7", Verdict::Block, Some(600));
        let added = nft.add(&block).unwrap();
        assert!(added.changed);
        assert!(
            !nft.add(&block).unwrap().changed,
            "a repeat changes nothing"
        );
        nft.add(&request("2001:db8::/48", Verdict::Allow, None))
            .unwrap();
        let ruleset = namespace.ruleset();
        assert!(ruleset.contains("198.51.100.7 timeout 10m"), "{ruleset}");
        assert!(ruleset.contains("2001:db8::/48"), "{ruleset}");
        // Setting up twice did not duplicate the rules.
        assert_eq!(ruleset.matches("@block4 drop").count(), 4, "{ruleset}");

        let removed = nft.remove(&block).unwrap();
        assert!(removed.changed);
        assert!(!nft.remove(&block).unwrap().changed, "already gone");
        assert!(!namespace.ruleset().contains("198.51.100.7"));
    }

    #[test]
    fn a_missing_nft_is_unavailable() {
        let nft = Nft::new(NftConfig {
            command: vec!["/nonexistent/nft".into()],
            table: "riposte".into(),
        });
        let err = nft.ensure().unwrap_err();
        assert!(matches!(err, AgentError::Unavailable(_)), "{err}");
    }
}
