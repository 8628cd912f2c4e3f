//! The offline check's host snapshot: what runs, listens, logs in and
//! starts on this host, read from `/proc`, `/etc` and `/var`.
//!
//! [`collect`] reads each source on its own and never fails as a whole: an
//! unreadable item becomes a line in the snapshot's `errors` and the rest
//! goes on. Every section is bounded by [`SnapshotLimits`] (items, bytes
//! read per file, bytes hashed), and a section cut at its bound is named
//! in `summary.truncated`. Files that users control (their
//! `authorized_keys`) are only reported through what parses as keys, so
//! a link to another file cannot copy that file into the snapshot.
//!
//! The readers take their paths from [`SnapshotSources`], so tests point
//! them at fixtures; [`SnapshotSources::system`] is this host.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::{File, Metadata};
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// `ut_type` of a login session's record (utmp(5)).
const USER_PROCESS: i16 = 7;

/// Size of glibc's `struct utmp` on 64-bit Linux (x86_64, aarch64).
const UTMP_RECORD: usize = 384;

/// `st` of a listening TCP socket in `/proc/net/tcp` (`TCP_LISTEN`).
const TCP_LISTEN: &str = "0A";

/// Where the snapshot reads from.
#[derive(Debug, Clone)]
pub struct SnapshotSources {
    /// The proc filesystem: processes, and `net/` for sockets.
    pub proc: PathBuf,
    /// The user database (`/etc/passwd`); each user's home is searched
    /// for `.ssh/authorized_keys` and `.ssh/authorized_keys2`.
    pub passwd: PathBuf,
    /// Login records (`/var/run/utmp`); a missing file is no sessions.
    pub utmp: PathBuf,
    /// Crontab files read as they are (`/etc/crontab`).
    pub cron_files: Vec<PathBuf>,
    /// Directories whose files are crontabs (`/etc/cron.d`, the spool).
    pub cron_dirs: Vec<PathBuf>,
    /// The administrator's systemd units (`/etc/systemd/system`).
    pub systemd: PathBuf,
    /// Directories searched, recursively, for recently changed executables.
    pub executable_dirs: Vec<PathBuf>,
    /// What "recently" means, in days.
    pub recent_days: u64,
    /// The bounds.
    pub limits: SnapshotLimits,
}

impl SnapshotSources {
    /// This host's files.
    pub fn system() -> Self {
        let paths = |list: &[&str]| list.iter().map(PathBuf::from).collect();
        Self {
            proc: "/proc".into(),
            passwd: "/etc/passwd".into(),
            utmp: "/var/run/utmp".into(),
            cron_files: paths(&["/etc/crontab"]),
            cron_dirs: paths(&["/etc/cron.d", "/var/spool/cron/crontabs"]),
            systemd: "/etc/systemd/system".into(),
            executable_dirs: paths(&[
                "/usr/bin",
                "/usr/sbin",
                "/bin",
                "/sbin",
                "/usr/local/bin",
                "/tmp",
                "/dev/shm",
                "/var/tmp",
            ]),
            recent_days: 7,
            limits: SnapshotLimits::default(),
        }
    }
}

/// The bounds of one snapshot.
#[derive(Debug, Clone)]
pub struct SnapshotLimits {
    /// Processes listed (and sockets, users, units, keys, sessions).
    pub max_items: usize,
    /// Recently changed executables listed, newest first.
    pub max_recent_executables: usize,
    /// Directory entries looked at while searching for them.
    pub max_walk_entries: usize,
    /// Largest file hashed; larger ones are listed without a hash.
    pub max_hash_bytes: u64,
    /// Bytes hashed in the whole snapshot.
    pub max_total_hash_bytes: u64,
    /// Bytes read of a text file (crontab, unit, passwd, utmp).
    pub max_text_bytes: u64,
    /// Lines kept of one crontab or unit.
    pub max_lines_per_file: usize,
    /// Open files looked at to map sockets to processes.
    pub max_fds: usize,
    /// Error lines kept; the rest are only counted.
    pub max_errors: usize,
}

impl Default for SnapshotLimits {
    fn default() -> Self {
        Self {
            max_items: 4096,
            max_recent_executables: 500,
            max_walk_entries: 200_000,
            max_hash_bytes: 128 * 1024 * 1024,
            max_total_hash_bytes: 2 * 1024 * 1024 * 1024,
            max_text_bytes: 1024 * 1024,
            max_lines_per_file: 1000,
            max_fds: 500_000,
            max_errors: 200,
        }
    }
}

/// A host snapshot.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    /// When it was taken, Unix seconds.
    pub collected_at: u64,
    /// How many of each.
    pub summary: Summary,
    /// Running processes, by pid.
    pub processes: Vec<Process>,
    /// Listening TCP sockets and unconnected UDP sockets.
    pub listening: Vec<Listener>,
    /// `/etc/passwd`.
    pub users: Vec<User>,
    /// Logged-in users, from utmp.
    pub sessions: Vec<Session>,
    /// Crontabs and their entries.
    pub cron: Vec<CronFile>,
    /// The administrator's systemd units.
    pub systemd_units: Vec<Unit>,
    /// SSH keys that may log in.
    pub authorized_keys: Vec<AuthorizedKey>,
    /// Executables changed in the last `recent_days`, newest first.
    pub recent_executables: Vec<RecentExecutable>,
    /// What could not be read, one line each.
    pub errors: Vec<String>,
}

/// The counts of a snapshot.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub processes: usize,
    pub listening: usize,
    pub users: usize,
    pub sessions: usize,
    pub cron_files: usize,
    pub cron_entries: usize,
    pub systemd_units: usize,
    pub authorized_keys: usize,
    pub recent_executables: usize,
    /// Errors met, including those beyond `max_errors` not listed.
    pub errors: usize,
    /// Sections cut at their bound.
    pub truncated: Vec<String>,
}

/// A running process.
#[derive(Debug, Clone, Serialize)]
pub struct Process {
    pub pid: u32,
    pub ppid: u32,
    /// The kernel's name for it (`comm`, at most 15 bytes).
    pub name: String,
    /// Its executable's path; none for kernel threads or when unreadable.
    pub exe: Option<String>,
    /// SHA-256 of the executable it runs (even when deleted or replaced).
    pub sha256: Option<String>,
    /// Real user id.
    pub uid: Option<u32>,
    pub cmdline: Vec<String>,
    /// When it started, seconds since boot (as `KillRequest::start_time`).
    pub start_time: f64,
}

/// A socket waiting for peers.
#[derive(Debug, Clone, Serialize)]
pub struct Listener {
    /// `tcp`, `tcp6`, `udp` or `udp6`.
    pub protocol: String,
    pub address: IpAddr,
    pub port: u16,
    pub uid: u32,
    pub inode: u64,
    /// The processes holding it, when their open files were readable.
    pub pids: Vec<u32>,
}

