//! Filtering by a value the user clicks, in the detail pane and in the rows, and the
//! attribute terms typed in the filter bar, through the real app.

use egui::accesskit::Role;
use egui::{Key, Modifiers, OutputCommand};
use egui_kittest::kittest::Queryable;
use oculus_viewer::model::Level;
use oculus_viewer::snapshot::{Detail, RecordRef};

use crate::app_fixture::{Fixture, app, app_on_hosts};
use crate::common::HOST;

/// Waits until the shown list holds the rows of the filter as it is now.
#[track_caller]
fn wait_filtered(f: &mut Fixture, what: &str) {
    f.wait(what, |app| {
        app.rows_are_current() && app.snapshot().logs.progress.is_none()
    });
}

/// Selects the first log row whose message is `message` and opens its detail.
fn open_log(f: &mut Fixture, message: &str) -> Detail {
    f.keys("gg");
    f.wait("the first rows", |app| app.snapshot().logs.row(0).is_some());
    let row = (0..)
        .map_while(|row| f.app().snapshot().logs.row(row))
        .position(|log| log.message == message)
        .unwrap_or_else(|| panic!("no {message:?} among the first rows"));
    for _ in 0..row {
        f.keys("j");
    }
    f.wait_selected();
    let log = f.app().snapshot().logs.row(row).unwrap().index;
    f.harness.key_press(Key::Enter);
    f.wait("the log's detail", |app| {
        app.snapshot()
            .detail
            .as_ref()
            .is_some_and(|d| d.record == RecordRef::Log(log))
    });
    f.harness.step();
    f.app().snapshot().detail.as_deref().cloned().unwrap()
}

/// The value of `key` in a section of the detail.
fn value_of(detail: &Detail, section: &str, key: &str) -> String {
    detail
        .sections
        .iter()
        .filter(|s| s.title == section)
        .flat_map(|s| &s.rows)
        .find(|row| row.key == key)
        .unwrap_or_else(|| panic!("no {key} in {section}: {detail:?}"))
        .value
        .clone()
}

fn in_detail_pane<'a>(f: &'a Fixture, value: &'a str) -> egui_kittest::Node<'a> {
    let pane_left = f.harness.get_by_label("Copy all").rect().left();
    f.harness
        .get_all_by_label(value)
        .find(|node| node.rect().left() >= pane_left)
        .unwrap_or_else(|| panic!("{value:?} in the detail pane"))
}

/// Clicks (or right-clicks) `value` in the detail pane and picks `choice` in its menu.
fn choose_in_detail(f: &mut Fixture, value: &str, right_click: bool, choice: &str) {
    in_detail_pane(f, value).scroll_to_me();
    // Scrolling is animated: the value is clicked where it comes to rest.
    let (mut last, mut still) = (egui::Rect::NOTHING, 0);
    for _ in 0..500 {
        f.harness.step();
        let rect = in_detail_pane(f, value).rect();
        still = if rect == last { still + 1 } else { 0 };
        if still == 10 {
            break;
        }
        last = rect;
    }
    let node = in_detail_pane(f, value);
    if right_click {
        node.click_secondary();
    } else {
        node.click();
    }
    // The menu opens in the click's frame and is drawn, sized, from the next.
    f.harness.step();
    f.harness.step();
    f.harness.get_by_label(choice).click();
    f.harness.step();
}

/// The detail of every row of the log table, each opened in turn.
fn details_of_every_row(f: &mut Fixture) -> Vec<Detail> {
    let total = f.app().snapshot().logs.total;
    assert!(total < 40, "few enough rows to open each: {total}");
    f.keys("gg");
    let mut details = Vec::new();
    for row in 0..total {
        if row > 0 {
            f.keys("j");
        }
        f.wait_selected();
        let log = f.app().snapshot().logs.row(row).unwrap().index;
        f.harness.key_press(Key::Enter);
        f.wait("the row's detail", |app| {
            app.snapshot()
                .detail
                .as_ref()
                .is_some_and(|d| d.record == RecordRef::Log(log))
        });
        details.push(f.app().snapshot().detail.as_deref().cloned().unwrap());
    }
    details
}

/// The attribute filter's field, by the text it shows.
fn attribute_field<'a>(f: &'a Fixture, text: &'a str) -> egui_kittest::Node<'a> {
    f.harness
        .get_all_by_role(Role::TextInput)
        .find(|node| node.value().as_deref() == Some(text))
        .unwrap_or_else(|| panic!("a filter field showing {text:?}"))
}

/// Replaces the attribute filter's text, as a user does: the field, select all, type.
fn type_attributes(f: &mut Fixture, text: &str) {
    let shown = f.app().tab().filter.attributes.clone();
    attribute_field(f, &shown).focus();
    f.harness.step();
    f.harness.key_press_modifiers(Modifiers::COMMAND, Key::A);
    f.type_text(text);
    assert_eq!(f.app().tab().filter.attributes, text);
    f.harness.key_press(Key::Escape);
    f.harness.step();
}

