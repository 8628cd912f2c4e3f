//! `riposte component check FILE`: runs the conformance kit on a `.wasm`
//! file in a local sandbox and prints its report. The one client command
//! that needs no daemon.

use std::path::Path;
use std::process::ExitCode;

use crate::conformance::{self, BackendChoice};

/// Checks `file` and prints the report: exit 0 when every check passed,
/// 1 when one failed or the component does not load, 2 when the command
/// line or the file is wrong.
pub fn run(file: &Path, backend: &str) -> ExitCode {
    let choice: BackendChoice = match backend.parse() {
        Ok(choice) => choice,
        Err(err) => {
            eprintln!("error: --backend: {err}");
            return ExitCode::from(2);
        }
    };
    let wasm = match std::fs::read(file) {
        Ok(wasm) => wasm,
        Err(err) => {
            eprintln!("error: cannot read `{}`: {err}", file.display());
            return ExitCode::from(2);
        }
    };
    let result = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|err| format!("starting the async runtime: {err}"))
        .and_then(|rt| {
            rt.block_on(conformance::check(wasm, choice))
                .map_err(|err| err.to_string())
        });
    match result {
        Ok(report) => {
            print!("{report}");
            if report.passed() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(err) => {
            eprintln!("error: `{}`: {err}", file.display());
            ExitCode::from(1)
        }
    }
}
