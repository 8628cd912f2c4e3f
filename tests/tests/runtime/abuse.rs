//! Regression tests from the adversarial review of the runtime (see the
//! issue 2 closing note): each attack on a documented limit that once got
//! through, and the attacks that were already contained, pinned so they
//! stay contained. Assertions are on counts and order, not on timings or
//! process memory, so they hold on a loaded machine.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use riposte::runtime::gate::special_reason;
use riposte::runtime::{FailureKind, Grant, Limits};
use riposte_tests::{Behaviour, LoopbackServer, logs, loopback_runtime, request, secrets};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::{grant, hostile, quick_config};

/// A secret used only by these tests (the `secrets` tests assert that their
/// own secret never reaches the shared log buffer).
const BREAKER_SECRET: &str = "Br3aKeR-s3cr3t-9f8e7d6c";

/// A count from the environment (to scale an attack up by hand), or the
/// default the test uses.
fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

#[tokio::test]
async fn unsent_request_bodies_cannot_pin_host_memory() {
    let (runtime, _) = loopback_runtime(quick_config(), &[], secrets(&[]));
    let component = hostile(&runtime).await;
    // Requests that are never sent, each body filled as far as the host
    // accepts: with wasi-http's defaults that was 2 MiB of host memory per
    // request, outside the guest's memory limit.
    let count = 150;
    let call = request("HoardBodies", "1.2.3.4", &[("count", &count.to_string())]);
    let report = runtime
        .execute(&component, &Grant::default(), call, None)
        .await;
    let detail = report.result.unwrap().detail;
    let buffered: usize = detail
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected detail: {detail}"));
    assert!(buffered <= count * (32 << 10), "{detail}");
    assert_eq!(report.requests, 0);
}

#[tokio::test]
async fn refused_requests_are_recorded_and_logged_within_caps() {
    let (runtime, _) = loopback_runtime(quick_config(), &[], secrets(&[]));
    let component = hostile(&runtime).await;
    let limits = Limits {
        deadline: Duration::from_secs(20),
        ..quick_config().limits
    };
    // 2000 requests to an ungranted 4 KB host name.
    let count = env_or("BREAKER_REFUSAL_COUNT", "2000");
    let host_len = env_or("BREAKER_REFUSAL_HOST_LEN", "4000");
    let call = request(
        "RefusalFlood",
        "1.2.3.4",
        &[("count", &count), ("host_len", &host_len)],
    );
    let task_id = call.task_id.clone();
    let report = runtime
        .execute(&component, &Grant::default(), call, Some(&limits))
        .await;
    let kept: usize = report.refusals.iter().map(String::len).sum();
    let logged = logs()
        .lines()
        .filter(|line| line.contains("egress refused") && line.contains(&task_id))
        .count();
    eprintln!(
        "RefusalFlood: {:?} in {:?}; {} refusals holding {} KiB; {} log lines; requests counted {}",
        report.result.as_ref().map(|o| &o.detail),
        report.elapsed,
        report.refusals.len(),
        kept >> 10,
        logged,
        report.requests
    );
    assert!(
        report.refusals.len() <= limits.requests,
        "{} refusals kept ({} KiB) for a call limited to {} requests",
        report.refusals.len(),
        kept >> 10,
        limits.requests
    );
    assert!(
        logged <= limits.log_lines,
        "{logged} host log lines for one call (limit {} lines)",
        limits.log_lines
    );
}

#[tokio::test]
async fn secret_open_failures_log_guest_text_within_caps() {
    let (runtime, _) = loopback_runtime(quick_config(), &[], secrets(&[]));
    let component = hostile(&runtime).await;
    let limits = quick_config().limits;
    // 1000 opens of a 16 KiB name: 1000 host log lines of 16 KiB each.
    let call = request(
        "OpenFlood",
        "1.2.3.4",
        &[("count", "1000"), ("pad", "16384")],
    );
    let task_id = call.task_id.clone();
    let report = runtime
        .execute(&component, &Grant::default(), call, Some(&limits))
        .await;
    assert!(report.result.is_ok());
    let lines: Vec<String> = logs()
        .lines()
        .filter(|line| line.contains("is not granted to this call") && line.contains(&task_id))
        .map(str::to_string)
        .collect();
    let longest = lines.iter().map(String::len).max().unwrap_or(0);
    eprintln!("OpenFlood: {} lines, longest {longest} bytes", lines.len());
    assert_eq!(
        lines.len(),
        limits.log_lines,
        "the notes were not logged up to the cap"
    );
    assert!(
        longest <= 512,
        "{} host log lines of up to {longest} bytes from one call (limits: {} lines of {} bytes)",
        lines.len(),
        limits.log_lines,
        limits.log_line_bytes
    );
}

