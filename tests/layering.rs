//! The rules between the top-level modules of `src/`, kept by the build rather than by memory.
//!
//! Every `crate::…` path in every file of `src/` (imports, inline paths, grouped `use
//! crate::{a, b}`, macros such as `crate::limited!`), and every `super::` chain that climbs out
//! of its top-level module, names an edge "this module uses that one". Each edge must be one
//! of [`ALLOWED`], each allowed edge must still be used, and the allowed graph has no cycle.
//! A new edge is a design decision: add its line below (and say why in the commit), or point
//! the import the other way.
//!
//! The direction of travel (README "Architecture"): the shell (`daemon`) uses everything; the
//! protocol core (`dispatch`) uses the executor and `proto`; the executor uses `agents`, which
//! use `process`; `wire` uses `proto`; `handles`, `proto`, `limits`, `exitcode` and `mailbox`
//! use nothing of ours. Comments are not read (a doc link is not an import).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Allowed edges between top-level modules, one per line: `user -> used`.
const ALLOWED: &str = "
    # the shell: the loop, connections, hub, IPC bridge, keys, the machine's answers
    daemon -> agents
    daemon -> config
    daemon -> dbus
    daemon -> dispatch
    daemon -> executor
    daemon -> exitcode
    daemon -> handles
    daemon -> ipc
    daemon -> limits
    daemon -> logging
    daemon -> mailbox
    daemon -> pidone
    daemon -> process
    daemon -> proto
    daemon -> sys
    daemon -> transport
    daemon -> wire

    # the protocol core (sans I/O)
    dispatch -> agents
    dispatch -> config
    dispatch -> executor
    dispatch -> exitcode
    dispatch -> handles
    dispatch -> limits
    dispatch -> logging
    dispatch -> process
    dispatch -> proto

    # the outbound arm: executor -> agents -> process
    executor -> agents
    executor -> handles
    executor -> logging
    executor -> process
    agents -> dbus
    agents -> logging
    agents -> process
    agents -> sys
    process -> mailbox

    # bytes, frames, messages (transport reads the X.509 file settings)
    transport -> config
    transport -> limits
    transport -> logging
    transport -> sys
    wire -> bzip2
    wire -> proto

    # local tools' IPC server (ipc reads the framing setting)
    ipc -> bzip2
    ipc -> config
    ipc -> handles
    ipc -> limits
    ipc -> logging
    ipc -> mailbox
    ipc -> sys

    # container init mode (pidone): the environment file, orphan reaping
    pidone -> config
    pidone -> limits
    pidone -> logging
    pidone -> process
    pidone -> sys

    # the D-Bus client (class-systemd)
    dbus -> limits
    dbus -> logging
    dbus -> sys

    # settings, logging, the operating system
    config -> agents
    config -> cli
    config -> limits
    config -> logging
    config -> sys
    logging -> limits
    logging -> sys
    sys -> limits

    # the client side: check, demo and the client they share
    about -> limits
    about -> proto
    check -> cli
    check -> client
    check -> config
    check -> exitcode
    check -> limits
    check -> proto
    check -> transport
    client -> limits
    client -> proto
    client -> transport
    client -> wire
    demo -> check
    demo -> cli
    demo -> config
    demo -> exitcode
    demo -> sys
";

/// Names at the crate root that are not modules: exported macros, and where they live.
const ROOT_MACROS: &[(&str, &str)] = &[("limited", "logging")];

/// One use of another top-level module.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Edge {
    from: String,
    to: String,
    file: PathBuf,
}

/// The allowed edges, parsed.
fn allowed(text: &str) -> BTreeSet<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (a, b) = l.split_once("->").expect("a line is `user -> used`");
            (a.trim().to_string(), b.trim().to_string())
        })
        .collect()
}

/// The source without its comments (line, doc and block), and without string literals' text,
/// so that neither a doc link nor a message naming a path counts as an import.
fn code_only(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut depth = 0;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        depth += 1;
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            b'r' if matches!(b.get(i + 1), Some(b'"' | b'#'))
                && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')) =>
            {
                // A raw string: r"…", r#"…"#, …
                let mut j = i + 1;
                let mut hashes = 0;
                while b.get(j) == Some(&b'#') {
                    hashes += 1;
                    j += 1;
                }
                if b.get(j) != Some(&b'"') {
                    out.push('r');
                    i += 1;
                    continue;
                }
                j += 1;
                let close: Vec<u8> = std::iter::once(b'"')
                    .chain(std::iter::repeat_n(b'#', hashes))
                    .collect();
                while j < b.len() && !b[j..].starts_with(&close) {
                    j += 1;
                }
                i = j + close.len();
                out.push_str("\"\"");
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                out.push_str("\"\"");
            }
            b'\'' if b.get(i + 2) == Some(&b'\'') || b.get(i + 1) == Some(&b'\\') => {
                // A char literal ('"', '\'', '\n'); lifetimes ('a) are left alone.
                i += 1;
                while i < b.len() && b[i] != b'\'' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                out.push_str("' '");
            }
            c => {
                out.push(c as char);
                i += 1;
            }
        }
    }
    out
}

