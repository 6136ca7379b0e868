//! Architecture rules for `src/`, checked by reading the source text (std only, no parser).
//!
//! 1. **No import cycles**, at every level: among the top-level modules (lib.rs's children,
//!    with lib.rs itself as a node), and among the direct children of every module that
//!    has some (with that module's own `mod.rs` / `foo.rs` as a node of its own). An edge
//!    is any `crate::` / `super::` / `self::` path in non-test code, in `use` trees and
//!    inline in expressions and types, resolved to the deepest module that has a file.
//!    `mod x;` is containment, not an edge. Files under a module are collapsed onto the
//!    direct child they belong to; edges leaving the module and self-edges are ignored.
//! 2. **No file over 500 lines of non-test code**: every line of the file except its
//!    `#[cfg(test)] mod …` modules, blank and comment lines included (simple on purpose).
//!
//! Non-test code: files named `tests.rs` or under a `tests/` folder are skipped, and a
//! `#[cfg(test)]` line followed (after other attributes) by `mod NAME {…}` / `mod NAME;`
//! is cut out, up to its matching brace. Comments and string/char literals are blanked
//! before scanning. `src/main.rs` and `src/bin/` are crates of their own: counted for size,
//! not part of the import graph. Paths built by macros and `#[path]` are not seen.
//! `ALERTGATE_ARCH_SRC=/some/src` checks another directory.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;
use std::path::Path;

const MAX_LINES: usize = 500;

