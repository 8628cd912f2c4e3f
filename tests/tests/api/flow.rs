//! One alert's way through the API: ingested, a rule fires, a script runs,
//! tasks reach the provider; lists with every filter, a retry of a failed
//! task, an unblock of a succeeded one, all in the audit log.

use std::time::Duration;

use riposte_tests::api::TestDaemon;
use serde_json::{Value, json};

use super::{config, eve, install, problem, wait_json};

fn ids(page: &Value) -> Vec<u64> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_u64().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_becomes_a_block_that_can_be_retried_listed_unblocked_and_audited() {
    let daemon = TestDaemon::start(config()).await;
    let admin = daemon.admin();
    install(&admin, daemon.endpoint.port(), None).await;

    // A Suricata alert fires the rule; the block reaches the endpoint.
    let reply = admin
        .post(
            "/v1/alerts?format=suricata-eve",
            eve("203.0.113.7", "ET SCAN SSH"),
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    assert_eq!(reply.json["delivery"], "new");
    let first_policy = reply.json["opened"][0].as_u64().unwrap();
    let page = wait_json(
        &admin,
        "/v1/tasks?status=Succeeded",
        "the first block",
        |page| page["items"].as_array().unwrap().len() == 1,
    )
    .await;
    let good = page["items"][0]["id"].as_u64().unwrap();
    assert_eq!(daemon.endpoint.done("/block").len(), 1);

    // The same alert again is a duplicate and acts on nothing.
    let reply = admin
        .post(
            "/v1/alerts?format=suricata-eve",
            eve("203.0.113.7", "ET SCAN SSH"),
        )
        .await;
    assert_eq!(reply.json["delivery"], "duplicate", "{}", reply.text);

    // The endpoint fails the next block until the retry budget is spent.
    daemon.endpoint.fail_next(2);
    let reply = admin
        .post(
            "/v1/alerts?format=suricata-eve",
            eve("198.51.100.9", "ET SCAN Nmap"),
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let page = wait_json(
        &admin,
        "/v1/tasks?status=failed",
        "the failing block",
        |page| page["items"].as_array().unwrap().len() == 1,
    )
    .await;
    let bad = page["items"][0]["id"].as_u64().unwrap();
    let bad_policy = page["items"][0]["policy_id"].as_u64().unwrap();
    assert!(
        page["items"][0]["failure"]["message"].as_str().is_some(),
        "{page}"
    );

    // Every task filter, and newest first.
    let all = admin.get("/v1/tasks").await.json;
    assert_eq!(ids(&all), vec![bad, good]);
    let by_entity = admin
        .get("/v1/tasks?entity_kind=ip&entity=198.51.100.9")
        .await
        .json;
    assert_eq!(ids(&by_entity), vec![bad]);
    assert_eq!(
        ids(&admin.get("/v1/tasks?entity_kind=ip").await.json),
        vec![bad, good]
    );
    assert_eq!(
        ids(&admin.get("/v1/tasks?entity_kind=domain").await.json),
        Vec::<u64>::new()
    );
    assert_eq!(
        ids(&admin.get("/v1/tasks?action=CountedBlock").await.json),
        vec![bad, good]
    );
    assert_eq!(
        ids(&admin.get("/v1/tasks?target=edge").await.json),
        vec![bad, good]
    );
    assert_eq!(
        ids(&admin
            .get(&format!("/v1/tasks?policy={first_policy}"))
            .await
            .json),
        vec![good]
    );
    let paged = admin.get("/v1/tasks?limit=1").await.json;
    assert_eq!(ids(&paged), vec![bad]);
    let cursor = paged["next"].as_u64().unwrap();
    let rest = admin
        .get(&format!("/v1/tasks?limit=1&before={cursor}"))
        .await
        .json;
    assert_eq!(ids(&rest), vec![good]);

    // Policy filters.
    let failed = admin.get("/v1/policies?status=Failed").await.json;
    assert_eq!(ids(&failed), vec![bad_policy]);
    let by_source = admin
        .get("/v1/policies?source=alert-rule&action=CountedBlock")
        .await
        .json;
    assert_eq!(ids(&by_source), vec![bad_policy, first_policy]);
    let by_entity = admin
        .get("/v1/policies?entity_kind=ip&entity=203.0.113.7")
        .await
        .json;
    assert_eq!(ids(&by_entity), vec![first_policy]);
    let future = admin
        .get("/v1/policies?since=2999-01-01T00:00:00Z")
        .await
        .json;
    assert_eq!(ids(&future), Vec::<u64>::new());
    let detail = admin
        .get(&format!("/v1/policies/{first_policy}"))
        .await
        .json;
    assert_eq!(
        detail["source"]["data"]["src_ip"], "203.0.113.7",
        "{detail}"
    );
    assert_eq!(detail["tasks"][0]["id"], good);
    let script = admin
        .get(&format!("/v1/policies/{first_policy}/script"))
        .await
        .json;
    assert_eq!(script["script"]["version"], 1);
    assert_eq!(ids(&script["runs"]), vec![bad_policy, first_policy]);

    // Retry: refused for a succeeded task, accepted for the failed one.
    let text = problem(
        &admin
            .post(&format!("/v1/tasks/{good}/retry"), json!({}))
            .await,
        409,
    );
    assert!(text.contains("Succeeded"), "{text}");
    // While its component is disabled, a retry is refused up front.
    let reply = admin
        .post("/v1/components/fixture-counter/disable", json!({}))
        .await;
    assert_eq!(reply.json["enabled"], false, "{}", reply.text);
    let text = problem(
        &admin
            .post(&format!("/v1/tasks/{bad}/retry"), json!({}))
            .await,
        409,
    );
    assert!(text.contains("disabled"), "{text}");
    let reply = admin
        .post("/v1/components/fixture-counter/enable", json!({}))
        .await;
    assert_eq!(reply.json["enabled"], true, "{}", reply.text);
    let reply = admin
        .post(&format!("/v1/tasks/{bad}/retry"), json!({}))
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    wait_json(
        &admin,
        &format!("/v1/tasks/{bad}"),
        "the retried block",
        |task| task["status"] == "Succeeded",
    )
    .await;

    // Unblock the first block; a second unblock is refused.
    let reply = admin
        .post(&format!("/v1/tasks/{good}/unblock"), json!({}))
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    wait_json(
        &admin,
        &format!("/v1/tasks/{good}"),
        "the unblock",
        |task| task["revert"]["status"] == "Unblocked",
    )
    .await;
    daemon
        .endpoint
        .wait_for("one /unblock", Duration::from_secs(10), |hits| {
            hits.iter()
                .filter(|h| h.path == "/unblock" && h.status == 200)
                .count()
                == 1
        })
        .await;
    let text = problem(
        &admin
            .post(&format!("/v1/tasks/{good}/unblock"), json!({}))
            .await,
        409,
    );
    assert!(!text.is_empty());

    // The audit log names the token for each change.
    let audit = admin.get("/v1/audit?actor=admin").await.json;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for expected in [
        "target.put",
        "script.publish",
        "rule.put",
        "task.retry",
        "task.unblock",
    ] {
        assert!(
            actions.contains(&expected),
            "{expected} missing from {actions:?}"
        );
    }
    let retries = admin
        .get(&format!("/v1/audit?action=task.retry&object=task/{bad}"))
        .await
        .json;
    assert_eq!(retries["items"].as_array().unwrap().len(), 1, "{retries}");

    // Alerts are listed and readable.
    let alerts = admin.get("/v1/alerts").await.json;
    assert_eq!(alerts["items"].as_array().unwrap().len(), 2, "{alerts}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_ingest_each_line_and_say_why_a_line_failed() {
    let daemon = TestDaemon::start(config()).await;
    let admin = daemon.admin();
    install(&admin, daemon.endpoint.port(), None).await;
    // A blank first line: results keep the document's line numbers.
    let lines = [
        String::new(),
        eve("203.0.113.20", "one").to_string(),
        "{not json".to_string(),
        json!({"event_type": "dns", "src_ip": "10.0.0.1"}).to_string(),
        eve("203.0.113.21", "two").to_string(),
    ]
    .join("\n");
    let reply = admin
        .send(
            "POST",
            "/v1/alerts/batch?format=suricata-eve",
            Some(lines),
            &[("content-type", "application/x-ndjson")],
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json["ingested"], 2, "{}", reply.text);
    assert_eq!(reply.json["failed"], 1, "{}", reply.text);
    assert_eq!(reply.json["skipped"], 1, "{}", reply.text);
    let failed: Vec<&Value> = reply.json["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r.get("error").is_some())
        .collect();
    assert_eq!(failed[0]["line"], 3, "{}", reply.text);
    // A byte-order mark before a single alert is not content.
    let bom = format!("\u{feff}{}", eve("203.0.113.22", "bom"));
    let reply = admin
        .send("POST", "/v1/alerts?format=suricata-eve", Some(bom), &[])
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    wait_json(
        &admin,
        "/v1/tasks?status=Succeeded",
        "three blocks",
        |page| page["items"].as_array().unwrap().len() == 3,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_is_handled_by_hand_and_its_entity_allowlisted() {
    let daemon = TestDaemon::start(config()).await;
    let admin = daemon.admin();
    install(&admin, daemon.endpoint.port(), None).await;
    // The rule is disabled: the alert is stored but nothing runs.
    assert_eq!(
        admin
            .post("/v1/rules/block-suricata/disable", json!({}))
            .await
            .json["enabled"],
        false
    );
    let reply = admin
        .post("/v1/alerts?format=suricata-eve", eve("203.0.113.30", "x"))
        .await;
    assert_eq!(reply.json["opened"], json!([]), "{}", reply.text);
    let alert = reply.json["signal"].as_u64().unwrap();
    // Nothing to recommend while the rule is off.
    let reply = admin
        .post(
            &format!("/v1/alerts/{alert}/handle"),
            json!({"action": "apply-recommended"}),
        )
        .await;
    let text = problem(&reply, 409);
    assert!(text.contains("no enabled response rule"), "{text}");
    // Re-enabled, the recommendation opens a manual-handling policy.
    admin
        .post("/v1/rules/block-suricata/enable", json!({}))
        .await;
    let reply = admin
        .post(
            &format!("/v1/alerts/{alert}/handle"),
            json!({"action": "apply-recommended"}),
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let policy = reply.json["policies"][0].as_u64().unwrap();
    let detail = admin.get(&format!("/v1/policies/{policy}")).await.json;
    assert_eq!(
        detail["policy"]["source"]["kind"], "manual-handling",
        "{detail}"
    );
    assert_eq!(detail["source"]["id"], alert);
    // Allowlisting the entity through the alert.
    let reply = admin
        .post(
            &format!("/v1/alerts/{alert}/handle"),
            json!({"action": "allowlist", "entity": {"kind": "ip", "value": "203.0.113.31"}, "reason": "partner scanner"}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let entry = reply.json["id"].as_u64().unwrap();
    // A later alert from it is ignored, not blocked.
    let reply = admin
        .post("/v1/alerts?format=suricata-eve", eve("203.0.113.31", "y"))
        .await;
    let task_page = wait_json(
        &admin,
        "/v1/tasks?entity_kind=ip&entity=203.0.113.31",
        "the ignored task",
        |page| page["items"].as_array().unwrap().len() == 1,
    )
    .await;
    assert_eq!(
        task_page["items"][0]["status"], "Ignored",
        "{task_page} {}",
        reply.text
    );
    // The allowlist entry is replaced and removed.
    let reply = admin
        .put(
            &format!("/v1/allowlist/{entry}"),
            json!({"kind": "ip", "value": "203.0.113.32", "reason": "moved", "expires_at": "2999-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json["value"], "203.0.113.32");
    assert_eq!(reply.json["created_by"], "admin");
    assert_eq!(
        admin.delete(&format!("/v1/allowlist/{entry}")).await.status,
        204
    );
    assert_eq!(
        admin.get(&format!("/v1/allowlist/{entry}")).await.status,
        404
    );
    // A manual script run; a repeat with the same Idempotency-Key (a double
    // click, a retry after a timeout) opens nothing more.
    let body = json!({"entity": {"kind": "ip", "value": "203.0.113.40"}}).to_string();
    let key = [("idempotency-key", "click-1")];
    let reply = admin
        .send(
            "POST",
            "/v1/scripts/block-source/run",
            Some(body.clone()),
            &key,
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let policy = reply.json["policy"].clone();
    let again = admin
        .send("POST", "/v1/scripts/block-source/run", Some(body), &key)
        .await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(
        (again.json["policy"].clone(), again.json["repeat"].clone()),
        (policy, json!(true))
    );
    let policies = admin
        .get("/v1/policies?source=manual-script-run")
        .await
        .json;
    assert_eq!(policies["items"].as_array().unwrap().len(), 1, "{policies}");
    // The same for handling an alert by hand.
    let apply = json!({"action": "apply-recommended"}).to_string();
    let key = [("idempotency-key", "click-2")];
    let path = format!("/v1/alerts/{alert}/handle");
    let first = admin.send("POST", &path, Some(apply.clone()), &key).await;
    assert_eq!(first.status, 202, "{}", first.text);
    let again = admin.send("POST", &path, Some(apply), &key).await;
    assert_eq!(
        again.json["policies"], first.json["policies"],
        "{}",
        again.text
    );
    assert_eq!(again.json["repeat"], true);
}
