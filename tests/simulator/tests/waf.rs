//! The WAF 3.0 simulator driven over real loopback HTTP/1.1.
//!
//! Requests are written byte by byte on a `TcpStream` and signed by a tiny
//! signer built on the simulator's public canonicalisation functions (which
//! the unit tests pin to the published vectors), never by `riposte-sdk`.
//! Every exchange is bounded by a timeout.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hyper::HeaderMap;
use hyper::header::{HeaderName, HeaderValue};
use riposte_simulator::aliyun::acs3::{self, Received};
use riposte_simulator::encoding::percent_encode;
use riposte_simulator::time::format_iso8601;
use riposte_simulator::{Clock, Fault, Handled, Simulator, SimulatorConfig};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const AK: &str = "LTAI-test-key";
const SECRET: &str = "test-secret-never-logged";
const INSTANCE: &str = "waf_v2_public_cn-test";
const TEMPLATE: u64 = 1122;
const TIMEOUT: Duration = Duration::from_secs(10);

fn simulator(config: SimulatorConfig) -> Simulator {
    let config = config
        .with_credential(AK, SECRET)
        .with_waf_template(INSTANCE, TEMPLATE);
    Simulator::start(config).unwrap()
}

/// One Alibaba RPC call as the client puts it on the wire.
#[derive(Clone)]
struct Call {
    action: String,
    version: String,
    /// Raw query string, as it appears in the request line.
    query: String,
    /// Form body, if any.
    body: String,
    access_key_id: String,
    secret: String,
    nonce: String,
    date: String,
}

impl Call {
    fn new(action: &str, query: &[(&str, &str)], form: &[(&str, &str)]) -> Self {
        static NONCE: AtomicU64 = AtomicU64::new(0);
        let encode = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}={}",
                        percent_encode(k.as_bytes()),
                        percent_encode(v.as_bytes())
                    )
                })
                .collect::<Vec<_>>()
                .join("&")
        };
        Self {
            action: action.to_owned(),
            version: "2021-10-01".to_owned(),
            query: encode(query),
            body: encode(form),
            access_key_id: AK.to_owned(),
            secret: SECRET.to_owned(),
            nonce: format!(
                "nonce-{}-{}",
                std::process::id(),
                NONCE.fetch_add(1, Ordering::Relaxed)
            ),
            date: format_iso8601(Clock::System.now()),
        }
    }

    fn create(addr: &str) -> Self {
        let rules = json!([{"name": "blk", "status": 1, "remoteAddr": [addr], "action": "block"}]);
        Self::create_with(INSTANCE, &rules.to_string())
    }

    fn create_with(instance: &str, rules: &str) -> Self {
        let template = TEMPLATE.to_string();
        Self::new(
            "CreateDefenseRule",
            &[
                ("DefenseScene", "ip_blacklist"),
                ("DefenseType", "template"),
                ("InstanceId", instance),
                ("RegionId", "cn-hangzhou"),
                ("TemplateId", &template),
            ],
            &[("Rules", rules)],
        )
    }

    fn delete(rule_ids: &str) -> Self {
        let template = TEMPLATE.to_string();
        Self::new(
            "DeleteDefenseRule",
            &[
                ("DefenseType", "template"),
                ("InstanceId", INSTANCE),
                ("RegionId", "cn-hangzhou"),
                ("RuleIds", rule_ids),
                ("TemplateId", &template),
            ],
            &[],
        )
    }

    /// The headers of this call, signed over `host`, `content-type` and
    /// every `x-acs-*` header.
    fn signed_headers(&self, host: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let mut set = |name: &str, value: &str| {
            headers.insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        };
        set("host", host);
        set("x-acs-action", &self.action);
        set("x-acs-version", &self.version);
        set("x-acs-date", &self.date);
        set("x-acs-signature-nonce", &self.nonce);
        let hashed = acs3::hash_payload(self.body.as_bytes());
        set("x-acs-content-sha256", &hashed);
        if !self.body.is_empty() {
            set("content-type", "application/x-www-form-urlencoded");
        }
        let mut names: Vec<String> = headers.keys().map(|n| n.as_str().to_owned()).collect();
        names.sort();
        let received = Received {
            method: "POST",
            path: "/",
            query: &self.query,
            headers: &headers,
            body: self.body.as_bytes(),
        };
        let canonical = acs3::canonical_request(&received, &names, &hashed).unwrap();
        let signature = acs3::signature(&self.secret, &acs3::string_to_sign(&canonical));
        let authorization = format!(
            "ACS3-HMAC-SHA256 Credential={},SignedHeaders={},Signature={signature}",
            self.access_key_id,
            names.join(";")
        );
        headers.insert(
            "authorization",
            HeaderValue::from_str(&authorization).unwrap(),
        );
        headers
    }
}