type Module = Vec<String>;
type Files = [(String, String)];
type Graph = BTreeMap<String, BTreeMap<String, String>>;
type Refs = Vec<(Module, usize)>;

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Blanks comments and string/char literals, keeping newlines so line numbers hold.
fn strip(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let at = |k: usize, s: &str| s.chars().enumerate().all(|(n, x)| c.get(k + n) == Some(&x));
    let find = |from: usize, f: &dyn Fn(usize) -> bool| (from..c.len()).find(|&n| f(n));
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < c.len() {
        let start = i;
        if at(i, "//") {
            i = find(i, &|n| c[n] == '\n').unwrap_or(c.len());
        } else if at(i, "/*") {
            let mut depth = 0;
            while i < c.len() && (depth > 0 || i == start) {
                let step = i32::from(at(i, "/*")) - i32::from(at(i, "*/"));
                depth += step;
                i += if step == 0 { 1 } else { 2 };
            }
        } else if let Some(end) = raw_string_end(&c, i) {
            i = end;
        } else if c[i] == '"' {
            i += 1;
            while i < c.len() && c[i] != '"' {
                i += if c[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
        } else if c[i] == '\'' && (at(i + 1, "\\") || at(i + 2, "'")) {
            // 'x' or '\n' / '\'' / '\u{..}'; any other quote starts a lifetime or label
            let from = i + 2 + usize::from(at(i + 1, "\\"));
            i = find(from, &|n| c[n] == '\'').map_or(c.len(), |n| n + 1);
        } else {
            out.push(c[i]);
            i += 1;
            continue;
        }
        i = i.min(c.len());
        out.extend(c[start..i].iter().map(|&x| if x == '\n' { x } else { ' ' }));
    }
    out
}

/// If a raw string (`r"…"`, `r#"…"#`, `br#"…"#`) starts at `i`, the index just past it.
fn raw_string_end(c: &[char], i: usize) -> Option<usize> {
    let ident_at = |k: Option<usize>| k.is_some_and(|k| is_ident(c[k]));
    let prefix_ok = match i.checked_sub(1) {
        Some(p) if c[p] == 'b' => !ident_at(p.checked_sub(1)),
        p => !ident_at(p),
    };
    let hashes = c[i + 1..].iter().take_while(|&&x| x == '#').count();
    if c[i] != 'r' || !prefix_ok || c.get(i + 1 + hashes) != Some(&'"') {
        return None; // also raw identifiers like `r#type`
    }
    let closes =
        |j: usize| c[j] == '"' && c[j + 1..].iter().take_while(|&&x| x == '#').count() >= hashes;
    let end = (i + 2 + hashes..c.len()).find(|&j| closes(j));
    Some(end.map_or(c.len(), |j| j + 1 + hashes))
}

/// Blanks every `#[cfg(test)]` module of stripped text; returns the text and lines cut.
fn cut_tests(stripped: &str) -> (String, usize) {
    let mut lines: Vec<String> = stripped.split('\n').map(String::from).collect();
    let (mut cut, mut k) = (0, 0);
    while k < lines.len() {
        k += 1;
        if lines[k - 1].trim() != "#[cfg(test)]" {
            continue;
        }
        let attr_or_blank = |l: &str| l.trim().is_empty() || l.trim().starts_with("#[");
        let Some(j) = (k..lines.len()).find(|&j| !attr_or_blank(&lines[j])) else {
            break;
        };
        let decl = lines[j].trim().trim_start_matches("pub(crate) ");
        let Some(name) = decl.trim_start_matches("pub ").strip_prefix("mod ") else {
            continue;
        };
        let after = name.trim_start_matches(is_ident).trim_start();
        let end = if after.starts_with(';') {
            j
        } else if after.starts_with('{') && after.len() < name.len() {
            let mut depth = 0; // the `mod NAME {` line has no brace before its `{`
            let mut closes = |ch: char| {
                depth += i32::from(ch == '{') - i32::from(ch == '}');
                ch == '}' && depth == 0
            };
            (j..lines.len())
                .find(|&n| lines[n].chars().any(&mut closes))
                .unwrap_or(lines.len() - 1)
        } else {
            continue;
        };
        for line in &mut lines[k - 1..=end] {
            *line = " ".repeat(line.len());
        }
        cut += end + 2 - k;
        k = end + 1;
    }
    (lines.join("\n"), cut)
}

/// Identifiers, `::` and single punctuation characters, each with its line number.
fn tokens(text: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let c: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < c.len() {
            let len = match c[i] {
                x if is_ident(x) => c[i..].iter().take_while(|&&x| is_ident(x)).count(),
                ':' if c.get(i + 1) == Some(&':') => 2,
                _ => 1,
            };
            if !c[i].is_whitespace() {
                out.push((c[i..i + len].iter().collect(), n + 1));
            }
            i += len;
        }
    }
    out
}

/// Every `crate::`/`super::`/`self::` path in cut, stripped code of module `file_mod`,
/// made absolute (relative to the inline `mod x { … }` it sits in), with its line.
fn scan(text: &str, file_mod: &[String]) -> Refs {
    let t = tokens(text);
    let tok = |k: usize| t.get(k).map_or("", |x| x.0.as_str());
    let (mut out, mut depth, mut i) = (Vec::new(), 0usize, 0);
    let (mut inline, mut inline_depth) = (Vec::new(), Vec::new()); // name, depth of its body
    while i < t.len() {
        let here = [file_mod, &inline].concat();
        let (k, mut paths) = (i, Vec::new());
        i += 1;
        match tok(k) {
            "{" => depth += 1,
            "}" => {
                if inline_depth.last() == Some(&depth) {
                    inline.pop();
                    inline_depth.pop();
                }
                depth = depth.saturating_sub(1);
            }
            "mod" if tok(k + 2) == "{" => {
                inline.push(tok(k + 1).to_string());
                inline_depth.push(depth + 1);
            }
            "use" => use_tree(&t, &mut i, Vec::new(), &mut paths),
            "crate" | "super" | "self" if tok(i) == "::" && tok(k.wrapping_sub(1)) != "::" => {
                let mut p = vec![tok(k).to_string()];
                while tok(i) == "::" && tok(i + 1).starts_with(is_ident) {
                    p.push(tok(i + 1).to_string());
                    i += 2;
                }
                paths.push((p, t[k].1));
            }
            _ => {}
        }
        for (p, line) in paths {
            out.extend(absolute(&p, &here).map(|abs| (abs, line)));
        }
    }
    out
}

/// Parses one use tree at `t[*i]` (after `use`, or inside a `{…}` group), adding its paths.
fn use_tree(t: &[(String, usize)], i: &mut usize, mut path: Module, out: &mut Refs) {
    let starts_tree = |s: &str| s.starts_with(is_ident) || matches!(s, "::" | "*" | "{");
    let line = t.get(*i).map_or(0, |x| x.1);
    while let Some((s, _)) = t.get(*i) {
        match s.as_str() {
            "as" => *i += 2,
            "::" | "*" => *i += 1,
            "{" => {
                *i += 1;
                while let Some((s, _)) = t.get(*i).filter(|x| x.0 == "," || starts_tree(&x.0)) {
                    if s == "," {
                        *i += 1;
                    } else {
                        use_tree(t, i, path.clone(), out);
                    }
                }
                *i += 1; // the closing `}`
                return;
            }
            s if s.starts_with(is_ident) => {
                if s != "self" || path.is_empty() {
                    path.push(s.to_string());
                }
                *i += 1;
            }
            _ => break,
        }
    }
    out.push((path, line));
}

/// `crate::a::b` / `super::…` / `self::…` as seen from module `here`, made absolute.
fn absolute(p: &[String], here: &[String]) -> Option<Module> {
    let (mut abs, mut rest) = match p.first()?.as_str() {
        "crate" => (Vec::new(), &p[1..]),
        "self" | "super" => (here.to_vec(), p),
        _ => return None,
    };
    while let Some(s) = rest.first().filter(|s| *s == "self" || *s == "super") {
        if s == "super" {
            abs.pop();
        }
        rest = &rest[1..];
    }
    abs.extend(rest.iter().cloned());
    Some(abs)
}

fn is_test_file(path: &str) -> bool {
    let path = format!("/{path}");
    path.ends_with("/tests.rs") || path.contains("/tests/")
}

/// The module of a library file (`a/b.rs`, `a/b/mod.rs` -> `a::b`; `lib.rs` -> the root).
fn module_of(path: &str) -> Option<Module> {
    let stem = path.strip_suffix(".rs")?;
    if is_test_file(path) || stem == "main" || stem.starts_with("bin/") {
        return None;
    }
    let mut m: Module = stem.split('/').map(String::from).collect();
    if m.last().is_some_and(|l| l == "mod") || m == ["lib"] {
        m.pop();
    }
    Some(m)
}

/// A file's non-test code (comments and literals blanked) and its non-test line count.
fn prepare(text: &str) -> (String, usize) {
    let (code, cut) = cut_tests(&strip(text));
    (code, text.lines().count().saturating_sub(cut))
}

/// Edges `(from, to, "src/file:line")`, from each file's module to the deepest module hit.
fn edges(files: &Files) -> Vec<(Module, Module, String)> {
    let modules: BTreeSet<Module> = files.iter().filter_map(|(p, _)| module_of(p)).collect();
    let mut out = Vec::new();
    for (path, text) in files {
        let Some(from) = module_of(path) else {
            continue;
        };
        for (abs, line) in scan(&prepare(text).0, &from) {
            let n = (0..=abs.len()).rev().find(|&n| modules.contains(&abs[..n]));
            let to = abs[..n.unwrap_or(0)].to_vec();
            out.push((from.clone(), to, format!("src/{path}:{line}")));
        }
    }
    out
}

/// One report per cycle found, at every level of the module tree.
fn import_cycles(files: &Files) -> Vec<String> {
    let mut files = files.to_vec();
    files.sort();
    let own_file: BTreeMap<Module, &str> = files
        .iter()
        .filter_map(|(p, _)| Some((module_of(p)?, p.rsplit('/').next()?)))
        .collect();
    let edges = edges(&files);
    let parents: BTreeSet<&[String]> = own_file
        .keys()
        .flat_map(|m| (0..m.len()).map(|n| &m[..n]))
        .collect();
    let mut reports = Vec::new();
    for m in parents {
        let node = |x: &Module| match x.strip_prefix(m)?.first() {
            Some(child) => Some(child.clone()),
            None => Some(own_file.get(m).unwrap_or(&"mod.rs").to_string()),
        };
        let mut g = Graph::new();
        for (from, to, at) in &edges {
            if let (Some(a), Some(b)) = (node(from), node(to)) {
                if a != b {
                    let outs = g.entry(a).or_default();
                    outs.entry(b).or_insert_with(|| at.clone());
                }
            }
        }
        let level = match m {
            [] => "the top-level modules of src/".to_string(),
            _ => format!("the files of src/{}/", m.join("/")),
        };
        for ring in find_cycles(&g) {
            let path = ring.join(" -> ");
            let mut r = format!("import cycle among {level}: {path} -> {}", ring[0]);
            for (k, a) in ring.iter().enumerate() {
                let b = &ring[(k + 1) % ring.len()];
                let _ = write!(r, "\n    {a} -> {b}  ({})", g[a][b]);
            }
            reports.push(r);
        }
    }
    reports
}

/// For every edge u->v, the shortest way back v ~> u closes a cycle, so every edge that lies
/// on some cycle shows up in at least one. Each ring starts at its smallest node.
fn find_cycles(g: &Graph) -> Vec<Vec<String>> {
    let mut rings = BTreeSet::new();
    let all_edges = g
        .iter()
        .flat_map(|(u, outs)| outs.keys().map(move |v| (u, v)));
    for (u, v) in all_edges {
        let mut prev: BTreeMap<&String, &String> = BTreeMap::new();
        let mut queue = VecDeque::from([v]);
        while let Some(x) = queue.pop_front().filter(|x| *x != u) {
            for y in g.get(x).into_iter().flat_map(|outs| outs.keys()) {
                if y != v && !prev.contains_key(y) {
                    prev.insert(y, x);
                    queue.push_back(y);
                }
            }
        }
        if !prev.contains_key(u) {
            continue;
        }
        let mut ring = vec![u.clone()];
        while ring.last() != Some(v) {
            ring.push(prev[ring.last().expect("a ring starts with one node")].clone());
        }
        ring[1..].reverse(); // u, v, …
        let min = (0..ring.len()).min_by_key(|&k| &ring[k]).unwrap_or(0);
        ring.rotate_left(min);
        rings.insert(ring);
    }
    rings.into_iter().collect()
}

/// Every `.rs` file with more than `MAX_LINES` lines of non-test code.
fn oversized(files: &Files) -> Vec<String> {
    let mut out: Vec<String> = files
        .iter()
        .filter(|(p, _)| p.ends_with(".rs") && !is_test_file(p))
        .map(|(p, text)| (p, prepare(text).1))
        .filter(|(_, n)| *n > MAX_LINES)
        .map(|(p, n)| format!("src/{p}: {n} lines of non-test code (limit {MAX_LINES})"))
        .collect();
    out.sort();
    out
}

fn read_tree(dir: &Path, rel: &str, out: &mut Vec<(String, String)>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
    for entry in entries.map(|e| e.expect("directory entry")) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = format!("{rel}/{name}").trim_start_matches('/').to_string();
        if entry.path().is_dir() {
            read_tree(&entry.path(), &rel, out);
        } else if name.ends_with(".rs") {
            let text = std::fs::read_to_string(entry.path()).expect("read source file");
            out.push((rel, text));
        }
    }
}