/// The module path of a file under `src/` (`src/dispatch/mod.rs` is `["dispatch"]`,
/// `src/proto/xml/reader.rs` is `["proto", "xml", "reader"]`); `None` for the crate root.
fn module_of(rel: &Path) -> Option<Vec<String>> {
    let mut parts: Vec<String> = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    match parts.first().map(String::as_str) {
        None | Some("lib" | "main") => None,
        _ => Some(parts),
    }
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The first segments of every path after `crate::` in `code`, grouped ones included
/// (`crate::{a::x, b}` gives `a` and `b`).
fn crate_paths(code: &str) -> Vec<String> {
    let b = code.as_bytes();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = code[from..].find("crate::") {
        let start = from + at;
        from = start + "crate::".len();
        if start > 0 && (is_ident(b[start - 1]) || b[start - 1] == b'$') {
            continue; // `pcmk_remoted_crate::`, or `$crate::` inside a macro's own module
        }
        if b.get(from) == Some(&b'{') {
            let end = code[from..].find('}').map_or(code.len(), |e| from + e);
            let mut depth = 0;
            let mut item = String::new();
            for c in code[from + 1..end].chars() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.extend(first_segment(&item));
                        item.clear();
                    }
                    c => item.push(c),
                }
            }
            out.extend(first_segment(&item));
        } else {
            out.extend(first_segment(&code[from..]));
        }
    }
    out
}

fn first_segment(path: &str) -> Option<String> {
    let path = path.trim_start();
    let name: String = path.chars().take_while(|&c| is_ident(c as u8)).collect();
    (!name.is_empty() && name != "self").then_some(name)
}

/// Where `super::` chains in `code`, read from a file whose module is `module`, lead when
/// they climb out of the top-level module: the segment after the root. Inline modules (a
/// `mod tests { use super::*; }`) add a level this cannot see, so a chain that seems to climb
/// out counts only when it then names a top-level module.
fn escaping_supers(code: &str, module: &[String], tops: &BTreeSet<String>) -> Vec<String> {
    let b = code.as_bytes();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = code[from..].find("super::") {
        let start = from + at;
        from = start + "super::".len();
        if start > 0 && (is_ident(b[start - 1]) || code[..start].ends_with("super::")) {
            continue;
        }
        let mut ups = 1;
        let mut rest = &code[from..];
        while let Some(r) = rest.strip_prefix("super::") {
            ups += 1;
            rest = r;
        }
        if ups >= module.len() {
            if let Some(name) = first_segment(rest).filter(|n| tops.contains(n)) {
                out.push(name);
            }
        }
    }
    out
}

/// Every edge between top-level modules in `files` (path under `src/`, text); paths naming
/// something that is neither a top-level module nor a known root macro are edges to
/// `?name`, which no rule allows.
fn edges(files: &[(PathBuf, String)]) -> Vec<Edge> {
    let tops: BTreeSet<String> = files
        .iter()
        .filter_map(|(p, _)| module_of(p))
        .map(|m| m[0].clone())
        .collect();
    let mut out = BTreeSet::new();
    for (path, text) in files {
        let Some(module) = module_of(path) else {
            continue;
        };
        let code = code_only(text);
        let named = crate_paths(&code)
            .into_iter()
            .chain(escaping_supers(&code, &module, &tops));
        for name in named {
            let to = if tops.contains(&name) {
                name
            } else if let Some((_, home)) = ROOT_MACROS.iter().find(|(m, _)| *m == name) {
                home.to_string()
            } else {
                format!("?{name}")
            };
            if to != module[0] {
                out.insert(Edge {
                    from: module[0].clone(),
                    to,
                    file: path.clone(),
                });
            }
        }
    }
    out.into_iter().collect()
}

/// Edges of `found` that `allowed` does not list, one line each.
fn violations(found: &[Edge], allowed: &BTreeSet<(String, String)>) -> Vec<String> {
    found
        .iter()
        .filter(|e| !allowed.contains(&(e.from.clone(), e.to.clone())))
        .map(|e| format!("{} -> {} (in src/{})", e.from, e.to, e.file.display()))
        .collect()
}

