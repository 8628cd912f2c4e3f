//! Killing processes: by pid, checked against the start time and
//! executable the alert saw, or every process running an executable with
//! a given SHA-256.
//!
//! A pid is opened as a pidfd first and checked after, so the signal goes
//! to the process that was checked even if the pid is reused in between.
//! SIGTERM comes first; SIGKILL follows when the process is still there
//! after the grace period. Pid 1, the agent itself and kernel threads are
//! never signalled.

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use riposte_sdk::agent::{KillReport, KillRequest, KilledProcess};
use sha2::{Digest, Sha256};

use super::AgentError;

/// The longest grace period a request may ask for.
const MAX_GRACE: Duration = Duration::from_secs(30);

/// The grace period when the request names none.
const DEFAULT_GRACE: Duration = Duration::from_secs(2);

/// How far a start time may be from the one the kernel reports, in
/// seconds: alerts round, and boot time has whole-second precision.
const START_TOLERANCE: f64 = 1.5;

/// `PF_KTHREAD` in `/proc/<pid>/stat`'s flags.
const PF_KTHREAD: u64 = 0x0020_0000;

/// What `/proc/<pid>/stat` and `/proc/<pid>/exe` say of a process.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessInfo {
    /// The pid.
    pub pid: u32,
    /// The command name.
    pub name: String,
    /// One-letter state (`R`, `S`, `Z`, ...).
    pub state: char,
    /// Start time in clock ticks since boot.
    pub start_ticks: u64,
    /// Whether it is a kernel thread.
    pub kernel_thread: bool,
    /// The executable, when readable (`(deleted)` suffix removed).
    pub exe: Option<PathBuf>,
}

impl ProcessInfo {
    /// Reads process `pid`; `None` when it does not exist (or is a zombie).
    pub fn read(pid: u32) -> Option<Self> {
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let info = Self::parse_stat(pid, &stat)?;
        if info.state == 'Z' || info.state == 'X' {
            return None;
        }
        Some(info)
    }

    fn parse_stat(pid: u32, stat: &str) -> Option<Self> {
        let (name, fields) = stat_fields(stat)?;
        let state = fields.first()?.chars().next()?;
        let flags: u64 = fields.get(9 - 3)?.parse().ok()?;
        let start_ticks: u64 = fields.get(22 - 3)?.parse().ok()?;
        let exe = fs::read_link(format!("/proc/{pid}/exe")).ok().map(|path| {
            let text = path.to_string_lossy();
            match text.strip_suffix(" (deleted)") {
                Some(stripped) => PathBuf::from(stripped),
                None => path,
            }
        });
        Some(Self {
            pid,
            name,
            state,
            start_ticks,
            kernel_thread: flags & PF_KTHREAD != 0 || pid == 2,
            exe,
        })
    }

    /// Seconds since boot at which it started.
    pub fn start_seconds(&self) -> f64 {
        self.start_ticks as f64 / clock_ticks() as f64
    }
}

/// The command name of a `/proc/<pid>/stat` line and the fields after it,
/// from field 3 (state) on: `fields[n - 3]` is proc(5)'s field n. The name
/// is between the first `(` and the last `)`, since it may hold both.
pub(crate) fn stat_fields(stat: &str) -> Option<(String, Vec<&str>)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?.to_owned();
    Some((name, stat.get(close + 1..)?.split_whitespace().collect()))
}

/// Clock ticks per second in `/proc/<pid>/stat` times (`USER_HZ`).
pub(crate) fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as u64 } else { 100 }
}

/// Boot time, Unix seconds, from `/proc/stat`.
fn boot_time() -> Result<u64, AgentError> {
    let stat =
        fs::read_to_string("/proc/stat").map_err(|err| AgentError::io("/proc/stat", &err))?;
    stat.lines()
        .find_map(|line| line.strip_prefix("btime ")?.trim().parse().ok())
        .ok_or_else(|| AgentError::Internal("/proc/stat has no btime line".into()))
}

