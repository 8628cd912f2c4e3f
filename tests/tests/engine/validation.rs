//! Mistakes in scripts and rules are refused when they are saved, with
//! the field named, never discovered when an alert arrives.

use riposte::engine::EngineError;
use riposte::model::{RuleSpec, ScriptSpec};
use riposte_tests::endpoint::CountingEndpoint;
use riposte_tests::engine::{Scratch, start_engine, test_config};

const GOOD: &str = "
name: block
entity: {kind: ip, from: alert.src_ip}
steps:
  - id: act
    action: CountedBlock
    targets: [edge]
    duration: 1h
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_scripts_and_rules_are_refused_at_save_time() {
    let endpoint = CountingEndpoint::start().await;
    let dir = Scratch::new("validation");
    let engine = start_engine(&dir.store(), endpoint.port(), test_config()).await;

    for (from, to, needle) in [
        (
            "duration: 1h",
            "duration: 0s",
            "a duration must be positive",
        ),
        ("duration: 1h", "duration: -30m", "negative"),
        (
            "from: alert.src_ip",
            "from: 'alert.src_ip +'",
            "does not parse",
        ),
    ] {
        let err = ScriptSpec::from_yaml(&GOOD.replace(from, to)).unwrap_err();
        assert!(err.contains(needle), "{to}: {err}");
    }
    for (from, to, needle) in [
        (
            "action: CountedBlock",
            "action: CountedBlok",
            "no installed component implements `CountedBlok`",
        ),
        (
            "targets: [edge]",
            "targets: [egde]",
            "`egde` names no known target",
        ),
        (
            "action: CountedBlock",
            "action: CountedKill",
            "cannot have a duration",
        ),
    ] {
        let spec = ScriptSpec::from_yaml(&GOOD.replace(from, to)).unwrap();
        match engine.publish_script(spec, "tests").await {
            Err(EngineError::Invalid(problems)) => {
                let text = problems.join("\n");
                assert!(
                    text.contains(needle) && text.contains("steps[0]"),
                    "{to}: {text}"
                );
            }
            other => panic!("{to}: expected a validation error, got {other:?}"),
        }
    }
    assert!(
        engine.known().scripts.is_empty(),
        "nothing invalid was published"
    );

    let err =
        RuleSpec::from_yaml("name: r\ntrigger: alert\nscript: block\ncondition: 'alert.x =='")
            .unwrap_err();
    assert!(err.contains("does not parse"), "{err}");
    let rule = RuleSpec::from_yaml("name: r\ntrigger: alert\nscript: block").unwrap();
    match engine.put_rule(rule, "tests").await {
        Err(EngineError::Invalid(problems)) => {
            assert!(
                problems[0].contains("no script `block` is published"),
                "{problems:?}"
            );
        }
        other => panic!("expected a validation error, got {other:?}"),
    }

    let spec = ScriptSpec::from_yaml(GOOD).unwrap();
    let v1 = engine.publish_script(spec.clone(), "tests").await.unwrap();
    let v2 = engine.publish_script(spec, "tests").await.unwrap();
    assert_eq!((v1.version, v2.version), (1, 2));
    let versions = engine.store().read(|r| r.script_versions("block")).unwrap();
    assert_eq!(versions.len(), 2, "publishing keeps the old version");

    // Each version keeps its own run history.
    let rule = RuleSpec::from_yaml("name: r\ntrigger: alert\nscript: block").unwrap();
    engine.put_rule(rule, "tests").await.unwrap();
    let data = serde_json::json!({"src_ip": "203.0.113.33"});
    let report = engine
        .ingest(riposte::store::SignalKind::Alert, None, "test", data)
        .await
        .unwrap();
    let runs = |version: &str| {
        let filter = riposte::store::PolicyFilter {
            version: Some(version.into()),
            ..Default::default()
        };
        let page = engine
            .store()
            .read(|r| r.list_policies(&filter, None, 10))
            .unwrap();
        page.items.iter().map(|p| p.id).collect::<Vec<_>>()
    };
    assert_eq!(runs("block@2"), report.opened);
    assert!(runs("block@1").is_empty());
    engine.stop();
}
