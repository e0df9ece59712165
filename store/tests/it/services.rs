//! The services a block summary names: those the viewer shows for the block's records.

use oculus_store::block::summarize;
use oculus_store::proto::{AnyValue, Block, KeyValue, Resource, Scope, any_value::Value};

use crate::common::string_attr;

/// Strings of the blocks below: index 0 is always "".
const STRINGS: [&str; 3] = ["", "service.name", "host.name"];
const SERVICE_NAME: u32 = 1;
const HOST_NAME: u32 = 2;

fn int_attr(key: u32, value: i64) -> KeyValue {
    KeyValue {
        key,
        value: Some(AnyValue {
            value: Some(Value::IntValue(value)),
        }),
    }
}

/// A block of `resources` (their attributes) and scopes of the resources named by
/// `scope_resources` names `expected` as its services.
#[track_caller]
fn check(resources: Vec<Vec<KeyValue>>, scope_resources: &[u32], expected: &[&str]) {
    let block = Block {
        strings: STRINGS.iter().map(|s| (*s).to_owned()).collect(),
        resources: resources
            .into_iter()
            .map(|attributes| Resource {
                attributes,
                ..Resource::default()
            })
            .collect(),
        scopes: scope_resources
            .iter()
            .map(|&resource| Scope {
                resource,
                ..Scope::default()
            })
            .collect(),
        ..Block::default()
    };
    assert_eq!(summarize(&block).services, expected);
}

#[test]
fn a_block_names_the_services_of_its_scoped_resources() {
    let named = |name| vec![string_attr(SERVICE_NAME, name)];
    check(vec![named("api")], &[0], &["api"]);
    // Sorted, each once.
    check(
        vec![named("web"), named("api")],
        &[0, 1, 0, 1],
        &["api", "web"],
    );
    // A resource without service.name, or with a non-string one.
    check(
        vec![vec![string_attr(HOST_NAME, "box-7")]],
        &[0],
        &["unknown_service"],
    );
    check(
        vec![vec![int_attr(SERVICE_NAME, 7)]],
        &[0],
        &["unknown_service"],
    );
    // The last string service.name wins, as the viewer reads it.
    check(
        vec![vec![
            string_attr(SERVICE_NAME, "first"),
            string_attr(SERVICE_NAME, "last"),
            int_attr(SERVICE_NAME, 7),
        ]],
        &[0],
        &["last"],
    );
    // A resource no scope refers to holds no record.
    check(vec![named("api"), named("idle")], &[0], &["api"]);
    check(vec![named("idle")], &[], &[]);
    // A scope whose resource the block lacks.
    check(vec![], &[3], &["unknown_service"]);
}
