//! Hostile guests end as typed failures and the host keeps serving.

use std::time::Duration;

use riposte::runtime::{FailureKind, Grant, Limits, LoadError, TaskFailure};
use riposte_tests::{Behaviour, LoopbackServer, logs, loopback_runtime, request, secrets};

use crate::{grant, hostile, quick_config, ungranted};

fn failure<T: std::fmt::Debug>(result: Result<T, TaskFailure>) -> TaskFailure {
    result.expect_err("the call should have failed")
}

/// Well before the guest's own 30 s sleep or the tarpit's 120 s hold: the
/// call ended because the runtime stopped it, not because the guest gave
/// up. (How fast is measured by the benchmark, not asserted here.)
const STOPPED_BY_RUNTIME: Duration = Duration::from_secs(15);

#[tokio::test]
async fn cpu_loop_is_interrupted_at_the_deadline() {
    let (runtime, _) = loopback_runtime(quick_config(), &[], secrets(&[]));
    let component = hostile(&runtime).await;

    let report = ungranted(&runtime, &component, "Loop").await;
    let failure = failure(report.result);
    assert_eq!(failure.kind, FailureKind::Timeout);
    assert!(
        failure.message.contains("fixture-hostile@0.1.0"),
        "{}",
        failure.message
    );
    assert!(failure.message.contains("`Loop`"), "{}", failure.message);
    assert!(
        failure.message.contains("deadline of 2s"),
        "{}",
        failure.message
    );
    assert!(report.elapsed < STOPPED_BY_RUNTIME);
}

#[tokio::test]
async fn sleep_in_a_host_call_is_interrupted_at_the_deadline() {
    let (runtime, _) = loopback_runtime(quick_config(), &[], secrets(&[]));
    let component = hostile(&runtime).await;

    let report = ungranted(&runtime, &component, "Sleep").await;
    assert_eq!(failure(report.result).kind, FailureKind::Timeout);
    assert!(report.elapsed < STOPPED_BY_RUNTIME);
}

#[tokio::test]
async fn a_server_that_never_answers_cannot_hold_the_call() {
    let tarpit = LoopbackServer::start(Behaviour::Tarpit).await;
    let (runtime, _) = loopback_runtime(quick_config(), &[], secrets(&[]));
    let component = hostile(&runtime).await;
    let url = format!("http://127.0.0.1:{}/", tarpit.port());

    let report = runtime
        .execute(
            &component,
            &grant(&[&format!("http://127.0.0.1:{}", tarpit.port())]),
            request("Fetch", "1.2.3.4", &[("url", &url)]),
            None,
        )
        .await;
    let failure = failure(report.result);
    // Either the HTTP wait (capped by the call's budget) or the call's own
    // deadline fires first; both are timeouts.
    assert_eq!(failure.kind, FailureKind::Timeout, "{failure}");
    assert_eq!(tarpit.accepted(), 1);
    assert!(report.elapsed < STOPPED_BY_RUNTIME);
}

#[tokio::test]
async fn unbounded_allocation_hits_the_memory_limit() {
    let (runtime, _) = loopback_runtime(quick_config(), &[], secrets(&[]));
    let component = hostile(&runtime).await;

    let report = ungranted(&runtime, &component, "Alloc").await;
    let failure = failure(report.result);
    assert_eq!(failure.kind, FailureKind::Internal);
    assert!(
        failure
            .message
            .contains("exceeded its memory limit of 64 MiB"),
        "{}",
        failure.message
    );
}

#[tokio::test]
async fn concurrent_allocations_all_fail_alone_and_the_host_goes_on() {
    let (runtime, _) = loopback_runtime(quick_config(), &[], secrets(&[]));
    let component = hostile(&runtime).await;

    let none = Grant::default();
    // About memory, not time: a generous deadline keeps a loaded machine
    // from turning a memory failure into a timeout.
    let limits = Limits {
        deadline: Duration::from_secs(60),
        ..Limits::default()
    };
    let calls = (0..16).map(|_| {
        runtime.execute(
            &component,
            &none,
            request("Alloc", "1.2.3.4", &[]),
            Some(&limits),
        )
    });
    for report in futures_join_all(calls).await {
        let message = failure_message(report.result);
        assert!(message.contains("memory limit"), "{message}");
    }
    let report = ungranted(&runtime, &component, "Noop").await;
    assert_eq!(report.result.unwrap().detail, "noop for 1.2.3.4");
}

