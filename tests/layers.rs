//! The shape of the code, checked: which module imports which, read from the source.
//!
//! The service crate's top-level modules must form no circle, and every import must point to
//! the same layer or one below it, as the picture in `src/lib.rs` draws them. The emulator's
//! files must form no circle except the state aggregate its handlers share. A circle is what
//! makes a module impossible to understand, test or replace alone, and it comes back one
//! convenient import at a time, so it is a test rather than a review habit.
//!
//! The graph is read from `crate::`, `super::` and child-module paths in the code, test modules
//! left out. `cargo test --test layers -- --nocapture` prints it: every module with what it
//! imports, and the largest circle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type ModPath = Vec<String>;

/// Every module of a crate and the modules each one imports.
struct Graph {
    edges: BTreeMap<String, BTreeSet<String>>,
}

impl Graph {
    fn show(&self, title: &str) {
        println!("{title}: {} modules", self.edges.len());
        for (from, to) in &self.edges {
            let to: Vec<&str> = to.iter().map(String::as_str).collect();
            println!("  {from} -> {}", to.join(", "));
        }
        let arrows: usize = self.edges.values().map(BTreeSet::len).sum();
        let largest = self.circles().into_iter().max_by_key(Vec::len);
        match largest {
            Some(circle) => println!(
                "  {arrows} arrows; largest circle: {} modules: {}",
                circle.len(),
                circle.join(" ")
            ),
            None => println!("  {arrows} arrows; no circle"),
        }
    }

    /// The strongly connected components of more than one module (Tarjan's algorithm).
    fn circles(&self) -> Vec<Vec<String>> {
        struct Walk<'a> {
            graph: &'a Graph,
            index: BTreeMap<&'a str, usize>,
            low: BTreeMap<&'a str, usize>,
            stack: Vec<&'a str>,
            found: Vec<Vec<String>>,
        }
        fn visit<'a>(w: &mut Walk<'a>, node: &'a str) {
            let i = w.index.len();
            w.index.insert(node, i);
            w.low.insert(node, i);
            w.stack.push(node);
            for next in w.graph.edges.get(node).into_iter().flatten() {
                let next = next.as_str();
                if !w.index.contains_key(next) {
                    visit(w, next);
                    let low = w.low[node].min(w.low[next]);
                    w.low.insert(node, low);
                } else if w.stack.contains(&next) {
                    let low = w.low[node].min(w.index[next]);
                    w.low.insert(node, low);
                }
            }
            if w.low[node] == w.index[node] {
                let mut component = Vec::new();
                while let Some(top) = w.stack.pop() {
                    component.push(top.to_owned());
                    if top == node {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    w.found.push(component);
                }
            }
        }
        let mut walk = Walk {
            graph: self,
            index: BTreeMap::new(),
            low: BTreeMap::new(),
            stack: Vec::new(),
            found: Vec::new(),
        };
        for node in self.edges.keys() {
            if !walk.index.contains_key(node.as_str()) {
                visit(&mut walk, node);
            }
        }
        walk.found
    }
}

/// One source file: its module path, and the text with comments and test modules removed.
struct Source {
    module: ModPath,
    code: String,
}

