//! Provider simulator: the cloud APIs riposte's handling components call,
//! served on loopback for tests and the demo (`shared/DESIGN.md`, "Tests
//! and the provider simulator").
//!
//! It serves three providers on one port, told apart by the
//! `Authorization` scheme (`ACS3-HMAC-SHA256`, `TC3-HMAC-SHA256`,
//! `SDK-HMAC-SHA256`):
//! - Alibaba Cloud WAF 3.0 (`CreateDefenseRule`, `DeleteDefenseRule`) and
//!   Cloud Firewall access control policies, with its 10 QPS limit, ECS
//!   security group rules, CLB and ALB access control lists, Anti-DDoS
//!   Proxy black and white lists, CDN IP blacklists and DCDN WAF rules,
//!   Security Center alert events and their handling;
//! - Tencent Cloud Firewall block/allow lists and WAF IP access control;
//! - Huawei Cloud Firewall black/white lists and WAF black/white IP rules.
//!
//! Like the real gateways it verifies signatures from the bytes received,
//! with its own implementations (no dependency on `riposte-sdk`), enforces
//! clock windows (and Alibaba's nonce uniqueness), keeps state per account
//! and resource with capacities, and answers in each provider's shape.
//! Tests inspect the state and inject faults.
//!
//! ```no_run
//! use riposte_simulator::{Fault, Simulator, SimulatorConfig};
//!
//! let simulator = Simulator::start(
//!     SimulatorConfig::default()
//!         .with_credential("AccessKeyId", "AccessKeySecret")
//!         .with_waf_template("waf_v2_public_cn-test", 1122),
//! )?;
//! let endpoint = simulator.endpoint(); // http://127.0.0.1:<port>
//! simulator.inject(Fault::throttling(), 1);
//! // ... run a component against `endpoint` ...
//! assert!(simulator.waf_rules().is_empty());
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Modules: [`aliyun`] (gateway, [`aliyun::acs3`] verifier, [`aliyun::waf`]),
//! [`tencent`] ([`tencent::tc3`], [`tencent::cfw`], [`tencent::waf`]),
//! [`huawei`] ([`huawei::apig`], [`huawei::cfw`], [`huawei::waf`]),
//! [`encoding`], [`time`], [`fault`]; the HTTP server is private.

pub mod aliyun;
pub mod encoding;
pub mod fault;
pub mod huawei;
pub mod tencent;
pub mod time;

mod server;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use aliyun::cdn::DcdnWafRule;
pub use aliyun::cloudfw::CloudfwPolicy;
pub use aliyun::ddoscoo::{DdosEntry, DdosList};
pub use aliyun::ecs::EcsRule;
pub use aliyun::sas::{SasEvent, SasHost, SasOperation, SasQuaraFile, SasWhitelistRule};
pub use aliyun::slb::{AclConfig, AclEntry, AclKind};
pub use aliyun::waf::WafRule;
pub use fault::Fault;
pub use huawei::HuaweiKey;
pub use huawei::cfw::HuaweiCfwEntry;
pub use huawei::waf::HuaweiWafRule;
pub use tencent::TencentKey;
pub use tencent::cfw::TencentCfwRule;
pub use tencent::waf::TencentWafRule;
pub use time::Clock;

use aliyun::Aliyun;
use aliyun::waf::Waf;
use huawei::Huawei;
use server::{Shared, State};
use tencent::Tencent;

/// Default rules per WAF template. The real quota depends on the edition
/// and is not in our reference; 200 is the simulator's choice.
pub const DEFAULT_WAF_RULE_QUOTA: usize = 200;

/// Default entries per Tencent and Huawei list (a CFW list, a WAF domain or
/// policy). The real capacities depend on the edition; the simulator's
/// choice.
pub const DEFAULT_LIST_CAPACITY: usize = 200;

/// Default allowed distance between `x-acs-date` and server time: 15
/// minutes (`shared/reference/providers.md` §1.1, §1.3
/// `InvalidTimeStamp.Expired`).
pub const DEFAULT_MAX_CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);

