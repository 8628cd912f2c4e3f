//! `riposte demo`: the daemon end to end on this machine, as a new user's
//! first command.
//!
//! In one process, on 127.0.0.1 only, it starts the provider simulator
//! (Alibaba Cloud WAF, Cloud Firewall, ECS, SLB, CDN, Anti-DDoS and
//! Security Center; Tencent Cloud; Huawei Cloud) with a fresh credential
//! per provider, a local endpoint agent, and the daemon as `riposte serve`
//! assembles it, whose gate resolves every provider name to 127.0.0.1 and
//! dials loopback only. Then, through the HTTP API with the admin token, it
//! creates the targets, an allowlist, the bundled scripts and rules
//! (`demo/scripts`, `demo/rules`), and ingests alert files: the bundled
//! Suricata alerts, two Falco samples from public repositories, and alerts
//! it writes itself about processes and files it planted in its scratch
//! directory. It waits for the tasks and reports what the daemon did and
//! what the simulator and the agent recorded.
//!
//! [`run`] does the work and returns a [`Demo`] (its [`DemoSummary`] and
//! the running pieces); `report` prints as it goes.

mod client;
mod report;
mod setup;
mod world;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use riposte_simulator::Simulator;
use serde_json::Value;

pub use client::ApiClient;
pub use report::print_summary;
pub use world::Scratch;

use crate::agent::server::RunningAgent;
use crate::daemon::{Daemon, DaemonConfig, Preinstalled};
use crate::engine::EngineConfig;
use crate::runtime::gate::{LoopbackOnlyConnector, Network, StaticResolver};
use crate::runtime::secrets::SecretStore;
use crate::runtime::{Runtime, RuntimeConfig};
use crate::store::GrantSpec;

/// The bundled Suricata alerts.
const BUNDLED_EVE: &str = include_str!("../../../demo/alerts/eve.json");
/// Falco samples from public repositories (see `demo/alerts/README.md`).
const FALCO_SAMPLE: &str =
    include_str!("../../../demo/alerts/falco-single_rule_with_cat_write.json");
const FALCOSIDEKICK_SAMPLE: &str =
    include_str!("../../../demo/alerts/falcosidekick-test-input.json");

/// How long the demo waits for the tasks of one wave of alerts.
const WAIT_LIMIT: Duration = Duration::from_secs(90);

/// What to run.
#[derive(Debug, Clone, Default)]
pub struct DemoOptions {
    /// A new or empty directory for the daemon's data; a fresh one under
    /// the system's temporary directory when `None`.
    pub data_dir: Option<PathBuf>,
    /// Extra alert files to ingest (format detected per record).
    pub files: Vec<PathBuf>,
    /// Print as it goes (the tests turn it off).
    pub verbose: bool,
}

/// One alert file as the daemon took it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileReport {
    pub name: String,
    /// The format named, or `detected`.
    pub format: String,
    /// Where it came from and under which licence, or that the demo
    /// wrote it.
    pub origin: String,
    pub ingested: usize,
    pub duplicates: usize,
    pub skipped: usize,
    pub failed: usize,
    /// Policies opened, by rule.
    pub rules: BTreeMap<String, usize>,
    /// Why a line could not be read, or a rule produced nothing.
    pub problems: Vec<String>,
}

/// One handling task at the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskLine {
    pub id: u64,
    pub action: String,
    pub target: String,
    pub entity: String,
    pub status: String,
    pub detail: String,
    /// When the engine's revert timer lifts it.
    pub expires_at: Option<String>,
}

/// Tasks of one action on one target, and what the other side recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionRow {
    pub action: String,
    pub target: String,
    pub succeeded: usize,
    pub failed: usize,
    pub other: usize,
    /// What the simulator or the agent holds for this action, counted.
    pub recorded: usize,
    pub recorded_what: String,
}