/// An `/etc/passwd` entry.
#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
    pub shell: String,
}

/// A login session (a `USER_PROCESS` utmp record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Session {
    pub user: String,
    pub tty: String,
    /// The remote host, empty for a local login.
    pub host: String,
    pub pid: i32,
    /// Login time, Unix seconds.
    pub login_time: u32,
    /// The remote address, when recorded.
    pub address: Option<IpAddr>,
}

/// A crontab.
#[derive(Debug, Clone, Serialize)]
pub struct CronFile {
    pub file: String,
    /// Its lines that are neither blank nor comments.
    pub entries: Vec<String>,
}

/// A systemd unit of the administrator's.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Unit {
    pub name: String,
    /// The unit file read (a link's target).
    pub file: String,
    /// The targets and units whose `.wants`/`.requires` link it: it is
    /// enabled when this is not empty.
    pub wanted_by: Vec<String>,
    /// Linked to `/dev/null`.
    pub masked: bool,
    /// Its `ExecStart`, `ExecStartPre` and `ExecStartPost` lines.
    pub exec: Vec<String>,
}

/// A key in an `authorized_keys` file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthorizedKey {
    pub user: String,
    pub file: String,
    pub line: usize,
    pub key_type: String,
    pub comment: String,
    /// `SHA256:` and the unpadded base64 of the key blob's SHA-256, as
    /// `ssh-keygen -l` prints it.
    pub fingerprint: String,
    /// The options before the key (`command="..."`, `from=...`), if any.
    pub options: Option<String>,
}

/// An executable file changed recently.
#[derive(Debug, Clone, Serialize)]
pub struct RecentExecutable {
    pub path: String,
    pub size: u64,
    /// Permission bits.
    pub mode: u32,
    pub uid: u32,
    /// The later of its modification and status change times, Unix
    /// seconds (the status change time cannot be set back by `touch`).
    pub changed: i64,
    pub sha256: Option<String>,
}

/// Collects the snapshot of the host `sources` describe. Blocking: it
/// reads many files (run it in `spawn_blocking`). Never fails: what cannot
/// be read is in `errors`.
pub fn collect(sources: &SnapshotSources) -> Snapshot {
    let limits = &sources.limits;
    let mut notes = Notes::new(limits.max_errors);
    let mut hasher = Hasher::new(limits);

    let processes = processes(&sources.proc, limits, &mut hasher, &mut notes);
    let listening = listening(&sources.proc, limits, &mut notes);
    let users = users(&sources.passwd, limits, &mut notes);
    let sessions = sessions(&sources.utmp, limits, &mut notes);
    let cron = cron(sources, limits, &mut notes);
    let systemd_units = systemd_units(&sources.systemd, limits, &mut notes);
    let authorized_keys = authorized_keys(&users, limits, &mut notes);
    let recent_executables = recent_executables(sources, &mut hasher, &mut notes);

    let summary = Summary {
        processes: processes.len(),
        listening: listening.len(),
        users: users.len(),
        sessions: sessions.len(),
        cron_files: cron.len(),
        cron_entries: cron.iter().map(|file| file.entries.len()).sum(),
        systemd_units: systemd_units.len(),
        authorized_keys: authorized_keys.len(),
        recent_executables: recent_executables.len(),
        errors: notes.count,
        truncated: notes.truncated,
    };
    Snapshot {
        collected_at: now(),
        summary,
        processes,
        listening,
        users,
        sessions,
        cron,
        systemd_units,
        authorized_keys,
        recent_executables,
        errors: notes.errors,
    }
}

/// Errors and truncations met along the way.
struct Notes {
    errors: Vec<String>,
    count: usize,
    max: usize,
    truncated: Vec<String>,
}

impl Notes {
    fn new(max: usize) -> Self {
        Self {
            errors: Vec::new(),
            count: 0,
            max,
            truncated: Vec::new(),
        }
    }

    fn error(&mut self, what: impl std::fmt::Display, why: impl std::fmt::Display) {
        self.count += 1;
        if self.errors.len() < self.max {
            self.errors.push(format!("{what}: {why}"));
        }
    }

    fn truncate(&mut self, section: &str, bound: impl std::fmt::Display) {
        self.truncated.push(format!("{section} (at {bound})"));
    }
}

/// SHA-256 of files, each hashed once, within the byte budgets.
struct Hasher {
    max_file: u64,
    remaining: u64,
    done: HashMap<(u64, u64), Result<String, String>>,
}

impl Hasher {
    fn new(limits: &SnapshotLimits) -> Self {
        Self {
            max_file: limits.max_hash_bytes,
            remaining: limits.max_total_hash_bytes,
            done: HashMap::new(),
        }
    }

    /// The SHA-256 of the open `file`.
    fn hash(&mut self, mut file: File, metadata: &Metadata) -> Result<String, String> {
        let key = (metadata.dev(), metadata.ino());
        if let Some(done) = self.done.get(&key) {
            return done.clone();
        }
        let size = metadata.len();
        let result = if size > self.max_file {
            Err(format!(
                "{size} bytes, larger than the {} bytes hashed per file",
                self.max_file
            ))
        } else if size > self.remaining {
            Err("not hashed: the snapshot's hashing budget is spent".into())
        } else {
            let mut digest = Sha256::new();
            let mut read = 0;
            let mut buffer = vec![0; 64 * 1024];
            let hashed = loop {
                match file.read(&mut buffer) {
                    Ok(0) => break Ok(hex::encode(digest.finalize())),
                    Ok(n) if read + n as u64 > self.max_file => {
                        break Err("grew while being hashed".into());
                    }
                    Ok(n) => {
                        digest.update(&buffer[..n]);
                        read += n as u64;
                    }
                    Err(err) => break Err(err.to_string()),
                }
            };
            self.remaining = self.remaining.saturating_sub(read);
            hashed
        };
        self.done.insert(key, result.clone());
        result
    }
}

/// Running processes from `proc`, with their executables hashed.
fn processes(
    proc: &Path,
    limits: &SnapshotLimits,
    hasher: &mut Hasher,
    notes: &mut Notes,
) -> Vec<Process> {
    let mut pids = match pids(proc) {
        Ok(pids) => pids,
        Err(err) => {
            notes.error(proc.display(), err);
            return Vec::new();
        }
    };
    if pids.len() > limits.max_items {
        pids.truncate(limits.max_items);
        notes.truncate("processes", limits.max_items);
    }
    pids.into_iter()
        .filter_map(|pid| process(&proc.join(pid.to_string()), pid, hasher, notes))
        .collect()
}

