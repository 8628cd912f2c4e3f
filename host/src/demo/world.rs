//! What the demo acts on: the provider simulator with the cloud resources
//! its targets name, a local endpoint agent, and a scratch directory with
//! the demo's own processes and planted files.
//!
//! Everything the endpoint rules may touch lies in the scratch directory:
//! the suspicious executables are copies of `sleep` there, run as this
//! process's children and never reaped before the demo ends, so their pids
//! cannot be reused by another process while the demo runs.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use anyhow::{Context as _, bail};
use riposte_simulator::{AclKind, SasEvent, SasHost, Simulator, SimulatorConfig};

use crate::agent::config::{AgentConfig, Capability};
use crate::agent::server::RunningAgent;

/// The host name every provider endpoint and the agent use; the demo's
/// resolver maps each to 127.0.0.1.
pub const ALIYUN_HOSTS: &[(&str, &str)] = &[
    ("aliyun-waf", "wafopenapi.aliyun.sim.demo.riposte"),
    ("aliyun-cloudfw", "cloudfw.aliyun.sim.demo.riposte"),
    ("aliyun-ecs", "ecs.aliyun.sim.demo.riposte"),
    ("aliyun-slb", "slb.aliyun.sim.demo.riposte"),
    ("aliyun-cdn", "cdn.aliyun.sim.demo.riposte"),
    ("aliyun-ddoscoo", "ddoscoo.aliyun.sim.demo.riposte"),
    ("endpoint", "tds.aliyun.sim.demo.riposte"),
];
pub const TENCENT_HOST: &str = "tencentcloudapi.sim.demo.riposte";
pub const HUAWEI_HOST: &str = "myhuaweicloud.sim.demo.riposte";
pub const AGENT_HOST: &str = "agent.demo.riposte";

/// The cloud resources the targets name.
pub const WAF_INSTANCE: &str = "waf_v2_public_cn-demo";
pub const WAF_TEMPLATE: u64 = 1122;
pub const SECURITY_GROUP: &str = "sg-bp1demo0web0servers";
pub const CLB_ACL: &str = "acl-bp1demo0clb0v4";
pub const CDN_DOMAIN: &str = "www.shop.example";
pub const DDOS_INSTANCE: &str = "ddoscoo-cn-demo0001";
pub const TENCENT_ACCOUNT: &str = "100000000001";
pub const TENCENT_WAF_DOMAIN: &str = "www.shop.example";
pub const HUAWEI_ACCOUNT: &str = "hw-demo-domain";
pub const HUAWEI_PROJECT: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
pub const HUAWEI_CFW_OBJECT: &str = "5d2f1c9e-demo-4b84-b938-3c54317599b2";
pub const HUAWEI_WAF_POLICY: &str = "7e1d0c5b4a394f2e8d7c6b5a49382716";
/// The Security Center host and the event the demo's SAS alert is about.
pub const SAS_UUID: &str = "6c1f0a52-demo-4e7d-9a31-5b2e8c4d0001";
pub const SAS_EVENT: u64 = 700_001;
pub const SAS_ATTACKER: &str = "198.51.100.77";
/// The host name the synthesized Falco alerts carry.
pub const DEMO_HOST: &str = "riposte-demo-host";

/// One provider's credential, fresh for this run.
#[derive(Clone)]
pub struct Credential {
    pub public_id: String,
    pub secret: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("public_id", &self.public_id)
            .finish_non_exhaustive()
    }
}

/// The credentials of the three providers.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub aliyun: Credential,
    pub tencent: Credential,
    pub huawei: Credential,
}

impl Credentials {
    /// New random credentials, shaped like each provider's.
    pub fn fresh() -> anyhow::Result<Self> {
        Ok(Self {
            aliyun: Credential {
                public_id: format!("LTAI5t{}", &random_hex(8)?[..14]),
                secret: random_hex(15)?,
            },
            tencent: Credential {
                public_id: format!("AKID{}", random_hex(16)?),
                secret: random_hex(16)?,
            },
            huawei: Credential {
                public_id: random_hex(10)?.to_ascii_uppercase(),
                secret: random_hex(20)?,
            },
        })
    }
}

