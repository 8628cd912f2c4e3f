//! Deep clean: scanning paths with YARA rules and SHA-256 lists.
//!
//! [`scan`] checks the whole request before touching the disk (absolute
//! paths, well-formed hashes, rules that compile), then walks the paths
//! depth first in name order, without following symbolic links, and reads
//! each regular file once into memory: the same bytes are hashed and given
//! to the YARA scanner, so the hash and the rule matches describe one
//! content. Anything that cannot be read is listed in the report's
//! `unreadable` with the reason, and the scan goes on.
//!
//! Rules are compiled with `include` disabled, so a rule source cannot make
//! the agent read a file of its choosing.

use std::collections::HashSet;
use std::fs::{File, Metadata};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use riposte_sdk::agent::{QuarantineRecord, ScanMatch, ScanReport, ScanRequest};
use sha2::{Digest, Sha256};

use super::AgentError;

/// Time the YARA scanner may spend on one file.
const YARA_TIMEOUT_PER_FILE: Duration = Duration::from_secs(30);

/// Bounds of one scan.
#[derive(Debug, Clone)]
pub struct ScanLimits {
    /// Regular files read at most; the scan stops with a note beyond.
    pub max_files: u64,
    /// Files larger than this are listed as unreadable, not read.
    pub max_file_bytes: u64,
}

/// Scans `request.paths`; `quarantine` is called for each matching file
/// when the request asks for quarantine, with the file and its SHA-256.
///
/// Errors (`invalid-input`, nothing read yet): a relative path, no path, a
/// malformed SHA-256, rules that do not compile (with the compiler's
/// report), or neither rules nor hashes to look for. Once the walk starts
/// the scan does not fail: unreadable files and the stop at
/// `max_files` are listed in the report. Memory use is bounded by
/// `max_file_bytes`, the largest file read whole.
pub fn scan(
    request: &ScanRequest,
    limits: &ScanLimits,
    quarantine: &mut dyn FnMut(&Path, &str) -> Result<QuarantineRecord, AgentError>,
) -> Result<ScanReport, AgentError> {
    let roots = check_paths(&request.paths)?;
    let hashes = check_hashes(&request.sha256)?;
    let rules = match &request.yara {
        Some(source) => Some(compile(source)?),
        None => None,
    };
    if rules.is_none() && hashes.is_empty() {
        return Err(AgentError::InvalidInput(
            "nothing to look for; expected YARA rules in `yara`, SHA-256 values in `sha256`, \
             or both"
                .into(),
        ));
    }

    let mut scanner = rules.as_ref().map(|rules| {
        let mut scanner = yara_x::Scanner::new(rules);
        scanner.set_timeout(YARA_TIMEOUT_PER_FILE);
        scanner
    });
    let mut walk = Walk {
        limits,
        report: ScanReport::default(),
        stopped: false,
    };
    for root in roots {
        walk.visit(root, &mut |path, data| {
            let sha256 = hex::encode(Sha256::digest(data));
            let rules = match scanner.as_mut() {
                Some(scanner) => match_rules(scanner, data)
                    .map_err(|err| format!("{}: YARA scan failed: {err}", path.display()))?,
                None => Vec::new(),
            };
            let hash_listed = hashes.contains(sha256.as_str());
            if rules.is_empty() && !hash_listed {
                return Ok(None);
            }
            Ok(Some(ScanMatch {
                path: path.to_string_lossy().into_owned(),
                sha256,
                rules,
                hash_listed,
                quarantined: None,
                error: None,
            }))
        });
    }
    let mut report = walk.report;

    if request.quarantine {
        for found in &mut report.matches {
            match quarantine(Path::new(&found.path), &found.sha256) {
                Ok(record) => found.quarantined = Some(record),
                Err(err) => found.error = Some(err.to_string()),
            }
        }
    }
    tracing::info!(
        files = report.files_scanned,
        matches = report.matches.len(),
        unreadable = report.unreadable.len(),
        "scan finished"
    );
    Ok(report)
}

/// The request's paths, each absolute.
fn check_paths(paths: &[String]) -> Result<Vec<PathBuf>, AgentError> {
    if paths.is_empty() {
        return Err(AgentError::InvalidInput(
            "`paths` is empty; expected absolute files or directories such as `/tmp`".into(),
        ));
    }
    paths
        .iter()
        .map(|path| {
            let parsed = PathBuf::from(path);
            if parsed.is_absolute() {
                Ok(parsed)
            } else {
                Err(AgentError::InvalidInput(format!(
                    "path `{}` is not absolute; expected a path such as `/tmp/x`",
                    path.escape_debug()
                )))
            }
        })
        .collect()
}