/// The numeric entries of `proc`, sorted.
fn pids(proc: &Path) -> std::io::Result<Vec<u32>> {
    let mut pids: Vec<u32> = std::fs::read_dir(proc)?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    Ok(pids)
}

/// One process; none when it is gone.
fn process(dir: &Path, pid: u32, hasher: &mut Hasher, notes: &mut Notes) -> Option<Process> {
    let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
    let Some((name, ppid, start_ticks)) = parse_stat(&stat) else {
        notes.error(dir.join("stat").display(), "not in proc(5)'s format");
        return None;
    };

    let exe = match std::fs::read_link(dir.join("exe")) {
        Ok(exe) => Some(exe.to_string_lossy().into_owned()),
        // Kernel threads have no executable; a gone process neither.
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(err) => {
            notes.error(format!("pid {pid} exe"), err);
            None
        }
    };
    // Hashed through the link, which opens the image the process runs
    // even when its path was deleted or replaced.
    let sha256 = exe.as_ref().and_then(|_| {
        let opened = File::open(dir.join("exe")).and_then(|file| {
            let metadata = file.metadata()?;
            Ok((file, metadata))
        });
        let hashed = match opened {
            Ok((file, metadata)) => hasher.hash(file, &metadata),
            Err(err) => Err(err.to_string()),
        };
        hashed
            .map_err(|err| notes.error(format!("pid {pid} exe sha256"), err))
            .ok()
    });

    let uid = std::fs::read_to_string(dir.join("status"))
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|line| line.starts_with("Uid:"))?;
            line.split_whitespace().nth(1)?.parse().ok()
        });
    let cmdline = read_bounded(&dir.join("cmdline"), 64 * 1024)
        .map(|bytes| {
            bytes
                .split(|b| *b == 0)
                .filter(|arg| !arg.is_empty())
                .map(|arg| String::from_utf8_lossy(arg).into_owned())
                .collect()
        })
        .unwrap_or_default();

    Some(Process {
        pid,
        ppid,
        name,
        exe,
        sha256,
        uid,
        cmdline,
        start_time: start_ticks as f64 / super::process::clock_ticks() as f64,
    })
}

/// `comm`, `ppid` and `starttime` (fields 2, 4 and 22) of a
/// `/proc/<pid>/stat` line. `comm` may hold spaces and parentheses, so the
/// fields after it are counted from its last `)`.
fn parse_stat(stat: &str) -> Option<(String, u32, u64)> {
    let (name, fields) = super::process::stat_fields(stat)?;
    let ppid = fields.get(1)?.parse().ok()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((name, ppid, start))
}

/// Listening sockets from `proc/net`, with the processes holding them.
fn listening(proc: &Path, limits: &SnapshotLimits, notes: &mut Notes) -> Vec<Listener> {
    let mut listeners = Vec::new();
    for protocol in ["tcp", "tcp6", "udp", "udp6"] {
        let path = proc.join("net").join(protocol);
        let table = match read_text(&path, limits.max_text_bytes * 16) {
            Ok(table) => table,
            // A host without IPv6 has no tcp6 table.
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
            Err(err) => {
                notes.error(path.display(), err);
                continue;
            }
        };
        for line in table.lines().skip(1) {
            match parse_socket(protocol, line) {
                Some(found) => listeners.extend(found),
                None => notes.error(path.display(), "a line not in proc(5)'s format"),
            }
        }
    }
    if listeners.len() > limits.max_items {
        listeners.truncate(limits.max_items);
        notes.truncate("listening", limits.max_items);
    }

    let inodes: BTreeSet<u64> = listeners.iter().map(|l| l.inode).collect();
    let holders = socket_holders(proc, &inodes, limits, notes);
    for listener in &mut listeners {
        if let Some(pids) = holders.get(&listener.inode) {
            listener.pids = pids.clone();
        }
    }
    listeners
}

/// One line of `/proc/net/{tcp,udp}{,6}`: `Some(None)` for a socket that is
/// not listening, `None` for a line that does not parse.
fn parse_socket(protocol: &str, line: &str) -> Option<Option<Listener>> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let (local, remote, state) = (fields.get(1)?, fields.get(2)?, fields.get(3)?);
    let uid = fields.get(7)?.parse().ok()?;
    let inode = fields.get(9)?.parse().ok()?;
    let (address, port) = parse_socket_address(local)?;
    let (_, remote_port) = parse_socket_address(remote)?;

    let listens = if protocol.starts_with("tcp") {
        *state == TCP_LISTEN
    } else {
        // An unconnected UDP socket has no peer.
        remote_port == 0
    };
    Some(listens.then(|| Listener {
        protocol: protocol.to_owned(),
        address,
        port,
        uid,
        inode,
        pids: Vec::new(),
    }))
}

/// `0100007F:1F90` -> 127.0.0.1 port 8080. The kernel prints the address
/// as 32-bit words in host byte order, the port as a number.
fn parse_socket_address(text: &str) -> Option<(IpAddr, u16)> {
    let (address, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let mut bytes = Vec::with_capacity(16);
    for word in address.as_bytes().chunks(8) {
        let word = u32::from_str_radix(std::str::from_utf8(word).ok()?, 16).ok()?;
        bytes.extend_from_slice(&word.to_ne_bytes());
    }
    let address = match bytes.len() {
        4 => IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(bytes).ok()?)),
        16 => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(bytes).ok()?)),
        _ => return None,
    };
    Some((address, port))
}

/// Which processes hold each socket inode in `wanted`, from their open
/// files (`/proc/<pid>/fd/*` links read `socket:[<inode>]`).
fn socket_holders(
    proc: &Path,
    wanted: &BTreeSet<u64>,
    limits: &SnapshotLimits,
    notes: &mut Notes,
) -> BTreeMap<u64, Vec<u32>> {
    let mut holders: BTreeMap<u64, Vec<u32>> = BTreeMap::new();
    if wanted.is_empty() {
        return holders;
    }
    let mut fds_seen = 0;
    let mut unreadable = 0;
    for pid in pids(proc).unwrap_or_default() {
        let Ok(fds) = std::fs::read_dir(proc.join(pid.to_string()).join("fd")) else {
            unreadable += 1;
            continue;
        };
        for fd in fds.flatten() {
            fds_seen += 1;
            if fds_seen > limits.max_fds {
                notes.truncate("socket owners", format!("{} open files", limits.max_fds));
                return holders;
            }
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let inode = target
                .to_str()
                .and_then(|t| t.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok());
            if let Some(inode) = inode.filter(|inode| wanted.contains(inode)) {
                let pids = holders.entry(inode).or_default();
                if !pids.contains(&pid) {
                    pids.push(pid);
                }
            }
        }
    }
    if unreadable > 0 {
        notes.error(
            "socket owners",
            format!(
                "the open files of {unreadable} processes are unreadable; their sockets show no pid"
            ),
        );
    }
    holders
}

