//! The `riposte` command.
//!
//! Four subcommands run here rather than against a daemon: `demo` runs the
//! daemon, the provider simulator and an endpoint agent end to end,
//! `inspect` loads a handling component and prints what it declares (the
//! check an operator runs before granting it anything), `serve` starts the
//! daemon and `agent` the endpoint agent.
//! Everything else is the operator's client of the HTTP API, in
//! [`riposte::cli`].

use std::process::ExitCode;

use riposte::runtime::gate::Network;
use riposte::runtime::secrets::SecretStore;
use riposte::runtime::{LoadError, Runtime, RuntimeConfig, kind_name};

const DEMO_HELP: &str = "usage: riposte demo [--exit] [--data DIR] [ALERT_FILE...]

Runs riposte end to end on this machine, on 127.0.0.1 only, in one process:
  - a provider simulator serving Alibaba Cloud (WAF, Cloud Firewall, ECS,
    SLB, CDN, Anti-DDoS, Security Center), Tencent Cloud and Huawei Cloud,
    with a fresh random credential per provider;
  - a local endpoint agent that may kill, quarantine, scan and sinkhole,
    but not touch this machine's firewall;
  - the daemon as `riposte serve` assembles it, its gate resolving every
    provider name to 127.0.0.1 and dialling loopback only.
Through the daemon's HTTP API, with the admin token, it creates targets,
an allowlist, the response scripts and rules of demo/scripts and
demo/rules, then ingests alert files: the bundled Suricata alerts, two
public Falco samples, and Falco and Security Center alerts it writes about
processes and files it planted in its own scratch directory (the only
things on this machine it acts on). It prints the alerts, rules matched,
tasks with their outcome, failures with their reasons and the expiry of
blocks, then a summary table that sets each action's tasks against what
the simulator and the agent recorded.

Then it keeps everything running so you can explore the API with the
`riposte` client, until Ctrl-C.

  --exit      stop once the summary is printed
  --data DIR  keep the daemon's data in DIR (new or empty); default: a
              fresh directory under the system's temporary directory
  ALERT_FILE  more alert files to ingest (JSON lines or a JSON array; the
              format is detected per record)";

const USAGE: &str = "usage:
  riposte demo [--exit] [--data DIR] [ALERT_FILE...]
      Runs the daemon end to end on this machine (see `riposte demo --help`).
  riposte inspect <component.wasm>
      Loads a handling component in the sandbox (no grants, no secrets) and
      prints its name, version, actions and the hosts it asks to call.
  riposte serve [--data DIR] [--listen ADDR] [--config FILE]
      Starts the daemon: data in DIR (RIPOSTE_DATA, default ./riposte-data),
      the API on ADDR (RIPOSTE_LISTEN, default 127.0.0.1:8640), settings
      from FILE (default DIR/riposte.yaml when it exists: signature policy,
      declared grants). The first start writes an admin token to
      DIR/admin.token.
  riposte agent [--config FILE]
      Runs the endpoint agent on this host: a signed HTTP API (default
      127.0.0.1:8641) that kills processes, quarantines files, stops
      containers, scans, snapshots, and blocks addresses and domains, as
      far as FILE's `allow` list permits (nothing by default). The first
      start writes the agent key to its state directory.
  riposte --help
      The client commands (task, policy, script, rule, allow, target,
      component, alert, incident, audit, token).";

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();

    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["inspect", path] => inspect(path),
        ["demo", files @ ..] => demo(files),
        ["serve", rest @ ..] => serve(rest),
        ["agent", rest @ ..] => agent(rest),
        ["inspect"] | ["inspect", _, _, ..] => {
            eprintln!("error: `inspect` takes exactly one component file\n\n{USAGE}");
            ExitCode::from(2)
        }
        _ => riposte::cli::run(args.clone()),
    }
}

/// Starts the daemon: `serve [--data DIR] [--listen ADDR]`.
fn serve(args: &[&str]) -> ExitCode {
    if args.iter().any(|arg| matches!(*arg, "-h" | "--help")) {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let mut data = riposte::daemon::default_data_dir();
    let mut listen = match riposte::daemon::default_listen() {
        Ok(listen) => listen,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(2);
        }
    };
    let mut config: Option<std::path::PathBuf> = None;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match (*arg, rest.next()) {
            ("--data", Some(dir)) => data = dir.into(),
            ("--config", Some(file)) => config = Some(file.into()),
            ("--listen", Some(addr)) => match addr.parse() {
                Ok(addr) => listen = addr,
                Err(_) => {
                    eprintln!("error: --listen: `{addr}` is not an address such as 127.0.0.1:8640");
                    return ExitCode::from(2);
                }
            },
            (other, _) => {
                eprintln!(
                    "error: `serve` takes --data DIR, --listen ADDR and --config FILE, not \
                     `{other}`\n\n{USAGE}"
                );
                return ExitCode::from(2);
            }
        }
    }
    let beside = data.join(riposte::daemon::CONFIG_FILE);
    let file = match config.or_else(|| beside.exists().then_some(beside)) {
        Some(path) => match riposte::daemon::FileConfig::load(&path) {
            Ok(file) => file,
            Err(err) => {
                eprintln!("error: {err}");
                return ExitCode::from(2);
            }
        },
        None => riposte::daemon::FileConfig::defaults(),
    };
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|rt| rt.block_on(riposte::daemon::serve(data, listen, file)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(1)
        }
    }
}

