//! Architecture invariants that are cheaper to check than to remember: what each crate
//! links, and the schema's lint.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn repo_root() -> PathBuf {
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
    normal_dependencies_not_through(package, &[])
}

/// As [`normal_dependencies`], without what is reached only through the packages in
/// `not_through` (which are listed themselves).
fn normal_dependencies_not_through(package: &str, not_through: &[&str]) -> BTreeSet<String> {
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
            if normal
                && seen.insert(names[dep_id].to_owned())
                && !not_through.contains(&names[dep_id])
            {
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
/// OTLP's messages come only through `oculus-otlp`, whose use of opentelemetry-proto
/// (messages, no tonic) `the_otlp_files_crate_never_links_a_server` holds.
#[test]
fn the_viewer_library_never_links_a_server() {
    let deps = normal_dependencies_not_through("oculus-viewer", &["opentelemetry-proto"]);
    assert!(deps.contains("egui"), "sanity: the walk sees direct deps");
    for server in [
        "oculus-collector",
        "tonic",
        "axum",
        "hyper",
        "hyper-util",
        "h2",
    ] {
        assert!(!deps.contains(server), "oculus-viewer depends on {server}");
    }
    let binary = normal_dependencies("oculus");
    for part in ["oculus-viewer", "oculus-collector"] {
        assert!(binary.contains(part), "the oculus binary combines {part}");
    }
}

/// A user's program speaks OTLP to Oculus; it links none of Oculus' own crates.
#[test]
fn the_tracing_setup_links_no_oculus_crate() {
    let deps = normal_dependencies("oculus-tracing");
    assert!(
        deps.contains("opentelemetry-otlp"),
        "sanity: the walk sees direct deps"
    );
    for part in ["oculus-collector", "oculus-store", "oculus-viewer", "egui"] {
        assert!(!deps.contains(part), "oculus-tracing depends on {part}");
    }
}

/// `oculus-otlp` (the store's records as OTLP, OTLP files) is for readers too, such as
/// the viewer: it asks opentelemetry-proto for its messages only, never for the tonic
/// services, and links no server of its own. (The workspace's metadata unifies
/// features across crates, so what opentelemetry-proto pulls in is judged by what
/// this crate asks of it.)
#[test]
fn the_otlp_files_crate_never_links_a_server() {
    let output = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--locked",
            "--offline",
            "--no-deps",
        ])
        .current_dir(repo_root())
        .output()
        .expect("cargo metadata runs");
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("metadata json");
    let package = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| p["name"] == "oculus-otlp")
        .expect("oculus-otlp is in the workspace");
    let dependencies = package["dependencies"].as_array().expect("dependencies");
    let proto = dependencies
        .iter()
        .find(|d| d["name"] == "opentelemetry-proto")
        .expect("oculus-otlp uses opentelemetry-proto");
    assert_eq!(proto["uses_default_features"], false);
    let features: Vec<&str> = proto["features"]
        .as_array()
        .expect("features")
        .iter()
        .filter_map(|f| f.as_str())
        .collect();
    assert!(features.contains(&"gen-tonic-messages"), "{features:?}");
    assert!(!features.contains(&"gen-tonic"), "{features:?}");
    // What opentelemetry-proto brings is judged above, by the features asked for.
    let deps = normal_dependencies_not_through("oculus-otlp", &["opentelemetry-proto"]);
    for server in [
        "oculus-collector",
        "tonic",
        "axum",
        "hyper",
        "hyper-util",
        "h2",
    ] {
        assert!(!deps.contains(server), "oculus-otlp depends on {server}");
    }
    assert!(
        deps.contains("oculus-store"),
        "sanity: the walk sees direct deps"
    );
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
