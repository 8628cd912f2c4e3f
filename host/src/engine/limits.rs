//! How hard the engine may push providers: concurrency per provider and
//! per target, token buckets per provider (or per action where a product
//! has its own limit), and exponential backoff with jitter for retries.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A sustained rate and a burst.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rate {
    /// Calls per second, sustained.
    pub per_second: f64,
    /// Calls that may start at once after a quiet period.
    pub burst: u32,
}

/// Default rate limits, keyed by action identifier first, then provider.
///
/// - Alibaba Cloud Firewall ACL APIs: 10 QPS per account
///   (`reference/providers.md`, Cloud Firewall section).
/// - Other providers: the references give no per-API figure; 20/s with a
///   burst of 20 stays well under the per-account API flow control the
///   providers document as default, and is configurable.
pub fn default_rates() -> BTreeMap<String, Rate> {
    let firewall = Rate {
        per_second: 10.0,
        burst: 10,
    };
    let general = Rate {
        per_second: 20.0,
        burst: 20,
    };
    let mut rates = BTreeMap::new();
    for action in [
        "AliyunFirewallProcess",
        "CfwWhiteListBatch",
        "AliyunFirewallMonitorIPin",
        "AliyunFirewallMonitorIPOut",
        "AliyunCFWBlockDNS",
    ] {
        rates.insert(action.to_string(), firewall);
    }
    for provider in ["aliyun", "tencent", "huawei"] {
        rates.insert(provider.to_string(), general);
    }
    rates
}

/// Actions whose component rewrites a whole provider-side list (reads
/// it, changes one entry, writes it all back). Two such calls at once on
/// one target would each write back a list without the other's entry, so
/// the engine runs them one at a time per target (execute and revert
/// alike). Alibaba CDN's `ip_black_list_set` is one value per domain.
pub const SERIAL_ACTIONS: &[&str] = &["CDNProcess"];

/// A token bucket; [`TokenBucket::take`] says how long to wait for a token.
#[derive(Debug)]
pub struct TokenBucket {
    rate: Rate,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    pub fn new(rate: Rate) -> Self {
        Self {
            rate,
            state: Mutex::new((f64::from(rate.burst), Instant::now())),
        }
    }

    /// Reserves a token and returns how long the caller must wait before
    /// using it (zero when one is available now). Reservations queue: the
    /// n-th caller in a burst waits n / rate.
    pub fn reserve(&self) -> Duration {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, last) = &mut *state;
        let now = Instant::now();
        let refill = now.duration_since(*last).as_secs_f64() * self.rate.per_second;
        *tokens = (*tokens + refill).min(f64::from(self.rate.burst.max(1)));
        *last = now;
        *tokens -= 1.0;
        if *tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-*tokens / self.rate.per_second)
        }
    }
}

/// Concurrency and rate limiters, created on first use per key.
#[derive(Debug)]
pub struct Limiters {
    per_provider: usize,
    per_target: usize,
    rates: BTreeMap<String, Rate>,
    providers: Mutex<HashMap<String, Arc<Semaphore>>>,
    targets: Mutex<HashMap<String, Arc<Semaphore>>>,
    serial: Mutex<HashMap<String, Arc<Semaphore>>>,
    buckets: Mutex<HashMap<String, Arc<TokenBucket>>>,
}

/// Permits held while a call runs.
#[derive(Debug)]
pub struct Permits {
    _provider: OwnedSemaphorePermit,
    _target: OwnedSemaphorePermit,
    _serial: Option<OwnedSemaphorePermit>,
}

impl Limiters {
    pub fn new(per_provider: usize, per_target: usize, rates: BTreeMap<String, Rate>) -> Self {
        Self {
            per_provider: per_provider.max(1),
            per_target: per_target.max(1),
            rates,
            providers: Mutex::default(),
            targets: Mutex::default(),
            serial: Mutex::default(),
            buckets: Mutex::default(),
        }
    }

    /// Waits for a slot on the provider and the target, then for a token
    /// of the action's (or else the provider's) rate limit.
    pub async fn acquire(&self, provider: &str, target: &str, action: &str) -> Permits {
        // Waiting for its turn first, so a queue of serial calls holds no
        // provider or target slot.
        let serial = if SERIAL_ACTIONS.contains(&action) {
            let key = format!("{target}\n{action}");
            let turn = semaphore(&self.serial, &key, 1);
            Some(turn.acquire_owned().await.expect("never closed"))
        } else {
            None
        };
        let provider_sem = semaphore(&self.providers, provider, self.per_provider);
        let target_sem = semaphore(&self.targets, target, self.per_target);
        let provider_permit = provider_sem.acquire_owned().await.expect("never closed");
        let target_permit = target_sem.acquire_owned().await.expect("never closed");
        if let Some(bucket) = self.bucket(provider, action) {
            let wait = bucket.reserve();
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
        }
        Permits {
            _provider: provider_permit,
            _target: target_permit,
            _serial: serial,
        }
    }