/// A start time as a request gives it: seconds since boot, or an RFC 3339
/// time.
fn expected_start(text: &str) -> Result<f64, AgentError> {
    if let Ok(seconds) = text.trim().parse::<f64>()
        && seconds.is_finite()
        && seconds >= 0.0
    {
        return Ok(seconds);
    }
    let time = crate::model::Time::parse(text.trim()).map_err(|err| {
        AgentError::InvalidInput(format!(
            "`start_time` is `{text}`; expected seconds since boot or an RFC 3339 time ({err})"
        ))
    })?;
    Ok(time.millis() as f64 / 1000.0 - boot_time()? as f64)
}

/// Whether `info` may be signalled at all.
fn spare_reason(info: &ProcessInfo) -> Option<String> {
    if info.pid == 1 {
        Some(format!("pid 1 ({}) is init and is never killed", info.name))
    } else if info.pid == std::process::id() {
        Some(format!("pid {} is the agent itself", info.pid))
    } else if info.kernel_thread {
        Some(format!(
            "pid {} ({}) is a kernel thread",
            info.pid, info.name
        ))
    } else {
        None
    }
}

/// Carries out a kill request.
pub fn kill(request: &KillRequest) -> Result<KillReport, AgentError> {
    let grace = match request.grace_ms {
        Some(ms) if Duration::from_millis(ms) > MAX_GRACE => {
            return Err(AgentError::InvalidInput(format!(
                "`grace_ms` is {ms}; expected at most {}",
                MAX_GRACE.as_millis()
            )));
        }
        Some(ms) => Duration::from_millis(ms),
        None => DEFAULT_GRACE,
    };
    let sha256 = match &request.sha256 {
        Some(hash) => Some(checked_hash(hash)?),
        None => None,
    };
    match (request.pid, sha256) {
        (Some(pid), hash) => kill_pid(pid, request, hash.as_deref(), grace),
        (None, Some(hash)) => kill_by_hash(&hash, grace),
        (None, None) => Err(AgentError::InvalidInput(
            "a kill names `pid` or `sha256`; the request has neither".into(),
        )),
    }
}

fn checked_hash(hash: &str) -> Result<String, AgentError> {
    let hash = hash.to_ascii_lowercase();
    if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(hash)
    } else {
        Err(AgentError::InvalidInput(format!(
            "`sha256` is `{hash}`; expected 64 hex digits"
        )))
    }
}

fn kill_pid(
    pid: u32,
    request: &KillRequest,
    hash: Option<&str>,
    grace: Duration,
) -> Result<KillReport, AgentError> {
    if pid == 0 || pid > i32::MAX as u32 {
        return Err(AgentError::InvalidInput(format!(
            "pid {pid} is not a process id"
        )));
    }
    // Open first, check second: whatever the checks see is the process
    // the descriptor signals.
    let Some(handle) = PidHandle::open(pid)? else {
        return Ok(KillReport::default());
    };
    let Some(info) = ProcessInfo::read(pid) else {
        return Ok(KillReport::default());
    };
    if let Some(reason) = spare_reason(&info) {
        return Err(AgentError::Refused(reason));
    }
    if let Some(expected) = &request.start_time {
        let expected = expected_start(expected)?;
        let actual = info.start_seconds();
        if (expected - actual).abs() > START_TOLERANCE {
            return Err(AgentError::Conflict(format!(
                "pid {pid} ({}) started {actual:.2}s after boot, not {expected:.2}s: the pid \
                 was reused by another process, which is left running",
                info.name
            )));
        }
    }
    if let Some(exe) = &request.exe
        && info.exe.as_deref() != Some(Path::new(exe))
    {
        return Err(AgentError::Conflict(format!(
            "pid {pid} runs `{}`, not `{exe}`; it is left running",
            info.exe
                .as_deref()
                .map_or("(unreadable)".into(), |p| p.display().to_string())
        )));
    }
    if let Some(hash) = hash {
        let exe = info.exe.clone().ok_or_else(|| {
            AgentError::Conflict(format!(
                "pid {pid}'s executable cannot be read to check its hash"
            ))
        })?;
        let actual = file_sha256(&format!("/proc/{pid}/exe"))
            .map_err(|err| AgentError::io(format!("hashing {}", exe.display()), &err))?;
        if actual != hash {
            return Err(AgentError::Conflict(format!(
                "pid {pid} runs `{}` with SHA-256 {actual}, not {hash}; it is left running",
                exe.display()
            )));
        }
    }
    let signal = terminate(&handle, &info, grace)?;
    Ok(KillReport {
        killed: vec![KilledProcess {
            pid,
            exe: display_exe(&info),
            signal: signal.into(),
        }],
        spared: Vec::new(),
    })
}

