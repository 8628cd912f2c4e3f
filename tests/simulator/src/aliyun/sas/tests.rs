//! Unit tests of the Security Center simulator.

use super::*;

const NOW: i64 = 1_700_000_000;
const HOST: &str = "3d6b4a75-c28f-447b-9142-38f6252c0001";

fn params(pairs: &[(&str, &str)]) -> Params {
    let pairs = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Params::new(pairs, Vec::new())
}

fn sas() -> Sas {
    let host = SasHost {
        uuid: HOST.into(),
        instance_id: "i-bp1test".into(),
        instance_name: "web-1".into(),
        internet_ip: "203.0.113.10".into(),
        intranet_ip: "172.16.0.10".into(),
    };
    Sas::new(
        vec![host],
        vec![
            SasEvent::new(909361, HOST, "Malicious process")
                .with_detail("path", "/tmp/xmrig")
                .with_detail("md5", "0cc175b9c0f1b6a831c399e269772661")
                .with_detail("pid", "4242"),
            SasEvent::new(909362, HOST, "Brute force").with_detail("ip", "198.51.100.7"),
            SasEvent::new(909363, HOST, "Old").with_status(status::EXPIRED),
            SasEvent::new(909364, HOST, "Agent offline").offline_only(),
        ],
        1,
    )
}

fn handle(sas: &mut Sas, pairs: &[(&str, &str)]) -> Result<Map<String, Value>, ApiError> {
    sas.call("HandleSecurityEvents", &params(pairs), NOW)
}

#[test]
fn handles_quarantines_and_reports_the_task() {
    let mut sas = sas();
    let answer = handle(
        &mut sas,
        &[
            ("SecurityEventIds.1", "909361"),
            ("OperationCode", "kill_and_quara"),
            (
                "OperationParams",
                r#"{"subOperation":"killAndQuaraFileByMd5andPath"}"#,
            ),
            ("Remark", "riposte-k1"),
        ],
    )
    .unwrap();
    let task = answer["HandleSecurityEventsResponse"]["TaskId"]
        .as_u64()
        .unwrap();
    let event = &sas.events()[0];
    assert_eq!(event.status, status::HANDLED);
    assert_eq!(event.handled[0].remark, "riposte-k1");
    assert_eq!(sas.quarantine()[0].path, "/tmp/xmrig");

    let poll = params(&[("TaskId", &task.to_string())]);
    let first = sas
        .call("DescribeSecurityEventOperationStatus", &poll, NOW)
        .unwrap();
    assert_eq!(
        first["SecurityEventOperationStatusResponse"]["TaskStatus"],
        "Processing"
    );
    let second = sas
        .call("DescribeSecurityEventOperationStatus", &poll, NOW)
        .unwrap();
    let response = &second["SecurityEventOperationStatusResponse"];
    assert_eq!(response["TaskStatus"], "Success");
    assert_eq!(
        response["SecurityEventOperationStatuses"][0]["ErrorCode"],
        "kill_and_quara.Success"
    );
    let unknown = params(&[("TaskId", "1")]);
    let err = sas
        .call("DescribeSecurityEventOperationStatus", &unknown, NOW)
        .unwrap_err();
    assert_eq!(
        (err.status, err.code.as_str()),
        (400, "OperationTaskNotExists")
    );

    let file = sas.quarantine()[0].id.to_string();
    let rollback = params(&[("QuaraFileId", &file), ("From", "sas")]);
    sas.call("RollbackSuspEventQuaraFile", &rollback, NOW)
        .unwrap();
    assert!(sas.quarantine().is_empty());
    assert_eq!(sas.restored().len(), 1);
    let err = sas
        .call("RollbackSuspEventQuaraFile", &rollback, NOW)
        .unwrap_err();
    assert_eq!(err.code, "Sas.Sim.QuaraFileNotExist");
}