fn src_files() -> Vec<(String, String)> {
    let default = concat!(env!("CARGO_MANIFEST_DIR"), "/src").to_string();
    let dir = std::env::var("ALERTGATE_ARCH_SRC").unwrap_or(default);
    let mut files = Vec::new();
    read_tree(Path::new(&dir), "", &mut files);
    assert!(
        files.iter().any(|(p, _)| p == "lib.rs"),
        "no lib.rs in {dir}"
    );
    files
}

#[test]
fn src_has_no_import_cycles() {
    let cycles = import_cycles(&src_files());
    assert!(
        cycles.is_empty(),
        "\n{} import cycle(s) in src/. Each edge shows one place (`use` or inline path) that \
         creates it; break every cycle, e.g. move what both sides need into a lower module, \
         or pass it in instead of importing back. A module's own file (mod.rs, foo.rs) is a \
         node of its own: `mod.rs -> x -> mod.rs` means the parent file uses or re-exports x \
         while x imports from the parent file.\n\n{}\n",
        cycles.len(),
        cycles.join("\n\n")
    );
}

#[test]
fn src_files_are_at_most_500_lines() {
    let big = oversized(&src_files());
    assert!(
        big.is_empty(),
        "\n{} file(s) in src/ over {MAX_LINES} lines of non-test code (every line outside the \
         #[cfg(test)] module, blank and comment lines included); split each into submodules:\n\
         {}\n",
        big.len(),
        big.join("\n")
    );
}