/// Runs the endpoint agent: `agent [--config FILE]`.
fn agent(args: &[&str]) -> ExitCode {
    let config = match args {
        [] => Ok(riposte::agent::config::AgentConfig::new("riposte-agent")),
        ["--config", file] => riposte::agent::config::AgentConfig::load(std::path::Path::new(file)),
        ["-h" | "--help"] => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("error: `agent` takes only --config FILE\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let config = match config {
        Ok(config) => config,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(2);
        }
    };
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|rt| {
            rt.block_on(async {
                let key_file = config.secret_file.clone();
                let key_id = config.key_id.clone();
                let allow: Vec<&str> = config.allow.iter().map(|c| c.name()).collect();
                let running = riposte::agent::server::start(config).await?;
                println!(
                    "riposte agent on http://{} (key id `{key_id}`, key in {}); allows: [{}]",
                    running.addr(),
                    key_file.display(),
                    allow.join(", ")
                );
                println!("audit log: {}", running.audit_log().display());
                tokio::select! {
                    () = running.wait() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
                Ok::<(), anyhow::Error>(())
            })
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(1)
        }
    }
}

/// `demo [--exit] [--data DIR] [FILE...]`: the daemon end to end.
fn demo(args: &[&str]) -> ExitCode {
    let mut options = riposte::demo::DemoOptions {
        verbose: true,
        ..Default::default()
    };
    let mut exit = false;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match *arg {
            "-h" | "--help" => {
                println!("{DEMO_HELP}");
                return ExitCode::SUCCESS;
            }
            "--exit" => exit = true,
            "--data" => match rest.next() {
                Some(dir) => options.data_dir = Some(dir.into()),
                None => {
                    eprintln!("error: --data needs a directory\n\n{DEMO_HELP}");
                    return ExitCode::from(2);
                }
            },
            flag if flag.starts_with('-') => {
                eprintln!("error: `demo` does not take `{flag}`\n\n{DEMO_HELP}");
                return ExitCode::from(2);
            }
            file => options.files.push(file.into()),
        }
    }
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|rt| {
            rt.block_on(async {
                let demo = riposte::demo::run(options).await?;
                riposte::demo::print_summary(&demo.summary);
                if !exit {
                    println!(
                        "\nthe daemon, the simulator and the agent keep running; \
                         Ctrl-C stops them"
                    );
                    let _ = tokio::signal::ctrl_c().await;
                    println!("stopping");
                }
                demo.shutdown().await;
                Ok::<_, anyhow::Error>(())
            })
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(1)
        }
    }
}

fn inspect(path: &str) -> ExitCode {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) => {
            eprintln!("error: cannot read `{path}`: {err}");
            return ExitCode::from(1);
        }
    };
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|rt| {
            let runtime = Runtime::new(
                RuntimeConfig::default(),
                Network::system(),
                SecretStore::new(),
            )?;
            rt.block_on(runtime.load(bytes)).map_err(load_error)
        });
    let component = match result {
        Ok(component) => component,
        Err(err) => {
            eprintln!("error: `{path}` cannot be loaded: {err:#}");
            return ExitCode::from(1);
        }
    };

    let info = component.info();
    println!(
        "{} {} (sha256 {})",
        info.name,
        info.version,
        component.digest()
    );
    println!("  {}", info.description);
    let needs = if info.needs_credential { "yes" } else { "no" };
    println!("  needs a credential: {needs}");
    println!("  hosts it asks to call:");
    for host in &info.hosts {
        println!("    {host}");
    }
    println!("  actions:");
    for action in &info.actions {
        let kinds: Vec<&str> = action.entity_kinds.iter().map(|k| kind_name(*k)).collect();
        println!(
            "    {} ({}): {}",
            action.id, action.action_type, action.description
        );
        println!(
            "      entities: {}; reversible: {}; retryable: {}",
            kinds.join(", "),
            action.reversible,
            action.retryable
        );
        for setting in &action.settings {
            let required = if setting.required {
                "required"
            } else {
                "optional"
            };
            println!(
                "      setting `{}` ({required}): {}",
                setting.name, setting.description
            );
        }
    }
    ExitCode::SUCCESS
}

/// A load error, with a hint for the mistake a first-time author makes.
fn load_error(err: LoadError) -> anyhow::Error {
    let core_module = matches!(&err, LoadError::Compile(inner)
        if format!("{inner:#}").contains("parse a wasm module with a component parser"));
    if core_module {
        anyhow::anyhow!(
            "{err}\nhint: this is a core module, not a component; build with \
             `cargo build --target wasm32-wasip2`"
        )
    } else {
        anyhow::Error::from(err)
    }
}
