//! Blocking and allowing domains through a managed section of the
//! resolver configuration.
//!
//! The section sits between two marker lines and is the only part of the
//! file the agent writes; everything outside it is kept byte for byte:
//!
//! ```text
//! # BEGIN riposte sinkhole: managed by riposte agent, do not edit
//! 0.0.0.0 evil.example.com
//! :: evil.example.com
//! # END riposte sinkhole
//! ```
//!
//! In `hosts` format a blocked domain maps to `0.0.0.0` and `::`; an
//! allowed domain is kept as `# allow <domain>`, and a domain on the
//! allow list is never sinkholed (a block of it is refused). In `dnsmasq`
//! format a block is `address=/<domain>/0.0.0.0` and `address=/<domain>/::`
//! (which also covers subdomains) and an allow is `server=/<domain>/#`,
//! which sends the domain to the normal upstream even under a blocked
//! parent. The file is replaced atomically (written beside it, then
//! renamed) with its mode kept; when the rename is impossible (a
//! bind-mounted `/etc/hosts`) it is rewritten in place.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use riposte_sdk::agent::{DnsReport, DnsRequest, Verdict};
use riposte_sdk::entity::{Entity, EntityKind};

use super::AgentError;
use super::config::{DnsConfig, DnsFormat};

const BEGIN: &str = "# BEGIN riposte sinkhole: managed by riposte agent, do not edit";
const END: &str = "# END riposte sinkhole";

/// The managed section of one resolver file.
#[derive(Debug)]
pub struct Sinkhole {
    file: PathBuf,
    format: DnsFormat,
    /// Serializes read-modify-write of the file.
    lock: Mutex<()>,
}

impl Sinkhole {
    /// The section in `config.file`.
    pub fn new(config: &DnsConfig) -> Self {
        Self {
            file: config.file.clone(),
            format: config.format,
            lock: Mutex::new(()),
        }
    }

    /// Adds the request's lines.
    pub fn add(&self, request: &DnsRequest) -> Result<DnsReport, AgentError> {
        self.change(request, true)
    }

    /// Removes the request's lines.
    pub fn remove(&self, request: &DnsRequest) -> Result<DnsReport, AgentError> {
        self.change(request, false)
    }

    fn change(&self, request: &DnsRequest, add: bool) -> Result<DnsReport, AgentError> {
        let domain = match Entity::parse(EntityKind::Domain, &request.domain) {
            Ok(Entity::Domain(domain)) => domain.to_string(),
            Ok(other) => {
                return Err(AgentError::InvalidInput(format!(
                    "`{other}` is not a domain"
                )));
            }
            Err(err) => return Err(AgentError::InvalidInput(format!("`domain`: {err}"))),
        };
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let text = match fs::read_to_string(&self.file) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound && add => String::new(),
            Err(err) => return Err(AgentError::io(self.file.display(), &err)),
        };
        let (before, mut section, after) = split(&text, &self.file)?;
        let wanted = self.lines(&domain, request.verdict);
        if add && request.verdict == Verdict::Block && self.allowed(&section, &domain) {
            return Err(AgentError::Conflict(format!(
                "{domain} is on the allow list in {}; remove the allow first",
                self.file.display()
            )));
        }
        let changed = if add {
            let missing: Vec<String> = wanted
                .iter()
                .filter(|line| !section.contains(line))
                .cloned()
                .collect();
            if request.verdict == Verdict::Allow {
                // An allow lifts a block of the same name.
                let blocked = self.lines(&domain, Verdict::Block);
                section.retain(|line| !blocked.contains(line));
            }
            let changed = !missing.is_empty();
            section.extend(missing);
            changed
        } else {
            let count = section.len();
            section.retain(|line| !wanted.contains(line));
            section.len() != count
        };
        if changed {
            let mut out = before;
            out.push_str(BEGIN);
            out.push('\n');
            for line in &section {
                out.push_str(line);
                out.push('\n');
            }
            out.push_str(END);
            out.push('\n');
            out.push_str(&after);
            self.write(&out)?;
        }
        Ok(DnsReport {
            file: self.file.display().to_string(),
            lines: section
                .iter()
                .filter(|line| mentions(line, &domain))
                .cloned()
                .collect(),
            changed,
        })
    }

    fn lines(&self, domain: &str, verdict: Verdict) -> Vec<String> {
        match (self.format, verdict) {
            (DnsFormat::Hosts, Verdict::Block) => {
                vec![format!("0.0.0.0 {domain}"), format!(":: {domain}")]
            }
            (DnsFormat::Hosts, Verdict::Allow) => vec![format!("# allow {domain}")],
            (DnsFormat::Dnsmasq, Verdict::Block) => vec![
                format!("address=/{domain}/0.0.0.0"),
                format!("address=/{domain}/::"),
            ],
            (DnsFormat::Dnsmasq, Verdict::Allow) => vec![format!("server=/{domain}/#")],
        }
    }

    fn allowed(&self, section: &[String], domain: &str) -> bool {
        let allow = self.lines(domain, Verdict::Allow);
        section.iter().any(|line| allow.contains(line))
    }

    fn write(&self, text: &str) -> Result<(), AgentError> {
        let mode = fs::metadata(&self.file).map_or(0o644, |m| m.mode() & 0o7777);
        let staged = staged_name(&self.file);
        // Created exclusively and never through a planted symlink.
        let _ = fs::remove_file(&staged);
        let written = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&staged)
            .and_then(|mut file| {
                file.write_all(text.as_bytes())?;
                file.set_permissions(fs::Permissions::from_mode(mode))?;
                file.sync_all()
            });
        match written.and_then(|()| fs::rename(&staged, &self.file)) {
            Ok(()) => Ok(()),
            Err(_) => {
                let _ = fs::remove_file(&staged);
                fs::write(&self.file, text).map_err(|err| AgentError::io(self.file.display(), &err))
            }
        }
    }
}

