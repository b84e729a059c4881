//! The crate's modules point one way (src/lib.rs lists the layers): a `use crate::…` that
//! closes a cycle between two top-level modules fails here, and so does a port that
//! imports anything that plans or executes. Test modules and comments are not read: a
//! test may drive the layers above the code it tests.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

/// Top-level module -> the top-level modules its code (not its tests) names.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph = BTreeMap::new();
    let mut files = vec![src.clone()];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(
                fs::read_dir(&path)
                    .expect("src is readable")
                    .map(|e| e.expect("entry").path()),
            );
            continue;
        }
        let rel = path.strip_prefix(&src).expect("under src");
        let top = rel
            .iter()
            .next()
            .expect("a file")
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if top == "lib" {
            continue;
        }
        let text = fs::read_to_string(&path).expect("source is UTF-8");
        let edges: &mut BTreeSet<String> = graph.entry(top.clone()).or_default();
        for name in uses(&text) {
            if name != top {
                edges.insert(name);
            }
        }
    }
    graph
}

/// The top-level modules named by `crate::NAME` in code outside comments and outside the
/// `#[cfg(test)] mod tests` that closes a file.
fn uses(text: &str) -> BTreeSet<String> {
    let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
    let mut names = BTreeSet::new();
    for line in code.lines() {
        let line = line.split("//").next().unwrap_or("");
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                names.insert(name);
            }
        }
    }
    names
}

/// A cycle through `from`, as the path of modules that closes it.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut found = path[at..].to_vec();
            found.push(node.to_owned());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, graph, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn no_module_cycle() {
    let graph = graph();
    assert!(graph.len() > 10, "modules not found: {graph:?}");
    if let Some(found) = cycle(&graph) {
        panic!("module cycle: {}", found.join(" -> "));
    }
}

#[test]
fn ports_import_nothing_that_plans_or_executes() {
    let graph = graph();
    let above = [
        "bus", "newest", "plan", "pipeline", "redrive", "aws", "memory", "sample",
    ];
    let ports = graph.get("ports").expect("the ports module");
    let wrong: Vec<&String> = ports.iter().filter(|m| above.contains(&m.as_str())).collect();
    assert!(wrong.is_empty(), "ports imports {wrong:?}");
}

#[test]
fn the_check_finds_a_cycle_and_ignores_tests_and_comments() {
    let a = "use crate::b::X;\n// crate::c\n#[cfg(test)]\nmod tests {\n    use crate::c::Y;\n}\n";
    assert_eq!(uses(a), BTreeSet::from(["b".to_owned()]));
    let mut graph = BTreeMap::new();
    graph.insert("a".to_owned(), BTreeSet::from(["b".to_owned()]));
    graph.insert("b".to_owned(), BTreeSet::from(["c".to_owned()]));
    graph.insert("c".to_owned(), BTreeSet::new());
    assert_eq!(cycle(&graph), None);
    graph.insert("c".to_owned(), BTreeSet::from(["a".to_owned()]));
    assert_eq!(cycle(&graph).map(|c| c.join(">")), Some("a>b>c>a".to_owned()));
}
