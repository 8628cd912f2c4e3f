//! The operator's command line client: `riposte task list`, `riposte
//! alert send`, and the rest, each one or a few requests to the daemon's
//! HTTP API (`spec/api.md`).
//!
//! How a command runs, one module per step:
//!
//! 1. [`args`] parses the command line (clap);
//! 2. [`plan`] turns the command into a request and a way to show the
//!    answer, checking what the operator typed with the model's parsers;
//! 3. [`config`] finds the server and the token (flags, environment,
//!    config file, the daemon's data directory);
//! 4. [`http`] sends the request;
//! 5. [`output`] shows the answer ([`render`] and [`columns`] for tables
//!    and records), or [`send`] streams alert files in batches.
//!
//! This module owns no state of the daemon and links none of it: it talks
//! to the API only. It never prints a token or a target secret.

mod args;
mod check;
mod columns;
mod config;
mod http;
mod output;
mod plan;
mod render;
mod send;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

/// Runs the client with `args`, the command line without the program
/// name, and says how it went.
pub fn run(args: Vec<String>) -> ExitCode {
    let cli = match args::Cli::try_parse_from(std::iter::once("riposte".to_string()).chain(args)) {
        Ok(cli) => cli,
        Err(err) => {
            // Help and version go to stdout and succeed; mistakes exit 2.
            let _ = err.print();
            return if err.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    if let args::Command::Component(args::ComponentCommand::Check { file, backend }) = &cli.command
    {
        return check::run(file, backend);
    }
    match execute(cli) {
        Ok(code) => code,
        Err(fail) => {
            let _ = std::io::stdout().flush();
            eprint!("{fail}");
            ExitCode::from(fail.code)
        }
    }
}

fn execute(cli: args::Cli) -> Result<ExitCode, Fail> {
    let env = |name: &str| std::env::var(name).ok();
    // Stdin is locked while planning only: `alert send -` reads it from
    // another thread afterwards.
    let planned = {
        let mut stdin = std::io::stdin().lock();
        let mut inputs = plan::Inputs {
            now: crate::model::Time::now(),
            env: &env,
            stdin: &mut stdin,
        };
        plan::plan(&cli.command, &mut inputs)?
    };

    let flags = config::Flags {
        server: cli.server,
        token: cli.token,
        token_file: cli.token_file,
        config: cli.config,
    };
    let client = http::Client::new(config::resolve(&flags, &env)?)?;
    match planned {
        plan::Plan::Call(call) => output::show(&client, &call, cli.json),
        plan::Plan::Send(send) => send::run(&client, &send, cli.json),
    }
}

/// Why a command failed: a message, details and hints a person can act
/// on, and the exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fail {
    pub message: String,
    /// Lines printed under the message, such as a problem's `errors`.
    pub details: Vec<String>,
    pub hints: Vec<String>,
    pub code: u8,
}

impl Fail {
    /// The command line, a local file or the configuration is wrong: 2.
    pub fn usage(message: impl Into<String>) -> Self {
        Self::with_code(message, 2)
    }

    /// The request could not be made or was refused: 1.
    pub fn request(message: impl Into<String>) -> Self {
        Self::with_code(message, 1)
    }

    fn with_code(message: impl Into<String>, code: u8) -> Self {
        Self {
            message: message.into(),
            details: Vec::new(),
            hints: Vec::new(),
            code,
        }
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.details.push(detail.into());
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }
}

impl std::fmt::Display for Fail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "error: {}", self.message)?;
        for detail in &self.details {
            writeln!(f, "  {detail}")?;
        }
        for hint in &self.hints {
            writeln!(f, "hint: {hint}")?;
        }
        Ok(())
    }
}