/// What the simulator knows at start.
#[derive(Clone)]
pub struct SimulatorConfig {
    /// Alibaba AccessKeyId → AccessKeySecret.
    pub credentials: BTreeMap<String, String>,
    /// WAF instances that exist: instance id → protection template ids.
    pub waf_instances: BTreeMap<String, BTreeSet<u64>>,
    /// Rules allowed per WAF template (`Waf.Quota.Exceeded` past it).
    pub waf_rule_quota: usize,
    /// Allowed distance between the signed date and server time.
    pub max_clock_skew: Duration,
    /// Where server time comes from.
    pub clock: Clock,
    /// Tencent SecretId → key and account.
    pub tencent_keys: BTreeMap<String, TencentKey>,
    /// Tencent WAF domains that exist, as (account, domain).
    pub tencent_waf_domains: BTreeSet<(String, String)>,
    /// Huawei AK → key and account.
    pub huawei_keys: BTreeMap<String, HuaweiKey>,
    /// Huawei project id → account.
    pub huawei_projects: BTreeMap<String, String>,
    /// Huawei CFW protection object id → project id.
    pub huawei_cfw_objects: BTreeMap<String, String>,
    /// Huawei WAF policy id → project id.
    pub huawei_waf_policies: BTreeMap<String, String>,
    /// Entries per Tencent or Huawei list, and Alibaba Cloud Firewall
    /// policies per direction (quota errors past it).
    pub list_capacity: usize,
    /// Alibaba Cloud Firewall calls allowed per second per AccessKeyId.
    pub cloudfw_qps: usize,
    /// ECS security groups that exist: id → region.
    pub security_groups: BTreeMap<String, String>,
    /// Rules allowed per ECS security group.
    pub security_group_rule_quota: usize,
    /// Requests allowed per second per credential, on every API; `None`
    /// for no limit (Cloud Firewall's own 10 per second still applies).
    pub rate_limit: Option<usize>,
    /// CLB and ALB access control lists that exist, by id.
    pub load_balancer_acls: BTreeMap<String, AclConfig>,
    /// Entries allowed per load balancer ACL; the documented limits (300
    /// CLB, 1,000 ALB) when `None`.
    pub acl_entry_quota: Option<usize>,
    /// Anti-DDoS Proxy instances that exist.
    pub ddos_instances: BTreeSet<String>,
    /// Addresses allowed per Anti-DDoS Proxy list.
    pub ddos_list_quota: usize,
    /// CDN accelerated domains that exist.
    pub cdn_domains: BTreeSet<String>,
    /// DCDN WAF protection policies that exist.
    pub dcdn_waf_policies: BTreeSet<u64>,
    /// Hosts managed by Security Center.
    pub sas_hosts: Vec<SasHost>,
    /// Security Center alert events that exist at start.
    pub sas_events: Vec<SasEvent>,
    /// Status queries for which a Security Center handling task still
    /// answers `Processing`.
    pub sas_processing_polls: usize,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        Self {
            credentials: BTreeMap::new(),
            waf_instances: BTreeMap::new(),
            waf_rule_quota: DEFAULT_WAF_RULE_QUOTA,
            max_clock_skew: DEFAULT_MAX_CLOCK_SKEW,
            clock: Clock::System,
            tencent_keys: BTreeMap::new(),
            tencent_waf_domains: BTreeSet::new(),
            huawei_keys: BTreeMap::new(),
            huawei_projects: BTreeMap::new(),
            huawei_cfw_objects: BTreeMap::new(),
            huawei_waf_policies: BTreeMap::new(),
            list_capacity: DEFAULT_LIST_CAPACITY,
            cloudfw_qps: aliyun::cloudfw::DEFAULT_QPS,
            security_groups: BTreeMap::new(),
            security_group_rule_quota: aliyun::ecs::RULES_PER_GROUP,
            rate_limit: None,
            load_balancer_acls: BTreeMap::new(),
            acl_entry_quota: None,
            ddos_instances: BTreeSet::new(),
            ddos_list_quota: aliyun::ddoscoo::LIST_CAPACITY,
            cdn_domains: BTreeSet::new(),
            dcdn_waf_policies: BTreeSet::new(),
            sas_hosts: Vec::new(),
            sas_events: Vec::new(),
            sas_processing_polls: 0,
        }
    }
}