/// An answer: status and JSON body, or `None` when the connection closed
/// without one.
#[derive(Debug)]
struct Answer {
    status: u16,
    body: Value,
}

impl Answer {
    fn code(&self) -> &str {
        self.body["Code"].as_str().unwrap_or("OK")
    }
}

/// Sends `call` signed for `sim`, with `wire_query` in the request line
/// (normally the signed query).
async fn send_raw(
    sim: &Simulator,
    call: &Call,
    headers: &HeaderMap,
    wire_query: &str,
) -> Option<Answer> {
    let mut request = format!("POST /?{wire_query} HTTP/1.1\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{}: {}\r\n", name, value.to_str().unwrap()));
    }
    request.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n{}",
        call.body.len(),
        call.body
    ));
    let exchange = async {
        let mut stream = TcpStream::connect(sim.addr()).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        // A dropped connection may end in a reset rather than a clean EOF.
        let _ = stream.read_to_end(&mut answer).await;
        answer
    };
    let raw = tokio::time::timeout(TIMEOUT, exchange)
        .await
        .expect("simulator answered in time");
    parse(&raw)
}

async fn send(sim: &Simulator, call: &Call) -> Option<Answer> {
    let headers = call.signed_headers(&sim.addr().to_string());
    send_raw(sim, call, &headers, &call.query).await
}

fn parse(raw: &[u8]) -> Option<Answer> {
    if raw.is_empty() {
        return None;
    }
    let text = std::str::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let lower = head.to_ascii_lowercase();
    assert!(lower.contains("content-type: application/json"), "{head}");
    assert!(lower.contains("x-acs-request-id: "), "{head}");
    Some(Answer {
        status,
        body: serde_json::from_str(body).unwrap(),
    })
}

fn codes(handled: &[Handled]) -> Vec<&str> {
    handled.iter().map(|h| h.code.as_str()).collect()
}

#[tokio::test]
async fn creates_and_deletes_a_rule() {
    let sim = simulator(SimulatorConfig::default());
    let rules = json!([
        {"name": "blk-v4", "status": 1, "remoteAddr": ["198.51.100.7", "203.0.113.0/24"], "action": "block"},
        {"name": "blk-v6", "status": 1, "remoteAddr": ["2001:db8::1/128"], "action": "block"},
    ]);
    let answer = send(&sim, &Call::create_with(INSTANCE, &rules.to_string()))
        .await
        .unwrap();
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let ids = answer.body["RuleIds"].as_str().unwrap().to_owned();
    assert!(
        answer.body["RequestId"]
            .as_str()
            .is_some_and(|id| id.len() == 36)
    );

    let held = sim.waf_rules();
    assert_eq!(held.len(), 2);
    assert_eq!(ids, format!("{},{}", held[0].id, held[1].id));
    assert_eq!(held[0].instance_id, INSTANCE);
    assert_eq!(held[0].template_id, TEMPLATE);
    assert_eq!(held[0].name, "blk-v4");
    assert_eq!(held[0].remote_addr, ["198.51.100.7", "203.0.113.0/24"]);
    assert_eq!(held[1].remote_addr, ["2001:db8::1/128"]);
    assert_eq!(held[1].action, "block");

    let answer = send(&sim, &Call::delete(&ids)).await.unwrap();
    assert_eq!(
        (answer.status, answer.code()),
        (200, "OK"),
        "{:?}",
        answer.body
    );
    assert!(sim.waf_rules().is_empty());

    let answer = send(&sim, &Call::delete(&ids)).await.unwrap();
    assert_eq!((answer.status, answer.code()), (404, "Waf.NotFound.Rule"));
    let handled = sim.requests();
    assert_eq!(codes(&handled), ["OK", "OK", "Waf.NotFound.Rule"]);
    assert_eq!(handled[0].action, "CreateDefenseRule");
    assert_eq!(handled[2].status, 404);
}