/// What the demo did, for its summary and for tests.
#[derive(Debug, Clone, Default)]
pub struct DemoSummary {
    pub files: Vec<FileReport>,
    pub tasks: Vec<TaskLine>,
    pub actions: Vec<ActionRow>,
    /// The demo's processes: name, pid, how each ended.
    pub processes: Vec<(String, u32, String)>,
    /// The planted files and whether each is still in place.
    pub planted_files: Vec<(PathBuf, bool)>,
    /// Domains sinkholed in the scratch hosts file.
    pub sinkholed: Vec<String>,
    pub data_dir: PathBuf,
    pub api: String,
    pub admin_token_file: PathBuf,
    pub agent_audit_log: PathBuf,
}

/// The demo's running pieces, kept for exploration until shut down.
pub struct Demo {
    pub summary: DemoSummary,
    pub daemon: Daemon,
    pub simulator: Simulator,
    pub agent: RunningAgent,
    pub scratch: Scratch,
    pub api: ApiClient,
}

impl std::fmt::Debug for Demo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Demo")
            .field("api", &self.summary.api)
            .finish_non_exhaustive()
    }
}

impl Demo {
    /// Stops the daemon and the agent; the simulator stops when dropped and
    /// the scratch processes are ended.
    pub async fn shutdown(self) {
        self.daemon.shutdown().await;
        self.agent.stop().await;
        drop(self.simulator);
        drop(self.scratch);
    }
}

/// Runs the demo and returns its summary with the pieces still running.
pub async fn run(options: DemoOptions) -> anyhow::Result<Demo> {
    let out = report::Printer::new(options.verbose);
    let data_dir = data_dir(options.data_dir.as_deref())?;
    let scratch_dir = data_dir.join("scratch");
    std::fs::create_dir_all(&scratch_dir)
        .with_context(|| format!("creating {}", scratch_dir.display()))?;
    let mut extra = Vec::new();
    for file in &options.files {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("reading alert file `{}`", file.display()))?;
        extra.push((file.display().to_string(), text));
    }

    // The other side: simulated clouds and a local endpoint agent.
    let credentials = world::Credentials::fresh()?;
    let simulator = world::start_simulator(&credentials)?;
    let port = simulator.addr().port();
    let agent = world::start_agent(&data_dir, &scratch_dir).await?;
    out.started(port, agent.agent.addr());

    // The daemon, as `riposte serve` assembles it, on a loopback network.
    let daemon = start_daemon(&data_dir, port, agent.agent.addr().port()).await?;
    let token_file = daemon
        .admin_token_file
        .clone()
        .context("the fresh data directory got no admin token")?;
    let token = std::fs::read_to_string(&token_file)
        .with_context(|| format!("reading {}", token_file.display()))?;
    let api = ApiClient::new(daemon.addr, token.trim().to_owned());
    out.daemon(daemon.addr, &data_dir);

    // What an admin sets up.
    let scratch = Scratch::plant(&scratch_dir)?;
    let targets = setup::targets(&api, port, &credentials, &agent, &scratch).await?;
    setup::allowlist(&api).await?;
    setup::scripts_and_rules(&api, &scratch_dir).await?;
    out.setup(&targets, &scratch);

    // The alerts, in two waves: the sweep follows the first wave's
    // quarantine, as an analyst would run it.
    let alerts_dir = data_dir.join("alerts");
    std::fs::create_dir_all(&alerts_dir)?;
    let mut first: Vec<Input> = vec![
        Input::bundled(
            "demo/alerts/eve.json",
            "suricata-eve",
            BUNDLED_EVE,
            "written for riposte's demo, documentation addresses only",
        ),
        Input::bundled(
            "demo/alerts/falco-single_rule_with_cat_write.json",
            "falco",
            FALCO_SAMPLE,
            "falcosecurity/falco test output, Apache-2.0",
        ),
        Input::bundled(
            "demo/alerts/falcosidekick-test-input.json",
            "falco",
            FALCOSIDEKICK_SAMPLE,
            "falcosecurity/falcosidekick test input, MIT",
        ),
        Input::written(
            &alerts_dir,
            "security-center-events.json",
            "aliyun-sas",
            &setup::sas_alerts(),
            "synthesized: an event of the simulated Security Center host",
        )?,
        Input::written(
            &alerts_dir,
            "falco-endpoint-1.json",
            "falco",
            &setup::endpoint_alerts(&scratch),
            "synthesized about the demo's own scratch processes and files",
        )?,
    ];
    for (name, text) in extra {
        first.push(Input {
            name,
            format: None,
            text,
            origin: "named on the command line".into(),
        });
    }
    let mut summary = DemoSummary::default();
    for input in &first {
        let file = ingest(&api, input).await?;
        out.file(&file);
        summary.files.push(file);
    }
    wait(&api, &out).await?;
    let second = Input::written(
        &alerts_dir,
        "falco-endpoint-2.json",
        "falco",
        &setup::sweep_alerts(),
        "synthesized: the web server ran a shell on the demo host",
    )?;
    let file = ingest(&api, &second).await?;
    out.file(&file);
    summary.files.push(file);
    wait(&api, &out).await?;

    // What happened, from the daemon and from the other side.
    let mut scratch = scratch;
    collect(&api, &simulator, &agent, &mut scratch, &mut summary).await?;
    summary.data_dir = data_dir.clone();
    summary.api = format!("http://{}", daemon.addr);
    summary.admin_token_file = token_file;
    summary.agent_audit_log = agent.agent.audit_log().to_path_buf();
    out.tasks(&summary);
    Ok(Demo {
        summary,
        daemon,
        simulator,
        agent: agent.agent,
        scratch,
        api,
    })
}