fn kill_by_hash(hash: &str, grace: Duration) -> Result<KillReport, AgentError> {
    let mut report = KillReport::default();
    // Keyed by the executable's device and inode (what the process runs),
    // not its path: a replaced or deleted binary is hashed for what it is.
    let mut hashes: HashMap<(u64, u64), Option<String>> = HashMap::new();
    let mut targets = Vec::new();
    let entries = fs::read_dir("/proc").map_err(|err| AgentError::io("/proc", &err))?;
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Some(handle) = PidHandle::open(pid).ok().flatten() else {
            continue;
        };
        let Some(info) = ProcessInfo::read(pid) else {
            continue;
        };
        if info.exe.is_none() {
            continue;
        }
        let running = format!("/proc/{pid}/exe");
        let Ok(file) = fs::metadata(&running) else {
            continue;
        };
        let digest = hashes
            .entry((file.dev(), file.ino()))
            .or_insert_with(|| file_sha256(&running).ok());
        if digest.as_deref() != Some(hash) {
            continue;
        }
        match spare_reason(&info) {
            Some(reason) => report.spared.push(reason),
            None => targets.push((handle, info)),
        }
    }
    // TERM to all, one grace period for all, then KILL to the rest: fifty
    // stubborn processes take one grace period, not fifty.
    for (handle, _) in &targets {
        handle.signal(libc::SIGTERM)?;
    }
    let deadline = Instant::now() + grace;
    let mut stubborn = Vec::new();
    for (handle, info) in targets {
        let left = deadline.saturating_duration_since(Instant::now());
        if handle.wait_exit(&info, left) {
            report.killed.push(killed(&info, "TERM"));
        } else {
            handle.signal(libc::SIGKILL)?;
            stubborn.push((handle, info));
        }
    }
    for (handle, info) in stubborn {
        if !handle.wait_exit(&info, Duration::from_secs(5)) {
            return Err(AgentError::Internal(format!(
                "pid {} is still running 5 s after SIGKILL (uninterruptible sleep?)",
                info.pid
            )));
        }
        report.killed.push(killed(&info, "KILL"));
    }
    Ok(report)
}

fn killed(info: &ProcessInfo, signal: &str) -> KilledProcess {
    KilledProcess {
        pid: info.pid,
        exe: display_exe(info),
        signal: signal.into(),
    }
}

fn display_exe(info: &ProcessInfo) -> String {
    info.exe
        .as_deref()
        .map_or_else(|| info.name.clone(), |p| p.display().to_string())
}

/// SIGTERM, wait up to `grace`, then SIGKILL; answers the last signal.
fn terminate(
    handle: &PidHandle,
    info: &ProcessInfo,
    grace: Duration,
) -> Result<&'static str, AgentError> {
    handle.signal(libc::SIGTERM)?;
    if handle.wait_exit(info, grace) {
        return Ok("TERM");
    }
    handle.signal(libc::SIGKILL)?;
    if handle.wait_exit(info, Duration::from_secs(5)) {
        return Ok("KILL");
    }
    Err(AgentError::Internal(format!(
        "pid {} is still running 5 s after SIGKILL (uninterruptible sleep?)",
        info.pid
    )))
}

/// Whether the process `info` describes is still alive (not a zombie, and
/// the pid not taken by another process).
fn still_running(info: &ProcessInfo) -> bool {
    ProcessInfo::read(info.pid).is_some_and(|now| now.start_ticks == info.start_ticks)
}

/// SHA-256 of a file, read in chunks.
pub fn file_sha256(path: &str) -> std::io::Result<String> {
    sha256_of(fs::File::open(path)?)
}