#[tokio::test]
async fn a_trap_poisons_only_its_own_call() {
    let (runtime, _) = loopback_runtime(quick_config(), &[], secrets(&[]));
    let component = hostile(&runtime).await;

    let report = ungranted(&runtime, &component, "Trap").await;
    let failure = failure(report.result);
    assert_eq!(failure.kind, FailureKind::Internal);
    assert!(
        failure.message.contains("`Trap` trapped"),
        "{}",
        failure.message
    );

    // The same loaded component serves the next call on a fresh store.
    let report = runtime
        .execute(
            &component,
            &Grant::default(),
            request("Noop", "5.6.7.8", &[]),
            None,
        )
        .await;
    assert_eq!(report.result.unwrap().detail, "noop for 5.6.7.8");
    assert!(!logs().contains("cannot enter component"));
}

#[tokio::test]
async fn a_panic_is_reported_with_its_message() {
    let (runtime, _) = loopback_runtime(quick_config(), &[], secrets(&[]));
    let component = hostile(&runtime).await;

    let report = ungranted(&runtime, &component, "Panic").await;
    let failure = failure(report.result);
    assert_eq!(failure.kind, FailureKind::Internal);
    assert!(failure.message.contains("panicked"), "{}", failure.message);
    assert!(
        failure.message.contains("lib.rs") && failure.message.contains("panicked on purpose"),
        "{}",
        failure.message
    );
}

#[tokio::test]
async fn unbounded_recursion_overflows_the_stack_cleanly() {
    let (runtime, _) = loopback_runtime(quick_config(), &[], secrets(&[]));
    let component = hostile(&runtime).await;

    // Frames on the wasm stack hit wasmtime's stack limit.
    let report = ungranted(&runtime, &component, "RecurseWasm").await;
    let message = failure_message(report.result);
    assert!(message.contains("overflowed its stack"), "{message}");

    // Frames in linear memory (Rust's shadow stack) run off its bottom.
    let report = ungranted(&runtime, &component, "Recurse").await;
    let message = failure_message(report.result);
    assert!(
        message.contains("often a guest stack overflow"),
        "{message}"
    );
}

#[tokio::test]
async fn oversized_output_is_refused() {
    let (runtime, _) = loopback_runtime(quick_config(), &[], secrets(&[]));
    let component = hostile(&runtime).await;

    let report = ungranted(&runtime, &component, "HugeOutput").await;
    let failure = failure(report.result);
    assert!(
        failure
            .message
            .contains("returned 10485760 bytes, over the output limit"),
        "{}",
        failure.message
    );
}

#[tokio::test]
async fn invalid_utf8_output_is_refused() {
    let (runtime, _) = loopback_runtime(quick_config(), &[], secrets(&[]));
    let component = hostile(&runtime).await;

    let report = ungranted(&runtime, &component, "BadUtf8").await;
    let failure = failure(report.result);
    assert_eq!(failure.kind, FailureKind::Internal);
    assert!(
        failure.message.to_lowercase().contains("utf-8"),
        "{}",
        failure.message
    );
}

#[tokio::test]
async fn a_log_flood_is_capped_and_counted() {
    let (runtime, _) = loopback_runtime(quick_config(), &[], secrets(&[]));
    let component = hostile(&runtime).await;
    let flood = request("LogFlood", "1.2.3.4", &[]);
    let task_id = flood.task_id.clone();

    let report = runtime
        .execute(&component, &Grant::default(), flood, None)
        .await;
    assert_eq!(report.result.unwrap().detail, "flooded");
    let logs = logs();
    let kept = logs
        .lines()
        .filter(|line| line.contains(&format!("task_id={task_id}")) && line.contains(" line "))
        .count();
    assert_eq!(kept, Limits::default().log_lines);
    assert!(logs.contains("dropped=9800"), "the drop was not reported");
}

#[tokio::test]
async fn megabytes_of_stdout_and_stderr_do_not_fail_the_call() {
    // wasmtime's MemoryOutputPipe traps a guest once full; a chatty but
    // correct component must still succeed.
    let (runtime, _) = loopback_runtime(quick_config(), &[], secrets(&[]));
    let component = hostile(&runtime).await;

    let report = ungranted(&runtime, &component, "StdioFlood").await;
    assert_eq!(report.result.unwrap().detail, "printed");
}