fn sources(src: &Path) -> Vec<Source> {
    let mut files = Vec::new();
    collect(src, &mut files);
    files
        .into_iter()
        .filter_map(|file| {
            let relative = file.strip_prefix(src).ok()?.with_extension("");
            let mut module: ModPath = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let last = module.last()?.clone();
            if last == "tests" || last.ends_with("_tests") || last == "main" {
                return None;
            }
            if last == "mod" || last == "lib" {
                module.pop();
            }
            let text = std::fs::read_to_string(&file).ok()?;
            Some(Source {
                module,
                code: without_tests(&without_comments(&text)),
            })
        })
        .collect()
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("a readable source folder")
        .map(|e| e.expect("a folder entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

fn without_comments(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The text without the items under `#[cfg(test)]`: a test may import whatever it tests.
fn without_tests(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let item = &rest[at..];
        let end = match (item.find('{'), item.find(';')) {
            (Some(open), Some(semi)) if semi < open => semi + 1,
            (Some(open), _) => open + closing(&item[open..]),
            (None, Some(semi)) => semi + 1,
            (None, None) => item.len(),
        };
        rest = &item[end..];
    }
    out.push_str(rest);
    out
}

/// The length up to and including the brace that closes the one `text` starts with.
fn closing(text: &str) -> usize {
    let mut depth = 0usize;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
    }
    text.len()
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The paths a use tree starting at `text` names: `a::{b, c::d}` gives `a::b` and `a::c::d`.
fn use_tree(text: &str) -> Vec<ModPath> {
    fn tree(text: &str, at: &mut usize, prefix: &ModPath, out: &mut Vec<ModPath>) {
        let bytes = text.as_bytes();
        let skip_space = |at: &mut usize| {
            while *at < bytes.len() && (bytes[*at] as char).is_whitespace() {
                *at += 1;
            }
        };
        let mut path = prefix.clone();
        loop {
            skip_space(at);
            if *at < bytes.len() && bytes[*at] == b'{' {
                *at += 1;
                loop {
                    skip_space(at);
                    if *at >= bytes.len() || bytes[*at] == b'}' {
                        *at += 1;
                        return;
                    }
                    tree(text, at, &path, out);
                    skip_space(at);
                    if *at < bytes.len() && bytes[*at] == b',' {
                        *at += 1;
                    }
                }
            }
            let start = *at;
            while *at < bytes.len() && is_ident(bytes[*at] as char) {
                *at += 1;
            }
            if *at == start {
                out.push(path);
                return;
            }
            path.push(text[start..*at].to_owned());
            if text[*at..].starts_with("::") {
                *at += 2;
            } else {
                out.push(path);
                // Skip `as name` and generic arguments up to the end of this branch.
                while *at < bytes.len() && !matches!(bytes[*at], b',' | b'}' | b';') {
                    *at += 1;
                }
                return;
            }
        }
    }
    let mut out = Vec::new();
    tree(text, &mut 0, &Vec::new(), &mut out);
    out
}

/// Every module path `source` reaches through `crate::`, `super::` or a child module.
fn references(source: &Source, children: &BTreeSet<String>) -> Vec<ModPath> {
    let code = &source.code;
    let mut found = Vec::new();
    for (at, _) in code.match_indices("::") {
        let head_start = code[..at]
            .rfind(|c: char| !is_ident(c))
            .map_or(0, |i| i + 1);
        let head = &code[head_start..at];
        let before = code[..head_start].chars().next_back();
        if matches!(before, Some(':' | '$')) {
            continue;
        }
        let base: ModPath = match head {
            "crate" => Vec::new(),
            "super" => {
                let mut base = source.module.clone();
                let mut rest = &code[head_start..];
                while let Some(tail) = rest.strip_prefix("super::") {
                    base.pop();
                    rest = tail;
                }
                found.extend(
                    use_tree(rest)
                        .into_iter()
                        .map(|p| [base.clone(), p].concat()),
                );
                continue;
            }
            child if children.contains(child) => source.module.clone(),
            _ => continue,
        };
        let tail_start = if head == "crate" { at + 2 } else { head_start };
        found.extend(
            use_tree(&code[tail_start..])
                .into_iter()
                .map(|p| [base.clone(), p].concat()),
        );
    }
    found
}

/// The modules a file declares with `mod name;` or `mod name {`.
fn declared_children(code: &str) -> BTreeSet<String> {
    code.split("mod ")
        .skip(1)
        .filter_map(|rest| {
            let name: String = rest.chars().take_while(|c| is_ident(*c)).collect();
            let after = rest[name.len()..].trim_start();
            (!name.is_empty() && (after.starts_with(';') || after.starts_with('{'))).then_some(name)
        })
        .collect()
}

/// The crate's module graph, each module cut to its first `depth` segments (0: whole paths).
fn graph(src: &Path, depth: usize) -> Graph {
    let sources = sources(src);
    let modules: BTreeSet<ModPath> = sources.iter().map(|s| s.module.clone()).collect();
    let reexports = reexports(src);
    let node = |path: &ModPath| {
        let cut = if depth == 0 {
            path.len()
        } else {
            depth.min(path.len())
        };
        path[..cut].join("::")
    };
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for source in sources.iter().filter(|s| !s.module.is_empty()) {
        let from = node(&source.module);
        let entry = edges.entry(from.clone()).or_default();
        let children = declared_children(&source.code);
        for path in references(source, &children) {
            let path = match path.first().and_then(|name| reexports.get(name)) {
                Some(module) => [module.clone(), path[1..].to_vec()].concat(),
                None => path,
            };
            let target = (1..=path.len())
                .rev()
                .map(|n| path[..n].to_vec())
                .find(|prefix| modules.contains(prefix));
            if let Some(target) = target {
                // A child module is part of its parent: using the parent's items is no arrow.
                if source.module.starts_with(&target) {
                    continue;
                }
                let to = node(&target);
                if to != from && !to.is_empty() {
                    entry.insert(to);
                }
            }
        }
    }
    Graph { edges }
}

/// What the crate root re-exports, by name: `pub use clock::{Clock, ManualClock}`.
fn reexports(src: &Path) -> BTreeMap<String, ModPath> {
    let root = std::fs::read_to_string(src.join("lib.rs")).expect("the crate root");
    let root = without_comments(&root);
    let mut found = BTreeMap::new();
    for item in root.split("pub use ").skip(1) {
        for path in use_tree(item) {
            if let Some((name, module)) = path.split_last() {
                found.insert(name.clone(), module.to_vec());
            }
        }
    }
    found
}

/// The layers `src/lib.rs` draws, top first: each line of its `layers` block is a layer's
/// name, then the modules in it.
fn layers(root: &str) -> Vec<(String, Vec<String>)> {
    let block = root
        .split("```text layers")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("src/lib.rs draws its layers in a ```text layers block");
    block
        .lines()
        .map(|line| line.trim_start_matches("//!").trim())
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (name, modules) = line.split_once(':').expect("`layer: module, module`");
            let modules = modules.split([',', ' ']).filter(|m| !m.is_empty());
            (name.trim().to_owned(), modules.map(str::to_owned).collect())
        })
        .collect()
}

fn service_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn the_service_modules_form_no_circle() {
    let graph = graph(&service_src(), 1);
    graph.show("notebook-trigger, top-level modules");
    assert_eq!(
        graph.circles(),
        Vec::<Vec<String>>::new(),
        "modules in a circle"
    );
}

#[test]
fn every_import_points_to_its_own_layer_or_one_below() {
    let root = std::fs::read_to_string(service_src().join("lib.rs")).unwrap();
    let layers = layers(&root);
    let layer_of: BTreeMap<&str, usize> = layers
        .iter()
        .enumerate()
        .flat_map(|(i, (_, modules))| modules.iter().map(move |m| (m.as_str(), i)))
        .collect();
    let graph = graph(&service_src(), 1);
    let mut wrong = Vec::new();
    for (from, to) in &graph.edges {
        let Some(&here) = layer_of.get(from.as_str()) else {
            wrong.push(format!("{from} is in no layer of src/lib.rs"));
            continue;
        };
        for target in to {
            match layer_of.get(target.as_str()) {
                Some(&there) if there < here => wrong.push(format!(
                    "{from} ({}) imports {target}, a layer above ({})",
                    layers[here].0, layers[there].0
                )),
                Some(_) => {}
                None => wrong.push(format!("{target} is in no layer of src/lib.rs")),
            }
        }
    }
    for (name, modules) in &layers {
        for module in modules {
            if module != "main" && !graph.edges.contains_key(module) {
                wrong.push(format!(
                    "layer {name} names {module}, which is not a module"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_emulator_files_form_no_circle_but_its_shared_state() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/notebooks-emulator/src");
    let graph = graph(&src, 0);
    graph.show("notebooks-emulator, files");
    // The state every handler shares holds the consoles and the machines, and they are handed
    // that state: an aggregate and its parts, one thing seen from two sides.
    let aggregate = ["console", "machines", "machines::boot", "metadata", "state"];
    let circles: Vec<Vec<String>> = graph
        .circles()
        .into_iter()
        .filter(|c| c.iter().map(String::as_str).ne(aggregate))
        .collect();
    assert_eq!(circles, Vec::<Vec<String>>::new(), "files in a circle");
}

#[test]
fn the_reader_sees_every_kind_of_path() {
    assert_eq!(
        use_tree("a::{b, c::{d, e as f}}, g;"),
        vec![
            vec!["a".to_owned(), "b".to_owned()],
            vec!["a".to_owned(), "c".to_owned(), "d".to_owned()],
            vec!["a".to_owned(), "c".to_owned(), "e".to_owned()],
        ]
    );
    let source = Source {
        module: vec!["x".to_owned(), "y".to_owned()],
        code: without_tests(&without_comments(
            "use crate::a::B; // crate::hidden::C\nuse super::z;\nlet v = child::f();\n\
             #[cfg(test)]\nmod tests { use crate::t::T; }\nuse $crate::m;",
        )),
    };
    let children = BTreeSet::from(["child".to_owned()]);
    let found: Vec<String> = references(&source, &children)
        .iter()
        .map(|p| p.join("::"))
        .collect();
    assert_eq!(found, ["a::B", "x::z", "x::y::child::f"]);
}