/// The user database.
fn users(passwd: &Path, limits: &SnapshotLimits, notes: &mut Notes) -> Vec<User> {
    let text = match read_text(passwd, limits.max_text_bytes) {
        Ok(text) => text,
        Err(err) => {
            notes.error(passwd.display(), err);
            return Vec::new();
        }
    };
    let mut users = Vec::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split(':').collect();
        let parsed = match fields[..] {
            [name, _, uid, gid, _, home, shell] => {
                uid.parse()
                    .ok()
                    .zip(gid.parse().ok())
                    .map(|(uid, gid)| User {
                        name: name.to_owned(),
                        uid,
                        gid,
                        home: home.to_owned(),
                        shell: shell.to_owned(),
                    })
            }
            _ => None,
        };
        match parsed {
            Some(user) if users.len() < limits.max_items => users.push(user),
            Some(_) => {
                notes.truncate("users", limits.max_items);
                break;
            }
            // The line is not echoed: it might hold a password hash.
            None => notes.error(
                format!("{} line {}", passwd.display(), number + 1),
                "not `name:password:uid:gid:gecos:home:shell`",
            ),
        }
    }
    users
}

/// Login sessions from a utmp file; a missing file is none.
fn sessions(utmp: &Path, limits: &SnapshotLimits, notes: &mut Notes) -> Vec<Session> {
    let bytes = match read_bounded(utmp, limits.max_text_bytes) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(err) => {
            notes.error(utmp.display(), err);
            return Vec::new();
        }
    };
    if bytes.len() % UTMP_RECORD != 0 {
        notes.error(
            utmp.display(),
            format!(
                "{} bytes is not a whole number of {UTMP_RECORD}-byte records; the tail is ignored",
                bytes.len()
            ),
        );
    }
    let mut sessions: Vec<Session> = bytes
        .chunks_exact(UTMP_RECORD)
        .filter_map(parse_utmp_record)
        .collect();
    if sessions.len() > limits.max_items {
        sessions.truncate(limits.max_items);
        notes.truncate("sessions", limits.max_items);
    }
    sessions
}

/// One glibc `struct utmp` on 64-bit Linux, little-endian; `None` unless
/// it is a `USER_PROCESS` record. Layout (bits/utmp.h): `ut_type` i16 at
/// 0 (then 2 bytes padding), `ut_pid` i32 at 4, `ut_line` [32] at 8,
/// `ut_id` [4] at 40, `ut_user` [32] at 44, `ut_host` [256] at 76,
/// `ut_exit` 2 x i16 at 332, `ut_session` i32 at 336, `ut_tv` 2 x i32 at
/// 340 (32-bit even on 64-bit hosts, for compatibility), `ut_addr_v6`
/// 4 x i32 at 348, 20 reserved bytes at 364: 384 in all.
pub fn parse_utmp_record(record: &[u8]) -> Option<Session> {
    let i16_at = |at: usize| i16::from_le_bytes([record[at], record[at + 1]]);
    let u32_at = |at: usize| u32::from_le_bytes(record[at..at + 4].try_into().unwrap());
    let text_at = |at: usize, len: usize| {
        let field = &record[at..at + len];
        let end = field.iter().position(|b| *b == 0).unwrap_or(len);
        String::from_utf8_lossy(&field[..end]).into_owned()
    };
    if record.len() != UTMP_RECORD || i16_at(0) != USER_PROCESS {
        return None;
    }

    // The address words are in network order as stored; an IPv4 address
    // fills only the first.
    let mut address = [0u8; 16];
    address.copy_from_slice(&record[348..364]);
    let address = match address {
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] => None,
        [a, b, c, d, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] => {
            Some(IpAddr::V4(Ipv4Addr::new(a, b, c, d)))
        }
        v6 => Some(IpAddr::V6(Ipv6Addr::from(v6))),
    };
    Some(Session {
        user: text_at(44, 32),
        tty: text_at(8, 32),
        host: text_at(76, 256),
        pid: u32_at(4) as i32,
        login_time: u32_at(340),
        address,
    })
}

/// Crontabs: the named files and every file in the named directories.
fn cron(sources: &SnapshotSources, limits: &SnapshotLimits, notes: &mut Notes) -> Vec<CronFile> {
    let mut files = sources.cron_files.clone();
    for dir in &sources.cron_dirs {
        match sorted_entries(dir) {
            Ok(entries) => files.extend(entries),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => notes.error(dir.display(), err),
        }
    }

    let mut crontabs = Vec::new();
    for file in files {
        // Not followed: a link's target is not cron's to read.
        match std::fs::symlink_metadata(&file) {
            Ok(metadata) if metadata.is_file() => {}
            Ok(metadata) if metadata.is_symlink() => {
                notes.error(file.display(), "a symbolic link, not read");
                continue;
            }
            Ok(_) => continue,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
            Err(err) => {
                notes.error(file.display(), err);
                continue;
            }
        }
        if crontabs.len() == limits.max_items {
            notes.truncate("cron", limits.max_items);
            break;
        }
        match read_text(&file, limits.max_text_bytes) {
            Ok(text) => {
                let entries = meaningful_lines(&text, limits.max_lines_per_file);
                crontabs.push(CronFile {
                    file: file.to_string_lossy().into_owned(),
                    entries,
                });
            }
            Err(err) => notes.error(file.display(), err),
        }
    }
    crontabs
}

/// Lines that are neither blank nor `#` comments, trimmed, at most `max`.
fn meaningful_lines(text: &str, max: usize) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .take(max)
        .map(str::to_owned)
        .collect()
}