#[tokio::test]
async fn host_side_resources_are_bounded_per_call() {
    // Headers live in host memory, outside the guest's memory limit; a
    // million 15 KiB header maps would be 15 GiB of host memory.
    let (runtime, _) = loopback_runtime(quick_config(), &[], secrets(&[]));
    let component = hostile(&runtime).await;

    let report = ungranted(&runtime, &component, "HoardHeaders").await;
    // The table refuses the 1025th resource by trapping the guest.
    let message = failure_message(report.result);
    assert!(
        message.contains("exceeded its limit of 1024 host resources"),
        "{message}"
    );
}

#[tokio::test]
async fn every_call_gets_its_own_deadline() {
    // Extism shipped a host where only the first call had a deadline
    // (extism/extism#556); here each of many runaway calls is stopped.
    let (runtime, _) = loopback_runtime(quick_config(), &[], secrets(&[]));
    let component = hostile(&runtime).await;
    let limits = Limits {
        deadline: Duration::from_millis(50),
        ..Limits::default()
    };
    for _ in 0..20 {
        let report = runtime
            .execute(
                &component,
                &Grant::default(),
                request("Loop", "1.2.3.4", &[]),
                Some(&limits),
            )
            .await;
        assert_eq!(failure(report.result).kind, FailureKind::Timeout);
    }
}

#[tokio::test]
async fn requests_the_component_cannot_serve_are_refused_before_calling() {
    let (runtime, _) = loopback_runtime(quick_config(), &[], secrets(&[]));
    let component = hostile(&runtime).await;

    let report = ungranted(&runtime, &component, "Nope").await;
    let failure = failure(report.result);
    assert_eq!(failure.kind, FailureKind::InvalidInput);
    assert!(
        failure.message.contains("has no action `Nope`"),
        "{}",
        failure.message
    );

    let mut wrong_kind = request("Noop", "/tmp/x", &[]);
    wrong_kind.entity.kind = riposte::runtime::wit::EntityKind::File;
    let report = runtime
        .execute(&component, &Grant::default(), wrong_kind, None)
        .await;
    assert!(
        failure_message(report.result)
            .contains("does not accept `file` entities; it accepts `ip`, `domain`")
    );
}

fn failure_message<T: std::fmt::Debug>(result: Result<T, TaskFailure>) -> String {
    failure(result).message
}

#[tokio::test]
async fn malformed_component_bytes_are_refused_with_a_reason() {
    let (runtime, _) = loopback_runtime(quick_config(), &[], secrets(&[]));
    let valid = riposte_tests::wasm(riposte_tests::guests::FIXTURE_TRIVIAL);
    let core_module = b"\0asm\x01\0\0\0".to_vec();
    let cases: [(&str, Vec<u8>); 4] = [
        ("empty", Vec::new()),
        (
            "random",
            (0..4096u32).map(|i| (i * 7919 % 251) as u8).collect(),
        ),
        ("truncated", valid[..valid.len() / 2].to_vec()),
        ("core module", core_module),
    ];
    for (what, bytes) in cases {
        match (what, runtime.load(bytes).await) {
            ("empty", Err(LoadError::NotWasm(why))) => assert_eq!(why, "the file is empty"),
            ("random", Err(LoadError::NotWasm(why))) => assert!(why.contains("magic"), "{why}"),
            ("truncated" | "core module", Err(LoadError::Compile(err))) => {
                assert!(!format!("{err:#}").is_empty(), "{what}")
            }
            (what, other) => panic!("{what}: unexpected result {other:?}"),
        }
    }
    // The runtime is unharmed.
    let component = runtime.load(valid).await.unwrap();
    assert_eq!(component.info().name, "fixture-trivial");
}

async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut outputs = Vec::new();
    let handles: Vec<_> = futures.collect();
    // Poll them together so they really overlap.
    let mut pinned: Vec<_> = handles.into_iter().map(Box::pin).collect();
    let mut done: Vec<Option<F::Output>> = (0..pinned.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (slot, future) in done.iter_mut().zip(pinned.iter_mut()) {
            if slot.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(output) => *slot = Some(output),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.extend(done.into_iter().map(|slot| slot.unwrap()));
    outputs
}