/// The request's SHA-256 values, each 64 lower-case hex digits.
fn check_hashes(hashes: &[String]) -> Result<HashSet<&str>, AgentError> {
    hashes
        .iter()
        .map(|hash| {
            let well_formed = hash.len() == 64
                && hash
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
            if well_formed {
                Ok(hash.as_str())
            } else {
                Err(AgentError::InvalidInput(format!(
                    "`sha256` value `{}` is not a SHA-256; expected 64 lower-case hex digits",
                    hash.escape_debug()
                )))
            }
        })
        .collect()
}

/// Compiles `source` with includes disabled.
fn compile(source: &str) -> Result<yara_x::Rules, AgentError> {
    let mut compiler = yara_x::Compiler::new();
    compiler.enable_includes(false);
    if compiler.add_source(source).is_err() {
        let report: Vec<String> = compiler.errors().iter().map(|e| e.to_string()).collect();
        return Err(AgentError::InvalidInput(format!(
            "the YARA rules in `yara` do not compile:\n{}",
            report.join("\n")
        )));
    }
    Ok(compiler.build())
}

/// The rules matching `data`, as `identifier` (or `namespace.identifier`
/// outside the default namespace).
fn match_rules(
    scanner: &mut yara_x::Scanner<'_>,
    data: &[u8],
) -> Result<Vec<String>, yara_x::ScanError> {
    let results = scanner.scan(data)?;
    Ok(results
        .matching_rules()
        .map(|rule| match rule.namespace() {
            "default" => rule.identifier().to_owned(),
            namespace => format!("{namespace}.{}", rule.identifier()),
        })
        .collect())
}

/// What a file's content yields: a match, nothing, or why it failed.
type Inspect<'a> = dyn FnMut(&Path, &[u8]) -> Result<Option<ScanMatch>, String> + 'a;

/// One walk over the request's paths.
struct Walk<'l> {
    limits: &'l ScanLimits,
    report: ScanReport,
    stopped: bool,
}

impl Walk<'_> {
    /// Walks `root` depth first, giving each regular file to `inspect`.
    fn visit(&mut self, root: PathBuf, inspect: &mut Inspect<'_>) {
        // Links met inside a directory are skipped silently, like sockets;
        // a root given as a link is worth a note.
        if std::fs::symlink_metadata(&root).is_ok_and(|m| m.file_type().is_symlink()) {
            self.unreadable(&root, "is a symbolic link, not followed");
            return;
        }
        let mut pending = vec![root];
        while let Some(path) = pending.pop() {
            if self.stopped {
                return;
            }
            let metadata = match std::fs::symlink_metadata(&path) {
                Ok(metadata) => metadata,
                Err(err) => {
                    self.unreadable(&path, &err.to_string());
                    continue;
                }
            };
            let kind = metadata.file_type();
            if kind.is_dir() {
                match children(&path) {
                    // Reversed so that the stack pops them in name order.
                    Ok(children) => pending.extend(children.into_iter().rev()),
                    Err(err) => self.unreadable(&path, &err.to_string()),
                }
            } else if kind.is_file() {
                self.file(&path, &metadata, inspect);
            }
        }
    }

    /// Reads one regular file and inspects it.
    fn file(&mut self, path: &Path, metadata: &Metadata, inspect: &mut Inspect<'_>) {
        if self.report.files_scanned >= self.limits.max_files {
            self.stopped = true;
            let note = format!(
                "not scanned: the scan stopped after {} files (`max_files`)",
                self.limits.max_files
            );
            self.unreadable(path, &note);
            return;
        }
        if metadata.len() > self.limits.max_file_bytes {
            let note = format!(
                "{} bytes, larger than the {} bytes read per file; not scanned",
                metadata.len(),
                self.limits.max_file_bytes
            );
            self.unreadable(path, &note);
            return;
        }
        match read_same_file(path, metadata, self.limits.max_file_bytes) {
            Ok(data) => {
                self.report.files_scanned += 1;
                match inspect(path, &data) {
                    Ok(Some(found)) => self.report.matches.push(found),
                    Ok(None) => {}
                    Err(note) => self.report.unreadable.push(note),
                }
            }
            Err(note) => self.unreadable(path, &note),
        }
    }

    fn unreadable(&mut self, path: &Path, why: &str) {
        self.report
            .unreadable
            .push(format!("{}: {why}", path.display()));
    }
}

