//! Incidents, incident updates and manual script runs reach the same
//! policies and tasks as alerts, each with its source recorded.

use std::time::Duration;

use riposte::model::{Entity, EntityKind, RuleSpec, SourceKind, TaskStatus};
use riposte::store::SignalKind;
use riposte_tests::endpoint::CountingEndpoint;
use riposte_tests::engine::{Scratch, install_block, start_engine, test_config};
use serde_json::json;

use super::wait_tasks;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incidents_and_their_updates_fire_their_own_rules() {
    let endpoint = CountingEndpoint::start().await;
    let dir = Scratch::new("incidents");
    let engine = start_engine(&dir.store(), endpoint.port(), test_config()).await;
    install_block(&engine, "block", "CountedBlock", None).await;
    for (name, trigger, condition) in [
        ("on-incident", "incident", "alert.severity == 'high'"),
        ("on-update", "incident-update", "alert.state == 'confirmed'"),
    ] {
        let text = format!(
            "name: {name}\ntrigger: {trigger}\ncondition: \"{condition}\"\nscript: block\n\
             dedup_window: 1s\n"
        );
        engine
            .put_rule(RuleSpec::from_yaml(&text).unwrap(), "tests")
            .await
            .unwrap();
    }

    let first = json!({"severity": "low", "state": "open", "src_ip": "203.0.113.70"});
    let report = engine
        .ingest(SignalKind::Incident, Some("inc-1".into()), "test", first)
        .await
        .unwrap();
    assert_eq!((report.delivery, report.opened.len()), ("new", 0));

    let update = json!({"severity": "low", "state": "confirmed", "src_ip": "203.0.113.70"});
    let report = engine
        .ingest(
            SignalKind::Incident,
            Some("inc-1".into()),
            "test",
            update.clone(),
        )
        .await
        .unwrap();
    assert_eq!(report.delivery, "updated");
    assert_eq!(report.opened.len(), 1, "the update rule fired: {report:?}");
    let policy = engine
        .store()
        .read(|r| r.policy(report.opened[0]))
        .unwrap()
        .unwrap();
    assert_eq!(policy.source.kind, SourceKind::IncidentRule);
    assert_eq!(policy.source.rule.as_deref(), Some("on-update"));

    let again = engine
        .ingest(SignalKind::Incident, Some("inc-1".into()), "test", update)
        .await
        .unwrap();
    assert_eq!(
        again.delivery, "duplicate",
        "the same update twice acts once"
    );
    wait_tasks(&engine, "the block", Duration::from_secs(10), |t| {
        t.len() == 1 && t[0].status == TaskStatus::Succeeded
    })
    .await;
    assert_eq!(endpoint.done("/block").len(), 1);
    engine.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_script_run_records_who_asked_and_never_joins_a_policy() {
    let endpoint = CountingEndpoint::start().await;
    let dir = Scratch::new("manual");
    let engine = start_engine(&dir.store(), endpoint.port(), test_config()).await;
    install_block(&engine, "block", "CountedBlock", None).await;
    let entity = Entity::parse(EntityKind::Ip, "203.0.113.80").unwrap();

    let first = engine
        .run_script("block", entity.clone(), "carol")
        .await
        .unwrap();
    let second = engine.run_script("block", entity, "carol").await.unwrap();
    assert_ne!(first, second);
    let policy = engine.store().read(|r| r.policy(first)).unwrap().unwrap();
    assert_eq!(policy.source.kind, SourceKind::ManualScriptRun);
    assert_eq!(policy.source.actor.as_deref(), Some("carol"));
    wait_tasks(&engine, "two blocks", Duration::from_secs(10), |t| {
        t.len() == 2 && t.iter().all(|t| t.status == TaskStatus::Succeeded)
    })
    .await;
    let audit = engine.store().read(|r| r.audit(20)).unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.action == "script.run" && e.actor == "carol")
            .count(),
        2
    );
    let err = engine
        .run_script(
            "nope",
            Entity::parse(EntityKind::Ip, "203.0.113.81").unwrap(),
            "carol",
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("script `nope` not found"), "{err}");
    engine.stop();
}

/// From the adversarial review of issue 3: one alert could name any number
/// of entities, each becoming a policy inside one store write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_alert_yields_at_most_256_entities_per_rule_and_says_so() {
    let endpoint = CountingEndpoint::start().await;
    let dir = Scratch::new("many");
    let engine = start_engine(&dir.store(), endpoint.port(), test_config()).await;
    let script = "name: many\nentity: {kind: ip, from: alert.ips}\nsteps:\n  \
                  - {id: act, action: CountedBlock, targets: [edge]}\n";
    engine
        .publish_script(
            riposte::model::ScriptSpec::from_yaml(script).unwrap(),
            "tests",
        )
        .await
        .unwrap();
    engine
        .put_rule(
            RuleSpec::from_yaml("name: many\ntrigger: alert\nscript: many").unwrap(),
            "tests",
        )
        .await
        .unwrap();
    let ips: Vec<String> = (0..300).map(|n| format!("2001:db8::1:{n:x}")).collect();
    let report = engine
        .ingest(SignalKind::Alert, None, "test", json!({"ips": ips}))
        .await
        .unwrap();
    assert_eq!(report.opened.len(), 256);
    assert!(
        report
            .skipped
            .iter()
            .any(|(_, why)| why.contains("names 300 entities")),
        "{:?}",
        report.skipped
    );
    engine.stop();
}
