//! The authorization matrix: every route of the API with no token, a
//! wrong token, a revoked token, and each role.

use riposte::api::{Access, ROUTES, Role};
use riposte_tests::api::{Client, TestDaemon};
use serde_json::json;

use super::{config, problem};

/// A concrete path for a route template.
fn concrete(path: &str) -> String {
    path.replace("{id}", "999")
        .replace("{version}", "1")
        .replace("{name}", "nothing-here")
}

async fn call(client: &Client, method: &str, path: &str) -> u16 {
    let body = matches!(method, "POST" | "PUT").then(|| "{}".to_string());
    client.send(method, &concrete(path), body, &[]).await.status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_checks_the_token_and_its_role() {
    let daemon = TestDaemon::start(config()).await;
    let admin = daemon.admin();
    let mut tokens = Vec::new();
    for role in ["viewer", "operator"] {
        let reply = admin
            .post(
                "/v1/tokens",
                json!({"name": format!("{role}-token"), "role": role}),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        let token = reply.json["token"].as_str().unwrap().to_string();
        assert!(token.starts_with("rpt_"));
        tokens.push((Role::parse(role).unwrap(), daemon.client(&token)));
    }
    tokens.push((Role::Admin, admin.clone()));
    let anonymous = Client {
        addr: daemon.addr,
        token: None,
    };
    let wrong =
        daemon.client("rpt_admin_0000000000000000000000000000000000000000000000000000000000000000");
    let garbage = daemon.client("not-a-token");

    let mut checked = 0;
    for route in ROUTES {
        // Revoking tokens would change the matrix while it runs.
        if route.path == "/v1/tokens/{name}" {
            continue;
        }
        let what = format!("{} {}", route.method, route.path);
        match route.access {
            Access::Public => {
                let status = call(&anonymous, route.method, route.path).await;
                assert!(status < 400, "{what} must be public, got {status}");
            }
            Access::Role(needed) => {
                for client in [&anonymous, &wrong, &garbage] {
                    let status = call(client, route.method, route.path).await;
                    assert_eq!(status, 401, "{what} without a valid token");
                }
                for (role, client) in &tokens {
                    let status = call(client, route.method, route.path).await;
                    if *role < needed {
                        assert_eq!(status, 403, "{what} as {role:?}");
                    } else {
                        assert!(
                            status != 401 && status != 403 && status < 500,
                            "{what} as {role:?} answered {status}"
                        );
                    }
                }
            }
        }
        checked += 1;
    }
    assert_eq!(checked, ROUTES.len() - 1);

    // HEAD is served by the GET handlers, so it needs GET's role.
    for path in ["/v1/tokens", "/v1/audit", "/v1/targets", "/metrics"] {
        let status = anonymous.send("HEAD", path, None, &[]).await.status;
        assert_eq!(status, 401, "HEAD {path} without a token");
    }
    let viewer = &tokens[0].1;
    assert_eq!(
        viewer.send("HEAD", "/v1/tokens", None, &[]).await.status,
        403
    );
    // The scheme is case-insensitive; two Authorization headers are refused.
    let lower = format!("bearer {}", daemon.admin);
    let bare = Client {
        addr: daemon.addr,
        token: None,
    };
    assert_eq!(
        bare.send("GET", "/v1/tasks", None, &[("authorization", &lower)])
            .await
            .status,
        200
    );
    let twice = bare
        .send(
            "GET",
            "/v1/tasks",
            None,
            &[
                ("authorization", &lower),
                ("authorization", "Bearer rpt_x_y"),
            ],
        )
        .await;
    assert_eq!(twice.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_stops_working_at_once_and_tokens_are_stored_hashed() {
    let daemon = TestDaemon::start(config()).await;
    let admin = daemon.admin();
    let reply = admin
        .post("/v1/tokens", json!({"name": "ci", "role": "operator"}))
        .await;
    let token = reply.json["token"].as_str().unwrap().to_string();
    let ci = daemon.client(&token);
    assert_eq!(ci.get("/v1/tasks").await.status, 200);
    // A viewer may not create tokens; an operator may not either.
    let text = problem(
        &ci.post("/v1/tokens", json!({"name": "x", "role": "admin"}))
            .await,
        403,
    );
    assert!(text.contains("needs role admin"), "{text}");
    // Listed without the token; a duplicate name is refused.
    let list = admin.get("/v1/tokens").await;
    assert!(!list.text.contains(&token));
    assert!(list.text.contains("\"ci\""));
    problem(
        &admin
            .post("/v1/tokens", json!({"name": "ci", "role": "viewer"}))
            .await,
        409,
    );
    // The last admin token cannot be revoked: nobody could administer.
    let text = problem(&admin.delete("/v1/tokens/admin").await, 409);
    assert!(text.contains("last admin token"), "{text}");
    assert_eq!(admin.delete("/v1/tokens/ci").await.status, 204);
    problem(&ci.get("/v1/tasks").await, 401);
    problem(&admin.delete("/v1/tokens/ci").await, 404);
    // Neither token is anywhere in the data directory except admin.token.
    let secret_part = token.rsplit('_').next().unwrap();
    let admin_secret = daemon.admin.rsplit('_').next().unwrap().to_string();
    for path in riposte_tests::files_under(&daemon.scratch.path().join("data")) {
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(secret_part),
            "{} holds a token",
            path.display()
        );
        if !path.ends_with("admin.token") {
            assert!(
                !text.contains(&admin_secret),
                "{} holds the admin token",
                path.display()
            );
        }
    }
    // The audit log names who created and revoked it.
    let audit = admin.get("/v1/audit?action=token.").await.json;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"token.create") && actions.contains(&"token.revoke"),
        "{actions:?}"
    );
}
