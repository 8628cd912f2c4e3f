//! Process-wide metrics in the Prometheus text format: component call
//! latency and outcomes, gate refusals, and HTTP requests. Task counts by
//! status and action and the queue depth come from the store when
//! `/metrics` is scraped, so they survive restarts and are exact.
//!
//! Labels are bounded: action identifiers come from installed components,
//! statuses and outcomes from fixed sets, and HTTP routes are the route
//! templates (`/v1/tasks/{id}`), never raw paths.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// Upper bounds, in seconds, of the latency histogram buckets.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (bound, count) in BUCKETS.iter().zip(self.counts.iter_mut()) {
            if seconds <= *bound {
                *count += 1;
            }
        }
        self.count += 1;
        self.sum += seconds;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (bound, count) in BUCKETS.iter().zip(self.counts.iter()) {
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

#[derive(Debug, Default)]
struct Registry {
    /// (action, call kind `execute`/`revert`) -> latency.
    calls: BTreeMap<(String, &'static str), Histogram>,
    /// (action, call kind, outcome `ok` or a failure kind) -> count.
    outcomes: BTreeMap<(String, &'static str, String), u64>,
    /// (action, final status) -> time from creation to the outcome.
    tasks: BTreeMap<(String, String), Histogram>,
    /// Action -> requests refused by the egress gate.
    refusals: BTreeMap<String, u64>,
    /// (method, route, status) -> count, and route -> latency.
    http: BTreeMap<(String, String, u16), u64>,
    http_latency: BTreeMap<String, Histogram>,
}

fn registry() -> &'static Mutex<Registry> {
    static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
    REGISTRY.get_or_init(Mutex::default)
}

fn with<T>(f: impl FnOnce(&mut Registry) -> T) -> T {
    f(&mut registry().lock().unwrap_or_else(|e| e.into_inner()))
}

/// Records one component call.
pub fn record_call(
    action: &str,
    kind: &'static str,
    elapsed: Duration,
    outcome: &str,
    refused: usize,
) {
    with(|r| {
        r.calls
            .entry((action.to_string(), kind))
            .or_default()
            .observe(elapsed.as_secs_f64());
        *r.outcomes
            .entry((action.to_string(), kind, outcome.to_string()))
            .or_default() += 1;
        if refused > 0 {
            *r.refusals.entry(action.to_string()).or_default() += refused as u64;
        }
    });
}

/// Records a task that reached a final status, with the time from its
/// creation (retries and waits for earlier steps included).
pub fn record_task(action: &str, status: &str, took: Duration) {
    with(|r| {
        r.tasks
            .entry((action.to_string(), status.to_string()))
            .or_default()
            .observe(took.as_secs_f64());
    });
}

/// Records one HTTP request by route template.
pub fn record_http(method: &str, route: &str, status: u16, elapsed: Duration) {
    with(|r| {
        *r.http
            .entry((method.to_string(), route.to_string(), status))
            .or_default() += 1;
        r.http_latency
            .entry(route.to_string())
            .or_default()
            .observe(elapsed.as_secs_f64());
    });
}

/// Escapes a label value.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Renders the process metrics, then `tasks` (`status|action` -> count)
/// and `queue_depth` read from the store.
pub fn render(tasks: &[(String, u64)], queue_depth: u64, in_flight: usize) -> String {
    let mut out = String::new();
    out.push_str("# HELP riposte_tasks Handling tasks in the store by status and action.\n");
    out.push_str("# TYPE riposte_tasks gauge\n");
    for (key, count) in tasks {
        let (status, action) = key.split_once('|').unwrap_or((key.as_str(), ""));
        let _ = writeln!(
            out,
            "riposte_tasks{{status=\"{}\",action=\"{}\"}} {count}",
            label(status),
            label(action)
        );
    }
    out.push_str("# HELP riposte_queue_depth Waiting tasks in the run queue.\n");
    out.push_str("# TYPE riposte_queue_depth gauge\n");
    let _ = writeln!(out, "riposte_queue_depth {queue_depth}");
    out.push_str("# HELP riposte_calls_in_flight Task runs and reverts in progress.\n");
    out.push_str("# TYPE riposte_calls_in_flight gauge\n");
    let _ = writeln!(out, "riposte_calls_in_flight {in_flight}");
    with(|r| {
        out.push_str(
            "# HELP riposte_component_call_seconds Component call latency, instantiation included.\n",
        );
        out.push_str("# TYPE riposte_component_call_seconds histogram\n");
        for ((action, kind), histogram) in &r.calls {
            let labels = format!("action=\"{}\",call=\"{kind}\"", label(action));
            histogram.render(&mut out, "riposte_component_call_seconds", &labels);
        }
        out.push_str(
            "# HELP riposte_task_seconds Time from a task's creation to its final status.\n",
        );
        out.push_str("# TYPE riposte_task_seconds histogram\n");
        for ((action, status), histogram) in &r.tasks {
            let labels = format!("action=\"{}\",status=\"{}\"", label(action), label(status));
            histogram.render(&mut out, "riposte_task_seconds", &labels);
        }
        out.push_str("# HELP riposte_component_calls_total Component calls by outcome.\n");
        out.push_str("# TYPE riposte_component_calls_total counter\n");
        for ((action, kind, outcome), count) in &r.outcomes {
            let _ = writeln!(
                out,
                "riposte_component_calls_total{{action=\"{}\",call=\"{kind}\",outcome=\"{}\"}} {count}",
                label(action),
                label(outcome)
            );
        }
        out.push_str("# HELP riposte_gate_refusals_total Requests the egress gate refused.\n");
        out.push_str("# TYPE riposte_gate_refusals_total counter\n");
        for (action, count) in &r.refusals {
            let _ = writeln!(
                out,
                "riposte_gate_refusals_total{{action=\"{}\"}} {count}",
                label(action)
            );
        }
        out.push_str("# HELP riposte_http_requests_total API requests by route and status.\n");
        out.push_str("# TYPE riposte_http_requests_total counter\n");
        for ((method, route, status), count) in &r.http {
            let _ = writeln!(
                out,
                "riposte_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {count}",
                label(route)
            );
        }
        out.push_str("# HELP riposte_http_request_seconds API request latency by route.\n");
        out.push_str("# TYPE riposte_http_request_seconds histogram\n");
        for (route, histogram) in &r.http_latency {
            let labels = format!("route=\"{}\"", label(route));
            histogram.render(&mut out, "riposte_http_request_seconds", &labels);
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative() {
        let mut h = Histogram::default();
        h.observe(0.003);
        h.observe(0.2);
        let mut out = String::new();
        h.render(&mut out, "x", "a=\"b\"");
        assert!(out.contains("x_bucket{a=\"b\",le=\"0.005\"} 1\n"), "{out}");
        assert!(out.contains("x_bucket{a=\"b\",le=\"0.25\"} 2\n"), "{out}");
        assert!(out.contains("x_bucket{a=\"b\",le=\"+Inf\"} 2\n"), "{out}");
        assert!(out.contains("x_count{a=\"b\"} 2\n"), "{out}");
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