impl fmt::Debug for SimulatorConfig {
    /// Shows key ids, never secrets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimulatorConfig")
            .field(
                "access_key_ids",
                &self.credentials.keys().collect::<Vec<_>>(),
            )
            .field("waf_instances", &self.waf_instances)
            .field("waf_rule_quota", &self.waf_rule_quota)
            .field("max_clock_skew", &self.max_clock_skew)
            .field("clock", &self.clock)
            .field("tencent_keys", &self.tencent_keys)
            .field("tencent_waf_domains", &self.tencent_waf_domains)
            .field("huawei_keys", &self.huawei_keys)
            .field("huawei_projects", &self.huawei_projects)
            .field("huawei_cfw_objects", &self.huawei_cfw_objects)
            .field("huawei_waf_policies", &self.huawei_waf_policies)
            .field("list_capacity", &self.list_capacity)
            .field("cloudfw_qps", &self.cloudfw_qps)
            .field("security_groups", &self.security_groups)
            .field("security_group_rule_quota", &self.security_group_rule_quota)
            .field("rate_limit", &self.rate_limit)
            .field("load_balancer_acls", &self.load_balancer_acls)
            .field("acl_entry_quota", &self.acl_entry_quota)
            .field("ddos_instances", &self.ddos_instances)
            .field("ddos_list_quota", &self.ddos_list_quota)
            .field("cdn_domains", &self.cdn_domains)
            .field("dcdn_waf_policies", &self.dcdn_waf_policies)
            .field("sas_hosts", &self.sas_hosts)
            .field("sas_events", &self.sas_events)
            .field("sas_processing_polls", &self.sas_processing_polls)
            .finish()
    }
}

impl SimulatorConfig {
    /// Adds an Alibaba AccessKey pair.
    pub fn with_credential(mut self, access_key_id: &str, access_key_secret: &str) -> Self {
        self.credentials
            .insert(access_key_id.to_owned(), access_key_secret.to_owned());
        self
    }

    /// Adds protection template `template_id` to WAF instance
    /// `instance_id`, creating the instance if needed.
    pub fn with_waf_template(mut self, instance_id: &str, template_id: u64) -> Self {
        self.waf_instances
            .entry(instance_id.to_owned())
            .or_default()
            .insert(template_id);
        self
    }

    /// Sets the number of rules allowed per WAF template.
    pub fn with_waf_rule_quota(mut self, quota: usize) -> Self {
        self.waf_rule_quota = quota;
        self
    }

    /// Sets the allowed clock skew.
    pub fn with_max_clock_skew(mut self, skew: Duration) -> Self {
        self.max_clock_skew = skew;
        self
    }

    /// Sets the server clock.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Adds a Tencent API key acting for `account`.
    pub fn with_tencent_key(mut self, account: &str, secret_id: &str, secret_key: &str) -> Self {
        let key = TencentKey {
            secret_key: secret_key.to_owned(),
            account: account.to_owned(),
        };
        self.tencent_keys.insert(secret_id.to_owned(), key);
        self
    }

    /// Adds a domain protected by Tencent WAF in `account`.
    pub fn with_tencent_waf_domain(mut self, account: &str, domain: &str) -> Self {
        self.tencent_waf_domains
            .insert((account.to_owned(), domain.to_owned()));
        self
    }

    /// Adds a Huawei AK/SK acting for `account`.
    pub fn with_huawei_key(mut self, account: &str, access_key: &str, secret_key: &str) -> Self {
        let key = HuaweiKey {
            secret_key: secret_key.to_owned(),
            account: account.to_owned(),
        };
        self.huawei_keys.insert(access_key.to_owned(), key);
        self
    }

    /// Adds Huawei project `project_id` owned by `account`.
    pub fn with_huawei_project(mut self, account: &str, project_id: &str) -> Self {
        self.huawei_projects
            .insert(project_id.to_owned(), account.to_owned());
        self
    }

    /// Adds a Huawei CFW protection object to `project_id`.
    pub fn with_huawei_cfw_object(mut self, project_id: &str, object_id: &str) -> Self {
        self.huawei_cfw_objects
            .insert(object_id.to_owned(), project_id.to_owned());
        self
    }