fn staged_name(file: &Path) -> PathBuf {
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("resolver");
    file.with_file_name(format!(".{name}.riposte-tmp"))
}

/// Whether a section line is about `domain` exactly.
fn mentions(line: &str, domain: &str) -> bool {
    line.split(|c: char| c.is_whitespace() || c == '/')
        .any(|word| word == domain)
}

/// The text before the section, the section's lines, the text after it.
fn split(text: &str, file: &Path) -> Result<(String, Vec<String>, String), AgentError> {
    let Some(start) = text.find(BEGIN) else {
        let mut before = text.to_owned();
        if !before.is_empty() && !before.ends_with('\n') {
            before.push('\n');
        }
        return Ok((before, Vec::new(), String::new()));
    };
    let body_start = start + BEGIN.len();
    let end = text[body_start..].find(END).ok_or_else(|| {
        AgentError::Conflict(format!(
            "{} has the riposte section's first marker but not `{END}`; fix the file by hand",
            file.display()
        ))
    })? + body_start;
    let section = text[body_start..end]
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect();
    let mut after_start = end + END.len();
    if text[after_start..].starts_with('\n') {
        after_start += 1;
    }
    Ok((
        text[..start].to_owned(),
        section,
        text[after_start..].to_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str, content: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!(
            "riposte-sinkhole-{name}-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        fs::write(&path, content).unwrap();
        path
    }

    fn request(domain: &str, verdict: Verdict) -> DnsRequest {
        DnsRequest {
            idempotency_key: "k".into(),
            domain: domain.into(),
            verdict,
        }
    }

    const HOSTS: &str = "127.0.0.1 localhost\n::1 localhost ip6-localhost\n";

    #[test]
    fn a_block_and_its_revert_leave_the_rest_of_the_file_untouched() {
        let file = scratch("hosts", HOSTS);
        fs::set_permissions(&file, fs::Permissions::from_mode(0o640)).unwrap();
        let sinkhole = Sinkhole::new(&DnsConfig {
            file: file.clone(),
            format: DnsFormat::Hosts,
        });
        let report = sinkhole
            .add(&request("Evil.Example.com.", Verdict::Block))
            .unwrap();
        assert!(report.changed);
        assert_eq!(
            report.lines,
            ["0.0.0.0 evil.example.com", ":: evil.example.com"]
        );
        let text = fs::read_to_string(&file).unwrap();
        assert!(text.starts_with(HOSTS), "{text}");
        assert!(text.contains("0.0.0.0 evil.example.com\n"));
        assert_eq!(fs::metadata(&file).unwrap().mode() & 0o777, 0o640);
        assert!(
            !sinkhole
                .add(&request("evil.example.com", Verdict::Block))
                .unwrap()
                .changed
        );

        sinkhole
            .add(&request("other.example.net", Verdict::Block))
            .unwrap();
        assert!(
            sinkhole
                .remove(&request("evil.example.com", Verdict::Block))
                .unwrap()
                .changed
        );
        let text = fs::read_to_string(&file).unwrap();
        assert!(!text.contains("evil.example.com"));
        assert!(text.contains("0.0.0.0 other.example.net"));
        assert!(
            !sinkhole
                .remove(&request("evil.example.com", Verdict::Block))
                .unwrap()
                .changed
        );
        sinkhole
            .remove(&request("other.example.net", Verdict::Block))
            .unwrap();
        let text = fs::read_to_string(&file).unwrap();
        assert_eq!(text, format!("{HOSTS}{BEGIN}\n{END}\n"));
        fs::remove_file(&file).unwrap();
    }

    #[test]
    fn an_allowed_domain_is_never_sinkholed() {
        let file = scratch("allow", HOSTS);
        let sinkhole = Sinkhole::new(&DnsConfig {
            file: file.clone(),
            format: DnsFormat::Hosts,
        });
        sinkhole
            .add(&request("partner.example.com", Verdict::Block))
            .unwrap();
        sinkhole
            .add(&request("partner.example.com", Verdict::Allow))
            .unwrap();
        let text = fs::read_to_string(&file).unwrap();
        assert!(!text.contains("0.0.0.0 partner.example.com"), "{text}");
        let err = sinkhole
            .add(&request("partner.example.com", Verdict::Block))
            .unwrap_err();
        assert!(matches!(err, AgentError::Conflict(_)), "{err}");
        fs::remove_file(&file).unwrap();
    }

    #[test]
    fn dnsmasq_lines_and_bad_domains() {
        let file = scratch("dnsmasq", "");
        let sinkhole = Sinkhole::new(&DnsConfig {
            file: file.clone(),
            format: DnsFormat::Dnsmasq,
        });
        let report = sinkhole
            .add(&request("evil.example.com", Verdict::Block))
            .unwrap();
        assert_eq!(
            report.lines,
            [
                "address=/evil.example.com/0.0.0.0",
                "address=/evil.example.com/::"
            ]
        );
        let report = sinkhole
            .add(&request("good.example.com", Verdict::Allow))
            .unwrap();
        assert_eq!(report.lines, ["server=/good.example.com/#"]);
        for bad in ["", "evil example.com", "1.2.3.4\nevil", "a/b"] {
            assert!(
                matches!(
                    sinkhole.add(&request(bad, Verdict::Block)),
                    Err(AgentError::InvalidInput(_))
                ),
                "{bad:?}"
            );
        }
        fs::remove_file(&file).unwrap();
    }
}
