//! The egress gate lets out exactly what was granted, to the address it
//! checked, and nothing else.

use std::net::IpAddr;

use riposte::runtime::{FailureKind, Grant, Limits};
use riposte_tests::{Behaviour, LoopbackServer, logs, loopback_runtime, request, secrets};

use crate::{grant, hostile, quick_config};

const LOOPBACK: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

fn ok_server() -> Behaviour {
    Behaviour::Respond(200, "text/plain", "hello".into())
}

#[tokio::test]
async fn a_granted_name_reaches_its_checked_address_with_one_host_header() {
    let server = LoopbackServer::start(ok_server()).await;
    let port = server.port();
    let names: &[(&str, &[IpAddr])] = &[("api.test", &[LOOPBACK])];
    let (runtime, connector) = loopback_runtime(quick_config(), names, secrets(&[]));
    let component = hostile(&runtime).await;
    // Loopback must be granted by address too: a name alone never reaches it.
    let grant = grant(&[
        &format!("http://api.test:{port}"),
        &format!("http://127.0.0.1:{port}"),
    ]);
    let url = format!("http://api.test:{port}/path?q=1");

    let report = runtime
        .execute(
            &component,
            &grant,
            request("Fetch", "1.2.3.4", &[("url", &url)]),
            None,
        )
        .await;
    assert_eq!(report.result.unwrap().detail, "status 200 body hello");
    let received = server.requests();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].target, "/path?q=1");
    // wasmtime 48.0.0 sent no Host header (wasmtime#14190): pin exactly one.
    assert_eq!(
        received[0].header_values("host"),
        vec![format!("api.test:{port}")]
    );
    assert_eq!(connector.connected(), 1);
    assert_eq!(connector.refused(), 0);
}

#[tokio::test]
async fn ip_literals_in_every_form_are_refused_unless_granted_by_address() {
    let server = LoopbackServer::start(ok_server()).await;
    let port = server.port();
    let names: &[(&str, &[IpAddr])] = &[("api.test", &[LOOPBACK])];
    let (runtime, connector) = loopback_runtime(quick_config(), names, secrets(&[]));
    let component = hostile(&runtime).await;
    let by_name_only = grant(&[&format!("http://api.test:{port}")]);

    for host in [
        "127.0.0.1",
        "2130706433",
        "127.1",
        "0x7f000001",
        "[::ffff:127.0.0.1]",
        "[::1]",
    ] {
        let url = format!("http://{host}:{port}/");
        let report = runtime
            .execute(
                &component,
                &by_name_only,
                request("Fetch", "1.2.3.4", &[("url", &url)]),
                None,
            )
            .await;
        let failure = report.result.expect_err(host);
        assert_eq!(failure.kind, FailureKind::Unreachable, "{host}: {failure}");
        assert!(failure.message.contains("egress gate"), "{host}: {failure}");
        assert_eq!(report.refusals.len(), 1, "{host}");
        assert!(
            report.refusals[0].contains("not granted"),
            "{host}: {:?}",
            report.refusals
        );
    }
    // The name itself resolves to loopback, which is not granted by address.
    let url = format!("http://api.test:{port}/");
    let report = runtime
        .execute(
            &component,
            &by_name_only,
            request("Fetch", "1.2.3.4", &[("url", &url)]),
            None,
        )
        .await;
    assert!(report.result.is_err());
    assert!(report.refusals[0].contains("resolved to 127.0.0.1, a loopback address"));

    assert_eq!(server.accepted(), 0, "a refused request reached the server");
    assert_eq!(
        connector.connected() + connector.refused(),
        0,
        "the gate dialled"
    );
    assert!(logs().contains("egress refused"));
}

#[tokio::test]
async fn names_resolving_to_metadata_or_private_addresses_are_refused_before_dialling() {
    let names: &[(&str, &[IpAddr])] = &[
        ("metadata.test", &["169.254.169.254".parse().unwrap()]),
        (
            "aliyun-metadata.test",
            &["100.100.100.200".parse().unwrap()],
        ),
        ("ipv6-metadata.test", &["fd00:ec2::254".parse().unwrap()]),
        ("private.test", &["10.1.2.3".parse().unwrap()]),
        (
            "mixed.test",
            &[
                "198.51.100.7".parse().unwrap(),
                "192.168.0.1".parse().unwrap(),
            ],
        ),
    ];
    let (runtime, connector) = loopback_runtime(quick_config(), names, secrets(&[]));
    let component = hostile(&runtime).await;
    let grant = grant(&["http://*.test:80"]);

    for (name, reason) in [
        ("metadata.test", "a cloud metadata address"),
        ("aliyun-metadata.test", "a cloud metadata address"),
        ("ipv6-metadata.test", "a cloud metadata address"),
        ("private.test", "a private (RFC 1918) address"),
        ("mixed.test", "a private (RFC 1918) address"),
    ] {
        let url = format!("http://{name}/latest/meta-data/");
        let report = runtime
            .execute(
                &component,
                &grant,
                request("Fetch", "1.2.3.4", &[("url", &url)]),
                None,
            )
            .await;
        assert!(report.result.is_err(), "{name}");
        assert!(
            report.refusals[0].contains(reason),
            "{name}: {:?}",
            report.refusals
        );
    }
    assert_eq!(
        connector.connected() + connector.refused(),
        0,
        "the gate dialled"
    );
}

