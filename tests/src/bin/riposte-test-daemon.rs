//! The engine as a separate process, for the crash tests: they kill it
//! with SIGKILL mid-work and start it again on the same store.
//!
//! ```text
//! riposte-test-daemon STORE PORT BLOCK_DURATION [ALERTS.jsonl]
//! ```
//!
//! It installs a `block` script (CountedBlock with BLOCK_DURATION, or none
//! when `-`) and a `kill` script (CountedKill), each fired by alerts whose
//! `kind` names it, ingests ALERTS (one JSON object per line; alerts seen
//! before are recognised as duplicates), and prints on stdout `ready`,
//! `ingested N`, then every 100 ms `open N timers M`: the tasks not yet
//! terminal and the reverts still scheduled or running. It runs until
//! killed.

use std::path::PathBuf;
use std::time::Duration;

use riposte::store::SignalKind;
use riposte_tests::engine::{install_block, start_engine_quiet, test_config};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter("warn")
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [store, port, duration, rest @ ..] = args.as_slice() else {
        eprintln!("usage: riposte-test-daemon STORE PORT BLOCK_DURATION [ALERTS.jsonl]");
        std::process::exit(2);
    };
    let store = PathBuf::from(store);
    let port: u16 = port.parse().expect("PORT is a number");
    let duration = (duration != "-").then_some(duration.as_str());

    let engine = start_engine_quiet(&store, port, test_config()).await;
    install_block(&engine, "block", "CountedBlock", duration).await;
    install_block(&engine, "kill", "CountedKill", None).await;
    println!("ready");

    if let Some(alerts) = rest.first() {
        let text = std::fs::read_to_string(alerts).expect("the alerts file is readable");
        let mut count = 0;
        for line in text.lines().filter(|line| !line.trim().is_empty()) {
            let data: serde_json::Value = serde_json::from_str(line).expect("one JSON per line");
            engine
                .ingest(SignalKind::Alert, None, "test", data)
                .await
                .expect("ingest");
            count += 1;
        }
        println!("ingested {count}");
    }

    loop {
        let (open, timers) = engine
            .store()
            .read(|r| {
                let open = r.task_ids_with("status=Waiting")?.len()
                    + r.task_ids_with("status=Executing")?.len();
                let timers = r.due_reverts(riposte::model::Time::from_millis(i64::MAX), 100_000)?;
                Ok((open, timers.len()))
            })
            .unwrap_or((usize::MAX, usize::MAX));
        println!("open {open} timers {timers}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