    /// Adds a Huawei WAF protection policy to `project_id`.
    pub fn with_huawei_waf_policy(mut self, project_id: &str, policy_id: &str) -> Self {
        self.huawei_waf_policies
            .insert(policy_id.to_owned(), project_id.to_owned());
        self
    }

    /// Adds ECS security group `id` in `region`.
    pub fn with_security_group(mut self, region: &str, id: &str) -> Self {
        self.security_groups
            .insert(id.to_owned(), region.to_owned());
        self
    }

    /// Throttles every API at `per_second` requests per credential: the
    /// rest are answered with the provider's throttling error.
    pub fn with_rate_limit(mut self, per_second: usize) -> Self {
        self.rate_limit = Some(per_second);
        self
    }

    /// Sets the rules allowed per ECS security group.
    pub fn with_security_group_rule_quota(mut self, quota: usize) -> Self {
        self.security_group_rule_quota = quota;
        self
    }

    /// Adds a CLB or ALB access control list `acl_id` in `region` whose
    /// entries are of IP version `ip_version` (4 or 6).
    pub fn with_load_balancer_acl(
        mut self,
        kind: AclKind,
        region: &str,
        acl_id: &str,
        ip_version: u8,
    ) -> Self {
        let config = AclConfig {
            kind,
            region: region.to_owned(),
            ip_version,
        };
        self.load_balancer_acls.insert(acl_id.to_owned(), config);
        self
    }

    /// Adds Anti-DDoS Proxy instance `instance_id`.
    pub fn with_ddos_instance(mut self, instance_id: &str) -> Self {
        self.ddos_instances.insert(instance_id.to_owned());
        self
    }

    /// Adds CDN accelerated domain `domain`.
    pub fn with_cdn_domain(mut self, domain: &str) -> Self {
        self.cdn_domains.insert(domain.to_owned());
        self
    }

    /// Adds DCDN WAF protection policy `policy_id`.
    pub fn with_dcdn_waf_policy(mut self, policy_id: u64) -> Self {
        self.dcdn_waf_policies.insert(policy_id);
        self
    }

    /// Adds a host managed by Security Center.
    pub fn with_sas_host(mut self, host: SasHost) -> Self {
        self.sas_hosts.push(host);
        self
    }

    /// Adds a Security Center alert event (see [`SasEvent::new`]).
    pub fn with_sas_event(mut self, event: SasEvent) -> Self {
        self.sas_events.push(event);
        self
    }

    /// Makes each Security Center handling task answer `Processing` to its
    /// first `polls` status queries.
    pub fn with_sas_processing_polls(mut self, polls: usize) -> Self {
        self.sas_processing_polls = polls;
        self
    }

    /// Sets the addresses allowed per Anti-DDoS Proxy list.
    pub fn with_ddos_list_quota(mut self, quota: usize) -> Self {
        self.ddos_list_quota = quota;
        self
    }

    /// Sets the entries allowed per load balancer ACL.
    pub fn with_acl_entry_quota(mut self, quota: usize) -> Self {
        self.acl_entry_quota = Some(quota);
        self
    }

    /// Sets the Alibaba Cloud Firewall calls allowed per second.
    pub fn with_cloudfw_qps(mut self, qps: usize) -> Self {
        self.cloudfw_qps = qps;
        self
    }

    /// Sets the entries allowed per Tencent or Huawei list and per
    /// Alibaba Cloud Firewall policy table.
    pub fn with_list_capacity(mut self, capacity: usize) -> Self {
        self.list_capacity = capacity;
        self
    }
}

/// One request the simulator answered (or dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handled {
    /// The `x-acs-action` header as sent (empty when absent).
    pub action: String,
    /// `OK`, the error code answered, or `Dropped` for a closed connection.
    pub code: String,
    /// The HTTP status answered; 0 when the connection was dropped.
    pub status: u16,
    /// When the simulator finished handling it.
    pub at: std::time::Instant,
}