/// Unit files in `dir` and the units its `*.wants` and `*.requires`
/// directories link.
fn systemd_units(dir: &Path, limits: &SnapshotLimits, notes: &mut Notes) -> Vec<Unit> {
    let entries = match sorted_entries(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
        Err(err) => {
            notes.error(dir.display(), err);
            return Vec::new();
        }
    };

    // name -> (file, wanted_by)
    let mut found: BTreeMap<String, (PathBuf, Vec<String>)> = BTreeMap::new();
    for entry in entries {
        let Some(name) = entry
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_owned)
        else {
            continue;
        };
        let wanting = name
            .strip_suffix(".wants")
            .or_else(|| name.strip_suffix(".requires"));
        match wanting {
            Some(wanting) if entry.is_dir() => {
                let links = match sorted_entries(&entry) {
                    Ok(links) => links,
                    Err(err) => {
                        notes.error(entry.display(), err);
                        continue;
                    }
                };
                for link in links {
                    let Some(unit) = link.file_name().and_then(|n| n.to_str()) else {
                        continue;
                    };
                    let slot = found
                        .entry(unit.to_owned())
                        .or_insert((link.clone(), vec![]));
                    slot.1.push(wanting.to_owned());
                }
            }
            _ if is_unit_name(&name) => {
                // A unit defined here is read from here, not from a link.
                let slot = found.entry(name).or_insert((entry.clone(), vec![]));
                slot.0 = entry;
            }
            _ => {}
        }
    }
    if found.len() > limits.max_items {
        notes.truncate("systemd units", limits.max_items);
    }

    found
        .into_iter()
        .take(limits.max_items)
        .map(|(name, (path, wanted_by))| {
            let mut unit = Unit {
                name,
                file: path.to_string_lossy().into_owned(),
                wanted_by,
                ..Unit::default()
            };
            if let Ok(target) = std::fs::read_link(&path) {
                let target = path.parent().unwrap_or(dir).join(target);
                unit.masked = target == Path::new("/dev/null");
                unit.file = target.to_string_lossy().into_owned();
            }
            if unit.masked {
                return unit;
            }
            match read_text(&path, limits.max_text_bytes) {
                Ok(text) => {
                    unit.exec = meaningful_lines(&text, usize::MAX)
                        .into_iter()
                        .filter(|line| line.starts_with("ExecStart"))
                        .take(limits.max_lines_per_file)
                        .collect();
                }
                Err(err) => notes.error(format!("unit {}", unit.file), err),
            }
            unit
        })
        .collect()
}

/// Whether `name` is a systemd unit file name (systemd.unit(5)).
fn is_unit_name(name: &str) -> bool {
    const SUFFIXES: [&str; 11] = [
        ".service",
        ".socket",
        ".timer",
        ".path",
        ".mount",
        ".automount",
        ".swap",
        ".target",
        ".device",
        ".slice",
        ".scope",
    ];
    SUFFIXES.iter().any(|suffix| name.ends_with(suffix))
}

/// The keys in each user's `~/.ssh/authorized_keys{,2}`.
fn authorized_keys(
    users: &[User],
    limits: &SnapshotLimits,
    notes: &mut Notes,
) -> Vec<AuthorizedKey> {
    let mut keys = Vec::new();
    let mut homes = BTreeSet::new();
    for user in users {
        if user.home.is_empty() || !homes.insert(user.home.as_str()) {
            continue;
        }
        for name in ["authorized_keys", "authorized_keys2"] {
            let file = Path::new(&user.home).join(".ssh").join(name);
            let text = match read_text(&file, limits.max_text_bytes) {
                Ok(text) => text,
                Err(err)
                    if matches!(
                        err.kind(),
                        std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                    ) =>
                {
                    continue;
                }
                Err(err) => {
                    notes.error(file.display(), err);
                    continue;
                }
            };
            for (number, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let where_ = format!("{} line {}", file.display(), number + 1);
                match parse_authorized_key(line) {
                    Ok(key) if keys.len() < limits.max_items => keys.push(AuthorizedKey {
                        user: user.name.clone(),
                        file: file.to_string_lossy().into_owned(),
                        line: number + 1,
                        ..key
                    }),
                    Ok(_) => {
                        notes.truncate("authorized keys", limits.max_items);
                        return keys;
                    }
                    Err(why) => notes.error(where_, why),
                }
            }
        }
    }
    keys
}

/// One `authorized_keys` line (sshd(8), "AUTHORIZED_KEYS FILE FORMAT"):
/// optional options, the key type, the base64 key blob, an optional
/// comment. The blob must decode and name the same key type. Errors never
/// quote the line, which may not be a key file at all.
pub fn parse_authorized_key(line: &str) -> Result<AuthorizedKey, String> {
    let (options, rest) = if starts_with_key_type(line) {
        (None, line)
    } else {
        let (options, rest) = split_options(line);
        (Some(options.to_owned()), rest.trim_start())
    };
    let mut parts = rest.splitn(3, [' ', '\t']);
    let key_type = parts.next().unwrap_or_default();
    let blob = parts.next().unwrap_or_default();
    let comment = parts.next().unwrap_or_default().trim();
    if !starts_with_key_type(key_type) {
        return Err("no known key type (such as `ssh-ed25519`) where one was expected".into());
    }

    let blob = base64::engine::general_purpose::STANDARD
        .decode(blob)
        .map_err(|_| format!("the `{key_type}` key is not valid base64"))?;
    let named = blob
        .get(..4)
        .map(|len| u32::from_be_bytes(len.try_into().unwrap()) as usize)
        .and_then(|len| blob.get(4..4 + len));
    if named != Some(key_type.as_bytes()) {
        return Err(format!(
            "the key blob does not start with its type `{key_type}`"
        ));
    }

    let digest = Sha256::digest(&blob);
    Ok(AuthorizedKey {
        user: String::new(),
        file: String::new(),
        line: 0,
        key_type: key_type.to_owned(),
        comment: comment.to_owned(),
        fingerprint: format!(
            "SHA256:{}",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest)
        ),
        options,
    })
}

/// Whether `text` starts with an OpenSSH public key type.
fn starts_with_key_type(text: &str) -> bool {
    const TYPES: [&str; 6] = [
        "ssh-ed25519",
        "ssh-rsa",
        "ssh-dss",
        "ecdsa-sha2-nistp",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
    ];
    let first = text.split([' ', '\t']).next().unwrap_or_default();
    TYPES.iter().any(|t| first.starts_with(t))
}

/// Splits the options field off an `authorized_keys` line: it ends at the
/// first blank outside double quotes.
fn split_options(line: &str) -> (&str, &str) {
    let mut quoted = false;
    let mut escaped = false;
    for (at, c) in line.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            ' ' | '\t' if !quoted => return (&line[..at], &line[at..]),
            _ => {}
        }
    }
    (line, "")
}