mod scanner {
    use super::*;

    fn files(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect()
    }

    fn paths(src: &str, module: &[&str]) -> Vec<String> {
        let m: Module = module
            .iter()
            .map(std::string::ToString::to_string)
            .collect();
        let found = scan(&prepare(src).0, &m).into_iter();
        found
            .map(|(p, l)| format!("{}@{l}", p.join("::")))
            .collect()
    }

    #[test]
    fn nested_brace_groups() {
        let src = "use crate::{dec::{self, Pay}, eng as e};\nuse super::{a::X, b, c::*};";
        let want = [
            "dec@1",
            "dec::Pay@1",
            "eng@1",
            "m::a::X@2",
            "m::b@2",
            "m::c@2",
        ];
        assert_eq!(paths(src, &["m", "n"]), want);
        let src = "pub use self::settings::{\n    A,\n    B,\n};";
        assert_eq!(paths(src, &["c"]), ["c::settings::A@2", "c::settings::B@3"]);
    }

    #[test]
    fn inline_paths_in_expressions_and_types() {
        let src = "x: Selector<crate::engine::Action>,\n\
                   let t = crate::clock::ms(x).map(a::crate::y);\nsuper::super::f::<u8>();";
        let want = ["engine::Action@1", "clock::ms@2", "f@3"];
        assert_eq!(paths(src, &["a", "b"]), want);
    }

