//! The command line, as clap parses it. Only shapes live here: what each
//! subcommand accepts. Turning a command into an API request is
//! [`super::plan`]'s job, and finding the server and the token is
//! [`super::config`]'s.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Shown under `riposte --help`: where the token comes from, and the
/// commands `main.rs` runs without a daemon.
const AFTER_HELP: &str = "\
Server and token:
  The server is `--server`, else env RIPOSTE_SERVER, else `server` in the
  config file, else http://127.0.0.1:8640.
  The token is `--token` or `--token-file`, else env RIPOSTE_TOKEN or
  RIPOSTE_TOKEN_FILE, else `token` or `token_file` in the config file, else
  the first admin token the daemon writes to <data dir>/admin.token, where
  the data dir is env RIPOSTE_DATA or ./riposte-data.
  The config file is `--config`, else env RIPOSTE_CONFIG, else
  $XDG_CONFIG_HOME/riposte/cli.json or ~/.config/riposte/cli.json, JSON such
  as {\"server\": \"http://127.0.0.1:8640\", \"token_file\": \"/etc/riposte/token\"}.

Commands that need no daemon:
  riposte serve                  start the daemon
  riposte demo [--exit]          run the daemon end to end on this machine
  riposte inspect FILE.wasm      print what a handling component declares
  riposte component check FILE.wasm
                                 check a component against the contract

Exit codes: 0 done; 1 the request failed, a line was refused or a script is
invalid; 2 the command line, a local file or the configuration is wrong.";

/// The operator's command line client of the riposte daemon.
#[derive(Debug, Parser)]
#[command(name = "riposte", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// The daemon's address, such as http://127.0.0.1:8640 [env: RIPOSTE_SERVER]
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_name = "URL"
    )]
    pub server: Option<String>,

    /// The API token [env: RIPOSTE_TOKEN]; prefer --token-file, which keeps
    /// it out of shell history
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_name = "TOKEN",
        conflicts_with = "token_file"
    )]
    pub token: Option<String>,

    /// A file holding the API token [env: RIPOSTE_TOKEN_FILE]
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_name = "PATH"
    )]
    pub token_file: Option<PathBuf>,

    /// The client config file [env: RIPOSTE_CONFIG]
    #[arg(
        long,
        global = true,
        help_heading = "Global options",
        value_name = "PATH"
    )]
    pub config: Option<PathBuf>,

    /// Print the server's JSON answer as it is instead of a table
    #[arg(long, global = true, help_heading = "Global options")]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Handling tasks: one action on one target
    #[command(subcommand)]
    Task(TaskCommand),
    /// Handling policies: one decision on one entity
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Scripts (playbooks) and their versions
    #[command(subcommand)]
    Script(ScriptCommand),
    /// Response rules
    #[command(subcommand)]
    Rule(RuleCommand),
    /// The allowlist: entities never to act on
    #[command(subcommand)]
    Allow(AllowCommand),
    /// Targets: where actions run, with their credentials
    #[command(subcommand)]
    Target(TargetCommand),
    /// Handling components
    #[command(subcommand)]
    Component(ComponentCommand),
    /// Alerts: send, list, handle by hand
    #[command(subcommand)]
    Alert(SignalCommand),
    /// Incidents: send, list, handle by hand
    #[command(subcommand)]
    Incident(SignalCommand),
    /// The audit log
    #[command(subcommand)]
    Audit(AuditCommand),
    /// API tokens
    #[command(subcommand)]
    Token(TokenCommand),
}

/// `--limit`, `--before` and `--all` of every paged list.
#[derive(Debug, Clone, Default, Args)]
pub struct Paging {
    /// Items per page (1 to 500; the server's default is 50)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=500))]
    pub limit: Option<u16>,
    /// Start after this cursor (the `next` of the previous page)
    #[arg(long, value_name = "CURSOR")]
    pub before: Option<String>,
    /// Follow `next` cursors and list every page
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// List tasks, newest first
    List(TaskFilter),
    /// Show one task with its attempts and failure
    Get { id: String },
    /// Run a failed task again (refused for irreversible actions)
    Retry { id: String },
    /// Undo a task's action now
    Unblock { id: String },
}

#[derive(Debug, Args)]
pub struct TaskFilter {
    /// Waiting, Executing, Succeeded, PartiallySucceeded, Failed or Ignored
    #[arg(long, value_name = "S")]
    pub status: Option<String>,
    /// Entity kind, such as ip or domain
    #[arg(long, value_name = "K")]
    pub entity_kind: Option<String>,
    /// Entity value (needs --entity-kind)
    #[arg(long, value_name = "V", requires = "entity_kind")]
    pub entity: Option<String>,
    /// Action identifier, such as AliyunWafBlockIP
    #[arg(long, value_name = "A")]
    pub action: Option<String>,
    /// Target id
    #[arg(long, value_name = "T")]
    pub target: Option<String>,
    /// Policy id
    #[arg(long, value_name = "ID")]
    pub policy: Option<String>,
    #[command(flatten)]
    pub paging: Paging,
}

