//! Bad requests get problem documents that name the field and what was
//! expected, and change nothing.

use riposte_tests::api::TestDaemon;
use serde_json::json;

use super::{config, install, problem};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_explained_and_changes_nothing() {
    let daemon = TestDaemon::start(config()).await;
    let admin = daemon.admin();
    install(&admin, daemon.endpoint.port(), None).await;

    // A bad entity value names the field and the value.
    let reply = admin
        .post(
            "/v1/scripts/block-source/run",
            json!({"entity": {"kind": "ip", "value": "1.2.3"}}),
        )
        .await;
    let text = problem(&reply, 422);
    assert!(
        text.contains("field `entity.value`") && text.contains("`1.2.3`"),
        "{text}"
    );
    // An unknown kind lists the kinds.
    let reply = admin
        .post(
            "/v1/scripts/block-source/run",
            json!({"entity": {"kind": "ipv4", "value": "1.2.3.4"}}),
        )
        .await;
    let text = problem(&reply, 422);
    assert!(
        text.contains("field `entity.kind`") && text.contains("ip, cidr"),
        "{text}"
    );
    // A typo in a field name is refused, not ignored.
    let reply = admin
        .post("/v1/allowlist", json!({"kind": "ip", "value": "1.2.3.4", "reason": "x", "expires": "2999-01-01T00:00:00Z"}))
        .await;
    let text = problem(&reply, 422);
    assert!(text.contains("unknown field `expires`"), "{text}");
    // A time an offset pushes past year 9999 would be unreadable in the
    // store: refused (found by the fuzz review).
    let reply = admin
        .post("/v1/allowlist", json!({"kind": "ip", "value": "192.0.2.3", "reason": "x", "expires_at": "9999-12-31T23:00:00-01:00"}))
        .await;
    let text = problem(&reply, 422);
    assert!(text.contains("between the years 0000 and 9999"), "{text}");
    // An array is not an object, even if its elements line up with the
    // fields.
    let text = problem(
        &admin.post("/v1/tokens", json!(["zz", "viewer"])).await,
        422,
    );
    assert!(text.contains("expected a JSON object"), "{text}");
    // Deeply nested YAML is refused before the parser sees it.
    let deep = format!("name: {}{}\n", "[".repeat(10_000), "]".repeat(10_000));
    let reply = admin.yaml("POST", "/v1/scripts/validate", &deep).await;
    let text = problem(&reply, 422);
    assert!(text.contains("nested more than 64 levels"), "{text}");
    // An unknown method on a public route is a 405, not an auth error.
    let anonymous = riposte_tests::api::Client {
        addr: daemon.addr,
        token: None,
    };
    problem(&anonymous.send("TRACE", "/healthz", None, &[]).await, 405);
    problem(&admin.send("PUT", "/readyz", None, &[]).await, 405);
    // An empty batch is a mistake, not an empty success.
    let reply = admin
        .send(
            "POST",
            "/v1/alerts/batch",
            Some(" \n".into()),
            &[("content-type", "application/x-ndjson")],
        )
        .await;
    problem(&reply, 400);
    // An unknown field of a target is named, not blamed on the credential.
    let reply = admin
        .put(
            "/v1/targets/other",
            json!({"provider": "test", "endpoint": "http://127.0.0.1:1", "extra": 1}),
        )
        .await;
    let text = problem(&reply, 422);
    assert!(text.contains("unknown field `extra`"), "{text}");
    // Not JSON; wrong content type; empty body; too large.
    let text = problem(
        &admin
            .send("POST", "/v1/allowlist", Some("{".into()), &[])
            .await,
        400,
    );
    assert!(text.contains("not valid JSON"), "{text}");
    problem(
        &admin
            .send(
                "POST",
                "/v1/allowlist",
                Some("a=b".into()),
                &[("content-type", "application/x-www-form-urlencoded")],
            )
            .await,
        415,
    );
    problem(
        &admin
            .send("POST", "/v1/allowlist", Some(String::new()), &[])
            .await,
        400,
    );
    let huge = format!("{{\"kind\":\"ip\",\"value\":\"{}\"}}", "9".repeat(3 << 20));
    problem(
        &admin.send("POST", "/v1/allowlist", Some(huge), &[]).await,
        413,
    );
    // Queries: unknown parameter, bad status, bad limit, entity without kind.
    let text = problem(&admin.get("/v1/tasks?stauts=Failed").await, 422);
    assert!(text.contains("stauts"), "{text}");
    let text = problem(&admin.get("/v1/tasks?status=broken").await, 422);
    assert!(
        text.contains("expected one of") && text.contains("Failed"),
        "{text}"
    );
    problem(&admin.get("/v1/tasks?limit=0").await, 422);
    problem(&admin.get("/v1/tasks?limit=100000").await, 422);
    let text = problem(&admin.get("/v1/tasks?entity=1.2.3.4").await, 422);
    assert!(text.contains("entity_kind"), "{text}");
    problem(&admin.get("/v1/policies?since=yesterday").await, 422);
    let text = problem(&admin.get("/v1/policies?version=block-source").await, 422);
    assert!(text.contains("NAME@VERSION"), "{text}");
    // A rule with a key given twice is refused, not read as the last one.
    let doubled = "trigger: alert\nscript: block-source\ncondition: 'false'\ncondition: 'true'\n";
    let reply = admin.yaml("PUT", "/v1/rules/doubled", doubled).await;
    let text = problem(&reply, 422);
    assert!(text.contains("duplicate"), "{text}");
    // An idempotency key reused for a different alert is refused.
    let key = [("idempotency-key", "sensor-7-0001")];
    let first = super::eve("203.0.113.80", "first").to_string();
    let other = super::eve("203.0.113.81", "other").to_string();
    let reply = admin
        .send(
            "POST",
            "/v1/alerts?format=suricata-eve",
            Some(first.clone()),
            &key,
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let reply = admin
        .send("POST", "/v1/alerts?format=suricata-eve", Some(first), &key)
        .await;
    assert_eq!(reply.json["delivery"], "duplicate", "{}", reply.text);
    let text = problem(
        &admin
            .send("POST", "/v1/alerts?format=suricata-eve", Some(other), &key)
            .await,
        409,
    );
    assert!(text.contains("different content"), "{text}");
    // A batch over the record cap is refused whole, before anything runs.
    let many = vec!["{}"; riposte::api::MAX_BATCH_RECORDS + 1].join("\n");
    let reply = admin
        .send(
            "POST",
            "/v1/alerts/batch",
            Some(many),
            &[("content-type", "application/x-ndjson")],
        )
        .await;
    problem(&reply, 413);
    // Multicast and reserved addresses are never acted on.
    let reply = admin
        .post(
            "/v1/scripts/block-source/run",
            json!({"entity": {"kind": "ip", "value": "224.0.0.251"}}),
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let page = super::wait_json(
        &admin,
        "/v1/tasks?entity_kind=ip&entity=224.0.0.251",
        "the multicast task",
        |p| p["items"].as_array().unwrap().len() == 1,
    )
    .await;
    assert_eq!(page["items"][0]["status"], "Ignored", "{page}");
    assert!(
        page["items"][0]["ignored_reason"]
            .as_str()
            .unwrap()
            .contains("multicast"),
        "{page}"
    );
    problem(&admin.get("/v1/tasks/abc").await, 422);
    // Unknown routes and methods.
    problem(&admin.get("/v1/nothing").await, 404);
    problem(&admin.delete("/v1/tasks").await, 405);
    // A script naming an unknown action is refused with the step named;
    // validation says the same without saving.
    let bad = "name: broken\nentity: {kind: ip, from: alert.src_ip}\nsteps:\n  - id: s\n    action: NoSuchAction\n    targets: [edge]\n";
    let reply = admin.yaml("POST", "/v1/scripts", bad).await;
    let text = problem(&reply, 422);
    assert!(text.contains("NoSuchAction"), "{text}");
    let reply = admin.yaml("POST", "/v1/scripts/validate", bad).await;
    assert_eq!(reply.json["valid"], false, "{}", reply.text);
    assert_eq!(admin.get("/v1/scripts/broken/versions").await.status, 404);
    // A rule whose name differs from the path.
    let reply = admin
        .put(
            "/v1/rules/a",
            json!({"name": "b", "trigger": "alert", "script": "block-source"}),
        )
        .await;
    problem(&reply, 422);
    // Creating an existing script is a conflict that points at versions.
    let again = "name: block-source\nentity: {kind: ip, from: alert.src_ip}\nsteps:\n  - id: b\n    action: CountedBlock\n    targets: [edge]\n";
    let reply = admin.yaml("POST", "/v1/scripts", again).await;
    let text = problem(&reply, 409);
    assert!(text.contains("/v1/scripts/block-source/versions"), "{text}");
    // Nothing of the above was stored: one script version, one rule, no
    // allowlist entry.
    assert_eq!(
        admin.get("/v1/scripts").await.json["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        admin.get("/v1/rules").await.json["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(admin.get("/v1/allowlist").await.json["items"], json!([]));
    // A target still in use cannot be deleted.
    let reply = admin
        .post(
            "/v1/scripts/block-source/run",
            json!({"entity": {"kind": "ip", "value": "203.0.113.50"}}),
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    super::wait_json(
        &admin,
        "/v1/tasks?status=Succeeded&entity_kind=ip&entity=203.0.113.50",
        "the block",
        |p| p["items"].as_array().unwrap().len() == 1,
    )
    .await;
    let text = problem(&admin.delete("/v1/targets/edge").await, 409);
    assert!(text.contains("block-source"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_metrics_and_the_document_answer() {
    let daemon = TestDaemon::start(config()).await;
    let admin = daemon.admin();
    install(&admin, daemon.endpoint.port(), None).await;
    let anonymous = riposte_tests::api::Client {
        addr: daemon.addr,
        token: None,
    };
    assert_eq!(anonymous.get("/healthz").await.json["status"], "ok");
    assert_eq!(anonymous.get("/readyz").await.json["status"], "ready");
    let doc = anonymous.get("/v1/openapi.json").await.json;
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/v1/tasks/{id}/retry"]["post"].is_object());
    admin
        .post(
            "/v1/alerts?format=suricata-eve",
            super::eve("203.0.113.60", "m"),
        )
        .await;
    super::wait_json(&admin, "/v1/tasks?status=Succeeded", "the block", |p| {
        p["items"].as_array().unwrap().len() == 1
    })
    .await;
    let metrics = admin.get("/metrics").await;
    assert!(metrics.content_type.starts_with("text/plain"));
    for needle in [
        "riposte_tasks{status=\"Succeeded\",action=\"CountedBlock\"} 1",
        "riposte_queue_depth 0",
        "riposte_task_seconds_count{action=\"CountedBlock\",status=\"Succeeded\"}",
        "riposte_component_call_seconds_count{action=\"CountedBlock\",call=\"execute\"}",
        "riposte_http_requests_total{method=\"GET\",route=\"/v1/tasks\",status=\"200\"}",
    ] {
        assert!(
            metrics.text.contains(needle),
            "{needle} missing:\n{}",
            metrics.text
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_at_the_egress_gate_names_the_refused_origin() {
    let daemon = TestDaemon::start(config()).await;
    let admin = daemon.admin();
    install(&admin, daemon.endpoint.port(), None).await;
    // A target whose endpoint the component was never granted.
    let target = json!({"provider": "test", "endpoint": "http://127.0.0.1:9"});
    assert_eq!(admin.put("/v1/targets/elsewhere", target).await.status, 200);
    let script =
        riposte_tests::api::block_script("block-elsewhere", "CountedBlock", "elsewhere", None);
    let reply = admin.yaml("POST", "/v1/scripts", &script).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let reply = admin
        .post(
            "/v1/scripts/block-elsewhere/run",
            json!({"entity": {"kind": "ip", "value": "203.0.113.90"}}),
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let page = super::wait_json(&admin, "/v1/tasks?status=Failed", "the refused task", |p| {
        p["items"].as_array().unwrap().len() == 1
    })
    .await;
    let message = page["items"][0]["failure"]["message"].as_str().unwrap();
    assert!(
        message.contains("egress gate refused") && message.contains("127.0.0.1:9"),
        "{message}"
    );
    assert!(daemon.endpoint.hits().is_empty());
}