    fn bucket(&self, provider: &str, action: &str) -> Option<Arc<TokenBucket>> {
        let (key, rate) = [action, provider]
            .into_iter()
            .find_map(|key| self.rates.get(key).map(|rate| (key, *rate)))?;
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        Some(
            buckets
                .entry(key.to_string())
                .or_insert_with(|| Arc::new(TokenBucket::new(rate)))
                .clone(),
        )
    }
}

fn semaphore(
    map: &Mutex<HashMap<String, Arc<Semaphore>>>,
    key: &str,
    permits: usize,
) -> Arc<Semaphore> {
    let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
    map.entry(key.to_string())
        .or_insert_with(|| Arc::new(Semaphore::new(permits)))
        .clone()
}

/// Retry timing for failures that may pass: throttling, unreachable
/// providers, timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Backoff {
    /// The wait after the first failure.
    #[serde(with = "millis")]
    pub base: Duration,
    /// The longest single wait.
    #[serde(with = "millis")]
    pub max: Duration,
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// No retry starts later than this after the first attempt.
    #[serde(with = "millis")]
    pub max_total: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(1),
            max: Duration::from_secs(60),
            max_attempts: 6,
            max_total: Duration::from_secs(15 * 60),
        }
    }
}

impl Backoff {
    /// The wait before attempt `attempt + 1`, after `attempt` failed:
    /// `base * 2^(attempt-1)`, capped at `max`, with "equal jitter" (a
    /// uniform draw from the upper half), and never shorter than what the
    /// provider asked for.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let exponent = attempt.saturating_sub(1).min(20);
        let full = self.base.saturating_mul(1 << exponent).min(self.max);
        let half = full / 2;
        let jitter = Duration::from_secs_f64(half.as_secs_f64() * fastrand::f64());
        (half + jitter).max(retry_after.unwrap_or_default())
    }
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u64(u64::try_from(value.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        u64::deserialize(deserializer).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_within_bounds() {
        let backoff = Backoff::default();
        for attempt in 1..=10 {
            let full = Duration::from_secs(1 << (attempt - 1)).min(backoff.max);
            for _ in 0..50 {
                let delay = backoff.delay(attempt, None);
                assert!(delay >= full / 2 && delay <= full, "{attempt}: {delay:?}");
            }
        }
        let asked = Duration::from_secs(30);
        assert!(backoff.delay(1, Some(asked)) >= asked);
    }

    #[tokio::test]
    async fn list_rewriting_actions_run_one_at_a_time_per_target() {
        let limiters = Limiters::new(32, 8, BTreeMap::new());
        let first = limiters.acquire("aliyun", "cdn", "CDNProcess").await;
        // Another target, or another action on the same target, goes on.
        let _other_target = limiters.acquire("aliyun", "cdn-2", "CDNProcess").await;
        let _other_action = limiters.acquire("aliyun", "cdn", "DcdnWafBanIP").await;
        let second = limiters.acquire("aliyun", "cdn", "CDNProcess");
        tokio::pin!(second);
        let waited = tokio::time::timeout(Duration::from_millis(50), &mut second).await;
        assert!(waited.is_err(), "the second CDNProcess call waits its turn");
        drop(first);
        tokio::time::timeout(Duration::from_secs(5), second)
            .await
            .expect("it runs once the first is done");
    }

    #[test]
    fn a_bucket_spaces_reservations_at_its_rate_after_the_burst() {
        let bucket = TokenBucket::new(Rate {
            per_second: 10.0,
            burst: 2,
        });
        let waits: Vec<_> = (0..5).map(|_| bucket.reserve()).collect();
        assert_eq!(waits[0], Duration::ZERO);
        assert_eq!(waits[1], Duration::ZERO);
        for (n, wait) in waits[2..].iter().enumerate() {
            let expected = 0.1 * (n + 1) as f64;
            assert!(
                (wait.as_secs_f64() - expected).abs() < 0.01,
                "{n}: {wait:?}"
            );
        }
    }
}