#[tokio::test]
async fn guest_text_cannot_forge_whole_log_lines() {
    let (runtime, _) = loopback_runtime(quick_config(), &[], secrets(&[]));
    let component = hostile(&runtime).await;
    let forged = "2099-01-01T00:00:00.000000Z  INFO riposte::runtime::gate::send: FORGED-BY-GUEST egress allowed host=https://evil.test";

    // Through the guest's own log line...
    let line = format!("benign\n{forged} via=log");
    let report = runtime
        .execute(
            &component,
            &Grant::default(),
            request("LogForge", "1.2.3.4", &[("line", &line)]),
            None,
        )
        .await;
    assert!(report.result.is_ok());
    // ...and through a secret name the host logs.
    let name = format!("x\n{forged} via=secret-name");
    let report = runtime
        .execute(
            &component,
            &Grant::default(),
            request("SecretProbe", "1.2.3.4", &[("name", &name)]),
            None,
        )
        .await;
    assert!(report.result.is_err());

    let logs = logs();
    let forged_lines: Vec<&str> = logs
        .lines()
        .filter(|l| l.starts_with("2099-01-01T00:00:00.000000Z  INFO"))
        .collect();
    assert!(
        forged_lines.is_empty(),
        "guest text became whole, unattributed log lines:\n{}",
        forged_lines.join("\n")
    );
}

#[tokio::test]
async fn secret_values_are_redacted_in_every_channel() {
    let collector = LoopbackServer::start(Behaviour::Respond(200, "text/plain", "ok".into())).await;
    let store = secrets(&[("breaker-cred", "BRK-public", BREAKER_SECRET)]);
    let (runtime, _) = loopback_runtime(quick_config(), &[], store);
    let component = hostile(&runtime).await;
    let mut leaks = Vec::new();

    // 1. As a secret name: logged by the host (`is not granted to this call`).
    let report = runtime
        .execute(
            &component,
            &Grant::default(),
            request("SecretProbe", "1.2.3.4", &[("name", BREAKER_SECRET)]),
            None,
        )
        .await;
    let failure = report.result.unwrap_err();
    assert!(!failure.message.contains(BREAKER_SECRET), "{failure}");
    if logs().contains(BREAKER_SECRET) {
        leaks.push("host log line `is not granted to this call` (secret name)".to_string());
    }

    // 2. As the host of a request: in the call's refusals and the log.
    let url = format!("http://{}.invalid/", BREAKER_SECRET.to_ascii_lowercase());
    let report = runtime
        .execute(
            &component,
            &Grant::default(),
            request("Fetch", "1.2.3.4", &[("url", &url)]),
            None,
        )
        .await;
    // Lower case, as URLs carry hosts; redaction only knows the exact value.
    let lower = BREAKER_SECRET.to_ascii_lowercase();
    if report.refusals.iter().any(|r| r.contains(&lower)) {
        leaks.push(format!("CallReport.refusals: {:?}", report.refusals));
    }
    // Exact case in the path of a granted request's refusal is the same.
    let url = format!("http://{BREAKER_SECRET}.invalid/");
    let report = runtime
        .execute(
            &component,
            &Grant::default(),
            request("Fetch", "1.2.3.4", &[("url", &url)]),
            None,
        )
        .await;
    if report.refusals.iter().any(|r| r.contains(BREAKER_SECRET)) {
        leaks.push(format!(
            "CallReport.refusals (exact case): {:?}",
            report.refusals
        ));
    }

    // 3. In result fields other than `detail` and failure messages.
    let report = runtime
        .execute(
            &component,
            &Grant::default(),
            request("EchoUnredacted", "1.2.3.4", &[("secret", BREAKER_SECRET)]),
            None,
        )
        .await;
    let outcome = report.result.unwrap();
    if outcome.items[0].item.contains(BREAKER_SECRET) {
        leaks.push(format!("outcome.items[].item: {}", outcome.items[0].item));
    }
    let plan = runtime
        .plan(
            &component,
            &Grant::default(),
            request("EchoUnredacted", "1.2.3.4", &[("secret", BREAKER_SECRET)]),
            None,
        )
        .await
        .result
        .unwrap();
    if plan.changes.iter().any(|c| c.contains(BREAKER_SECRET)) {
        leaks.push(format!("plan.changes: {:?}", plan.changes));
    }
    drop(collector);
    assert!(
        leaks.is_empty(),
        "secret value not redacted in:\n{}",
        leaks.join("\n")
    );
}

