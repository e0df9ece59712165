//! Invariants of the source itself: no import cycle among a crate's modules, and OTLP's
//! types only at the collector's edge.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::layout::repo_root;

/// A module by its path below `src/`: `views/lists` for `src/views/lists.rs`, `views`
/// for `src/views/mod.rs`.
type Module = Vec<String>;

/// Every module file of a crate but its root, with its source up to its tests: tests
/// may reach anywhere, and the root names every module.
fn module_sources(crate_dir: &str) -> BTreeMap<Module, String> {
    let src = repo_root().join(crate_dir).join("src");
    let mut modules = BTreeMap::new();
    for file in rust_files(&src) {
        let relative = file.strip_prefix(&src).expect("below src");
        let mut module: Module = relative
            .with_extension("")
            .iter()
            .map(|part| part.to_string_lossy().into_owned())
            .collect();
        if module.last().is_some_and(|last| last == "mod") {
            module.pop();
        }
        if module == ["lib"] || module == ["main"] {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("readable source");
        let code = text
            .split("#[cfg(test)]")
            .next()
            .unwrap_or_default()
            .to_owned();
        modules.insert(module, code);
    }
    modules
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("source dir exists") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files
}

/// Every path in `code` that starts with `crate::` or `super::`, with each member of a
/// `{a::X, b}` group spelled out: `super::super::x` gives `["super", "super", "x"]`.
fn import_paths(code: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    for start in ["crate::", "super::"] {
        for (at, _) in code.match_indices(start) {
            let before = code[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            expand(&code[at..], Vec::new(), &mut paths);
        }
    }
    paths
}

/// Spells out the path at the start of `text` after `prefix`; returns where it ends.
fn expand(text: &str, prefix: Vec<String>, paths: &mut Vec<Vec<String>>) -> usize {
    let mut path = prefix;
    let mut at = 0;
    loop {
        let rest = &text[at..];
        let trimmed = rest.trim_start();
        at += rest.len() - trimmed.len();
        if let Some(group) = trimmed.strip_prefix('{') {
            at += 1;
            let mut inner = group;
            loop {
                let used = expand(inner, path.clone(), paths);
                at += used;
                inner = &inner[used..];
                let after = inner.trim_start();
                at += inner.len() - after.len();
                match after.chars().next() {
                    Some(',') => {
                        at += 1;
                        inner = &after[1..];
                        if inner.trim_start().starts_with('}') {
                            let skipped = inner.len() - inner.trim_start().len();
                            return at + skipped + 1;
                        }
                    }
                    Some('}') => return at + 1,
                    _ => return at,
                }
            }
        }
        let ident: String = trimmed
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if ident.is_empty() {
            break;
        }
        at += ident.len();
        path.push(ident);
        if text[at..].starts_with("::") {
            at += 2;
        } else {
            break;
        }
    }
    if !path.is_empty() {
        paths.push(path);
    }
    at
}

/// The modules each module imports. A path names the deepest module it passes through;
/// a module's use of its own submodules (a facade re-exporting them) is left out.
fn module_graph(modules: &BTreeMap<Module, String>) -> BTreeMap<Module, BTreeSet<Module>> {
    let mut graph = BTreeMap::new();
    for (module, code) in modules {
        let mut imports = BTreeSet::new();
        for path in import_paths(code) {
            let mut base: Module = Vec::new();
            let mut rest = &path[..];
            if rest.first().is_some_and(|first| first == "crate") {
                rest = &rest[1..];
            } else {
                base = module.clone();
                while rest.first().is_some_and(|first| first == "super") {
                    base.pop();
                    rest = &rest[1..];
                }
            }
            let full: Module = base.into_iter().chain(rest.iter().cloned()).collect();
            let target = (1..=full.len())
                .rev()
                .map(|len| full[..len].to_vec())
                .find(|candidate| modules.contains_key(candidate));
            if let Some(target) = target
                && target != *module
                && !target.starts_with(module)
            {
                imports.insert(target);
            }
        }
        graph.insert(module.clone(), imports);
    }
    graph
}

/// A chain of imports that leads from a module back to itself, if there is one.
fn import_cycle(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Option<Vec<Module>> {
    fn visit(
        module: &Module,
        graph: &BTreeMap<Module, BTreeSet<Module>>,
        path: &mut Vec<Module>,
        done: &mut BTreeSet<Module>,
    ) -> Option<Vec<Module>> {
        if let Some(start) = path.iter().position(|m| m == module) {
            let mut cycle = path[start..].to_vec();
            cycle.push(module.clone());
            return Some(cycle);
        }
        if done.contains(module) {
            return None;
        }
        path.push(module.clone());
        for next in graph.get(module).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(module.clone());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|module| visit(module, graph, &mut Vec::new(), &mut done))
}

fn module(path: &str) -> Module {
    path.split('/').map(str::to_owned).collect()
}

#[test]
fn the_import_graph_reads_groups_nesting_and_super() {
    let modules: BTreeMap<Module, String> = [
        ("app", "use crate::{model::X, views::{lists::Y, self}};"),
        (
            "views",
            "mod lists; pub use lists::Y; use crate::snapshot::{Z,};",
        ),
        (
            "views/lists",
            "use super::super::app::A; use super::bars::B;",
        ),
        (
            "views/bars",
            "fn f() { crate::model::index::Index::new(); }",
        ),
        ("model", ""),
        ("model/index", "use super::Text;"),
        ("snapshot", "use crate::app::App as _;"),
    ]
    .into_iter()
    .map(|(name, code)| (module(name), code.to_owned()))
    .collect();
    let graph = module_graph(&modules);
    let edges =
        |name: &str| -> Vec<String> { graph[&module(name)].iter().map(|m| m.join("/")).collect() };
    assert_eq!(edges("app"), ["model", "views", "views/lists"]);
    assert_eq!(
        edges("views"),
        ["snapshot"],
        "a facade's own children are left out"
    );
    assert_eq!(edges("views/lists"), ["app", "views/bars"]);
    assert_eq!(edges("views/bars"), ["model/index"]);
    assert_eq!(edges("model/index"), ["model"]);
    let cycle: Vec<String> = import_cycle(&graph)
        .expect("app -> views -> snapshot -> app")
        .iter()
        .map(|m| m.join("/"))
        .collect();
    assert_eq!(cycle.first(), cycle.last());
    assert!(cycle.len() > 2, "{cycle:?}");
}

#[test]
fn no_crate_has_an_import_cycle_among_its_modules() {
    for crate_dir in ["store", "collector", "viewer"] {
        let modules = module_sources(crate_dir);
        let graph = module_graph(&modules);
        assert!(
            graph.values().filter(|imports| !imports.is_empty()).count() > 3,
            "sanity: {crate_dir}'s imports are read"
        );
        if let Some(cycle) = import_cycle(&graph) {
            let names: Vec<String> = cycle.iter().map(|m| m.join("/")).collect();
            panic!("{crate_dir} has an import cycle: {}", names.join(" -> "));
        }
    }
}

/// OTLP's generated types stop at the collector's edge: only the files that receive,
/// decode and export OTLP name them, and `oculus-otlp`, which is that edge for files
/// (the store's records as OTLP, OTLP files both ways); everything past them speaks
/// the store's schema. The fuzz targets' bodies (`fuzzing`, built only with that
/// feature) are test code, which holds the transcoder to prost's decoding as the tests do.
#[test]
fn otlp_types_stop_at_the_collectors_edge() {
    let edge = [
        "ingest",
        "normalize",
        "forward/client",
        "forward/split",
        "fuzzing",
    ]
    .map(module);
    for crate_dir in ["store", "collector", "viewer"] {
        for (module, code) in module_sources(crate_dir) {
            if code.contains("opentelemetry_proto") {
                assert!(
                    crate_dir == "collector" && edge.contains(&module),
                    "{crate_dir}/src/{} names OTLP's types",
                    module.join("/")
                );
            }
        }
    }
    let otlp = module_sources("otlp");
    assert!(
        otlp.values()
            .any(|code| code.contains("opentelemetry_proto")),
        "sanity: oculus-otlp is read"
    );
}