/// Executable files under the sources' directories changed within
/// `recent_days`, newest first, hashed.
fn recent_executables(
    sources: &SnapshotSources,
    hasher: &mut Hasher,
    notes: &mut Notes,
) -> Vec<RecentExecutable> {
    const MAX_DEPTH: usize = 8;
    let limits = &sources.limits;
    let since = now().saturating_sub(sources.recent_days.saturating_mul(86_400)) as i64;

    let mut found: Vec<(PathBuf, Metadata)> = Vec::new();
    let mut seen = 0;
    let mut pending: Vec<(PathBuf, usize)> = sources
        .executable_dirs
        .iter()
        .rev()
        .map(|d| (d.clone(), 0))
        .collect();
    while let Some((path, depth)) = pending.pop() {
        seen += 1;
        if seen > limits.max_walk_entries {
            notes.truncate(
                "recent executables search",
                format!("{} entries", limits.max_walk_entries),
            );
            break;
        }
        let metadata = match std::fs::symlink_metadata(&path) {
            Ok(metadata) => metadata,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
            Err(err) => {
                notes.error(path.display(), err);
                continue;
            }
        };
        if metadata.is_dir() && depth < MAX_DEPTH {
            match sorted_entries(&path) {
                Ok(entries) => pending.extend(entries.into_iter().rev().map(|e| (e, depth + 1))),
                Err(err) => notes.error(path.display(), err),
            }
        } else if metadata.is_file()
            && metadata.permissions().mode() & 0o111 != 0
            && changed(&metadata) >= since
        {
            found.push((path, metadata));
        }
    }

    found.sort_by_key(|(path, metadata)| (std::cmp::Reverse(changed(metadata)), path.clone()));
    if found.len() > limits.max_recent_executables {
        found.truncate(limits.max_recent_executables);
        notes.truncate("recent executables", limits.max_recent_executables);
    }
    found
        .into_iter()
        .map(|(path, metadata)| {
            let hashed = super::scan::open_same_file(&path, &metadata)
                .map_err(|err| err.to_string())
                .and_then(|(file, opened)| hasher.hash(file, &opened));
            let sha256 = hashed
                .map_err(|err| notes.error(format!("{} sha256", path.display()), err))
                .ok();
            RecentExecutable {
                path: path.to_string_lossy().into_owned(),
                size: metadata.len(),
                mode: metadata.permissions().mode() & 0o7777,
                uid: metadata.uid(),
                changed: changed(&metadata),
                sha256,
            }
        })
        .collect()
}

/// The later of a file's modification and status change times.
fn changed(metadata: &Metadata) -> i64 {
    metadata.mtime().max(metadata.ctime())
}

/// The entries of `dir`, sorted by name.
fn sorted_entries(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut entries = std::fs::read_dir(dir)?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<std::io::Result<Vec<_>>>()?;
    entries.sort();
    Ok(entries)
}