#[test]
fn validates_codes_and_params_naming_the_bad_value() {
    let mut sas = sas();
    // (parameters, code answered, text the message names)
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: [Case<'_>; 8] = [
        (
            &[("OperationCode", "ignore")],
            "MissingParameter",
            "SecurityEventIds.1",
        ),
        (
            &[("SecurityEventIds.1", "909361"), ("OperationCode", "nuke")],
            "IllegalParam",
            "nuke",
        ),
        (
            &[
                ("SecurityEventIds.1", "909362"),
                ("OperationCode", "block_ip"),
            ],
            "IllegalParam",
            "expireTime",
        ),
        (
            &[
                ("SecurityEventIds.1", "909362"),
                ("OperationCode", "block_ip"),
                ("OperationParams", r#"{"expireTime":1000}"#),
            ],
            "IllegalParam",
            "not in the future",
        ),
        (
            &[
                ("SecurityEventIds.1", "909361"),
                ("OperationCode", "kill_and_quara"),
                ("OperationParams", r#"{"subOperation":"burn"}"#),
            ],
            "IllegalParam",
            "burn",
        ),
        (
            &[
                ("SecurityEventIds.1", "909362"),
                ("OperationCode", "advance_mark_mis_info"),
                (
                    "MarkMissParam",
                    r#"[{"uuid":"part","field":"ip","operate":"is","fieldValue":"x"}]"#,
                ),
            ],
            "IllegalParam",
            "`is`",
        ),
        (
            &[("SecurityEventIds.1", "1"), ("OperationCode", "ignore")],
            "SecurityEventNotExists",
            "`1`",
        ),
        (
            &[
                ("SecurityEventIds.1", "909361"),
                ("OperationCode", "ignore"),
                ("OperationParams", "{"),
            ],
            "IllegalParam",
            "not JSON",
        ),
    ];
    for (pairs, code, names) in cases {
        let err = handle(&mut sas, pairs).unwrap_err();
        assert_eq!(err.code, code, "{pairs:?}");
        assert!(err.message.contains(names), "{pairs:?}: {}", err.message);
    }
    for (id, why) in [("909363", "expired"), ("909364", "CanBeDealOnLine")] {
        let err = handle(
            &mut sas,
            &[("SecurityEventIds.1", id), ("OperationCode", "ignore")],
        )
        .unwrap_err();
        assert!(
            err.code == "IllegalParam" && err.message.contains(why),
            "{err}"
        );
    }
    assert!(
        sas.events().iter().all(|e| e.handled.is_empty()),
        "nothing recorded"
    );
}

#[test]
fn whitelists_then_removes_the_rules() {
    let mut sas = sas();
    let rule = r#"[{"uuid":"part","field":"ip","operate":"strEqual","fieldValue":"198.51.100.7"}]"#;
    handle(
        &mut sas,
        &[
            ("SecurityEventIds.1", "909362"),
            ("OperationCode", "advance_mark_mis_info"),
            ("MarkMissParam", rule),
        ],
    )
    .unwrap();
    let rules = sas.whitelist();
    assert_eq!(
        (rules[0].scope.as_str(), rules[0].field_value.as_str()),
        (HOST, "198.51.100.7")
    );
    let remove = [
        ("SecurityEventIds.1", "909362"),
        ("OperationCode", "rm_mark_mis_info"),
    ];
    handle(&mut sas, &remove).unwrap();
    assert!(sas.whitelist().is_empty());
    assert_eq!(sas.events()[1].status, status::PENDING);
    assert!(
        handle(&mut sas, &remove)
            .unwrap_err()
            .message
            .contains("not whitelisted")
    );
}

#[test]
fn describes_events_by_host_id_status_and_page() {
    let mut sas = sas();
    let list = |sas: &Sas, pairs: &[(&str, &str)]| {
        let answer = sas.describe_events(&params(pairs)).unwrap();
        answer["SuspEvents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["Id"].as_u64().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(list(&sas, &[("Uuids", HOST)]).len(), 4);
    assert!(list(&sas, &[("Uuids", "other")]).is_empty());
    assert_eq!(list(&sas, &[("Id", "909362")]), [909362]);
    assert_eq!(list(&sas, &[("Status", "64")]), [909363]);
    assert_eq!(
        list(
            &sas,
            &[
                ("Remark", "203.0.113.10"),
                ("PageSize", "1"),
                ("CurrentPage", "2")
            ]
        ),
        [909362]
    );
    handle(
        &mut sas,
        &[
            ("SecurityEventIds.1", "909362"),
            ("OperationCode", "ignore"),
        ],
    )
    .unwrap();
    assert_eq!(list(&sas, &[("Dealed", "Y")]), [909362, 909363]);
    let answer = sas.describe_events(&params(&[("Id", "909361")])).unwrap();
    let event = &answer["SuspEvents"][0];
    assert_eq!(event["SecurityEventIds"], "909361");
    assert_eq!(event["InstanceId"], "i-bp1test");
    assert_eq!(event["Details"][0]["Value"], "/tmp/xmrig");
    assert_eq!(answer["TotalCount"], 1);
    let err = sas
        .describe_events(&params(&[("PageSize", "101")]))
        .unwrap_err();
    assert_eq!(err.code, "IllegalParam");
}