/// A cycle in `graph`, if there is one, as the modules along it.
fn cycle(graph: &BTreeSet<(String, String)>) -> Option<Vec<String>> {
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (a, b) in graph {
        next.entry(a).or_default().push(b);
    }
    // 0 unvisited, 1 on the current path, 2 done.
    fn visit<'a>(
        node: &'a str,
        next: &BTreeMap<&'a str, Vec<&'a str>>,
        state: &mut BTreeMap<&'a str, u8>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        state.insert(node, 1);
        path.push(node);
        for &n in next.get(node).into_iter().flatten() {
            match state.get(n).copied().unwrap_or(0) {
                1 => {
                    let at = path.iter().position(|&p| p == n).unwrap_or(0);
                    let mut c: Vec<String> = path[at..].iter().map(|s| s.to_string()).collect();
                    c.push(n.to_string());
                    return Some(c);
                }
                0 => {
                    if let Some(c) = visit(n, next, state, path) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        path.pop();
        state.insert(node, 2);
        None
    }
    let mut state = BTreeMap::new();
    for &start in next.keys() {
        if state.get(start).copied().unwrap_or(0) == 0 {
            if let Some(c) = visit(start, &next, &mut state, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

/// Every `.rs` file under `src/`, as (path under `src/`, text).
fn sources() -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    let mut dirs = vec![root.clone()];
    // Bounded by the tree's size: each directory is visited once.
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).expect("src/ is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = fs::read_to_string(&path).expect("a source file is readable");
                let rel = path.strip_prefix(&root).expect("under src/").to_path_buf();
                out.push((rel, text));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn every_import_follows_the_allowed_graph() {
    let found = edges(&sources());
    assert!(
        found.len() > 50,
        "the checker found too few edges to be reading src/"
    );
    let bad = violations(&found, &allowed(ALLOWED));
    assert!(
        bad.is_empty(),
        "imports against the allowed graph (tests/layering.rs, ALLOWED):\n  {}",
        bad.join("\n  ")
    );
}

#[test]
fn every_allowed_edge_is_still_used() {
    let used: BTreeSet<(String, String)> = edges(&sources())
        .into_iter()
        .map(|e| (e.from, e.to))
        .collect();
    let stale: Vec<_> = allowed(ALLOWED).difference(&used).cloned().collect();
    assert!(
        stale.is_empty(),
        "allowed edges no import uses any more (remove their lines): {stale:?}"
    );
}

#[test]
fn the_allowed_graph_has_no_cycle() {
    assert_eq!(cycle(&allowed(ALLOWED)), None);
}

#[test]
fn the_checker_fails_on_a_back_edge() {
    // The executor reaching back into the dispatcher, once as an import and once inline.
    let files = vec![
        (
            PathBuf::from("executor/mod.rs"),
            "use crate::agents::Lookup;\nuse crate::dispatch::Action;\n".to_string(),
        ),
        (
            PathBuf::from("executor/schedule.rs"),
            "fn f() { crate::daemon::hub::now(); }\n".to_string(),
        ),
        (PathBuf::from("agents/mod.rs"), String::new()),
        (PathBuf::from("dispatch/mod.rs"), String::new()),
        (PathBuf::from("daemon/mod.rs"), String::new()),
    ];
    let bad = violations(&edges(&files), &allowed(ALLOWED));
    assert_eq!(
        bad,
        [
            "executor -> daemon (in src/executor/schedule.rs)",
            "executor -> dispatch (in src/executor/mod.rs)",
        ]
    );
    // And a back edge added to the rules would close a cycle.
    let mut rules = allowed(ALLOWED);
    rules.insert(("process".into(), "executor".into()));
    assert!(cycle(&rules).is_some());
}

#[test]
fn the_checker_reads_groups_supers_and_macros_and_skips_comments_and_strings() {
    let files = vec![
        (
            PathBuf::from("wire/fit.rs"),
            "use crate::{proto::xml, bzip2};\n\
             // crate::daemon in a comment\n\
             /// [`x`]: crate::daemon::x\n\
             const S: &str = \"crate::daemon\";\n\
             const R: &str = r#\"crate::daemon\"#;\n\
             fn f() { crate::limited!(a, b); let _ = super::super::config::X; }\n"
                .to_string(),
        ),
        (
            PathBuf::from("proto/mod.rs"),
            "mod tests { use super::*; }\n".to_string(),
        ),
        (PathBuf::from("bzip2.rs"), String::new()),
        (PathBuf::from("config/mod.rs"), String::new()),
        (PathBuf::from("daemon/mod.rs"), String::new()),
    ];
    let found: Vec<(String, String)> = edges(&files).into_iter().map(|e| (e.from, e.to)).collect();
    let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
    assert_eq!(
        found,
        [
            pair("wire", "bzip2"),
            pair("wire", "config"),
            pair("wire", "logging"),
            pair("wire", "proto"),
        ]
    );
}