    #[test]
    fn super_and_self_resolve_from_the_file_and_inline_modules() {
        let fs = files(&[
            ("lib.rs", "pub mod a; pub mod b;"),
            (
                "a/mod.rs",
                "mod x;\nuse self::x::Y;\nuse super::b::Z;\nmod i { fn f() { super::x::g() } }",
            ),
            ("a/x.rs", "use super::W;\nfn h() { self::k() }"),
            ("b.rs", "use crate::a::x::deep::Thing;"),
        ]);
        let got: Vec<String> = (edges(&fs).into_iter())
            .map(|(f, t, at)| format!("{}>{} {}", f.join("::"), t.join("::"), &at[4..]))
            .collect();
        let want = [
            "a>a::x a/mod.rs:2",
            "a>b a/mod.rs:3",
            "a>a::x a/mod.rs:4",
            "a::x>a a/x.rs:1",
        ];
        assert_eq!(
            got,
            [&want[..], &["a::x>a::x a/x.rs:2", "b>a::x b.rs:1"]].concat()
        );
    }

    #[test]
    fn comments_strings_and_chars_are_ignored() {
        let src = "//! crate::a::x\n/// crate::a::y\n// crate::line\n/* crate::a /* crate::b */ crate::c */\n\
                   let s = \"crate::s \\\" crate::t\"; let r = r#\"crate::raw \"x\" \"#; let c = '\"';\n\
                   fn f<'a>(x: &'a str) -> char { let _ = (b'x', '{', '\\''); crate::real::it(r#type) }";
        assert_eq!(paths(src, &[]), ["real::it@6"]);
        assert_eq!(strip("'a' 'b '\\n' \"}\" x"), "    'b          x");
    }

    #[test]
    fn test_modules_are_cut_anywhere_and_counted_out() {
        let src = "use crate::a;\n#[cfg(test)]\n#[allow(unused)]\nmod tests {\n    fn f() { \"}\"; crate::b::x(); }\n}\n\
                   use crate::c;\n#[cfg(test)]\nmod more;\n#[cfg(test)]\nfn not_a_module() { crate::d::y() }";
        assert_eq!(paths(src, &[]), ["a@1", "c@7", "d::y@11"]);
        assert_eq!(prepare(src).1, 11 - 7);
        let (x, y) = ("x\n".repeat(500), "y\n".repeat(900));
        let big = format!("{x}x\n#[cfg(test)]\nmod tests {{\n{y}}}\n");
        let ok = format!("{x}#[cfg(test)]\nmod tests;\n");
        let fs = files(&[
            ("big.rs", &big),
            ("ok.rs", &ok),
            ("tests.rs", &big),
            ("x/tests/y.rs", &big),
        ]);
        assert_eq!(
            oversized(&fs),
            ["src/big.rs: 501 lines of non-test code (limit 500)"]
        );
    }

    #[test]
    fn cycles_are_detected_at_top_level_and_inside_a_folder() {
        let fs = files(&[
            ("lib.rs", "mod a; mod b; mod s;"),
            ("a.rs", "use crate::b;"),
            ("b.rs", "\nfn f() -> crate::a::X { todo!() }"),
            ("s/mod.rs", "mod h;\npub use self::h::handle;"),
            (
                "s/h.rs",
                "use super::St;\n#[cfg(test)]\nmod tests { use super::super::X; }",
            ),
            ("s/tests.rs", "use crate::a;"),
            ("main.rs", "use crate::a;"),
        ]);
        let top = "import cycle among the top-level modules of src/: a -> b -> a\n    \
                   a -> b  (src/a.rs:1)\n    b -> a  (src/b.rs:2)";
        let s = "import cycle among the files of src/s/: h -> mod.rs -> h\n    \
                 h -> mod.rs  (src/s/h.rs:1)\n    mod.rs -> h  (src/s/mod.rs:2)";
        assert_eq!(import_cycles(&fs), [top, s]);
    }

    #[test]
    fn an_acyclic_graph_passes() {
        let fs = files(&[
            ("lib.rs", "pub mod a; pub mod b; pub mod c;"),
            ("a.rs", "use crate::{b::X, c};"),
            (
                "b/mod.rs",
                "mod inner;\nuse crate::c::Y;\nuse self::inner::Z;",
            ),
            ("b/inner.rs", "use crate::c::W;"), // leaves b: ignored at b's level
            ("c.rs", "// use crate::a;\nconst S: &str = \"crate::a\";"),
        ]);
        assert_eq!(import_cycles(&fs), Vec::<String>::new());
    }
}