/// At most `max` bytes of the regular file `path` (more are ignored).
/// Opened without blocking, so a FIFO put in place of a user's file
/// cannot stall the snapshot.
fn read_bounded(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    let file = super::scan::open_nonblocking(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file, not read"));
    }
    let mut bytes = Vec::new();
    file.take(max).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// At most `max` bytes of `path` as text, invalid UTF-8 replaced.
fn read_text(path: &Path, max: u64) -> std::io::Result<String> {
    read_bounded(path, max).map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

/// Unix seconds now.
fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|since| since.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::agent::testing::TempDir;

    /// Sources reading this host's `/proc` and nothing else: every other
    /// path is in `dir`, where the test plants what it needs.
    fn sources(dir: &TempDir) -> SnapshotSources {
        SnapshotSources {
            proc: "/proc".into(),
            passwd: dir.0.join("etc/passwd"),
            utmp: dir.0.join("run/utmp"),
            cron_files: vec![dir.0.join("etc/crontab")],
            cron_dirs: vec![dir.0.join("etc/cron.d")],
            systemd: dir.0.join("etc/systemd/system"),
            executable_dirs: vec![dir.0.join("bin")],
            recent_days: 7,
            limits: SnapshotLimits {
                // The test binary itself is over 100 MB.
                max_hash_bytes: 4 * 1024 * 1024 * 1024,
                max_total_hash_bytes: 64 * 1024 * 1024 * 1024,
                ..SnapshotLimits::default()
            },
        }
    }

    fn sha256_of(path: &Path) -> String {
        hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
    }

    #[test]
    fn live_snapshot_shows_this_process_its_child_and_its_sockets() {
        let dir = TempDir::new("snapshot");
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();

        let snapshot = collect(&sources(&dir));
        child.kill().unwrap();
        child.wait().unwrap();

        let me = std::process::id();
        let find = |pid: u32| snapshot.processes.iter().find(|p| p.pid == pid);
        let this = find(me).expect("the test process is in the snapshot");
        let exe = std::env::current_exe().unwrap();
        assert_eq!(this.exe.as_deref(), Some(exe.to_str().unwrap()));
        assert_eq!(this.sha256.as_deref(), Some(sha256_of(&exe).as_str()));
        assert!(this.start_time > 0.0, "{this:?}");

        let sleep = find(child.id()).expect("the child is in the snapshot");
        assert_eq!(sleep.ppid, me);
        assert_eq!(sleep.name, "sleep");
        assert_eq!(sleep.cmdline, ["sleep", "30"]);
        let sleep_exe = PathBuf::from(sleep.exe.as_deref().unwrap());
        assert!(sleep_exe.ends_with("sleep"), "{sleep:?}");
        assert_eq!(sleep.sha256, Some(sha256_of(&sleep_exe)));
        assert!(sleep.start_time >= this.start_time, "{sleep:?} {this:?}");

        let port = tcp.local_addr().unwrap().port();
        let listener = snapshot
            .listening
            .iter()
            .find(|l| l.protocol == "tcp" && l.port == port)
            .expect("the TCP listener is in the snapshot");
        assert_eq!(listener.address, IpAddr::from([127, 0, 0, 1]));
        assert_eq!(listener.pids, [me]);
        let port = udp.local_addr().unwrap().port();
        let bound = snapshot
            .listening
            .iter()
            .find(|l| l.protocol == "udp" && l.port == port)
            .expect("the UDP socket is in the snapshot");
        assert_eq!(bound.pids, [me]);

        assert_eq!(snapshot.summary.processes, snapshot.processes.len());
        assert!(snapshot.collected_at > 1_700_000_000);
        let json = serde_json::to_value(&snapshot).unwrap();
        assert!(
            json["summary"]["processes"].as_u64().unwrap() >= 2,
            "{}",
            json["summary"]
        );
    }

    // The expected fingerprints are `ssh-keygen -lf` (OpenSSH 9.2p1) of
    // these keys, generated with `ssh-keygen -t ed25519|rsa|ecdsa`.
    const ED25519: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHmk7XgS4vsfSOOva+Gyu0/GjwNf8JHvhft88UO84Ey+ alice@laptop";
    const ED25519_FINGERPRINT: &str = "SHA256:Urs9LLiT6iI2uOTCQ0pK5nV90J5TMi8VrqfB3HHHtyU";
    const RSA: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDFXW+vIyOS3e61E9yJRUZu4lAwNEgxfXUvWVqywJeqAusffnJCUI26vlO45sQ6zs3D8ap4SM5FJnC9W0BqH63FARjfvUKivEcQaoaq9o6PBExu2Erw2tmsZ4QqxUQsAelUDjQS2HbL/1vplNFjZkC9LexhfzINtJ6CZKXMClDcPw== deploy key";
    const RSA_FINGERPRINT: &str = "SHA256:heAzjqyDUPzZl61ihRqGVwhCVqvSmppO91GbeTYjefk";
    const ECDSA: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBFrgkTODbl8QEOrSvQ7SOBO0MlW0mzC6ZqHwiG2oGfXQUZ4KwOyu/CrPYq2NoYaM+Z3BR1oWik37+gp4DbjJ3gg=";
    const ECDSA_FINGERPRINT: &str = "SHA256:jA7Hh7/jGN8hvIqDfRGeRNw0nnGsbolzRF5aW+V0SzM";

    #[test]
    fn authorized_keys_give_ssh_keygen_fingerprints() {
        let dir = TempDir::new("snapshot");
        let alice = dir.0.join("home/alice");
        let bob = dir.0.join("home/bob");
        std::fs::create_dir_all(&bob).unwrap();
        dir.write(
            "etc/passwd",
            format!(
                "root:x:0:0:root:{root}:/bin/bash\n\
                 alice:x:1000:1000:Alice:{alice}:/bin/bash\n\
                 alice2:x:1001:1000::{alice}:/bin/sh\n\
                 bob:x:1002:1002::{bob}:/usr/sbin/nologin\n\
                 broken line with hunter2\n",
                root = dir.0.join("home/nobody-here").display(),
                alice = alice.display(),
                bob = bob.display(),
            ),
        );
        dir.write(
            "home/alice/.ssh/authorized_keys",
            format!(
                "# laptop\n{ED25519}\n\n\
                 command=\"echo hi there\",no-pty {RSA}\n\
                 ssh-ed25519 not-base64-hunter2 x\n"
            ),
        );
        dir.write("home/alice/.ssh/authorized_keys2", format!("{ECDSA}\n"));

        let snapshot = collect(&sources(&dir));

        assert_eq!(snapshot.users.len(), 4, "{:?}", snapshot.users);
        assert_eq!(snapshot.users[3].shell, "/usr/sbin/nologin");
        let keys: Vec<(&str, &str, &str, usize)> = snapshot
            .authorized_keys
            .iter()
            .map(|k| {
                (
                    k.key_type.as_str(),
                    k.fingerprint.as_str(),
                    k.comment.as_str(),
                    k.line,
                )
            })
            .collect();
        assert_eq!(
            keys,
            [
                ("ssh-ed25519", ED25519_FINGERPRINT, "alice@laptop", 2),
                ("ssh-rsa", RSA_FINGERPRINT, "deploy key", 4),
                ("ecdsa-sha2-nistp256", ECDSA_FINGERPRINT, "", 1),
            ]
        );
        assert!(snapshot.authorized_keys.iter().all(|k| k.user == "alice"));
        assert_eq!(
            snapshot.authorized_keys[1].options.as_deref(),
            Some("command=\"echo hi there\",no-pty")
        );

        // The bad key line and the bad passwd line are errors that do not
        // quote their content.
        let errors = snapshot.errors.join("\n");
        assert!(errors.contains("authorized_keys line 5"), "{errors}");
        assert!(errors.contains("passwd line 5"), "{errors}");
        assert!(!errors.contains("hunter2"), "{errors}");
    }

    #[test]
    fn crontabs_and_systemd_units_are_listed() {
        let dir = TempDir::new("snapshot");
        dir.write(
            "etc/crontab",
            "SHELL=/bin/sh\n# m h dom mon dow user command\n\n17 * * * * root cd / && run-parts --report /etc/cron.hourly\n",
        );
        dir.write("etc/cron.d/miner", "  * * * * * root /dev/shm/.x/miner  \n");
        std::os::unix::fs::symlink("/etc/shadow", dir.0.join("etc/cron.d/linked")).unwrap();
        let vendor = dir.write(
            "lib/systemd/system/ssh.service",
            "[Service]\nExecStartPre=/usr/sbin/sshd -t\nExecStart=/usr/sbin/sshd -D $SSHD_OPTS\nExecReload=/bin/kill -HUP $MAINPID\n",
        );
        let system = "etc/systemd/system";
        dir.write(
            &format!("{system}/backdoor.service"),
            "[Unit]\nDescription=x\n[Service]\nExecStart=/tmp/.b -l 4444\n[Install]\nWantedBy=multi-user.target\n",
        );
        let wants = dir.0.join(system).join("multi-user.target.wants");
        std::fs::create_dir_all(&wants).unwrap();
        std::os::unix::fs::symlink("../backdoor.service", wants.join("backdoor.service")).unwrap();
        std::os::unix::fs::symlink(&vendor, wants.join("ssh.service")).unwrap();
        std::os::unix::fs::symlink("/dev/null", dir.0.join(system).join("apt-daily.timer"))
            .unwrap();

        let snapshot = collect(&sources(&dir));

        let cron: Vec<(&str, &[String])> = snapshot
            .cron
            .iter()
            .map(|c| (c.file.rsplit('/').next().unwrap(), &c.entries[..]))
            .collect();
        assert_eq!(cron.len(), 2, "{cron:?}");
        assert_eq!(cron[0].0, "crontab");
        assert_eq!(
            cron[0].1,
            [
                "SHELL=/bin/sh",
                "17 * * * * root cd / && run-parts --report /etc/cron.hourly"
            ]
        );
        assert_eq!(
            cron[1],
            (
                "miner",
                &["* * * * * root /dev/shm/.x/miner".to_owned()][..]
            )
        );
        assert!(
            snapshot
                .errors
                .iter()
                .any(|e| e.contains("linked") && e.contains("symbolic link"))
        );
        assert_eq!(snapshot.summary.cron_entries, 3);

        let units: BTreeMap<&str, &Unit> = snapshot
            .systemd_units
            .iter()
            .map(|u| (u.name.as_str(), u))
            .collect();
        assert_eq!(units.len(), 3, "{units:?}");
        let backdoor = units["backdoor.service"];
        assert_eq!(backdoor.wanted_by, ["multi-user.target"]);
        assert_eq!(backdoor.exec, ["ExecStart=/tmp/.b -l 4444"]);
        assert!(
            backdoor
                .file
                .ends_with("etc/systemd/system/backdoor.service"),
            "{backdoor:?}"
        );
        let ssh = units["ssh.service"];
        assert_eq!(ssh.file, vendor.to_str().unwrap());
        assert_eq!(
            ssh.exec,
            [
                "ExecStartPre=/usr/sbin/sshd -t",
                "ExecStart=/usr/sbin/sshd -D $SSHD_OPTS"
            ]
        );
        let timer = units["apt-daily.timer"];
        assert!(timer.masked && timer.exec.is_empty() && timer.wanted_by.is_empty());
    }

    #[test]
    fn recent_executables_are_hashed_and_bounded() {
        let dir = TempDir::new("snapshot");
        let tool = dir.write("bin/tool", "#!/bin/sh\necho tool\n");
        let nested = dir.write("bin/.hidden/deep/implant", "\x7fELF not really");
        let data = dir.write("bin/notes.txt", "not executable");
        for path in [&tool, &nested] {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::os::unix::fs::symlink(&tool, dir.0.join("bin/link")).unwrap();

        let mut sources = sources(&dir);
        let snapshot = collect(&sources);
        let found: BTreeMap<&str, &RecentExecutable> = snapshot
            .recent_executables
            .iter()
            .map(|e| (e.path.as_str(), e))
            .collect();
        assert_eq!(found.len(), 2, "{found:?}");
        let implant = found[nested.to_str().unwrap()];
        assert_eq!(implant.sha256, Some(sha256_of(&nested)));
        assert_eq!(implant.mode, 0o755);
        assert_eq!(found[tool.to_str().unwrap()].sha256, Some(sha256_of(&tool)));

        sources.limits.max_recent_executables = 1;
        sources.limits.max_hash_bytes = 8;
        let snapshot = collect(&sources);
        assert_eq!(snapshot.recent_executables.len(), 1);
        assert_eq!(snapshot.recent_executables[0].sha256, None);
        assert!(
            snapshot
                .summary
                .truncated
                .iter()
                .any(|t| t.starts_with("recent executables")),
            "{:?}",
            snapshot.summary.truncated
        );
        assert!(
            snapshot
                .errors
                .iter()
                .any(|e| e.contains("bytes hashed per file"))
        );
    }

    /// A glibc x86_64 `struct utmp` with the given fields.
    fn utmp_record(
        kind: i16,
        pid: i32,
        tty: &str,
        user: &str,
        host: &str,
        time: u32,
        addr: [u8; 16],
    ) -> Vec<u8> {
        let mut record = vec![0u8; UTMP_RECORD];
        record[0..2].copy_from_slice(&kind.to_le_bytes());
        record[4..8].copy_from_slice(&pid.to_le_bytes());
        record[8..8 + tty.len()].copy_from_slice(tty.as_bytes());
        record[40..44].copy_from_slice(b"ts/0");
        record[44..44 + user.len()].copy_from_slice(user.as_bytes());
        record[76..76 + host.len()].copy_from_slice(host.as_bytes());
        record[336..340].copy_from_slice(&77i32.to_le_bytes());
        record[340..344].copy_from_slice(&time.to_le_bytes());
        record[344..348].copy_from_slice(&123_456u32.to_le_bytes());
        record[348..364].copy_from_slice(&addr);
        record
    }

    #[test]
    fn utmp_user_process_records_are_sessions() {
        let dir = TempDir::new("snapshot");
        let mut v4 = [0u8; 16];
        v4[..4].copy_from_slice(&[203, 0, 113, 9]);
        let v6: [u8; 16] = "2001:db8::7".parse::<Ipv6Addr>().unwrap().octets();
        let mut file = utmp_record(2, 0, "~", "reboot", "6.1.0", 1_700_000_000, [0; 16]);
        file.extend(utmp_record(
            7,
            4242,
            "pts/0",
            "alice",
            "203.0.113.9",
            1_700_000_100,
            v4,
        ));
        file.extend(utmp_record(
            6,
            4300,
            "tty1",
            "LOGIN",
            "",
            1_700_000_200,
            [0; 16],
        ));
        file.extend(utmp_record(
            7,
            4343,
            "pts/1",
            "bob",
            "laptop.example",
            1_700_000_300,
            v6,
        ));
        file.extend(utmp_record(
            7,
            4444,
            "tty2",
            "root",
            "",
            1_700_000_400,
            [0; 16],
        ));
        std::fs::create_dir_all(dir.0.join("run")).unwrap();
        std::fs::write(dir.0.join("run/utmp"), &file).unwrap();

        let snapshot = collect(&sources(&dir));
        assert_eq!(
            snapshot.sessions,
            [
                Session {
                    user: "alice".into(),
                    tty: "pts/0".into(),
                    host: "203.0.113.9".into(),
                    pid: 4242,
                    login_time: 1_700_000_100,
                    address: Some(IpAddr::from([203, 0, 113, 9])),
                },
                Session {
                    user: "bob".into(),
                    tty: "pts/1".into(),
                    host: "laptop.example".into(),
                    pid: 4343,
                    login_time: 1_700_000_300,
                    address: Some(IpAddr::V6(v6.into())),
                },
                Session {
                    user: "root".into(),
                    tty: "tty2".into(),
                    host: String::new(),
                    pid: 4444,
                    login_time: 1_700_000_400,
                    address: None,
                },
            ]
        );

        // No utmp (containers often have none): no sessions, no error.
        std::fs::remove_file(dir.0.join("run/utmp")).unwrap();
        let snapshot = collect(&sources(&dir));
        assert!(snapshot.sessions.is_empty());
        assert!(
            !snapshot.errors.iter().any(|e| e.contains("utmp")),
            "{:?}",
            snapshot.errors
        );
    }

    #[test]
    fn stat_lines_with_odd_names_parse() {
        let stat =
            "4242 (a) b (c)) S 17 4242 4242 0 -1 4194560 120 0 0 0 1 2 0 0 20 0 1 0 987654 1234 56";
        assert_eq!(parse_stat(stat), Some(("a) b (c)".into(), 17, 987_654)));
        assert_eq!(parse_stat("4242 (short) S 1"), None);
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn proc_net_addresses_parse() {
        assert_eq!(
            parse_socket_address("0100007F:1F90"),
            Some((IpAddr::from([127, 0, 0, 1]), 8080))
        );
        assert_eq!(
            parse_socket_address("00000000000000000000000001000000:0050"),
            Some((IpAddr::V6(Ipv6Addr::LOCALHOST), 80))
        );
        assert_eq!(
            parse_socket_address("B80D0120000000000000000007000000:01BB"),
            Some(("2001:db8::7".parse().unwrap(), 443))
        );
        assert_eq!(parse_socket_address("0100007F"), None);
        let listen = "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 55555 1 0000000000000000 100 0 0 10 0";
        let found = parse_socket("tcp", listen).unwrap().unwrap();
        assert_eq!((found.port, found.uid, found.inode), (8080, 1000, 55555));
        let established = listen.replace(" 0A ", " 01 ");
        assert!(parse_socket("tcp", &established).unwrap().is_none());
    }
}