/// SHA-256 of everything `reader` yields, read in chunks.
pub(crate) fn sha256_of(mut reader: impl Read) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let read = reader.read(&mut buf)?;
        if read == 0 {
            break;
        }
        hasher.update(&buf[..read]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// A pidfd: signals go to the process it was opened on, never to a later
/// holder of the pid.
struct PidHandle {
    fd: Option<std::os::fd::OwnedFd>,
    pid: u32,
}

impl PidHandle {
    /// `None` when no such process exists.
    fn open(pid: u32) -> Result<Option<Self>, AgentError> {
        use std::os::fd::FromRawFd;
        // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
        if fd >= 0 {
            // SAFETY: the kernel just returned this descriptor to us.
            let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) };
            return Ok(Some(Self { fd: Some(fd), pid }));
        }
        let err = std::io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::ESRCH) => Ok(None),
            // Kernels before 5.3: plain kill(2) after the same checks.
            Some(libc::ENOSYS) => Ok(Some(Self { fd: None, pid })),
            _ => Err(AgentError::Internal(format!("pidfd_open({pid}): {err}"))),
        }
    }

    /// Waits up to `limit` for the process to exit; true when it did.
    /// A pidfd becomes readable at exit (zombies included), so the wait
    /// ends at once; without one, /proc is polled every millisecond.
    fn wait_exit(&self, info: &ProcessInfo, limit: Duration) -> bool {
        use std::os::fd::AsRawFd;
        let deadline = Instant::now() + limit;
        loop {
            if !still_running(info) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            match &self.fd {
                Some(fd) => {
                    let mut poll = libc::pollfd {
                        fd: fd.as_raw_fd(),
                        events: libc::POLLIN,
                        revents: 0,
                    };
                    let millis = left.as_millis().min(i32::MAX as u128) as i32;
                    // SAFETY: one valid pollfd, its count, a timeout.
                    let ready = unsafe { libc::poll(&mut poll, 1, millis.max(1)) };
                    if ready > 0 {
                        return true;
                    }
                    if ready < 0 {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
                None => std::thread::sleep(Duration::from_millis(1)),
            }
        }
    }

    fn signal(&self, signal: i32) -> Result<(), AgentError> {
        use std::os::fd::AsRawFd;
        let result = match &self.fd {
            // SAFETY: a valid pidfd, a signal number, no siginfo, no flags.
            Some(fd) => unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    fd.as_raw_fd(),
                    signal,
                    std::ptr::null::<libc::siginfo_t>(),
                    0,
                )
            },
            // SAFETY: kill has no memory preconditions.
            None => libc::c_long::from(unsafe { libc::kill(self.pid as libc::pid_t, signal) }),
        };
        if result == 0 {
            return Ok(());
        }
        let err = std::io::Error::last_os_error();
        match err.raw_os_error() {
            // Gone already: what we wanted.
            Some(libc::ESRCH) => Ok(()),
            Some(libc::EPERM) => Err(AgentError::Refused(format!(
                "the agent may not signal pid {}: {err}",
                self.pid
            ))),
            _ => Err(AgentError::Internal(format!(
                "signalling pid {}: {err}",
                self.pid
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Child, Command};

    fn sleeper() -> Child {
        Command::new("sleep").arg("30").spawn().unwrap()
    }

    fn request(pid: u32) -> KillRequest {
        KillRequest {
            idempotency_key: "k".into(),
            pid: Some(pid),
            grace_ms: Some(2000),
            ..KillRequest::default()
        }
    }

    #[test]
    fn a_sleep_child_is_terminated_and_a_repeat_finds_it_gone() {
        let mut child = sleeper();
        let pid = child.id();
        let info = ProcessInfo::read(pid).unwrap();
        let mut kill_request = request(pid);
        kill_request.start_time = Some(format!("{:.2}", info.start_seconds()));
        kill_request.exe = info.exe.as_ref().map(|p| p.display().to_string());
        let report = kill(&kill_request).unwrap();
        assert_eq!(report.killed.len(), 1);
        assert_eq!(report.killed[0].signal, "TERM");
        let status = child.wait().unwrap();
        assert!(!status.success());
        let again = kill(&kill_request).unwrap();
        assert!(again.killed.is_empty(), "{again:?}");
    }

    #[test]
    fn a_pid_with_another_start_time_or_executable_is_left_running() {
        let mut child = sleeper();
        let pid = child.id();
        let info = ProcessInfo::read(pid).unwrap();
        let mut reused = request(pid);
        reused.start_time = Some(format!("{:.2}", info.start_seconds() - 100.0));
        let err = kill(&reused).unwrap_err();
        assert!(
            matches!(err, AgentError::Conflict(ref m) if m.contains("reused")),
            "{err}"
        );
        let mut other_exe = request(pid);
        other_exe.exe = Some("/usr/sbin/sshd".into());
        assert!(matches!(kill(&other_exe), Err(AgentError::Conflict(_))));
        assert!(child.try_wait().unwrap().is_none(), "the child still runs");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn a_process_that_ignores_term_gets_kill_after_the_grace_period() {
        let mut child = Command::new("sh")
            .args(["-c", "trap '' TERM; read line"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Let the shell install its trap before the signal arrives.
        std::thread::sleep(Duration::from_millis(200));
        let mut stubborn = request(child.id());
        stubborn.grace_ms = Some(300);
        let started = Instant::now();
        let report = kill(&stubborn).unwrap();
        assert_eq!(report.killed[0].signal, "KILL");
        assert!(started.elapsed() >= Duration::from_millis(300));
        let status = child.wait().unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(libc::SIGKILL)
        );
    }

    #[test]
    fn init_the_agent_and_kernel_threads_are_refused() {
        for pid in [1, std::process::id(), 2] {
            let err = kill(&request(pid)).unwrap_err();
            assert!(matches!(err, AgentError::Refused(_)), "pid {pid}: {err}");
        }
    }

    #[test]
    fn every_process_of_an_executable_hash_is_killed_and_others_are_not() {
        // A private copy of `sleep` with bytes appended, so that only our
        // children carry its hash and a plain `sleep` is a bystander.
        let dir = std::env::temp_dir().join(format!("riposte-kill-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let copy = dir.join("sleepy");
        let sleep = which("sleep");
        let mut bytes = fs::read(&sleep).unwrap();
        bytes.extend_from_slice(b"riposte kill-by-hash test");
        fs::write(&copy, bytes).unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&copy, fs::Permissions::from_mode(0o755)).unwrap();
        let hash = file_sha256(copy.to_str().unwrap()).unwrap();
        let mut mine: Vec<Child> = (0..2)
            .map(|_| Command::new(&copy).arg("30").spawn().unwrap())
            .collect();
        let mut bystander = Command::new("sh").args(["-c", "sleep 30"]).spawn().unwrap();
        let report = kill(&KillRequest {
            idempotency_key: "k".into(),
            sha256: Some(hash),
            grace_ms: Some(2000),
            ..KillRequest::default()
        })
        .unwrap();
        let mut killed: Vec<u32> = report.killed.iter().map(|k| k.pid).collect();
        killed.sort();
        let mut expected: Vec<u32> = mine.iter().map(Child::id).collect();
        expected.sort();
        assert_eq!(killed, expected);
        for child in &mut mine {
            child.wait().unwrap();
        }
        assert!(bystander.try_wait().unwrap().is_none());
        bystander.kill().unwrap();
        bystander.wait().unwrap();
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_requests_name_the_problem() {
        let neither = KillRequest::default();
        assert!(matches!(kill(&neither), Err(AgentError::InvalidInput(_))));
        let mut long = request(12345);
        long.grace_ms = Some(60_000);
        assert!(matches!(kill(&long), Err(AgentError::InvalidInput(m)) if m.contains("grace_ms")));
        let mut hash = request(12345);
        hash.sha256 = Some("xyz".into());
        assert!(matches!(kill(&hash), Err(AgentError::InvalidInput(m)) if m.contains("64 hex")));
    }

    fn which(name: &str) -> PathBuf {
        std::env::var_os("PATH")
            .and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|dir| dir.join(name))
                    .find(|path| path.is_file())
            })
            .unwrap()
    }
}