/// A running simulator on `127.0.0.1`, stopped when dropped.
///
/// It runs on its own single-worker tokio runtime, so it keeps answering
/// while the caller blocks (e.g. a current-thread test runtime waiting on a
/// component call).
pub struct Simulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl fmt::Debug for Simulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Simulator")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Simulator {
    /// Binds `127.0.0.1` on a port the OS chooses and starts serving.
    pub fn start(config: SimulatorConfig) -> std::io::Result<Self> {
        Self::start_on(config, IpAddr::V4(Ipv4Addr::LOCALHOST))
    }

    /// Binds loopback address `ip` (`127.0.0.1` or `::1`) on a port the OS
    /// chooses and starts serving; any other address is refused, so the
    /// simulator is never reachable from outside the machine.
    pub fn start_on(config: SimulatorConfig, ip: IpAddr) -> std::io::Result<Self> {
        if !ip.is_loopback() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("the simulator listens on loopback only, not on {ip}"),
            ));
        }
        let listener = TcpListener::bind((ip, 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("riposte-simulator")
            .enable_all()
            .build()?;
        let shared = Arc::new(Shared::new(initial_state(config), seed(addr)));
        runtime.spawn(server::accept_loop(listener, Arc::clone(&shared)));
        tracing::info!(%addr, "provider simulator listening");
        Ok(Self {
            addr,
            shared,
            runtime: Some(runtime),
        })
    }

    /// The address served.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The endpoint URL to give components, `http://127.0.0.1:<port>`
    /// (`http://[::1]:<port>` on IPv6).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The WAF rules held now, by id.
    pub fn waf_rules(&self) -> Vec<WafRule> {
        self.shared.lock().aliyun.waf.rules()
    }

    /// The Alibaba Cloud Firewall access control policies held now.
    pub fn cloudfw_policies(&self) -> Vec<CloudfwPolicy> {
        self.shared.lock().aliyun.cloudfw.policies()
    }

    /// The ECS security group rules held now.
    pub fn security_group_rules(&self) -> Vec<EcsRule> {
        self.shared.lock().aliyun.ecs.rules()
    }

    /// The CLB and ALB access control list entries held now.
    pub fn acl_entries(&self) -> Vec<AclEntry> {
        self.shared.lock().aliyun.slb.entries()
    }

    /// The Anti-DDoS Proxy black and white list entries held now.
    pub fn ddos_entries(&self) -> Vec<DdosEntry> {
        self.shared.lock().aliyun.ddoscoo.entries()
    }

    /// The CDN `ip_black_list_set` address lists, by domain.
    pub fn cdn_ip_blacklists(&self) -> BTreeMap<String, Vec<String>> {
        self.shared.lock().aliyun.cdn.ip_lists()
    }

    /// The DCDN WAF rules held now.
    pub fn dcdn_waf_rules(&self) -> Vec<DcdnWafRule> {
        self.shared.lock().aliyun.cdn.rules()
    }

    /// The Security Center alert events now, with the handlings applied.
    pub fn sas_events(&self) -> Vec<SasEvent> {
        self.shared.lock().aliyun.sas.events()
    }

    /// The Security Center whitelist rules that handling added.
    pub fn sas_whitelist(&self) -> Vec<SasWhitelistRule> {
        self.shared.lock().aliyun.sas.whitelist()
    }

    /// The files in Security Center's quarantine now.
    pub fn sas_quarantine(&self) -> Vec<SasQuaraFile> {
        self.shared.lock().aliyun.sas.quarantine()
    }

    /// The quarantined files restored by `RollbackSuspEventQuaraFile`.
    pub fn sas_restored_files(&self) -> Vec<SasQuaraFile> {
        self.shared.lock().aliyun.sas.restored()
    }

    /// The Tencent Cloud Firewall list entries held now.
    pub fn tencent_cfw_rules(&self) -> Vec<TencentCfwRule> {
        self.shared.lock().tencent.cfw.rules()
    }

    /// The Tencent WAF IP rules held now.
    pub fn tencent_waf_rules(&self) -> Vec<TencentWafRule> {
        self.shared.lock().tencent.waf.rules()
    }

    /// The Huawei Cloud Firewall list entries held now.
    pub fn huawei_cfw_entries(&self) -> Vec<HuaweiCfwEntry> {
        self.shared.lock().huawei.cfw.entries()
    }

    /// The Huawei WAF black/white IP rules held now.
    pub fn huawei_waf_rules(&self) -> Vec<HuaweiWafRule> {
        self.shared.lock().huawei.waf.rules()
    }

    /// Every request handled so far, in order of completion.
    pub fn requests(&self) -> Vec<Handled> {
        self.shared.lock().handled.clone()
    }

    /// Applies `fault` to the next `requests` authenticated requests, after
    /// the faults already injected (see [`fault`]).
    pub fn inject(&self, fault: Fault, requests: usize) {
        self.shared.lock().faults.push(fault, requests);
    }

    /// Changes the server clock (e.g. to play a skewed client).
    pub fn set_clock(&self, clock: Clock) {
        self.shared.lock().clock = clock;
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            // Aborts the accept loop and every connection task; allowed
            // from inside another runtime, unlike a blocking drop.
            runtime.shutdown_background();
        }
    }
}