#[tokio::test]
async fn empty_items_and_changes_count_against_the_output_limit() {
    let (runtime, _) = loopback_runtime(quick_config(), &[], secrets(&[]));
    let component = hostile(&runtime).await;
    let limits = quick_config().limits;

    let report = runtime
        .execute(
            &component,
            &Grant::default(),
            request("ManyItems", "1.2.3.4", &[("count", "300000")]),
            None,
        )
        .await;
    let items = report.result.as_ref().map(|o| o.items.len()).unwrap_or(0);
    let item_bytes = items * std::mem::size_of::<riposte::runtime::wit::ItemResult>();

    let plan = runtime
        .plan(
            &component,
            &Grant::default(),
            request("ManyItems", "1.2.3.4", &[("count", "2000000")]),
            None,
        )
        .await;
    let changes = plan.result.as_ref().map(|p| p.changes.len()).unwrap_or(0);
    let change_bytes = changes * std::mem::size_of::<String>();
    eprintln!(
        "ManyItems: {items} items ({} MiB in the host), {changes} changes ({} MiB)",
        item_bytes >> 20,
        change_bytes >> 20
    );
    assert!(
        item_bytes <= limits.output_bytes && change_bytes <= limits.output_bytes,
        "accepted {items} items ({} MiB) and {changes} plan changes ({} MiB) under an output limit of {} KiB",
        item_bytes >> 20,
        change_bytes >> 20,
        limits.output_bytes >> 10
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpu_bound_guests_do_not_stall_other_calls_deadlines() {
    let (runtime, _) = loopback_runtime(quick_config(), &[], secrets(&[]));
    let runtime = Arc::new(runtime);
    let component = hostile(&runtime).await;
    let spin = Limits {
        deadline: Duration::from_secs(20),
        ..quick_config().limits
    };
    // One spinning guest per worker thread.
    let mut spinners = Vec::new();
    for _ in 0..2 {
        let (runtime, component, spin) = (runtime.clone(), component.clone(), spin.clone());
        spinners.push(tokio::spawn(async move {
            runtime
                .execute(
                    &component,
                    &Grant::default(),
                    request("Loop", "1.2.3.4", &[]),
                    Some(&spin),
                )
                .await
        }));
    }
    std::thread::sleep(Duration::from_millis(300));

    // A well-behaved call with a 500 ms budget, blocked in a host call.
    let short = Limits {
        deadline: Duration::from_millis(500),
        ..quick_config().limits
    };
    let report = runtime
        .execute(
            &component,
            &Grant::default(),
            request("Sleep", "1.2.3.4", &[]),
            Some(&short),
        )
        .await;
    // The short call ended while both spinners were still running: they
    // did not keep the workers (and the short call's timer) to themselves.
    let still_spinning = spinners.iter().filter(|s| !s.is_finished()).count();
    assert_eq!(report.result.unwrap_err().kind, FailureKind::Timeout);
    assert_eq!(still_spinning, 2, "the short call waited for a spinner");
    // The spinners yield at every epoch tick, so they can be cancelled.
    for spinner in spinners {
        spinner.abort();
        let _ = spinner.await;
    }
}

#[test]
fn embedded_ipv4_site_local_and_wireserver_addresses_are_refused() {
    let judged_public: Vec<&str> = [
        // RFC 8215 local-use NAT64 prefix embedding 169.254.169.254.
        "64:ff9b:1::a9fe:a9fe",
        // RFC 2765 IPv4-translated form of 169.254.169.254.
        "::ffff:0:a9fe:a9fe",
        // Deprecated site-local (still routed inside some networks).
        "fec0::1",
        // Azure's platform endpoint (WireServer), reachable from every VM.
        "168.63.129.16",
    ]
    .into_iter()
    .filter(|text| special_reason(text.parse::<IpAddr>().unwrap()).is_none())
    .collect();
    assert!(judged_public.is_empty(), "judged public: {judged_public:?}");
}

// ---------------------------------------------------------------------------
// Contained: these attacks were stopped. Kept as regression tests.
// ---------------------------------------------------------------------------

/// A server that answers with a large declared body and drips one byte
/// every 50 ms, recording when the client went away.
async fn drip_server() -> (SocketAddr, Arc<Mutex<Option<Instant>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let closed = Arc::new(Mutex::new(None));
    let seen = closed.clone();
    tokio::spawn(async move {
        let Ok((mut stream, _)) = listener.accept().await else {
            return;
        };
        let mut buf = [0u8; 4096];
        let _ = stream.read(&mut buf).await;
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n")
            .await;
        for _ in 0..600 {
            if stream.write_all(b"d").await.is_err() || stream.flush().await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        *seen.lock().unwrap() = Some(Instant::now());
    });
    (addr, closed)
}

#[tokio::test]
async fn a_slow_drip_body_ends_at_the_deadline_and_the_connection_closes() {
    let (addr, closed) = drip_server().await;
    let (runtime, _) = loopback_runtime(quick_config(), &[], secrets(&[]));
    let component = hostile(&runtime).await;
    let url = format!("http://127.0.0.1:{}/", addr.port());
    let report = runtime
        .execute(
            &component,
            &grant(&[&format!("http://127.0.0.1:{}", addr.port())]),
            request("Fetch", "1.2.3.4", &[("url", &url)]),
            None,
        )
        .await;
    let returned = Instant::now();
    assert_eq!(report.result.unwrap_err().kind, FailureKind::Timeout);

    // The connection must not outlive the call.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let closed = closed.lock().unwrap().expect("the client never went away");
    assert!(
        closed.saturating_duration_since(returned) < Duration::from_secs(5),
        "connection kept open {:?} after the call",
        closed.saturating_duration_since(returned)
    );
}

#[tokio::test]
async fn request_bodies_written_slowly_or_never_finished_are_never_sent() {
    let server = LoopbackServer::start(Behaviour::Respond(200, "text/plain", "ok".into())).await;
    let port = server.port();
    let (runtime, _) = loopback_runtime(quick_config(), &[], secrets(&[]));
    let component = hostile(&runtime).await;
    let grant = grant(&[&format!("http://127.0.0.1:{port}")]);
    let url = format!("http://127.0.0.1:{port}/");

    // One byte per 100 ms for 5 s against a 2 s budget.
    let report = runtime
        .execute(
            &component,
            &grant,
            request("SlowBody", "1.2.3.4", &[("url", &url)]),
            None,
        )
        .await;
    assert_eq!(report.result.unwrap_err().kind, FailureKind::Timeout);

    // Half a declared body, then success without waiting.
    let report = runtime
        .execute(
            &component,
            &grant,
            request("HalfBody", "1.2.3.4", &[("url", &url)]),
            None,
        )
        .await;
    assert!(report.result.is_ok());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(server.accepted(), 0, "a partial request reached the server");
}

#[tokio::test]
async fn no_request_leaves_after_the_call_returned() {
    let server = LoopbackServer::start(Behaviour::Respond(200, "text/plain", "ok".into())).await;
    let port = server.port();
    let (runtime, _) = loopback_runtime(quick_config(), &[], secrets(&[]));
    let component = hostile(&runtime).await;
    let grant = grant(&[&format!("http://127.0.0.1:{port}")]);
    let url = format!("http://127.0.0.1:{port}/");
    for _ in 0..20 {
        let report = runtime
            .execute(
                &component,
                &grant,
                request("FireAndForget", "1.2.3.4", &[("url", &url)]),
                None,
            )
            .await;
        assert!(report.result.is_ok());
    }
    let at_return = server.accepted();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        server.accepted(),
        at_return,
        "a request left after its call"
    );
}

#[tokio::test]
async fn requests_per_call_are_capped() {
    let server = LoopbackServer::start(Behaviour::Respond(200, "text/plain", "ok".into())).await;
    let port = server.port();
    let (runtime, _) = loopback_runtime(quick_config(), &[], secrets(&[]));
    let component = hostile(&runtime).await;
    let url = format!("http://127.0.0.1:{port}/");
    let limits = Limits {
        deadline: Duration::from_secs(20),
        ..quick_config().limits
    };
    let report = runtime
        .execute(
            &component,
            &grant(&[&format!("http://127.0.0.1:{port}")]),
            request("RefusalFlood", "1.2.3.4", &[("url", &url), ("count", "70")]),
            Some(&limits),
        )
        .await;
    assert_eq!(report.result.unwrap().detail, "refused 6");
    assert_eq!(server.accepted(), limits.requests);
}

#[tokio::test]
async fn host_header_absolute_targets_and_content_length_tricks_are_refused() {
    let server = LoopbackServer::start(Behaviour::Respond(200, "text/plain", "ok".into())).await;
    let port = server.port();
    let (runtime, connector) = loopback_runtime(quick_config(), &[], secrets(&[]));
    let component = hostile(&runtime).await;
    let url = format!("http://127.0.0.1:{port}/");
    let report = runtime
        .execute(
            &component,
            &grant(&[&format!("http://127.0.0.1:{port}")]),
            request("Smuggle", "1.2.3.4", &[("url", &url)]),
            None,
        )
        .await;
    let detail = report.result.unwrap().detail;
    eprintln!("Smuggle: {detail}");
    assert!(detail.contains("host-header=false"), "{detail}");
    assert!(detail.contains("absolute-path=false"), "{detail}");
    assert!(
        report.refusals.iter().any(|r| r.contains("user info")),
        "{:?}",
        report.refusals
    );
    assert!(detail.contains("long-body-write=false"), "{detail}");
    for received in server.requests() {
        assert!(!received.target.contains("smuggled"), "{received:?}");
        assert_eq!(
            received.header_values("host"),
            vec![format!("127.0.0.1:{port}")]
        );
    }
    assert_eq!(connector.refused(), 0);
}

/// `max_concurrent_calls` is a promise the engine relies on when it runs
/// hundreds of tasks at once (issue 3): at most that many calls hold an
/// instance at a time, the others wait for a slot, and the wait does not
/// eat into their budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_beyond_the_concurrency_limit_wait_for_a_slot_outside_their_budget() {
    let config = riposte::runtime::RuntimeConfig {
        max_concurrent_calls: 2,
        ..quick_config()
    };
    let (runtime, _) = loopback_runtime(config, &[], secrets(&[]));
    let runtime = Arc::new(runtime);
    let component = hostile(&runtime).await;
    // Each `Sleep` holds its instance until its 2 s deadline.
    let started = Instant::now();
    let mut calls = Vec::new();
    for n in 0..4 {
        let (runtime, component) = (runtime.clone(), component.clone());
        calls.push(tokio::spawn(async move {
            let call = request("Sleep", &format!("203.0.113.{n}"), &[]);
            runtime
                .execute(&component, &Grant::default(), call, None)
                .await
        }));
    }
    for call in calls {
        let report = call.await.unwrap();
        let failure = report.result.unwrap_err();
        assert_eq!(failure.kind, FailureKind::Timeout, "{failure}");
        assert!(
            report.elapsed < Duration::from_millis(3000),
            "{:?}",
            report.elapsed
        );
    }
    let total = started.elapsed();
    assert!(
        total >= Duration::from_millis(3900),
        "four 2 s calls through two slots took {total:?}"
    );
}