#[tokio::test]
async fn answers_errors_in_alibaba_shape() {
    let sim = simulator(SimulatorConfig::default().with_waf_rule_quota(1));
    let host = sim.addr().to_string();

    let mut unknown_key = Call::create("198.51.100.7");
    unknown_key.access_key_id = "LTAI-other".to_owned();
    let answer = send(&sim, &unknown_key).await.unwrap();
    assert_eq!(
        (answer.status, answer.code()),
        (404, "InvalidAccessKeyId.NotFound")
    );
    for field in ["RequestId", "HostId", "Code", "Message"] {
        assert!(
            answer.body[field].is_string(),
            "{field} in {:?}",
            answer.body
        );
    }
    assert_eq!(answer.body["HostId"], host.as_str());

    let mut wrong_secret = Call::create("198.51.100.7");
    wrong_secret.secret = "not-the-secret".to_owned();
    let answer = send(&sim, &wrong_secret).await.unwrap();
    assert_eq!(
        (answer.status, answer.code()),
        (400, "SignatureDoesNotMatch")
    );
    let message = answer.body["Message"].as_str().unwrap();
    assert!(
        message.contains("server string to sign is:`ACS3-HMAC-SHA256\n"),
        "{message}"
    );
    assert!(
        message.contains("DefenseScene=ip_blacklist&DefenseType=template"),
        "{message}"
    );
    assert!(!message.contains(SECRET));

    let answer = send(&sim, &Call::create_with("waf_v2_public_cn-nope", "[]"))
        .await
        .unwrap();
    assert_eq!(
        (answer.status, answer.code()),
        (404, "Waf.NotFound.Instance")
    );

    let bad = json!([{"name": "x", "remoteAddr": ["198.51.100.300"], "action": "block"}]);
    let answer = send(&sim, &Call::create_with(INSTANCE, &bad.to_string()))
        .await
        .unwrap();
    assert_eq!((answer.status, answer.code()), (400, "InvalidParameter"));
    assert!(
        answer.body["Message"]
            .as_str()
            .unwrap()
            .contains("`198.51.100.300`")
    );

    let answer = send(
        &sim,
        &Call::new("DescribeInstance", &[("RegionId", "cn-hangzhou")], &[]),
    )
    .await
    .unwrap();
    assert_eq!(
        (answer.status, answer.code()),
        (404, "InvalidAction.NotFound")
    );

    let answer = send(&sim, &Call::new("CreateDefenseRule", &[], &[]))
        .await
        .unwrap();
    assert_eq!((answer.status, answer.code()), (400, "MissingParameter"));

    assert_eq!(
        send(&sim, &Call::create("198.51.100.1"))
            .await
            .unwrap()
            .status,
        200
    );
    let answer = send(&sim, &Call::create("198.51.100.2")).await.unwrap();
    assert_eq!((answer.status, answer.code()), (400, "Waf.Quota.Exceeded"));
    assert_eq!(sim.waf_rules().len(), 1);
}

#[tokio::test]
async fn refuses_a_reused_nonce() {
    let sim = simulator(SimulatorConfig::default());
    let call = Call::create("198.51.100.7");
    assert_eq!(send(&sim, &call).await.unwrap().status, 200);
    let answer = send(&sim, &call).await.unwrap();
    assert_eq!((answer.status, answer.code()), (400, "SignatureNonceUsed"));
    assert_eq!(sim.waf_rules().len(), 1, "the replay created nothing");
}

#[tokio::test]
async fn enforces_the_fifteen_minute_window() {
    let sim = simulator(SimulatorConfig::default().with_clock(Clock::Offset(16 * 60)));
    let answer = send(&sim, &Call::create("198.51.100.7")).await.unwrap();
    assert_eq!(
        (answer.status, answer.code()),
        (400, "InvalidTimeStamp.Expired")
    );
    sim.set_clock(Clock::Offset(-16 * 60));
    let answer = send(&sim, &Call::create("198.51.100.7")).await.unwrap();
    assert_eq!(answer.code(), "InvalidTimeStamp.Expired");
    sim.set_clock(Clock::Offset(14 * 60));
    assert_eq!(
        send(&sim, &Call::create("198.51.100.7"))
            .await
            .unwrap()
            .status,
        200
    );
}