/// `bytes` random bytes from the OS, in hex.
pub fn random_hex(bytes: usize) -> anyhow::Result<String> {
    let mut buffer = vec![0u8; bytes];
    crate::vault::fill_random(&mut buffer).map_err(anyhow::Error::msg)?;
    Ok(hex::encode(buffer))
}

/// Starts the provider simulator with the demo's resources.
pub fn start_simulator(credentials: &Credentials) -> anyhow::Result<Simulator> {
    let sas_host = SasHost {
        uuid: SAS_UUID.into(),
        instance_id: "i-bp1demo0web01".into(),
        instance_name: "web-01".into(),
        internet_ip: "203.0.113.80".into(),
        intranet_ip: "172.16.0.80".into(),
    };
    let config = SimulatorConfig::default()
        .with_credential(&credentials.aliyun.public_id, &credentials.aliyun.secret)
        .with_waf_template(WAF_INSTANCE, WAF_TEMPLATE)
        .with_security_group("cn-hangzhou", SECURITY_GROUP)
        .with_load_balancer_acl(AclKind::Clb, "cn-hangzhou", CLB_ACL, 4)
        .with_cdn_domain(CDN_DOMAIN)
        .with_ddos_instance(DDOS_INSTANCE)
        .with_sas_host(sas_host)
        .with_sas_event(
            SasEvent::new(SAS_EVENT, SAS_UUID, "SSH brute force").with_detail("ip", SAS_ATTACKER),
        )
        .with_tencent_key(
            TENCENT_ACCOUNT,
            &credentials.tencent.public_id,
            &credentials.tencent.secret,
        )
        .with_tencent_waf_domain(TENCENT_ACCOUNT, TENCENT_WAF_DOMAIN)
        .with_huawei_key(
            HUAWEI_ACCOUNT,
            &credentials.huawei.public_id,
            &credentials.huawei.secret,
        )
        .with_huawei_project(HUAWEI_ACCOUNT, HUAWEI_PROJECT)
        .with_huawei_cfw_object(HUAWEI_PROJECT, HUAWEI_CFW_OBJECT)
        .with_huawei_waf_policy(HUAWEI_PROJECT, HUAWEI_WAF_POLICY);
    Simulator::start(config).context("starting the provider simulator on 127.0.0.1")
}

/// The endpoint agent on 127.0.0.1, its key and where its files are.
pub struct LocalAgent {
    pub agent: RunningAgent,
    pub key_id: String,
    pub secret: String,
    pub hosts_file: PathBuf,
}

/// Starts the agent with every capability but `net`: the demo never
/// touches this machine's firewall, so a block on the host is refused.
pub async fn start_agent(data_dir: &Path, scratch: &Path) -> anyhow::Result<LocalAgent> {
    let state = data_dir.join("agent");
    let mut config = AgentConfig::new(&state).allow_all();
    config.allow.remove(&Capability::Net);
    config.key_id = "demo-agent".into();
    config.docker_socket = scratch.join("no-docker.sock");
    let hosts_file = scratch.join("etc-hosts");
    std::fs::write(&hosts_file, "127.0.0.1 localhost\n::1 localhost\n")
        .with_context(|| format!("writing {}", hosts_file.display()))?;
    config.dns.file = hosts_file.clone();
    config.protected_paths = protected_paths(data_dir, scratch);
    let secret = random_hex(32)?;
    let listener = tokio::net::TcpListener::bind((IpAddr::from([127, 0, 0, 1]), 0))
        .await
        .context("binding the endpoint agent on 127.0.0.1")?;
    let agent =
        crate::agent::server::start_on(config, secret.clone().into_bytes(), listener).await?;
    Ok(LocalAgent {
        agent,
        key_id: "demo-agent".into(),
        secret,
        hosts_file,
    })
}

/// What quarantine refuses besides the agent's built-in list: the
/// daemon's own files, the agent's state, system directories and the
/// home directory, unless one of them holds the scratch directory.
fn protected_paths(data_dir: &Path, scratch: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = ["riposte.redb", "master.key", "admin.token", "agent"]
        .iter()
        .map(|name| data_dir.join(name))
        .collect();
    for system in [
        "/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc", "/opt", "/root", "/srv", "/var/lib",
    ] {
        paths.push(PathBuf::from(system));
    }
    if let Some(home) = std::env::var_os("HOME") {
        paths.push(PathBuf::from(home));
    }
    paths.retain(|path| path.is_absolute() && !scratch.starts_with(path));
    paths
}