fn initial_state(config: SimulatorConfig) -> State {
    let waf = Waf::new(config.waf_instances, config.waf_rule_quota);
    let capacity = config.list_capacity;
    let tencent = Tencent::new(
        &config.tencent_keys,
        tencent::cfw::Cfw::new(capacity),
        tencent::waf::Waf::new(config.tencent_waf_domains, capacity),
    );
    let huawei = Huawei::new(
        config.huawei_keys,
        config.huawei_projects,
        huawei::cfw::Cfw::new(config.huawei_cfw_objects, capacity),
        huawei::waf::Waf::new(config.huawei_waf_policies, capacity),
    );
    State {
        clock: config.clock,
        max_skew: config.max_clock_skew,
        aliyun: Aliyun::new(
            config.credentials,
            waf,
            aliyun::cloudfw::Cloudfw::new(capacity, config.cloudfw_qps),
            aliyun::ecs::Ecs::new(config.security_groups, config.security_group_rule_quota),
            aliyun::slb::Slb::new(config.load_balancer_acls, config.acl_entry_quota),
            aliyun::ddoscoo::Ddoscoo::new(config.ddos_instances, config.ddos_list_quota),
            aliyun::cdn::Cdn::new(config.cdn_domains, config.dcdn_waf_policies, capacity),
        )
        .with_sas(aliyun::sas::Sas::new(
            config.sas_hosts,
            config.sas_events,
            config.sas_processing_polls,
        )),
        tencent,
        huawei,
        faults: fault::Faults::default(),
        rate_limit: fault::RateLimit::new(config.rate_limit),
        handled: Vec::new(),
    }
}

fn seed(addr: SocketAddr) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or(0);
    format!("{addr}/{nanos}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_debug_hides_secrets() {
        let config = SimulatorConfig::default()
            .with_credential("AK", "very-secret")
            .with_tencent_key("uin", "AKIDx", "tencent-secret")
            .with_huawei_key("dom", "HWAK", "huawei-secret")
            .with_waf_template("i", 1)
            .with_waf_template("i", 2);
        let shown = format!("{config:?}");
        assert!(
            shown.contains("AK")
                && shown.contains("AKIDx")
                && !shown.contains("very-secret")
                && !shown.contains("tencent-secret")
                && !shown.contains("huawei-secret"),
            "{shown}"
        );
        assert_eq!(config.waf_instances["i"], BTreeSet::from([1, 2]));
    }

    #[test]
    fn refuses_to_listen_beyond_loopback() {
        let err = Simulator::start_on(SimulatorConfig::default(), IpAddr::from([0, 0, 0, 0]))
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    }

    #[test]
    fn starts_on_loopback_and_stops_on_drop() {
        let simulator = Simulator::start(SimulatorConfig::default()).unwrap();
        let addr = simulator.addr();
        assert!(addr.ip().is_loopback() && addr.port() != 0);
        assert_eq!(simulator.endpoint(), format!("http://{addr}"));
        std::net::TcpStream::connect(addr).unwrap();
        drop(simulator);
        // The listener is closed once the runtime has shut down.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(addr).is_ok() {
            assert!(std::time::Instant::now() < deadline, "still listening");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