#[derive(Debug, Subcommand)]
#[expect(
    clippy::large_enum_variant,
    reason = "one command is parsed per run; boxing buys nothing"
)]
pub enum PolicyCommand {
    /// List policies, newest first
    List(PolicyFilter),
    /// Show a policy, the alert or run that started it, and its tasks
    Get { id: String },
    /// Show the script version a policy ran, and its other runs
    Script { id: String },
}

#[derive(Debug, Args)]
pub struct PolicyFilter {
    /// Policy status: Waiting, Executing, Succeeded, PartiallySucceeded, Failed or Ignored
    #[arg(long, value_name = "S")]
    pub status: Option<String>,
    /// Entity kind, such as ip or domain
    #[arg(long, value_name = "K")]
    pub entity_kind: Option<String>,
    /// Entity value (needs --entity-kind)
    #[arg(long, value_name = "V", requires = "entity_kind")]
    pub entity: Option<String>,
    /// Action identifier
    #[arg(long, value_name = "A")]
    pub action: Option<String>,
    /// How it started: manual-handling, incident-rule, alert-rule or manual-script-run
    #[arg(long, value_name = "SOURCE")]
    pub source: Option<String>,
    /// Script name
    #[arg(long, value_name = "NAME")]
    pub script: Option<String>,
    /// Script version, as NAME@VERSION
    #[arg(long, value_name = "NAME@V")]
    pub version: Option<String>,
    /// Created at or after this RFC 3339 time
    #[arg(long, value_name = "RFC3339")]
    pub since: Option<String>,
    /// Created before this RFC 3339 time
    #[arg(long, value_name = "RFC3339")]
    pub until: Option<String>,
    #[command(flatten)]
    pub paging: Paging,
}