/// A process the demo started for its endpoint alerts.
#[derive(Debug)]
pub struct Planted {
    /// The name of the copy of `sleep` it runs.
    pub name: &'static str,
    pub exe: PathBuf,
    pub child: Child,
}

/// The demo's scratch directory and what it planted there.
#[derive(Debug)]
pub struct Scratch {
    pub dir: PathBuf,
    pub processes: Vec<Planted>,
    /// The web shell the first Falco alert names.
    pub web_shell: PathBuf,
    /// A second one, hidden, that only the YARA sweep finds.
    pub hidden_shell: PathBuf,
    /// A harmless page the sweep must leave alone.
    pub page: PathBuf,
}

/// The executables planted, named like what they pretend to be.
pub const MINER: &str = "xmrig";
pub const REVERSE_SHELL: &str = "rsh-callback";
pub const BEACON: &str = "update-checker";

impl Scratch {
    /// Creates the directory with its web root and starts the processes.
    pub fn plant(dir: &Path) -> anyhow::Result<Self> {
        let text = dir.display().to_string();
        if text.contains(['\'', '\\', '"']) {
            bail!(
                "the scratch directory `{text}` holds a quote or backslash; choose another --data"
            );
        }
        let bin = dir.join("bin");
        let www = dir.join("www");
        for sub in [&bin, &www.join("uploads"), &www.join("img")] {
            std::fs::create_dir_all(sub).with_context(|| format!("creating {}", sub.display()))?;
        }
        let page = www.join("index.html");
        let web_shell = www.join("uploads/shell.php");
        let hidden_shell = www.join("img/.thumbs.php");
        std::fs::write(&page, "<html><body>Welcome to the shop</body></html>\n")?;
        std::fs::write(&web_shell, "<?php @eval($_POST['cmd']); ?>\n")?;
        std::fs::write(
            &hidden_shell,
            "<?php if(isset($_GET['c'])){system($_GET['c']);} ?>\n",
        )?;

        let sleep = find_sleep()?;
        let mut scratch = Self {
            dir: dir.to_path_buf(),
            processes: Vec::new(),
            web_shell,
            hidden_shell,
            page,
        };
        for name in [MINER, REVERSE_SHELL, BEACON] {
            let exe = bin.join(name);
            std::fs::copy(&sleep, &exe)
                .with_context(|| format!("copying {} to {}", sleep.display(), exe.display()))?;
            let child = Command::new(&exe)
                .arg("900")
                .spawn()
                .with_context(|| format!("starting {}", exe.display()))?;
            scratch.processes.push(Planted { name, exe, child });
        }
        Ok(scratch)
    }

    /// The planted process named `name`.
    pub fn process(&self, name: &str) -> &Planted {
        self.processes
            .iter()
            .find(|p| p.name == name)
            .expect("planted")
    }

    /// Reaps the processes that ended; says how each ended or that it
    /// still runs.
    pub fn fates(&mut self) -> Vec<(String, u32, String)> {
        use std::os::unix::process::ExitStatusExt as _;
        self.processes
            .iter_mut()
            .map(|p| {
                let fate = match p.child.try_wait() {
                    Ok(Some(status)) => match status.signal() {
                        Some(9) => "killed (SIGKILL)".to_owned(),
                        Some(15) => "killed (SIGTERM)".to_owned(),
                        Some(n) => format!("killed (signal {n})"),
                        None => format!("exited ({status})"),
                    },
                    Ok(None) => "still running".to_owned(),
                    Err(err) => format!("unknown: {err}"),
                };
                (p.name.to_owned(), p.child.id(), fate)
            })
            .collect()
    }
}

impl Drop for Scratch {
    /// Ends the demo's own processes that are left.
    fn drop(&mut self) {
        for planted in &mut self.processes {
            if let Ok(None) = planted.child.try_wait() {
                let _ = planted.child.kill();
                let _ = planted.child.wait();
            }
        }
    }
}

fn find_sleep() -> anyhow::Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/bin")])
        .map(|dir| dir.join("sleep"))
        .find(|candidate| candidate.is_file())
        .context("no `sleep` executable in PATH; the demo copies it to stand in for malware")
}