#[tokio::test]
async fn plus_for_space_on_the_wire_is_refused() {
    let sim = simulator(SimulatorConfig::default());
    let template = TEMPLATE.to_string();
    let rules =
        json!([{"name": "a b", "remoteAddr": ["198.51.100.7"], "action": "block"}]).to_string();
    let call = Call::new(
        "CreateDefenseRule",
        &[
            ("DefenseScene", "ip_blacklist"),
            ("InstanceId", INSTANCE),
            ("TemplateId", &template),
            ("Note", "a b"),
        ],
        &[("Rules", &rules)],
    );
    assert!(call.query.contains("Note=a%20b"));
    let headers = call.signed_headers(&sim.addr().to_string());
    let plus = call.query.replace("%20", "+");
    let answer = send_raw(&sim, &call, &headers, &plus).await.unwrap();
    assert_eq!(
        (answer.status, answer.code()),
        (400, "SignatureDoesNotMatch")
    );
    // The same signed request with `%20`, as signed, goes through.
    let answer = send_raw(&sim, &call, &headers, &call.query).await.unwrap();
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(sim.waf_rules()[0].name, "a b");
}

#[tokio::test]
async fn injected_errors_apply_to_the_next_requests() {
    let sim = simulator(SimulatorConfig::default());
    sim.inject(Fault::throttling(), 2);
    sim.inject(Fault::forbidden_ram(), 1);
    sim.inject(Fault::internal_error(), 1);
    let mut seen = Vec::new();
    for _ in 0..5 {
        let answer = send(&sim, &Call::create("198.51.100.7")).await.unwrap();
        seen.push((answer.status, answer.code().to_owned()));
    }
    let expected = [
        (400, "Throttling.User"),
        (400, "Throttling.User"),
        (403, "Forbidden.RAM"),
        (500, "InternalError"),
        (200, "OK"),
    ];
    let seen: Vec<(u16, &str)> = seen.iter().map(|(s, c)| (*s, c.as_str())).collect();
    assert_eq!(seen, expected);
    assert_eq!(sim.waf_rules().len(), 1, "failed calls created nothing");
    let statuses: Vec<u16> = sim.requests().iter().map(|h| h.status).collect();
    assert_eq!(statuses, [400, 400, 403, 500, 200]);
}

#[tokio::test]
async fn injected_latency_delays_the_answer() {
    let sim = simulator(SimulatorConfig::default());
    sim.inject(Fault::Latency(Duration::from_millis(300)), 1);
    let started = Instant::now();
    assert_eq!(
        send(&sim, &Call::create("198.51.100.7"))
            .await
            .unwrap()
            .status,
        200
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
    let started = Instant::now();
    assert_eq!(
        send(&sim, &Call::create("198.51.100.8"))
            .await
            .unwrap()
            .status,
        200
    );
    assert!(started.elapsed() < Duration::from_millis(300));
}

#[tokio::test]
async fn dropped_connections_get_no_answer() {
    let sim = simulator(SimulatorConfig::default());
    sim.inject(Fault::Drop, 1);
    sim.inject(Fault::DropAfterHandling, 1);
    let first = Call::create("198.51.100.7");
    assert!(send(&sim, &first).await.is_none());
    assert!(sim.waf_rules().is_empty(), "a plain drop handles nothing");
    // The nonce was spent: a retry must sign afresh.
    assert_eq!(
        send(&sim, &first).await.unwrap().code(),
        "SignatureNonceUsed"
    );

    assert!(send(&sim, &Call::create("198.51.100.7")).await.is_none());
    assert_eq!(
        sim.waf_rules().len(),
        1,
        "the rule exists though nobody was told"
    );
    assert_eq!(
        send(&sim, &Call::create("198.51.100.9"))
            .await
            .unwrap()
            .status,
        200
    );
    let handled = sim.requests();
    assert_eq!(
        codes(&handled),
        ["Dropped", "SignatureNonceUsed", "Dropped", "OK"]
    );
    assert_eq!(handled[0].status, 0);
}

#[tokio::test]
async fn survives_a_client_that_is_not_http() {
    let sim = simulator(SimulatorConfig::default());
    // Not HTTP at all: the connection is closed, the simulator stays up.
    let garbage = async {
        let mut stream = TcpStream::connect(sim.addr()).await.unwrap();
        stream
            .write_all(b"\x00\x01 not http\r\n\r\n")
            .await
            .unwrap();
        let mut sink = Vec::new();
        let _ = stream.read_to_end(&mut sink).await;
    };
    tokio::time::timeout(TIMEOUT, garbage).await.unwrap();
    assert_eq!(
        send(&sim, &Call::create("198.51.100.7"))
            .await
            .unwrap()
            .status,
        200
    );
}
