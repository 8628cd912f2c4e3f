//! Decision logic between steps: a step runs when its `when` holds over
//! the earlier steps' results.

use std::time::Duration;

use riposte::model::{PolicyStatus, RuleSpec, ScriptSpec, StepStatus, TaskStatus};
use riposte_tests::endpoint::CountingEndpoint;
use riposte_tests::engine::{Scratch, start_engine, test_config};

use super::{alert, wait_tasks};

const ESCALATE: &str = "
name: escalate
entity: {kind: ip, from: alert.src_ip}
steps:
  - id: block
    action: CountedBlock
    targets: [edge]
  - id: kill
    when: steps.block.status == 'Failed'
    action: CountedKill
    targets: ['provider:test']
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_later_step_runs_only_when_its_condition_on_earlier_results_holds() {
    let endpoint = CountingEndpoint::start().await;
    let dir = Scratch::new("steps");
    let mut config = test_config();
    config.backoff.max_attempts = 1;
    let engine = start_engine(&dir.store(), endpoint.port(), config).await;
    let spec = ScriptSpec::from_yaml(ESCALATE).unwrap();
    engine.publish_script(spec, "tests").await.unwrap();
    let rule = RuleSpec::from_yaml("name: esc\ntrigger: alert\nscript: escalate").unwrap();
    engine.put_rule(rule, "tests").await.unwrap();

    // The block succeeds: the kill step is skipped.
    let ok = alert(&engine, "escalate", "203.0.113.20").await.opened[0];
    wait_tasks(&engine, "the block", Duration::from_secs(10), |t| {
        t.len() == 1 && t[0].status == TaskStatus::Succeeded
    })
    .await;
    let policy = wait_policy(&engine, ok, PolicyStatus::Succeeded).await;
    assert_eq!(policy.steps[1].status, StepStatus::Skipped);

    // The block fails: the kill step runs.
    endpoint.fail_next(1);
    let failed = alert(&engine, "escalate", "203.0.113.21").await.opened[0];
    let tasks = wait_tasks(&engine, "the kill", Duration::from_secs(10), |t| {
        t.iter()
            .any(|t| t.action == "CountedKill" && t.status == TaskStatus::Succeeded)
    })
    .await;
    let policy = wait_policy(&engine, failed, PolicyStatus::PartiallySucceeded).await;
    assert_eq!(policy.steps[0].status, StepStatus::Done);
    assert_eq!(policy.steps[1].status, StepStatus::Done);
    assert_eq!(policy.actions, ["CountedBlock", "CountedKill"]);
    let mine: Vec<_> = tasks.iter().filter(|t| t.policy_id == failed).collect();
    assert_eq!(mine.len(), 2);
    assert_eq!(endpoint.done("/kill").len(), 1);
    engine.stop();
}

async fn wait_policy(
    engine: &riposte::engine::Engine,
    id: u64,
    status: PolicyStatus,
) -> riposte::model::Policy {
    let start = std::time::Instant::now();
    loop {
        let policy = engine.store().read(|r| r.policy(id)).unwrap().unwrap();
        if policy.status == status {
            return policy;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "policy {id} stayed {:?}: {policy:#?}",
            policy.status
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

const TAGGED: &str = "
name: tagged
entity:
  kind: ip
  from: alert.src_ip
  attributes:
    reason: alert.kind
    absent: 'null'
steps:
  - id: block
    action: CountedBlock
    targets: [edge]
";

const TWO_VALUED: &str = "
name: two-valued
entity:
  kind: ip
  from: alert.src_ip
  attributes: {reason: \"['a', 'b']\"}
steps:
  - id: block
    action: CountedBlock
    targets: [edge]
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entity_attributes_come_from_the_alert_and_a_list_is_refused() {
    let endpoint = CountingEndpoint::start().await;
    let dir = Scratch::new("attributes");
    let engine = start_engine(&dir.store(), endpoint.port(), test_config()).await;
    for (yaml, name) in [(TAGGED, "tagged"), (TWO_VALUED, "two-valued")] {
        let spec = ScriptSpec::from_yaml(yaml).unwrap();
        engine.publish_script(spec, "tests").await.unwrap();
        let rule = RuleSpec::from_yaml(&format!(
            "name: {name}\ntrigger: alert\ncondition: alert.kind == '{name}'\nscript: {name}"
        ))
        .unwrap();
        engine.put_rule(rule, "tests").await.unwrap();
    }

    alert(&engine, "tagged", "203.0.113.30").await;
    let tasks = wait_tasks(&engine, "the tagged block", Duration::from_secs(10), |t| {
        t.len() == 1 && t[0].status == TaskStatus::Succeeded
    })
    .await;
    let attributes = &tasks[0].entity.attributes;
    assert_eq!(attributes.get("reason").map(String::as_str), Some("tagged"));
    assert!(
        !attributes.contains_key("absent"),
        "null gives no attribute"
    );

    let report = alert(&engine, "two-valued", "203.0.113.31").await;
    assert!(report.opened.is_empty(), "{report:?}");
    assert!(
        report
            .skipped
            .iter()
            .any(|(rule, reason)| rule == "two-valued" && reason.contains("2 values")),
        "{report:?}"
    );
}