#[derive(Debug, Subcommand)]
pub enum ScriptCommand {
    /// The latest version of each script
    List,
    /// Every version of a script, oldest first
    Versions { name: String },
    /// One version of a script
    Get { name: String, version: String },
    /// Create a script from a YAML or JSON file (its version 1)
    Create { file: PathBuf },
    /// Publish a new version of a script from a YAML or JSON file
    Publish { name: String, file: PathBuf },
    /// Check a script file without saving it; exits 1 when it is invalid
    Validate { file: PathBuf },
    /// Run a script by hand on one entity
    Run {
        name: String,
        /// The entity, as KIND:VALUE (ip:203.0.113.7)
        #[arg(long, value_name = "KIND:VALUE")]
        entity: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum RuleCommand {
    /// Every response rule
    List,
    /// One rule
    Get { name: String },
    /// Create or replace a rule from a YAML or JSON file
    Put { name: String, file: PathBuf },
    /// Delete a rule
    Delete { name: String },
    /// Enable a rule
    Enable { name: String },
    /// Disable a rule
    Disable { name: String },
}

#[derive(Debug, Subcommand)]
pub enum AllowCommand {
    /// Every allowlist entry
    List,
    /// Add an entry
    Add {
        /// Entity kind, such as ip, cidr or domain
        #[arg(long, value_name = "K")]
        kind: String,
        /// The value, such as 198.51.100.0/24 or *.example.com
        #[arg(long, value_name = "V")]
        value: String,
        /// Why it must never be acted on
        #[arg(long, value_name = "R")]
        reason: String,
        /// When it lapses: an RFC 3339 time, or a duration from now (7d)
        #[arg(long, value_name = "WHEN")]
        expires: Option<String>,
    },
    /// One entry
    Get { id: String },
    /// Remove an entry
    Remove { id: String },
}

#[derive(Debug, Subcommand)]
pub enum TargetCommand {
    /// Every target
    List,
    /// One target (the credential's secret is never shown)
    Get { id: String },
    /// Create or replace a target from a YAML or JSON file. The
    /// credential's secret may come from env RIPOSTE_TARGET_SECRET or
    /// --secret-stdin instead of the file
    Put {
        id: String,
        file: PathBuf,
        /// Read the credential's secret from the first line of stdin
        #[arg(long)]
        secret_stdin: bool,
    },
    /// Delete a target
    Delete { id: String },
}

#[derive(Debug, Subcommand)]
pub enum ComponentCommand {
    /// Every handling component
    List,
    /// One component with its actions, hosts and grant
    Inspect { name: String },
    /// Enable a component
    Enable { name: String },
    /// Disable a component
    Disable { name: String },
    /// Install a component version from a .wasm file; FILE.minisig is sent
    /// with it when present. It becomes active once its grant covers what
    /// it asks for
    Load {
        file: PathBuf,
        /// The minisign signature (default: FILE.minisig, when it exists)
        #[arg(long)]
        signature: Option<PathBuf>,
    },
    /// Replace a component's grant (hosts it may call, secrets it may
    /// open); a version waiting for it becomes active
    Grant {
        name: String,
        /// A host pattern such as `https://*.aliyuncs.com` (repeatable)
        #[arg(long = "host")]
        hosts: Vec<String>,
        /// A secret pattern such as `target:*` (repeatable)
        #[arg(long = "secret")]
        secrets: Vec<String>,
    },
    /// Make an installed version the active one (upgrade or rollback)
    Activate { name: String, version: String },
    /// Check a .wasm file against the component contract in a local
    /// sandbox (no daemon): describe, entity kinds, plan, execute, revert,
    /// idempotency, typed failures, limits. Exits 1 when a check fails
    Check {
        file: PathBuf,
        /// What to run it against: `auto` (the provider simulator for
        /// components that call Alibaba Cloud, else the recording
        /// endpoint), `endpoint` or `aliyun`
        #[arg(long, default_value = "auto")]
        backend: String,
    },
    /// Remove a component with every version, or one inactive version
    Remove {
        name: String,
        /// Remove only this version
        #[arg(long)]
        version: Option<String>,
        /// Remove even while tasks of the component wait (they will fail)
        #[arg(long)]
        force: bool,
    },
}

/// Commands shared by `alert` and `incident`.
#[derive(Debug, Subcommand)]
pub enum SignalCommand {
    /// Send records from a file or stdin (`-`): JSON lines, or one JSON
    /// document (an object or an array of objects)
    Send(SendArgs),
    /// List received records, newest first
    List(Paging),
    /// One record with its data
    Get { id: String },
    /// Handle a record by hand
    Handle(HandleArgs),
}

#[derive(Debug, Args)]
pub struct SendArgs {
    /// The file to read, or `-` for stdin
    pub file: PathBuf,
    /// generic, suricata-eve, falco, wazuh or aliyun-sas (default: detect)
    #[arg(long, value_name = "F")]
    pub format: Option<String>,
    /// Send to the incident endpoint (under `riposte alert`)
    #[arg(long)]
    pub incident: bool,
    /// Keep reading the file as it grows, across truncation and rotation,
    /// until interrupted
    #[arg(long)]
    pub follow: bool,
    /// Lines per request
    #[arg(long, value_name = "N", default_value_t = 500,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub batch: u32,
}

#[derive(Debug, Args)]
pub struct HandleArgs {
    pub id: String,
    /// Run what the matching rules recommend
    #[arg(long, group = "mode")]
    pub apply_recommended: bool,
    /// Run this script on --entity
    #[arg(long, value_name = "NAME", group = "mode")]
    pub run_script: Option<String>,
    /// Allowlist --entity, with --reason
    #[arg(long, group = "mode")]
    pub allowlist: bool,
    /// The entity, as KIND:VALUE (ip:203.0.113.7)
    #[arg(long, value_name = "KIND:VALUE")]
    pub entity: Option<String>,
    /// Why the entity is allowlisted
    #[arg(long, value_name = "R")]
    pub reason: Option<String>,
    /// When the allowlist entry lapses: RFC 3339, or a duration (7d)
    #[arg(long, value_name = "WHEN")]
    pub expires: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// The audit log, newest first
    List(AuditFilter),
}

#[derive(Debug, Args)]
pub struct AuditFilter {
    /// Who acted (a token name)
    #[arg(long, value_name = "NAME")]
    pub actor: Option<String>,
    /// What was done, such as task.unblock
    #[arg(long, value_name = "ACTION")]
    pub action: Option<String>,
    /// What it was done to, such as task/42
    #[arg(long, value_name = "OBJECT")]
    pub object: Option<String>,
    /// At or after this RFC 3339 time
    #[arg(long, value_name = "RFC3339")]
    pub since: Option<String>,
    /// Before this RFC 3339 time
    #[arg(long, value_name = "RFC3339")]
    pub until: Option<String>,
    #[command(flatten)]
    pub paging: Paging,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Every token (never their values)
    List,
    /// Create a token; its value is printed once
    Create {
        name: String,
        #[arg(long, value_enum)]
        role: Role,
    },
    /// Revoke a token
    Revoke { name: String },
}

/// The API's roles, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum Role {
    Viewer,
    Operator,
    Admin,
}

impl Role {
    /// The name the API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}