/// Opens the regular file that `seen` (from `symlink_metadata`) describes
/// for reading, and returns it with its own metadata; fails when `path`
/// is now something else: a link, a different file, or a FIFO swapped in
/// (opened without blocking, so a FIFO cannot stall the agent).
pub(crate) fn open_same_file(path: &Path, seen: &Metadata) -> std::io::Result<(File, Metadata)> {
    let file = open_nonblocking(path)?;
    let opened = file.metadata()?;
    if !opened.is_file() || opened.dev() != seen.dev() || opened.ino() != seen.ino() {
        return Err(std::io::Error::other("changed while being read; not read"));
    }
    Ok((file, opened))
}

/// Opens `path` for reading with `O_NONBLOCK`: opening a FIFO does not
/// wait for a writer. Reads from a regular file are unaffected.
pub(crate) fn open_nonblocking(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;

    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

/// The entries of directory `dir`, sorted by name.
fn children(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut children = std::fs::read_dir(dir)?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<std::io::Result<Vec<_>>>()?;
    children.sort();
    Ok(children)
}

/// Reads `path` whole, checking that what was opened is the regular file
/// `metadata` describes (not a link or another file swapped in since) and
/// that it did not grow past `max_bytes`.
fn read_same_file(path: &Path, metadata: &Metadata, max_bytes: u64) -> Result<Vec<u8>, String> {
    let (file, opened) = open_same_file(path, metadata).map_err(|err| err.to_string())?;
    let expected = opened.len().min(max_bytes.saturating_add(1));
    let mut data = Vec::with_capacity(usize::try_from(expected).unwrap_or(0));
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut data)
        .map_err(|err| err.to_string())?;
    if data.len() as u64 > max_bytes {
        return Err(format!(
            "grew past the {max_bytes} bytes read per file while being scanned; not scanned"
        ));
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::agent::testing::TempDir;

    fn root(dir: &TempDir) -> String {
        dir.path().to_str().unwrap().to_owned()
    }

    const RULE: &str = r#"
        rule planted_marker {
            strings:
                $marker = "RIPOSTE-TEST-MARKER-7f3a"
            condition:
                $marker
        }
    "#;

    const LIMITS: ScanLimits = ScanLimits {
        max_files: 100,
        max_file_bytes: 1024,
    };

    fn sha256(content: &[u8]) -> String {
        hex::encode(Sha256::digest(content))
    }

    fn record(path: &Path, sha256: &str) -> QuarantineRecord {
        QuarantineRecord {
            id: format!("q-{sha256}"),
            original_path: path.to_str().unwrap().to_owned(),
            sha256: sha256.to_owned(),
            size: 0,
            mode: 0o644,
            uid: 0,
            gid: 0,
            modified: 0,
            quarantined_at: 0,
        }
    }

    fn request(dir: &TempDir) -> ScanRequest {
        ScanRequest {
            idempotency_key: "k".into(),
            paths: vec![root(dir)],
            yara: Some(RULE.into()),
            sha256: Vec::new(),
            quarantine: false,
        }
    }

    fn no_quarantine(path: &Path, _: &str) -> Result<QuarantineRecord, AgentError> {
        panic!("quarantine called for {}", path.display())
    }

    #[test]
    fn rules_and_hashes_match_only_their_files_and_only_matches_are_quarantined() {
        let dir = TempDir::new("scan");
        let marked = dir.write("a/dropper.sh", b"#!/bin/sh\n# RIPOSTE-TEST-MARKER-7f3a\n");
        dir.write(
            "a/clean.txt",
            b"nothing to see, RIPOSTE-TEST-MARKER only in part",
        );
        let listed_content = b"\x7fELF listed by hash";
        let listed = dir.write("b/deep/er/tool", listed_content);
        dir.write("b/other", b"\x7fELF not listed");
        std::os::unix::fs::symlink(&marked, dir.0.join("b/link-to-dropper")).unwrap();

        let mut request = request(&dir);
        request.sha256 = vec![sha256(listed_content)];
        request.quarantine = true;
        let mut calls = Vec::new();
        let report = scan(&request, &LIMITS, &mut |path, sha256| {
            calls.push((path.to_path_buf(), sha256.to_owned()));
            if path.ends_with("tool") {
                Err(AgentError::Conflict("changed since it was hashed".into()))
            } else {
                Ok(record(path, sha256))
            }
        })
        .unwrap();

        // The link is not followed: four regular files, two matches.
        assert_eq!(report.files_scanned, 4, "{report:?}");
        assert!(report.unreadable.is_empty(), "{:?}", report.unreadable);
        let marked_sha = sha256(&std::fs::read(&marked).unwrap());
        assert_eq!(
            report.matches,
            [
                ScanMatch {
                    path: marked.to_str().unwrap().into(),
                    sha256: marked_sha.clone(),
                    rules: vec!["planted_marker".into()],
                    hash_listed: false,
                    quarantined: Some(record(&marked, &marked_sha)),
                    error: None,
                },
                ScanMatch {
                    path: listed.to_str().unwrap().into(),
                    sha256: sha256(listed_content),
                    rules: Vec::new(),
                    hash_listed: true,
                    quarantined: None,
                    error: Some("changed since it was hashed".into()),
                },
            ]
        );
        assert_eq!(
            calls,
            [
                (marked.clone(), marked_sha),
                (listed.clone(), sha256(listed_content))
            ]
        );

        // Without `quarantine` nothing is moved.
        request.quarantine = false;
        let report = scan(&request, &LIMITS, &mut no_quarantine).unwrap();
        assert_eq!(report.matches.len(), 2);
        assert!(report.matches.iter().all(|m| m.quarantined.is_none()));
    }

    #[test]
    fn limits_are_respected_and_reported() {
        let dir = TempDir::new("scan");
        let mut big = b"RIPOSTE-TEST-MARKER-7f3a".to_vec();
        big.resize(LIMITS.max_file_bytes as usize + 1, b'x');
        let big = dir.write("0-big", &big);
        for name in ["1", "2", "3", "4"] {
            dir.write(name, b"RIPOSTE-TEST-MARKER-7f3a");
        }

        let limits = ScanLimits {
            max_files: 2,
            ..LIMITS
        };
        let report = scan(&request(&dir), &limits, &mut no_quarantine).unwrap();
        assert_eq!(report.files_scanned, 2);
        let names: Vec<&str> = report
            .matches
            .iter()
            .map(|m| &m.path[m.path.len() - 1..])
            .collect();
        assert_eq!(names, ["1", "2"]);
        assert_eq!(report.unreadable.len(), 2, "{:?}", report.unreadable);
        assert!(report.unreadable[0].starts_with(big.to_str().unwrap()));
        assert!(report.unreadable[0].contains("larger than the 1024 bytes"));
        assert!(report.unreadable[1].contains("/3: not scanned: the scan stopped after 2 files"));
    }

    #[test]
    fn missing_paths_and_linked_roots_are_unreadable_not_fatal() {
        let dir = TempDir::new("scan");
        let file = dir.write("x", b"RIPOSTE-TEST-MARKER-7f3a");
        let link = dir.0.join("link");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        let mut request = request(&dir);
        request.paths = vec![
            dir.0.join("absent").to_str().unwrap().into(),
            link.to_str().unwrap().into(),
            file.to_str().unwrap().into(),
        ];
        let report = scan(&request, &LIMITS, &mut no_quarantine).unwrap();
        assert_eq!(report.files_scanned, 1);
        assert_eq!(report.matches.len(), 1);
        assert_eq!(report.unreadable.len(), 2, "{:?}", report.unreadable);
        assert!(report.unreadable[0].contains("No such file"));
        assert!(report.unreadable[1].contains("symbolic link, not followed"));
    }

    #[test]
    fn bad_requests_are_refused_before_reading() {
        let dir = TempDir::new("scan");
        let refused = |request: ScanRequest| match scan(&request, &LIMITS, &mut no_quarantine) {
            Err(AgentError::InvalidInput(message)) => message,
            other => panic!("{other:?}"),
        };

        let message = refused(ScanRequest {
            yara: Some("rule broken { condition: $missing }".into()),
            ..request(&dir)
        });
        assert!(
            message.starts_with("the YARA rules in `yara` do not compile"),
            "{message}"
        );
        assert!(message.contains("$missing"), "{message}");

        let message = refused(ScanRequest {
            yara: Some("include \"/etc/passwd\"\nrule x { condition: true }".into()),
            ..request(&dir)
        });
        assert!(
            message.contains("include statements not allowed"),
            "{message}"
        );

        let message = refused(ScanRequest {
            paths: vec!["tmp/x".into()],
            ..request(&dir)
        });
        assert!(message.contains("`tmp/x` is not absolute"), "{message}");

        for bad in ["ABCDEF".repeat(10) + "ABCD", "0".repeat(63), "g".repeat(64)] {
            let message = refused(ScanRequest {
                sha256: vec!["0".repeat(64), bad.clone()],
                ..request(&dir)
            });
            assert!(message.contains(&bad), "{message}");
        }

        let message = refused(ScanRequest {
            yara: None,
            ..request(&dir)
        });
        assert!(message.contains("nothing to look for"), "{message}");
        assert!(
            refused(ScanRequest {
                paths: vec![],
                ..request(&dir)
            })
            .contains("`paths` is empty")
        );
    }
}
