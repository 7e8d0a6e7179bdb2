//! The image build, as far as it can be checked without a Docker engine: what the build
//! context holds and what the Dockerfile copies.

use std::path::Path;

use crate::ROOT;

/// The image is built from what `.dockerignore` lets through, and cargo refuses a manifest
/// whose declared targets (the criterion bench, say) are missing, even when it does not build
/// them; `cargo metadata` does not notice, only a build does. Without a Docker engine here,
/// this is the part of the image build that can be checked in a test.
#[test]
fn the_image_build_context_holds_every_target_the_manifest_declares() {
    let root = Path::new(ROOT);
    let ignore = std::fs::read_to_string(root.join(".dockerignore")).expect("read .dockerignore");
    assert!(
        ignore.lines().any(|line| line.trim() == "*"),
        ".dockerignore starts from nothing and lets paths back in"
    );
    let let_through: Vec<&str> = ignore
        .lines()
        .filter_map(|line| line.trim().strip_prefix('!'))
        .map(|path| path.trim_end_matches('/'))
        .collect();
    let mut targets = vec!["Cargo.lock".to_owned()];
    let workspace = manifest(&root.join("Cargo.toml"));
    let members = workspace["workspace"]["members"]
        .as_array()
        .expect("workspace.members");
    for member in members {
        let member = member.as_str().expect("a member path");
        let prefix = if member == "." {
            String::new()
        } else {
            format!("{member}/")
        };
        targets.push(format!("{prefix}Cargo.toml"));
        targets.extend(declared_targets(&root.join(member)).map(|t| format!("{prefix}{t}")));
    }
    for target in &targets {
        assert!(
            let_through
                .iter()
                .any(|allowed| target == allowed || target.starts_with(&format!("{allowed}/"))),
            "{target} is declared in Cargo.toml but .dockerignore keeps it out of the image build"
        );
        assert!(root.join(target).is_file(), "{target} does not exist");
    }
    assert!(
        targets.iter().any(|t| t.starts_with("benches/")),
        "the bench is among the targets checked"
    );
    let dockerfile = std::fs::read_to_string(root.join("Dockerfile")).expect("read Dockerfile");
    // The dependency layer is built from the members' manifests and stub sources alone.
    for member in members
        .iter()
        .filter_map(|m| m.as_str())
        .filter(|m| *m != ".")
    {
        assert!(
            dockerfile.contains(&format!("COPY {member}/Cargo.toml ./{member}/")),
            "the Dockerfile's dependency layer lacks the manifest of {member}"
        );
        assert!(
            dockerfile
                .lines()
                .any(|line| line.contains("for member in") && line.contains(member)),
            "the Dockerfile's stub loop lacks {member}"
        );
    }
    for allowed in &let_through {
        assert!(
            dockerfile.lines().any(|line| line.starts_with("COPY ")
                && line
                    .split_whitespace()
                    .any(|word| word.trim_end_matches('/') == *allowed)),
            "the Dockerfile never copies {allowed}, which .dockerignore lets through"
        );
    }
}

fn manifest(path: &Path) -> toml::Table {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .parse()
        .unwrap_or_else(|e| panic!("{} is not TOML: {e}", path.display()))
}

/// The files of a package's targets: those its manifest declares, and those cargo finds by
/// convention (`src/lib.rs`, `src/main.rs`, `src/bin/*.rs`).
fn declared_targets(package: &Path) -> impl Iterator<Item = String> {
    let manifest = manifest(&package.join("Cargo.toml"));
    let mut targets = Vec::new();
    for (kind, folder) in [("lib", "src"), ("bin", "src/bin"), ("bench", "benches")] {
        let declared = match manifest.get(kind) {
            Some(toml::Value::Array(list)) => list.clone(),
            Some(table) => vec![table.clone()],
            None => Vec::new(),
        };
        for target in declared {
            targets.push(match (target.get("path"), target.get("name")) {
                (Some(path), _) => path.as_str().expect("a path").to_owned(),
                (None, Some(name)) => format!("{folder}/{}.rs", name.as_str().expect("a name")),
                (None, None) => "src/lib.rs".to_owned(),
            });
        }
    }
    for conventional in ["src/lib.rs", "src/main.rs"] {
        if package.join(conventional).is_file() {
            targets.push(conventional.to_owned());
        }
    }
    if let Ok(entries) = std::fs::read_dir(package.join("src/bin")) {
        for entry in entries.flatten() {
            targets.push(format!("src/bin/{}", entry.file_name().to_string_lossy()));
        }
    }
    targets.sort();
    targets.dedup();
    targets.into_iter()
}