#[test]
fn filter_to_exclude_and_copy_an_attribute_value_of_the_detail_pane() {
    let mut f = app();
    let all = f.app().snapshot().logs.total;
    let detail = open_log(&mut f, "loaded order");
    let order = value_of(&detail, "Attributes", "order_id");

    // A click opens the value's menu too.
    choose_in_detail(&mut f, &order, false, "Filter to this");
    let term = format!("order_id={order}");
    assert_eq!(f.app().tab().filter.attributes, term);
    wait_filtered(&mut f, "the order's logs");
    // The filter bar shows the term, where the user can edit it.
    attribute_field(&f, &term);
    let with = f.app().snapshot().logs.total;
    assert!(with > 1 && with < all, "{with} of {all}");
    for detail in details_of_every_row(&mut f) {
        assert_eq!(value_of(&detail, "Attributes", "order_id"), order);
    }

    choose_in_detail(&mut f, &order, true, "Exclude this");
    // The negated term takes the place of the one it contradicts.
    let negated = format!("-order_id={order}");
    assert_eq!(f.app().tab().filter.attributes, negated);
    wait_filtered(&mut f, "every log but the order's");
    attribute_field(&f, &negated);
    assert_eq!(f.app().snapshot().logs.total, all - with);

    choose_in_detail(&mut f, &order, true, "Copy value");
    let copied = &f.harness.output().platform_output.commands;
    assert!(
        copied.contains(&OutputCommand::CopyText(order.clone())),
        "{copied:?}"
    );
    assert_eq!(
        f.app().tab().filter.attributes,
        negated,
        "a copy filters nothing"
    );
}

#[test]
fn a_resource_attribute_narrows_to_that_resources_records() {
    let mut f = app_on_hosts(&[HOST, "web-2"]);
    let all = f.app().snapshot().logs.total;
    let detail = open_log(&mut f, "loaded order");
    assert_eq!(value_of(&detail, "Resource", "host.name"), HOST);

    choose_in_detail(&mut f, HOST, true, "Filter to this");
    assert_eq!(f.app().tab().filter.attributes, format!("host.name={HOST}"));
    wait_filtered(&mut f, "the first host's logs");
    let first = f.app().snapshot().logs.total;
    assert!(first > 0 && first < all, "{first} of {all}");

    type_attributes(&mut f, "host.name=web-2");
    wait_filtered(&mut f, "the second host's logs");
    let second = f.app().snapshot().logs.total;
    assert_eq!(first + second, all);
    assert!(second > 0);

    // A resource term and a record term together: that host's loaded orders.
    type_attributes(&mut f, "-host.name=web-2 customer");
    wait_filtered(&mut f, "the first host's loaded orders");
    let loaded = f.app().snapshot().logs.total;
    assert!(loaded > 0 && loaded < first, "{loaded} of {first}");
    for detail in details_of_every_row(&mut f) {
        assert_eq!(value_of(&detail, "Resource", "host.name"), HOST);
        assert_eq!(detail.title, "loaded order");
    }

    // service.version is on every resource.
    let version = value_of(&detail, "Resource", "service.version");
    type_attributes(&mut f, &format!("service.version={version}"));
    wait_filtered(&mut f, "every log");
    assert_eq!(f.app().snapshot().logs.total, all);
}

#[test]
fn bare_and_negated_keys_and_malformed_terms() {
    let mut f = app();
    let all = f.app().snapshot().logs.total;
    // Put a term in the field by a click, then edit it as text.
    let detail = open_log(&mut f, "loaded order");
    let customer = value_of(&detail, "Attributes", "customer");
    choose_in_detail(&mut f, &customer, true, "Filter to this");
    wait_filtered(&mut f, "one customer");

    type_attributes(&mut f, "customer");
    wait_filtered(&mut f, "logs with a customer");
    let with = f.app().snapshot().logs.total;
    assert!(with > 1 && with < all, "{with} of {all}");
    for detail in details_of_every_row(&mut f) {
        assert_eq!(detail.title, "loaded order");
    }

    type_attributes(&mut f, "-customer");
    wait_filtered(&mut f, "logs without a customer");
    assert_eq!(f.app().snapshot().logs.total, all - with);
    let rows = &f.app().snapshot().logs.rows;
    assert!(rows.iter().all(|row| row.message != "loaded order"));

    type_attributes(&mut f, "customer=\"open");
    f.wait("the error", |app| app.snapshot().filter_error.is_some());
    f.harness.step();
    f.harness.get_by_label_contains("a quote is not closed");
    assert_eq!(f.app().snapshot().logs.total, 0);
}

#[test]
fn a_rows_values_filter_by_their_service_level_and_trace() {
    let mut f = app();
    let all = f.app().snapshot().logs.total;
    let right_click = |f: &mut Fixture, label: &str, choice: &str| {
        f.harness
            .get_all_by_label(label)
            .next()
            .unwrap_or_else(|| panic!("{label:?} in a row"))
            .click_secondary();
        f.harness.step();
        f.harness.step();
        f.harness.get_by_label(choice).click();
        f.harness.step();
    };
    right_click(&mut f, "checkout", "Exclude this");
    assert_eq!(f.app().tab().filter.attributes, "-service.name=checkout");
    wait_filtered(&mut f, "no logs");
    assert_eq!(f.app().snapshot().logs.total, 0);
    f.harness.get_by_label("Clear filters").click();
    wait_filtered(&mut f, "every log again");
    assert_eq!(f.app().snapshot().logs.total, all);

    right_click(&mut f, "INFO", "Filter to this");
    assert_eq!(f.app().tab().filter.min_level, Level::Info);
    // A right-click neither selects the row nor opens its detail.
    assert!(!f.app().detail_open());
    wait_filtered(&mut f, "INFO and above");
    f.harness.get_by_label("Clear filters").click();
    wait_filtered(&mut f, "every log again");

    let trace = f
        .app()
        .snapshot()
        .logs
        .rows
        .iter()
        .rev()
        .find(|row| row.trace_id != 0)
        .map(|row| row.trace_id)
        .unwrap();
    let hex = format!("{trace:032x}");
    right_click(&mut f, &hex[..8], "Filter to this");
    assert_eq!(f.app().tab().filter.trace_id, hex);
    wait_filtered(&mut f, "the trace's logs");
    let rows = &f.app().snapshot().logs;
    assert!(rows.total > 0 && rows.total < all);
    assert!(rows.rows.iter().all(|row| row.trace_id == trace));
}
