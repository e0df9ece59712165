//! Architecture invariants that are cheaper to check than to remember.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives in the workspace")
        .to_path_buf()
}

/// The platform these tests run on, as rustc names it.
fn host_triple() -> String {
    let output = Command::new("rustc")
        .arg("-vV")
        .output()
        .expect("rustc runs");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .expect("rustc -vV names the host")
        .to_owned()
}

/// Names of every package `package` depends on through normal (non-dev, non-build) edges
/// on this platform. (The whole graph would include other platforms' packages, such as
/// the GUI stack's Android crates, which are never downloaded here.)
fn normal_dependencies(package: &str) -> BTreeSet<String> {
    let output = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .args(["--filter-platform", &host_triple()])
        .current_dir(repo_root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("metadata json");
    let names: HashMap<&str, &str> = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter_map(|p| Some((p["id"].as_str()?, p["name"].as_str()?)))
        .collect();
    let nodes: HashMap<&str, &serde_json::Value> = metadata["resolve"]["nodes"]
        .as_array()
        .expect("resolve nodes")
        .iter()
        .filter_map(|n| Some((n["id"].as_str()?, n)))
        .collect();
    let start = names
        .iter()
        .find(|(_, name)| **name == package)
        .map(|(id, _)| *id)
        .expect("package in workspace");
    let mut seen = BTreeSet::new();
    let mut stack = vec![start];
    while let Some(id) = stack.pop() {
        for dep in nodes[id]["deps"].as_array().into_iter().flatten() {
            let normal = dep["dep_kinds"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|kind| kind["kind"].is_null());
            let Some(dep_id) = dep["pkg"].as_str() else {
                continue;
            };
            if normal && seen.insert(names[dep_id].to_owned()) {
                stack.push(dep_id);
            }
        }
    }
    seen
}

#[test]
fn the_collector_never_links_a_gui() {
    let deps = normal_dependencies("oculus-collector");
    assert!(
        deps.contains("oculus-store"),
        "sanity: the walk sees direct deps"
    );
    for gui in ["egui", "eframe", "egui_extras", "winit", "wgpu", "glow"] {
        assert!(!deps.contains(gui), "oculus-collector depends on {gui}");
    }
}

#[test]
fn the_store_never_links_a_server() {
    let deps = normal_dependencies("oculus-store");
    assert!(deps.contains("zstd"), "sanity: the walk sees direct deps");
    for server in ["tonic", "axum", "hyper", "tokio", "opentelemetry-proto"] {
        assert!(!deps.contains(server), "oculus-store depends on {server}");
    }
}

/// Readers of segments link no server: only the `oculus` binary combines the two.
#[test]
fn the_viewer_library_never_links_a_server() {
    let deps = normal_dependencies("oculus-viewer");
    assert!(deps.contains("egui"), "sanity: the walk sees direct deps");
    for server in [
        "oculus-collector",
        "tonic",
        "axum",
        "hyper",
        "hyper-util",
        "h2",
        "opentelemetry-proto",
    ] {
        assert!(!deps.contains(server), "oculus-viewer depends on {server}");
    }
    let binary = normal_dependencies("oculus");
    for part in ["oculus-viewer", "oculus-collector"] {
        assert!(binary.contains(part), "the oculus binary combines {part}");
    }
}

/// `buf lint` with the root buf.yaml passes on proto/. `.ci/run` installs buf.
#[test]
fn the_segment_schema_passes_buf_lint() {
    let root = repo_root();
    let local = root.join(".ci/tools/node_modules/.bin/buf");
    let buf = if local.exists() {
        local
    } else {
        PathBuf::from("buf")
    };
    let output = Command::new(&buf).arg("lint").current_dir(&root).output().unwrap_or_else(|e| {
        panic!(
            "cannot run {}: {e}; install it with `npm install --no-save --prefix .ci/tools @bufbuild/buf`",
            buf.display()
        )
    });
    assert!(
        output.status.success(),
        "buf lint failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The modules of a crate (`src/<name>.rs` or `src/<name>/`), each with the modules it
/// imports through `crate::`. Test modules (after `#[cfg(test)]`) and the crate root
/// are left out: tests may reach anywhere, and the root names every module.
fn module_imports(crate_dir: &str) -> BTreeMap<String, BTreeSet<String>> {
    let src = repo_root().join(crate_dir).join("src");
    let mut graph = BTreeMap::new();
    for entry in std::fs::read_dir(&src).expect("src exists") {
        let path = entry.expect("dir entry").path();
        let name = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .expect("UTF-8 file names")
            .to_owned();
        if matches!(name.as_str(), "lib" | "main") {
            continue;
        }
        let files = if path.is_dir() {
            rust_files(&path)
        } else {
            vec![path]
        };
        let mut imports = BTreeSet::new();
        for file in files {
            let text = std::fs::read_to_string(&file).expect("readable source");
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            imports.extend(crate_paths(code).filter(|module| *module != name));
        }
        graph.insert(name, imports);
    }
    graph
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("module dir exists") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files
}

/// The first segment of every `crate::...` path in `code`, including each one of a
/// `crate::{a::X, b}` group.
fn crate_paths(code: &str) -> impl Iterator<Item = String> + '_ {
    code.match_indices("crate::").flat_map(|(at, prefix)| {
        let rest = &code[at + prefix.len()..];
        let heads: Vec<&str> = if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let end = group
                .find(|c| {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => return true,
                        '}' => depth -= 1,
                        _ => {}
                    }
                    false
                })
                .unwrap_or(group.len());
            split_top_level(&group[..end])
        } else {
            vec![rest]
        };
        heads
            .into_iter()
            .map(|head| {
                head.trim_start()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect::<String>()
            })
            .filter(|head| !head.is_empty() && head != "self")
            .collect::<Vec<_>>()
    })
}

/// `a::X, b::{c, d}, e` split at the commas outside braces.
fn split_top_level(group: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&group[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&group[start..]);
    parts
}

/// A chain of imports that leads from a module back to itself, if there is one.
fn import_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        module: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|m| m == module) {
            let mut cycle = path[start..].to_vec();
            cycle.push(module.to_owned());
            return Some(cycle);
        }
        if done.contains(module) {
            return None;
        }
        path.push(module.to_owned());
        for next in graph.get(module).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(module.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|module| visit(module, graph, &mut Vec::new(), &mut done))
}

#[test]
fn the_import_cycle_check_finds_a_cycle() {
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("app", "use crate::{model::X, views};"),
        ("views", "use crate::snapshot::Y;"),
        ("snapshot", "let z = crate::app::Z;"),
        ("model", ""),
    ]
    .into_iter()
    .map(|(name, code)| (name.to_owned(), crate_paths(code).collect()))
    .collect();
    assert_eq!(
        import_cycle(&graph),
        Some(
            vec!["app", "views", "snapshot", "app"]
                .into_iter()
                .map(String::from)
                .collect()
        )
    );
}

#[test]
fn no_crate_has_an_import_cycle_among_its_modules() {
    for crate_dir in ["store", "collector", "viewer"] {
        let graph = module_imports(crate_dir);
        assert!(graph.len() > 3, "sanity: {crate_dir} has modules");
        if let Some(cycle) = import_cycle(&graph) {
            panic!("{crate_dir} has an import cycle: {}", cycle.join(" -> "));
        }
    }
}