/// The data directory: the one named, new or empty, else a fresh one.
fn data_dir(named: Option<&Path>) -> anyhow::Result<PathBuf> {
    let dir = match named {
        Some(dir) => dir.to_path_buf(),
        None => std::env::temp_dir().join(format!("riposte-demo-{}", world::random_hex(4)?)),
    };
    let dir = if dir.is_absolute() {
        dir
    } else {
        std::env::current_dir()?.join(dir)
    };
    if dir.exists() && std::fs::read_dir(&dir)?.next().is_some() {
        bail!(
            "the data directory {} is not empty\nhint: the demo starts from nothing; name a new \
             directory with --data, or remove this one",
            dir.display()
        );
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

/// Starts the daemon with the bundled components, each also granted the
/// loopback origin of the simulator (and the endpoint component the
/// agent's), behind a gate that resolves the demo's names to 127.0.0.1.
async fn start_daemon(data_dir: &Path, port: u16, agent_port: u16) -> anyhow::Result<Daemon> {
    let loopback = [IpAddr::from([127, 0, 0, 1])];
    let mut resolver = StaticResolver::new()
        .with(world::TENCENT_HOST, &loopback)
        .with(world::HUAWEI_HOST, &loopback)
        .with(world::AGENT_HOST, &loopback);
    for (_, host) in world::ALIYUN_HOSTS {
        resolver = resolver.with(host, &loopback);
    }
    let network = Network::new(Arc::new(resolver), Arc::new(LoopbackOnlyConnector::new()));
    let runtime = Runtime::new(RuntimeConfig::default(), network, SecretStore::new())
        .map_err(|err| anyhow::anyhow!("building the runtime: {err:#}"))?;

    let mut preinstalled = Vec::new();
    for (package, wasm) in crate::bundled::ALL {
        let mut hosts = vec![format!("http://127.0.0.1:{port}")];
        let names: Vec<&str> = match *package {
            "tencent-cloud" => vec![world::TENCENT_HOST],
            "huawei-cloud" => vec![world::HUAWEI_HOST],
            package => world::ALIYUN_HOSTS
                .iter()
                .filter(|(c, _)| *c == package)
                .map(|(_, h)| *h)
                .collect(),
        };
        hosts.extend(names.iter().map(|name| format!("http://{name}:{port}")));
        if *package == "endpoint" {
            hosts.push(format!("http://{}:{agent_port}", world::AGENT_HOST));
            hosts.push(format!("http://127.0.0.1:{agent_port}"));
        }
        preinstalled.push(Preinstalled {
            wasm: wasm.to_vec(),
            extra: GrantSpec {
                hosts,
                secrets: Vec::new(),
            },
        });
    }
    let config = DaemonConfig {
        data_dir: data_dir.to_path_buf(),
        listen: "127.0.0.1:0".parse().expect("an address"),
        engine: EngineConfig::default(),
        preinstalled,
        signatures: Default::default(),
        watch_components: false,
        declared_grants: Vec::new(),
    };
    Daemon::start(config, Arc::new(runtime))
        .await
        .context("starting the daemon")
}

/// An alert file to ingest.
struct Input {
    name: String,
    format: Option<&'static str>,
    text: String,
    origin: String,
}

impl Input {
    fn bundled(name: &str, format: &'static str, text: &str, origin: &str) -> Self {
        Self {
            name: name.into(),
            format: Some(format),
            text: text.into(),
            origin: origin.into(),
        }
    }

    /// Writes `records` as JSON lines into `dir/name`, as a sensor would.
    fn written(
        dir: &Path,
        name: &str,
        format: &'static str,
        records: &[Value],
        origin: &str,
    ) -> anyhow::Result<Self> {
        let path = dir.join(name);
        let text = setup::lines(records);
        std::fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;
        Ok(Self {
            name: path.display().to_string(),
            format: Some(format),
            text,
            origin: origin.into(),
        })
    }
}

/// Sends one file to the batch route and reads what each line became.
async fn ingest(api: &ApiClient, input: &Input) -> anyhow::Result<FileReport> {
    let answer = api
        .ingest(input.format, &input.text)
        .await
        .map_err(|err| err.context(format!("ingesting {}", input.name)))?;
    let count = |field: &str| answer[field].as_u64().unwrap_or(0) as usize;
    let mut file = FileReport {
        name: input.name.clone(),
        format: input.format.unwrap_or("detected").to_owned(),
        origin: input.origin.clone(),
        ingested: count("ingested"),
        duplicates: count("duplicates"),
        skipped: count("skipped"),
        failed: count("failed"),
        ..FileReport::default()
    };
    for result in answer["results"].as_array().into_iter().flatten() {
        let line = result["line"].as_u64().unwrap_or(0);
        if let Some(error) = result["error"].as_str() {
            file.problems.push(format!("line {line}: {error}"));
        }
        for policy in result["report"]["opened"].as_array().into_iter().flatten() {
            let id = policy.as_u64().unwrap_or(0);
            let policy = api.get(&format!("/v1/policies/{id}")).await?;
            let rule = policy["policy"]["source"]["rule"]
                .as_str()
                .unwrap_or("-")
                .to_owned();
            *file.rules.entry(rule).or_default() += 1;
        }
        for skipped in result["report"]["skipped"].as_array().into_iter().flatten() {
            file.problems.push(format!(
                "line {line}: rule `{}`: {}",
                skipped[0].as_str().unwrap_or("?"),
                skipped[1].as_str().unwrap_or("?")
            ));
        }
    }
    Ok(file)
}

/// Every item of a paged list.
async fn all(api: &ApiClient, path: &str) -> anyhow::Result<Vec<Value>> {
    let mut items = Vec::new();
    let mut before: Option<u64> = None;
    loop {
        let page_path = match before {
            Some(cursor) => format!("{path}?limit=500&before={cursor}"),
            None => format!("{path}?limit=500"),
        };
        let page = api.get(&page_path).await?;
        items.extend(page["items"].as_array().cloned().unwrap_or_default());
        match page["next"].as_u64() {
            Some(next) => before = Some(next),
            None => return Ok(items),
        }
    }
}

/// Waits until every policy and task is done, with a progress line.
async fn wait(api: &ApiClient, out: &report::Printer) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        let tasks = all(api, "/v1/tasks").await?;
        let policies = all(api, "/v1/policies").await?;
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for task in &tasks {
            *counts
                .entry(task["status"].as_str().unwrap_or("?").to_owned())
                .or_default() += 1;
        }
        let busy = |status: &Value| matches!(status.as_str(), Some("Waiting" | "Executing"));
        let open = policies.iter().filter(|p| busy(&p["status"])).count();
        let running = tasks.iter().filter(|t| busy(&t["status"])).count();
        out.progress(&counts, open, start.elapsed());
        if open == 0 && running == 0 {
            out.progress_done();
            return Ok(());
        }
        if start.elapsed() > WAIT_LIMIT {
            out.progress_done();
            bail!(
                "{running} tasks and {open} policies were still running after {} s; \
                 `riposte task list --status executing` shows them",
                WAIT_LIMIT.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Reads the tasks back, and what the simulator and the agent recorded.
async fn collect(
    api: &ApiClient,
    simulator: &Simulator,
    agent: &world::LocalAgent,
    scratch: &mut Scratch,
    summary: &mut DemoSummary,
) -> anyhow::Result<()> {
    let mut tasks = all(api, "/v1/tasks").await?;
    tasks.reverse();
    let audit = agent.agent.audit_entries();
    let mut rows: BTreeMap<(String, String), ActionRow> = BTreeMap::new();
    for task in &tasks {
        let action = task["action"].as_str().unwrap_or("?").to_owned();
        let target = task["target"].as_str().unwrap_or("?").to_owned();
        let status = task["status"].as_str().unwrap_or("?").to_owned();
        let detail = match status.as_str() {
            "Failed" => format!(
                "{}: {}",
                task["failure"]["kind"].as_str().unwrap_or("?"),
                task["failure"]["message"].as_str().unwrap_or("?")
            ),
            "Ignored" => task["ignored_reason"].as_str().unwrap_or("").to_owned(),
            _ => task["detail"].as_str().unwrap_or("").to_owned(),
        };
        summary.tasks.push(TaskLine {
            id: task["id"].as_u64().unwrap_or(0),
            action: action.clone(),
            target: target.clone(),
            entity: format!(
                "{} {}",
                task["entity"]["kind"].as_str().unwrap_or("?"),
                task["entity"]["value"].as_str().unwrap_or("?")
            ),
            status: status.clone(),
            detail,
            expires_at: task["expires_at"].as_str().map(str::to_owned),
        });
        let row = rows
            .entry((action.clone(), target.clone()))
            .or_insert_with(|| {
                let (recorded, what) = report::recorded(&action, &target, simulator, &audit);
                ActionRow {
                    action,
                    target,
                    succeeded: 0,
                    failed: 0,
                    other: 0,
                    recorded,
                    recorded_what: what,
                }
            });
        match status.as_str() {
            "Succeeded" => row.succeeded += 1,
            "Failed" => row.failed += 1,
            _ => row.other += 1,
        }
    }
    summary.actions = rows.into_values().collect();
    summary.processes = scratch.fates();
    summary.planted_files = [&scratch.web_shell, &scratch.hidden_shell, &scratch.page]
        .into_iter()
        .map(|path| (path.clone(), path.exists()))
        .collect();
    let hosts = std::fs::read_to_string(&agent.hosts_file).unwrap_or_default();
    summary.sinkholed = hosts
        .lines()
        .filter(|line| line.starts_with("0.0.0.0 "))
        .filter_map(|line| line.split_whitespace().nth(1))
        .map(str::to_owned)
        .collect();
    Ok(())
}
