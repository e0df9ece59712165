//! What the SDK programs send (`handle_order` in `tests/sdk/*/send.*`), checked on what
//! arrived, so that a program that stopped sending something (an attribute type, a link,
//! a dropped count) fails rather than comparing nothing with nothing.

use serde_json::json;

use crate::sdk_records::Records;

/// Spans and log records `handle_order` sends per service.
pub const SPANS: usize = 5;
pub const LOGS: usize = 3;

/// The records of one service are those of `handle_order`.
#[track_caller]
pub fn assert_order_workload(service: &str, records: &Records) {
    let span = |name: &str| {
        let found: Vec<_> = records.spans.iter().filter(|s| s["name"] == name).collect();
        assert_eq!(found.len(), 1, "{service}: one span {name:?} in {found:?}");
        found[0].clone()
    };
    assert_eq!(
        records.spans.len(),
        SPANS,
        "{service}: spans {:#?}",
        records.spans
    );
    let root = span("GET /orders/{id}");
    let enqueue = span("enqueue order");
    let charge = span("charge card");
    let render = span("render receipt");
    let send = span("send receipt");

    for (s, kind) in [
        (&root, "SERVER"),
        (&enqueue, "PRODUCER"),
        (&charge, "CLIENT"),
        (&render, "INTERNAL"),
        (&send, "CONSUMER"),
    ] {
        assert_eq!(s["kind"], kind, "{service}: {}", s["name"]);
        assert_eq!(s["resource"]["service.name"], json!({"string": service}));
        assert_eq!(
            s["scope"],
            json!({"name": "oculus.sdk-test", "version": "1.2.3"})
        );
        assert!(
            s["start"].as_str().is_some_and(|t| t != "0") && s["end"] != "0",
            "{service}: {} has its times",
            s["name"]
        );
        assert_eq!(s["trace_id"].as_str().map(str::len), Some(32));
        assert_eq!(s["span_id"].as_str().map(str::len), Some(16));
    }
    for s in [&root, &enqueue, &charge, &send] {
        let dropped = (
            &s["dropped_attributes"],
            &s["dropped_events"],
            &s["dropped_links"],
        );
        assert_eq!(dropped, (&json!(0), &json!(0), &json!(0)), "{}", s["name"]);
    }
    // Trace structure: a request with two children; a producer and a consumer alone.
    assert_eq!(root["parent_span_id"], "");
    for child in [&charge, &render] {
        assert_eq!(child["trace_id"], root["trace_id"]);
        assert_eq!(child["parent_span_id"], root["span_id"]);
    }
    assert_ne!(enqueue["trace_id"], root["trace_id"]);

    // Every attribute type, arrays of each.
    assert_eq!(
        root["attributes"],
        json!({
            "http.request.method": {"string": "GET"},
            "order.id": {"int": 42},
            "order.total": {"double": 12.5},
            "order.paid": {"bool": true},
            "order.items": {"array": [{"string": "book"}, {"string": "pen"}]},
            "order.quantities": {"array": [{"int": 1}, {"int": 3}]},
            "order.weights": {"array": [{"double": 0.25}, {"double": 1.5}]},
            "order.gift": {"array": [{"bool": false}, {"bool": true}]},
        })
    );
    assert_eq!(root["status"], json!({"code": "OK", "message": ""}));
    assert_eq!(root["events"][0]["name"], "cache miss");
    assert_eq!(
        root["events"][0]["attributes"],
        json!({"cache.key": {"string": "order:42"}, "cache.attempt": {"int": 1}})
    );
    assert_eq!(
        charge["status"],
        json!({"code": "ERROR", "message": "card declined"})
    );
    assert_eq!(charge["events"][0]["name"], "exception");
    assert_eq!(
        charge["events"][0]["attributes"]["exception.message"],
        json!({"string": "card declined"})
    );
    assert_eq!(
        charge["links"],
        json!([{
            "trace_id": enqueue["trace_id"],
            "span_id": enqueue["span_id"],
            "attributes": {"link.reason": {"string": "paid order"}},
            "dropped_attributes": 0,
        }])
    );
    assert_eq!(
        send["links"],
        json!([
            {
                "trace_id": enqueue["trace_id"],
                "span_id": enqueue["span_id"],
                "attributes": {},
                "dropped_attributes": 0,
            },
            {
                "trace_id": render["trace_id"],
                "span_id": render["span_id"],
                "attributes": {"link.count": {"int": 2}},
                "dropped_attributes": 0,
            },
        ])
    );

    // Past the limits (10 attributes, 2 events, 2 links, 4 attributes on each): which
    // ones an SDK keeps is its choice, how many it dropped must arrive.
    let count = |v: &serde_json::Value| v.as_object().map(serde_json::Map::len);
    assert_eq!(count(&render["attributes"]), Some(10));
    assert_eq!(render["dropped_attributes"], 2);
    assert_eq!(render["events"].as_array().map(Vec::len), Some(2));
    assert_eq!(render["dropped_events"], 1);
    assert_eq!(render["links"].as_array().map(Vec::len), Some(2));
    assert_eq!(render["dropped_links"], 1);
    for item in render["events"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(render["links"].as_array().into_iter().flatten())
    {
        assert_eq!(count(&item["attributes"]), Some(4), "{item}");
        assert_eq!(item["dropped_attributes"], 1, "{item}");
    }

    assert_eq!(
        records.logs.len(),
        LOGS,
        "{service}: logs {:#?}",
        records.logs
    );
    let log = |severity: &str| {
        records
            .logs
            .iter()
            .find(|l| l["severity_text"] == severity)
            .unwrap_or_else(|| panic!("{service}: a {severity} log in {:#?}", records.logs))
            .clone()
    };
    let info = log("INFO");
    assert_eq!(info["severity_number"], 9);
    assert_eq!(info["body"], json!({"string": "loading order"}));
    assert_eq!(
        info["attributes"],
        json!({
            "user.id": {"string": "ada"},
            "retries": {"int": 2},
            "ratio": {"double": 0.5},
            "cached": {"bool": false},
            "tags": {"array": [{"string": "a"}, {"string": "b"}]},
        })
    );
    assert_eq!(
        info["scope"],
        json!({"name": "oculus.sdk-test.logs", "version": "4.5.6"})
    );
    assert_eq!(
        (&info["trace_id"], &info["span_id"]),
        (&root["trace_id"], &root["span_id"]),
        "{service}: a log carries the span it was emitted in"
    );
    let warn = log("WARN");
    assert_eq!(warn["severity_number"], 13);
    assert_eq!(warn["body"], json!({"string": "card declined, retrying"}));
    assert_eq!(warn["attributes"]["attempt"], json!({"int": 2}));
    assert_eq!(
        (&warn["trace_id"], &warn["span_id"]),
        (&charge["trace_id"], &charge["span_id"])
    );
    let error = log("ERROR");
    assert_eq!(error["severity_number"], 17);
    assert_eq!(
        error["body"],
        json!({"map": {"order": {"int": 42}, "state": {"string": "stopped"}}})
    );
    assert_eq!(error["event_name"], "worker.stopped");
    assert_eq!(count(&error["attributes"]), Some(5), "past the limit of 5");
    assert_eq!(error["dropped_attributes"], 2);
    for log in [&info, &warn] {
        assert_eq!(log["dropped_attributes"], 0, "{log}");
    }
    assert_eq!(
        (&error["trace_id"], &error["span_id"]),
        (&json!(""), &json!("")),
        "{service}: a log outside spans has no trace context"
    );
}
