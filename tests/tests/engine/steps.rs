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
