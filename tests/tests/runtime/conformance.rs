//! The conformance kit (`riposte component check`) on the bundled
//! component against the provider simulator, on the Python and JavaScript
//! components against its recording endpoint, and on a fixture that
//! breaks the contract, which it must fail.

use riposte::conformance::{self, BackendChoice, Report, Status};
use riposte_tests::{foreign, guests, wasm};

async fn check(wasm: Vec<u8>, backend: BackendChoice) -> Report {
    let report = conformance::check(wasm, backend)
        .await
        .expect("the kit runs");
    println!("{report}");
    report
}

fn failed(report: &Report) -> Vec<&str> {
    report.failed().map(|check| check.name.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_webhook_component_passes_the_kit() {
    let report = check(foreign(guests::WEBHOOK_NOTIFY_PY), BackendChoice::Auto).await;
    assert!(report.passed(), "{report}");
    assert!(report.backend.contains("recording endpoint"), "{report}");
    // It declares every kind: all eleven run the whole lifecycle.
    let accepted = report
        .checks
        .iter()
        .filter(|check| check.name.starts_with("NotifyWebhook `"))
        .filter(|check| check.status == Status::Pass)
        .count();
    assert!(accepted >= 14, "{report}");
    let throttled = report
        .check("NotifyWebhook: typed failure when the provider throttles")
        .unwrap();
    assert_eq!(throttled.status, Status::Pass, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_javascript_signed_webhook_component_passes_the_kit() {
    let report = check(foreign(guests::WEBHOOK_SIGNED_JS), BackendChoice::Endpoint).await;
    assert!(report.passed(), "{report}");
    // It shares network indicators only, and refuses the seven other kinds
    // itself.
    let refusals = report
        .checks
        .iter()
        .filter(|check| check.name.contains(" refuses `") && check.status == Status::Pass)
        .count();
    assert_eq!(refusals, 7, "{report}");
    let credential = report
        .check("NotifySignedWebhook: typed failure when the credential is not granted")
        .unwrap();
    assert_eq!(credential.status, Status::Pass, "{report}");
    assert!(
        credential.detail.starts_with("permission-denied"),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bundled_aliyun_waf_component_is_checked_against_the_simulator() {
    let report = check(wasm(guests::ALIYUN_WAF), BackendChoice::Auto).await;
    assert!(report.backend.contains("provider simulator"), "{report}");
    // A repeated execute finds the rule by name instead of adding another
    // (it used to leave a second rule behind after revert).
    assert!(failed(&report).is_empty(), "{report}");
    for kind in ["domain", "url", "account"] {
        let name = format!("AliyunWafBlockIP refuses `{kind}` with invalid-input");
        assert_eq!(
            report.check(&name).unwrap().status,
            Status::Pass,
            "{report}"
        );
    }
    for check in ["plan changes nothing", "revert"] {
        assert!(
            report.checks.iter().any(|c| c.name.contains(check)),
            "{report}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_that_breaks_the_contract_fails_the_kit() {
    // The trivial fixture answers `Noop` with success whatever it is given:
    // it never refuses an undeclared entity kind.
    let report = check(wasm(guests::FIXTURE_TRIVIAL), BackendChoice::Endpoint).await;
    assert!(!report.passed(), "{report}");
    assert!(
        failed(&report)
            .iter()
            .any(|name| name.contains("refuses `")),
        "{report}"
    );
    assert!(report.to_string().contains("FAIL"), "{report}");
}