#[tokio::test]
async fn a_redirect_to_an_ungranted_host_is_refused_on_the_second_hop() {
    let elsewhere = LoopbackServer::start(ok_server()).await;
    let redirector = LoopbackServer::start(Behaviour::Redirect(format!(
        "http://evil.test:{}/loot",
        elsewhere.port()
    )))
    .await;
    let names: &[(&str, &[IpAddr])] = &[("api.test", &[LOOPBACK]), ("evil.test", &[LOOPBACK])];
    let (runtime, _) = loopback_runtime(quick_config(), names, secrets(&[]));
    let component = hostile(&runtime).await;
    let port = redirector.port();
    let grant = grant(&[
        &format!("http://api.test:{port}"),
        &format!("http://127.0.0.1:{port}"),
    ]);
    let url = format!("http://api.test:{port}/");

    let report = runtime
        .execute(
            &component,
            &grant,
            request("FetchFollow", "1.2.3.4", &[("url", &url)]),
            None,
        )
        .await;
    assert_eq!(report.result.unwrap_err().kind, FailureKind::Unreachable);
    assert_eq!(redirector.requests().len(), 1);
    assert_eq!(elsewhere.accepted(), 0);
    assert!(report.refusals[0].starts_with(&format!("http://evil.test:{}", elsewhere.port())));
}

#[tokio::test]
async fn the_target_endpoint_limits_a_call_to_its_own_origin() {
    let server = LoopbackServer::start(ok_server()).await;
    let port = server.port();
    let names: &[(&str, &[IpAddr])] = &[("api.test", &[LOOPBACK]), ("other.test", &[LOOPBACK])];
    let (runtime, _) = loopback_runtime(quick_config(), names, secrets(&[]));
    let component = hostile(&runtime).await;
    let grant = grant(&[
        &format!("http://api.test:{port}"),
        &format!("http://other.test:{port}"),
        &format!("http://127.0.0.1:{port}"),
    ]);
    let mut call = request(
        "Fetch",
        "1.2.3.4",
        &[("url", &format!("http://other.test:{port}/"))],
    );
    call.target.endpoint = format!("http://api.test:{port}");

    let report = runtime.execute(&component, &grant, call, None).await;
    assert!(report.result.is_err());
    assert!(
        report.refusals[0].contains("is not the target endpoint"),
        "{:?}",
        report.refusals
    );
    assert_eq!(server.accepted(), 0);
}

#[tokio::test]
async fn nothing_is_reachable_without_grants() {
    let server = LoopbackServer::start(ok_server()).await;
    let (runtime, _) = loopback_runtime(quick_config(), &[], secrets(&[]));
    let component = hostile(&runtime).await;
    let url = format!("http://127.0.0.1:{}/", server.port());

    let report = runtime
        .execute(
            &component,
            &Grant::default(),
            request("Fetch", "1.2.3.4", &[("url", &url)]),
            None,
        )
        .await;
    assert!(report.result.is_err());
    assert_eq!(server.accepted(), 0);
}

#[tokio::test]
async fn bodies_over_the_limits_are_refused() {
    let big_answer =
        LoopbackServer::start(Behaviour::Respond(200, "text/plain", "y".repeat(64 << 10))).await;
    let (runtime, _) = loopback_runtime(quick_config(), &[], secrets(&[]));
    let component = hostile(&runtime).await;
    let port = big_answer.port();
    let grant = grant(&[&format!("http://127.0.0.1:{port}")]);
    let limits = Limits {
        request_body_bytes: 1024,
        response_body_bytes: 16 << 10,
        ..quick_config().limits
    };
    let url = format!("http://127.0.0.1:{port}/");

    // The request body is refused before connecting.
    let post = request("PostBig", "1.2.3.4", &[("url", &url), ("size", "4096")]);
    let report = runtime
        .execute(&component, &grant, post, Some(&limits))
        .await;
    assert!(report.result.is_err());
    assert!(
        report.refusals[0].contains("request body over 1024 bytes"),
        "{:?}",
        report.refusals
    );
    assert_eq!(big_answer.accepted(), 0);

    // The response body is cut off at the limit.
    let get = request("Fetch", "1.2.3.4", &[("url", &url)]);
    let report = runtime
        .execute(&component, &grant, get, Some(&limits))
        .await;
    let failure = report.result.unwrap_err();
    assert!(failure.message.contains("larger than"), "{failure}");
}
