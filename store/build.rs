//! Compiles the project's own protobuf schema with protox, so no system protoc is needed,
//! and derives from the same descriptors the field number of every message's fields.

use std::fmt::Write as _;
use std::path::PathBuf;

use protox::prost::Message as _;
use protox::prost_reflect::prost_types::{DescriptorProto, FileDescriptorSet};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = "../proto";
    let schema = "../proto/oculus/segment/v1/segment.proto";
    println!("cargo:rerun-if-changed={schema}");
    let descriptors = protox::compile([schema], [proto_root])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out_dir.join("oculus.segment.v1.fields.rs"),
        field_numbers(&descriptors)?,
    )?;
    // The field module's test reads the schema back from these bytes.
    std::fs::write(
        out_dir.join("oculus.segment.v1.descriptors"),
        descriptors.encode_to_vec(),
    )?;
    prost_build::Config::new().compile_fds(descriptors)?;
    Ok(())
}

/// One module per message (nested messages nested), named as prost names the
/// message's own module, holding one `u32` constant per field; and, for the test,
/// a table of every message's fields by name.
fn field_numbers(descriptors: &FileDescriptorSet) -> Result<String, std::fmt::Error> {
    let mut modules = String::new();
    let mut table = String::new();
    for file in &descriptors.file {
        let package = file.package();
        for message in &file.message_type {
            write_message(&mut modules, &mut table, message, package, "")?;
        }
    }
    let mut out = modules;
    writeln!(
        out,
        "/// Every message by its full name, with its fields by name."
    )?;
    writeln!(out, "#[cfg(test)]")?;
    writeln!(out, "pub const MESSAGES: &[(&str, &[(&str, u32)])] = &[")?;
    out.push_str(&table);
    writeln!(out, "];")?;
    Ok(out)
}

/// Writes the module of `message`, whose enclosing module path (for the table) is
/// `parent_path`.
fn write_message(
    modules: &mut String,
    table: &mut String,
    message: &DescriptorProto,
    scope: &str,
    parent_path: &str,
) -> Result<(), std::fmt::Error> {
    let full_name = format!("{scope}.{}", message.name());
    let module = identifier(&snake_case(message.name()));
    let path = format!("{parent_path}{module}::");
    writeln!(modules, "/// The field numbers of `{full_name}`.")?;
    writeln!(modules, "pub mod {module} {{")?;
    writeln!(table, "    (\"{full_name}\", &[")?;
    for field in &message.field {
        let constant = snake_case(field.name()).to_ascii_uppercase();
        writeln!(
            modules,
            "    pub const {constant}: u32 = {};",
            field.number()
        )?;
        writeln!(table, "        (\"{}\", {path}{constant}),", field.name())?;
    }
    writeln!(table, "    ]),")?;
    for nested in &message.nested_type {
        // Map fields' entry messages are prost's business, not a message of the schema.
        if nested.options.as_ref().is_some_and(|o| o.map_entry()) {
            continue;
        }
        write_message(modules, table, nested, &full_name, &path)?;
    }
    writeln!(modules, "}}")?;
    Ok(())
}

/// `KeyValueList` as `key_value_list`; names already in snake case stay as they are.
fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let previous = i.checked_sub(1).map(|p| chars[p]);
            let next = chars.get(i + 1);
            // A word starts after a lower-case letter or digit, and at the last capital
            // of an acronym followed by lower case ("HTTPServer" as "http_server").
            let word_start = previous.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit())
                || (previous.is_some_and(|p| p.is_ascii_uppercase())
                    && next.is_some_and(char::is_ascii_lowercase));
            if word_start {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// A module name usable in Rust: a keyword as a raw identifier, or with a trailing
/// underscore where Rust allows no raw identifier.
fn identifier(name: &str) -> String {
    const KEYWORDS: &[&str] = &[
        "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "do",
        "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in",
        "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
        "return", "static", "struct", "trait", "true", "try", "type", "typeof", "unsafe",
        "unsized", "use", "virtual", "where", "while", "yield",
    ];
    if ["crate", "self", "super"].contains(&name) {
        format!("{name}_")
    } else if KEYWORDS.contains(&name) {
        format!("r#{name}")
    } else {
        name.to_owned()
    }
}
