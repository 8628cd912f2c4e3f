//! The `riposte` client end to end: the real binary against a mock of the
//! HTTP API on 127.0.0.1, checking the requests it sends (method, path,
//! query, `Authorization`, body) and what it prints.
//!
//! The binary is the one cargo builds for the host crate's tests
//! (`CARGO_BIN_EXE_riposte`).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The token every test passes, which must never be printed.
const TOKEN: &str = "rpt_cli_test_token_0123456789";

/// A request as the mock read it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    /// Path and query, as sent.
    target: String,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    fn query(&self, name: &str) -> Option<String> {
        let (_, query) = self.target.split_once('?')?;
        query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.to_string())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// What the mock answers: status, content type, body.
type Reply = (u16, &'static str, String);

type Route = dyn Fn(&Seen) -> Reply + Send + Sync;

/// An HTTP/1.1 mock of the API on 127.0.0.1 (the OS picks the port). It
/// records every request and answers each with `route`, one request per
/// connection. Stops accepting when dropped.
struct Mock {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
}

impl Mock {
    fn start(route: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let route: Arc<Route> = Arc::new(route);
        let (log, stopped) = (seen.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let (route, log) = (route.clone(), log.clone());
                std::thread::spawn(move || answer(stream, &*route, &log));
            }
        });
        Self { addr, seen, stop }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Waits until `done` holds for the requests seen, or panics.
    fn wait_for(&self, what: &str, done: impl Fn(&[Seen]) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !done(&self.seen()) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {:#?}",
                self.seen()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

impl Drop for Mock {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

fn answer(stream: TcpStream, route: &Route, log: &Mutex<Vec<Seen>>) {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(stream);
    let mut start = String::new();
    if reader.read_line(&mut start).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = start.split_whitespace();
    let (method, target) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let mut headers = BTreeMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|value| value.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let seen = Seen {
        method: method.to_string(),
        target: target.to_string(),
        headers,
        body,
    };
    log.lock().unwrap().push(seen.clone());

    let (status, content_type, body) = route(&seen);
    let mut stream = reader.into_inner();
    let head = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body.as_bytes());
}

fn ok(value: Value) -> Reply {
    (200, "application/json", value.to_string())
}

fn problem(status: u16, title: &str, detail: &str, errors: &[&str]) -> Reply {
    let mut body = json!({
        "type": format!("https://riposte.dev/problems/{}", title.to_lowercase()),
        "title": title, "status": status, "detail": detail,
    });
    if !errors.is_empty() {
        body["errors"] = json!(errors);
    }
    (status, "application/problem+json", body.to_string())
}

/// The `riposte` binary cargo built for these tests.
fn riposte_bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_riposte"))
}

/// A scratch directory with a token file; removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("riposte-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("token"), format!("{TOKEN}\n")).unwrap();
        Self(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `riposte` with a clean environment: no RIPOSTE_* variables, and a
/// home, config and data directory inside `scratch`, so nothing of the
/// machine's own configuration leaks in.
fn riposte(scratch: &Scratch) -> Command {
    let mut command = Command::new(riposte_bin());
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &scratch.0)
        .env("XDG_CONFIG_HOME", scratch.path("config"))
        .env("RIPOSTE_DATA", scratch.path("data"))
        .stdin(Stdio::null());
    command
}

/// Runs `riposte --server URL --token-file F ARGS...`.
fn run(scratch: &Scratch, mock: &Mock, args: &[&str]) -> Output {
    riposte(scratch)
        .arg("--server")
        .arg(mock.url())
        .arg("--token-file")
        .arg(scratch.path("token"))
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn task(id: u64, status: &str, failure: Option<Value>) -> Value {
    let mut task = json!({
        "id": id, "policy_id": 3, "action": "AliyunWafBlockIP", "target": "waf-prod",
        "entity": {"kind": "ip", "value": format!("203.0.113.{id}")},
        "status": status, "attempt_count": 1,
        "created_at": "2026-12-04T18:40:17.000Z", "updated_at": "2026-12-04T18:40:18.000Z",
    });
    if let Some(failure) = failure {
        task["failure"] = failure;
    }
    task
}

#[test]
fn task_list_sends_its_filters_and_token_and_prints_a_table() {
    let scratch = Scratch::new("task-list");
    let mock = Mock::start(|_| {
        ok(json!({
            "items": [
                task(12, "Failed", Some(json!({"kind": "throttled", "message": "slow down"}))),
                task(9, "Succeeded", None),
            ],
            "next": "cursor-9",
        }))
    });

    let out = run(
        &scratch,
        &mock,
        &[
            "task",
            "list",
            "--status",
            "Failed",
            "--entity-kind",
            "ip",
            "--entity",
            "203.0.113.12",
            "--limit",
            "2",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));

    let seen = mock.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "GET");
    assert_eq!(
        seen[0].target,
        "/v1/tasks?status=Failed&entity_kind=ip&entity=203.0.113.12&limit=2"
    );
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(seen[0].header("host"), Some(mock.addr.to_string().as_str()));

    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(
        lines[0].starts_with("ID  POLICY  STATUS     ACTION"),
        "{stdout}"
    );
    assert!(
        lines[1].starts_with("12  3       Failed     AliyunWafBlockIP  waf-prod  ip:203.0.113.12"),
        "{stdout}"
    );
    assert!(lines[1].ends_with("throttled: slow down"), "{stdout}");
    assert!(lines[2].starts_with("9   3       Succeeded"), "{stdout}");
    assert!(lines[2].ends_with("  -"), "{stdout}");
    assert!(
        text(&out.stderr).contains("--before cursor-9"),
        "{}",
        text(&out.stderr)
    );

    // --json prints the answer as it came.
    let out = run(&scratch, &mock, &["--json", "task", "list"]);
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["next"], "cursor-9");
    assert_eq!(printed["items"][0]["id"], 12);
}

#[test]
fn all_follows_next_cursors() {
    let scratch = Scratch::new("all");
    let mock = Mock::start(|seen| match seen.query("before").as_deref() {
        None => ok(json!({"items": [{"id": 3, "at": "2026-12-04T18:00:00.000Z",
                                     "actor": "alice", "action": "task.unblock",
                                     "object": "task/42"}], "next": "p2"})),
        Some("p2") => ok(
            json!({"items": [{"id": 2, "actor": "bob", "action": "rule.put",
                                           "object": "rule/r1"}], "next": null}),
        ),
        Some(other) => problem(400, "Bad cursor", &format!("unknown cursor {other}"), &[]),
    });

    let out = run(
        &scratch,
        &mock,
        &["audit", "list", "--actor", "alice", "--limit", "1", "--all"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let targets: Vec<String> = mock.seen().iter().map(|s| s.target.clone()).collect();
    assert_eq!(
        targets,
        [
            "/v1/audit?actor=alice&limit=1",
            "/v1/audit?actor=alice&limit=1&before=p2"
        ]
    );
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("task/42") && stdout.contains("rule/r1"),
        "{stdout}"
    );
}

#[test]
fn a_problem_document_exits_1_with_its_detail_and_errors() {
    let scratch = Scratch::new("problem");
    let mock = Mock::start(|seen| match (seen.method.as_str(), seen.path()) {
        ("POST", "/v1/tasks/7/retry") => problem(
            409,
            "Conflict",
            "task 7 ran an irreversible action; retry it by hand on the provider",
            &[],
        ),
        ("PUT", "/v1/rules/r1") => problem(
            422,
            "Invalid rule",
            "the rule was not saved; fix the fields below",
            &[
                "field `script`: `blok` names no script",
                "field `rate_limit`: `0/1m` is not a rate limit",
            ],
        ),
        _ => (404, "text/plain", "no route\n".into()),
    });

    let out = run(&scratch, &mock, &["task", "retry", "7"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(mock.seen()[0].method, "POST");
    assert_eq!(
        text(&out.stderr),
        "error: Conflict: task 7 ran an irreversible action; retry it by hand on the provider\n"
    );

    let rule = scratch.write("rule.yaml", "name: r1\ntrigger: alert\nscript: blok\n");
    let out = run(
        &scratch,
        &mock,
        &["rule", "put", "r1", rule.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    let put = &mock.seen()[1];
    assert_eq!(put.header("content-type"), Some("application/yaml"));
    assert_eq!(put.body, b"name: r1\ntrigger: alert\nscript: blok\n");
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("error: Invalid rule: the rule was not saved"),
        "{stderr}"
    );
    assert!(
        stderr.contains("  - field `script`: `blok` names no script\n"),
        "{stderr}"
    );
    assert!(stderr.contains("  - field `rate_limit`"), "{stderr}");

    // An error that is not a problem document still says what came back.
    let out = run(&scratch, &mock, &["component", "inspect", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("404 Not Found"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stderr).contains("no route"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn refusals_name_the_token_source_and_the_role_never_the_token() {
    let scratch = Scratch::new("auth");
    let mock = Mock::start(|seen| match seen.path() {
        "/v1/tokens" => problem(403, "Forbidden", "this needs the admin role", &[]),
        _ => problem(401, "Unauthorized", "the token is unknown or revoked", &[]),
    });

    let out = riposte(&scratch)
        .env("RIPOSTE_SERVER", mock.url())
        .env("RIPOSTE_TOKEN", TOKEN)
        .args(["token", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("error: Forbidden: this needs the admin role"),
        "{stderr}"
    );
    assert!(
        stderr.contains("the token from env `RIPOSTE_TOKEN` lacks the role"),
        "{stderr}"
    );
    assert!(stderr.contains("`admin`"), "{stderr}");
    assert!(!stderr.contains(TOKEN), "{stderr}");

    let out = run(&scratch, &mock, &["task", "get", "1"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    let token_file = scratch.path("token");
    assert!(
        stderr.contains(&format!(
            "the token in `{}` (from `--token-file`)",
            token_file.display()
        )),
        "{stderr}"
    );
    assert!(!stderr.contains(TOKEN), "{stderr}");

    // No token anywhere: say how to give one.
    let out = riposte(&scratch)
        .args(["--server", &mock.url(), "task", "get", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no token was configured"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(mock.seen().last().unwrap().header("authorization"), None);
}

#[test]
fn the_config_file_and_the_data_dir_supply_server_and_token() {
    let scratch = Scratch::new("config");
    let mock = Mock::start(|_| ok(json!({"items": []})));
    std::fs::create_dir_all(scratch.path("config/riposte")).unwrap();
    scratch.write(
        "config/riposte/cli.json",
        &json!({"server": mock.url(), "token_file": "../../token"}).to_string(),
    );

    let out = riposte(&scratch).args(["rule", "list"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "no rules\n");
    let seen = mock.seen();
    assert_eq!(seen[0].target, "/v1/rules");
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );

    // Without a config file, the daemon's first admin token is used.
    std::fs::remove_file(scratch.path("config/riposte/cli.json")).unwrap();
    std::fs::create_dir_all(scratch.path("data")).unwrap();
    scratch.write("data/admin.token", "rpt_first_admin\n");
    let out = riposte(&scratch)
        .args(["--server", &mock.url(), "target", "list"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        mock.seen()[1].header("authorization"),
        Some("Bearer rpt_first_admin")
    );
}

#[test]
fn a_closed_port_says_where_and_suggests_serve() {
    let scratch = Scratch::new("refused");
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let out = riposte(&scratch)
        .args([
            "--server",
            &format!("http://127.0.0.1:{port}"),
            "task",
            "list",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("http://127.0.0.1:{port} (from `--server`)")),
        "{stderr}"
    );
    assert!(stderr.contains("riposte serve"), "{stderr}");

    let out = riposte(&scratch)
        .args(["--server", "https://127.0.0.1:8640", "task", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("https"), "{}", text(&out.stderr));
}

#[test]
fn records_policies_tokens_and_secrets_render_as_documented() {
    let scratch = Scratch::new("records");
    let mock = Mock::start(|seen| match (seen.method.as_str(), seen.path()) {
        ("GET", "/v1/policies/3") => ok(json!({
            "policy": {"id": 3, "status": "Succeeded",
                       "entity": {"kind": "ip", "value": "203.0.113.7"},
                       "script": {"name": "block-attacker", "version": 2},
                       "source": {"kind": "alert", "rule": "r1", "alert": 8},
                       "actions": ["AliyunWafBlockIP"],
                       "created_at": "2026-12-04T18:40:17.000Z"},
            "source": {"id": 8, "kind": "Alert", "source": "suricata-eve",
                       "received_at": "2026-12-04T18:40:16.000Z",
                       "data": {"src_ip": "203.0.113.7"}},
            "tasks": [task(12, "Succeeded", None)],
        })),
        ("POST", "/v1/tokens") => (
            201,
            "application/json",
            json!({"name": "ci", "role": "operator", "token": "rpt_new_token_once"}).to_string(),
        ),
        ("PUT", "/v1/targets/waf-prod") => ok(json!({
            "id": "waf-prod", "provider": "aliyun", "endpoint": "https://waf.example",
            "credential": {"public_id": "LTAI5t", "set": true},
        })),
        ("DELETE", "/v1/rules/r1") => (204, "application/json", String::new()),
        ("POST", "/v1/scripts/validate") => ok(json!({
            "valid": false,
            "problems": ["field `steps[0]`.targets: `egde` names no known target"],
        })),
        _ => (404, "text/plain", String::new()),
    });

    let out = run(&scratch, &mock, &["policy", "get", "3"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("id:"), "{stdout}");
    assert!(stdout.contains("script.name:"), "{stdout}");
    assert!(stdout.contains("\nsource:\n  id:"), "{stdout}");
    assert!(
        !stdout.contains("src_ip"),
        "the alert data stays out: {stdout}"
    );
    assert!(stdout.contains("\ntasks:\n  ID  POLICY"), "{stdout}");

    let out = run(
        &scratch,
        &mock,
        &["token", "create", "ci", "--role", "operator"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "rpt_new_token_once\n");
    assert!(
        text(&out.stderr).contains("shown only this once"),
        "{}",
        text(&out.stderr)
    );
    let created = mock.seen().last().unwrap().clone();
    assert_eq!(created.json(), json!({"name": "ci", "role": "operator"}));

    let target = scratch.write(
        "target.json",
        &json!({"provider": "aliyun", "endpoint": "https://waf.example",
                "credential": {"public_id": "LTAI5t"}})
        .to_string(),
    );
    let mut child = riposte(&scratch)
        .args(["--server", &mock.url(), "--token-file"])
        .arg(scratch.path("token"))
        .args([
            "target",
            "put",
            "waf-prod",
            target.to_str().unwrap(),
            "--secret-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"target-secret-value\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let put = mock.seen().last().unwrap().clone();
    assert_eq!(put.json()["credential"]["secret"], "target-secret-value");
    let printed = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(!printed.contains("target-secret-value"), "{printed}");
    assert!(
        printed.contains("credential.public_id: LTAI5t"),
        "{printed}"
    );

    let out = run(&scratch, &mock, &["rule", "delete", "r1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "rule `r1` deleted\n");

    let script = scratch.write("script.json", "{\"name\": \"s\"}");
    let out = run(
        &scratch,
        &mock,
        &["script", "validate", script.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stdout),
        "invalid:\n  - field `steps[0]`.targets: `egde` names no known target\n"
    );
    assert_eq!(
        mock.seen().last().unwrap().header("content-type"),
        Some("application/json")
    );
}

/// Answers a batch: a line holding `bad` fails, one holding `skip` is
/// skipped, the rest are ingested. Lines are counted from 1 in the body.
fn batch_reply(seen: &Seen) -> Reply {
    let body = String::from_utf8_lossy(&seen.body).into_owned();
    let mut results = Vec::new();
    let (mut ingested, mut skipped, mut failed) = (0, 0, 0);
    for (i, line) in body.lines().enumerate() {
        let n = i + 1;
        if line.contains("bad") {
            failed += 1;
            results.push(json!({"line": n, "error": "not JSON: expected value at column 1"}));
        } else if line.contains("skip") {
            skipped += 1;
            results.push(json!({"line": n, "skipped": "not an alert"}));
        } else {
            ingested += 1;
            results.push(json!({"line": n, "report": {"signal": n, "opened": 1}}));
        }
    }
    ok(json!({"results": results, "ingested": ingested, "skipped": skipped, "failed": failed}))
}

#[test]
fn alert_send_batches_lines_and_reports_failures_by_file_line() {
    let scratch = Scratch::new("send");
    let mock = Mock::start(batch_reply);
    let file = scratch.write(
        "eve.json",
        "{\"n\":1}\n\n{\"n\":2,\"skip\":true}\nbad line\n{\"n\":4}\n",
    );

    let out = run(
        &scratch,
        &mock,
        &[
            "alert",
            "send",
            file.to_str().unwrap(),
            "--batch",
            "2",
            "--format",
            "suricata-eve",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let seen = mock.seen();
    assert_eq!(seen.len(), 2);
    for request in &seen {
        assert_eq!(request.method, "POST");
        assert_eq!(request.target, "/v1/alerts/batch?format=suricata-eve");
        assert_eq!(request.header("content-type"), Some("application/x-ndjson"));
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {TOKEN}").as_str())
        );
    }
    assert_eq!(seen[0].body, b"{\"n\":1}\n{\"n\":2,\"skip\":true}\n");
    assert_eq!(seen[1].body, b"bad line\n{\"n\":4}\n");
    assert_eq!(
        text(&out.stdout),
        "sent 2: ingested 1, duplicates 0, skipped 1, failed 0\n  \
         line 3: skipped: not an alert\n\
         sent 2: ingested 1, duplicates 0, skipped 0, failed 1\n  \
         line 4: not JSON: expected value at column 1\n"
    );

    // From stdin, to the incident endpoint, one document.
    let mut child = run_piped(&scratch, &mock, &["incident", "send", "-"]);
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"{\n  \"incident\": 1\n}\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let last = mock.seen().last().unwrap().clone();
    assert_eq!(last.target, "/v1/incidents/batch");
    assert_eq!(last.body, b"{\"incident\":1}\n");
}

fn run_piped(scratch: &Scratch, mock: &Mock, args: &[&str]) -> Child {
    riposte(scratch)
        .arg("--server")
        .arg(mock.url())
        .arg("--token-file")
        .arg(scratch.path("token"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Kills the child when dropped, so a failed assertion leaves no process.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn alert_send_follow_sends_each_line_once_across_growth_and_truncation() {
    let scratch = Scratch::new("follow");
    let mock = Mock::start(batch_reply);
    let file = scratch.write(
        "eve.json",
        "{\"n\":1,\"pad\":\"xxxxxxxxxxxxxxxx\"}\n{\"n\":2,\"pad\":\"xxxxxxxxxxxxxxxx\"}\n",
    );
    let child = riposte(&scratch)
        .arg("--server")
        .arg(mock.url())
        .arg("--token-file")
        .arg(scratch.path("token"))
        .args(["alert", "send", "--follow", file.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _child = KillOnDrop(child);

    let sent = |seen: &[Seen]| -> Vec<String> {
        seen.iter()
            .flat_map(|request| {
                String::from_utf8_lossy(&request.body)
                    .lines()
                    .map(|line| serde_json::from_str::<Value>(line).unwrap()["n"].to_string())
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    mock.wait_for("the first two lines", |seen| sent(seen).len() >= 2);

    // The file grows, in two writes that split a line.
    let mut appender = std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .unwrap();
    appender.write_all(b"{\"n\":3,").unwrap();
    appender.flush().unwrap();
    std::thread::sleep(Duration::from_millis(400));
    appender.write_all(b"\"pad\":\"x\"}\n").unwrap();
    mock.wait_for("the third line", |seen| sent(seen).len() >= 3);

    // Truncated (as by copytruncate), then written again, shorter.
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&file)
        .unwrap();
    std::thread::sleep(Duration::from_millis(600));
    std::fs::write(&file, "{\"n\":4}\n{\"n\":5}\n").unwrap();
    mock.wait_for("the lines after truncation", |seen| sent(seen).len() >= 5);

    // Quiet for a few polls: nothing is sent again.
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(sent(&mock.seen()), ["1", "2", "3", "4", "5"]);
}
