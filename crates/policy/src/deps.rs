//! Which parts of the input each rule can read, found in its Rego text.
//!
//! A decision on evidence seen before (another environment, each replica's admission,
//! re-gating when an advisory lands) need not evaluate again a rule that reads only the
//! evidence-derived parts of the input and parts equal to last time: the firewall keeps
//! such results with the prepared evidence. That is sound only if the dependencies found
//! here are a superset of what a rule reads, so the analysis errs on the side of "everything":
//!
//! - `input.<field>` and `input["<field>"]` name a top-level field; `input` in any other form
//!   (bare, `input[x]`, `import input`) means every field;
//! - a rule reaches the definitions it names: its own package's (by name), and those of
//!   packages it imports or names through `data.` — followed through helper packages; naming
//!   any definition of a package also reaches every rule (not function) of that package and of
//!   the packages under it, because regorus evaluates them all when a package is used (a
//!   rule's error there surfaces in every rule that uses the package);
//! - a package named whole (`data.portcullis.lib`, an import alias alone) reaches every
//!   definition of it and of the packages under it (the engine evaluates them all);
//! - `data` other than a package of the bundle or the rule parameters (`data.portcullis.params`)
//!   — bare `data` makes the engine evaluate every rule —, a package the bundle lacks, and
//!   builtins whose result is not a function of their arguments
//!   (`time.now_ns`, `http.send`, `rand.intn`, `uuid.rfc4122`, `opa.runtime`,
//!   `net.lookup_ip_addr`) mean every field, i.e. never reused.
//!
//! The tokenizer is this crate's own because it only needs identifiers, dots, brackets and
//! strings with comments removed; regorus parses the same text for evaluation. The soundness
//! of the result is tested against evaluation in `crates/firewall/tests/reuse.rs` (inputs
//! changed outside a rule's dependencies must not change its violations).

use std::collections::{BTreeMap, BTreeSet};

/// What a rule may read of the input: `None` is everything.
pub type Reads = Option<BTreeSet<String>>;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Ident(String),
    Str(String),
    Punct(char),
}

/// Tokens of one line or more of Rego, comments dropped.
fn tokenize(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '#' => {
                for d in chars.by_ref() {
                    if d == '\n' {
                        break;
                    }
                }
            }
            '"' => {
                let mut s = String::new();
                while let Some(d) = chars.next() {
                    match d {
                        '\\' => {
                            if let Some(e) = chars.next() {
                                s.push(e);
                            }
                        }
                        '"' => break,
                        _ => s.push(d),
                    }
                }
                out.push(Token::Str(s));
            }
            '`' => {
                let mut s = String::new();
                for d in chars.by_ref() {
                    if d == '`' {
                        break;
                    }
                    s.push(d);
                }
                out.push(Token::Str(s));
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut s = String::from(c);
                while let Some(&d) = chars.peek() {
                    if d.is_ascii_alphanumeric() || d == '_' {
                        s.push(d);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push(Token::Ident(s));
            }
            c if c.is_whitespace() => {}
            c => out.push(Token::Punct(c)),
        }
    }
    out
}

/// One top-level definition (rule, function, `default`) of a package.
#[derive(Debug, Default)]
struct Definition {
    name: String,
    /// A function (`name(args) …`): evaluated only when called, where a rule is evaluated
    /// whenever its package is used.
    function: bool,
    tokens: Vec<Token>,
}

#[derive(Debug, Default)]
struct Package {
    /// Import alias → package path (`lib` → `portcullis.lib`).
    aliases: BTreeMap<String, String>,
    /// Whether an import makes the package read anything (`import input`, unknown `data`).
    reads_all: bool,
    definitions: Vec<Definition>,
}

fn package_of(line: &str) -> Option<String> {
    let rest = line.strip_prefix("package ")?;
    Some(rest.trim().trim_start_matches("data.").to_string())
}

/// A policy file: its path and text (`*_test.rego` files are left out).
pub type File<'a> = (&'a str, &'a str);

fn parse_sources(sources: &[File<'_>]) -> BTreeMap<String, Package> {
    let mut packages: BTreeMap<String, Package> = BTreeMap::new();
    for (_, text) in sources
        .iter()
        .filter(|(path, _)| !path.ends_with("_test.rego"))
    {
        let mut current: Option<String> = None;
        let mut definition: Option<Definition> = None;
        let flush = |packages: &mut BTreeMap<String, Package>,
                     current: &Option<String>,
                     definition: &mut Option<Definition>| {
            if let (Some(p), Some(d)) = (current, definition.take()) {
                packages.entry(p.clone()).or_default().definitions.push(d);
            }
        };
        for line in text.lines() {
            let starts_definition = line
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
            if !starts_definition {
                if let Some(d) = definition.as_mut() {
                    d.tokens.extend(tokenize(line));
                }
                continue;
            }
            flush(&mut packages, &current, &mut definition);
            if let Some(p) = package_of(line) {
                packages.entry(p.clone()).or_default();
                current = Some(p);
                continue;
            }
            let Some(p) = current.clone() else {
                continue;
            };
            let tokens = tokenize(line);
            if let Some(Token::Ident(first)) = tokens.first()
                && first == "import"
            {
                let package = packages.entry(p).or_default();
                import(&tokens, package);
                continue;
            }
            let (name, function) = match tokens.as_slice() {
                [Token::Ident(d), Token::Ident(n), rest @ ..] if d == "default" => {
                    (n.clone(), matches!(rest.first(), Some(Token::Punct('('))))
                }
                [Token::Ident(n), rest @ ..] => {
                    (n.clone(), matches!(rest.first(), Some(Token::Punct('('))))
                }
                _ => (String::new(), false),
            };
            definition = Some(Definition {
                name,
                function,
                tokens,
            });
        }
        flush(&mut packages, &current, &mut definition);
    }
    packages
}

/// Record an `import` line's alias.
fn import(tokens: &[Token], package: &mut Package) {
    let mut path = Vec::new();
    let mut alias = None;
    let mut rest = tokens.iter().skip(1);
    for t in rest.by_ref() {
        match t {
            Token::Ident(s) if s == "as" => {
                if let Some(Token::Ident(a)) = tokens.last() {
                    alias = Some(a.clone());
                }
                break;
            }
            Token::Ident(s) => path.push(s.clone()),
            Token::Punct('.') => {}
            _ => {
                // `import data.x["y"]` and other forms: not followed, so everything.
                package.reads_all = true;
                return;
            }
        }
    }
    match path.first().map(String::as_str) {
        Some("rego" | "future") => {}
        Some("data") if path.len() > 1 => {
            let target = path.get(1..).unwrap_or_default().join(".");
            let alias = alias.or_else(|| path.last().cloned()).unwrap_or_default();
            package.aliases.insert(alias, target);
        }
        _ => package.reads_all = true,
    }
}

/// The pseudo-definition "every rule of the package and of the packages under it".
const RULES: &str = "*rules";

/// Builtins whose result is not a function of their arguments (`a.b` joined).
const VOLATILE: [&str; 6] = [
    "time.now_ns",
    "http.send",
    "rand.intn",
    "uuid.rfc4122",
    "opa.runtime",
    "net.lookup_ip_addr",
];

/// What one definition reads directly, and the definitions it names.
#[derive(Debug, Default)]
struct Direct {
    all: bool,
    fields: BTreeSet<String>,
    /// (package, definition name; empty = every definition of the package).
    refs: BTreeSet<(String, String)>,
}

fn ident(tokens: &[Token], i: usize) -> Option<&str> {
    match tokens.get(i) {
        Some(Token::Ident(s)) => Some(s),
        _ => None,
    }
}

fn punct(tokens: &[Token], i: usize, c: char) -> bool {
    matches!(tokens.get(i), Some(Token::Punct(p)) if *p == c)
}

/// The longest package of `packages` that `path` (after `data.`) starts with, and the name of
/// the definition that follows it (empty when the path stops at the package).
fn resolve(path: &[String], packages: &BTreeMap<String, Package>) -> Option<(String, String)> {
    for n in (1..=path.len()).rev() {
        let candidate = path.get(..n).unwrap_or_default().join(".");
        if packages.contains_key(&candidate) {
            let name = path.get(n).cloned().unwrap_or_default();
            return Some((candidate, name));
        }
    }
    None
}

/// A dotted path of identifiers starting at `i` (`a.b.c`), and the index after it.
fn dotted(tokens: &[Token], mut i: usize) -> (Vec<String>, usize) {
    let mut path = Vec::new();
    while let Some(s) = ident(tokens, i) {
        path.push(s.to_string());
        if punct(tokens, i + 1, '.') && ident(tokens, i + 2).is_some() {
            i += 2;
        } else {
            return (path, i + 1);
        }
    }
    (path, i)
}

fn direct(
    def: &Definition,
    package: &str,
    pkg: &Package,
    packages: &BTreeMap<String, Package>,
) -> Direct {
    let mut d = Direct {
        all: pkg.reads_all,
        ..Direct::default()
    };
    let own: BTreeSet<&str> = pkg.definitions.iter().map(|x| x.name.as_str()).collect();
    let t = &def.tokens;
    let mut i = 0;
    while i < t.len() {
        let Some(word) = ident(t, i) else {
            i += 1;
            continue;
        };
        // A field access (`x.input`) is not the global of that name.
        if i > 0 && punct(t, i - 1, '.') {
            i += 1;
            continue;
        }
        let (path, after) = dotted(t, i);
        let joined = path.join(".");
        if VOLATILE.iter().any(|v| joined.starts_with(v)) {
            d.all = true;
        }
        match word {
            "input" => {
                match (path.get(1), punct(t, after, '['), t.get(after + 1)) {
                    (Some(field), _, _) => {
                        d.fields.insert(field.clone());
                    }
                    (None, true, Some(Token::Str(field))) if punct(t, after + 2, ']') => {
                        d.fields.insert(field.clone());
                    }
                    _ => d.all = true,
                }
                i = after;
            }
            "data" => {
                let rest = path.get(1..).unwrap_or_default();
                let params = ["portcullis".to_string(), "params".to_string()];
                if rest.starts_with(&params) {
                    // Fixed for a policy set.
                } else if let Some(target) = resolve(rest, packages) {
                    d.refs.insert((target.0.clone(), RULES.to_string()));
                    d.refs.insert(target);
                } else {
                    d.all = true;
                }
                i = after;
            }
            w => {
                if let Some(target) = pkg.aliases.get(w) {
                    let mut full: Vec<String> = target.split('.').map(str::to_string).collect();
                    full.extend(path.get(1..).unwrap_or_default().iter().cloned());
                    match resolve(&full, packages) {
                        Some(r) => {
                            d.refs.insert((r.0.clone(), RULES.to_string()));
                            d.refs.insert(r);
                        }
                        None => d.all = true,
                    }
                    i = after;
                } else {
                    if own.contains(w) {
                        d.refs.insert((package.to_string(), w.to_string()));
                    }
                    i += 1;
                }
            }
        }
    }
    d
}

/// The input fields each rule package may read (`None`: any), by package path.
pub fn reads(sources: &[File<'_>], rule_packages: &[&str]) -> Vec<Reads> {
    let packages = parse_sources(sources);
    // Direct reads per (package, definition name); several definitions may share a name.
    let mut graph: BTreeMap<(String, String), Direct> = BTreeMap::new();
    for (name, pkg) in &packages {
        for def in &pkg.definitions {
            let d = direct(def, name, pkg, &packages);
            let entry = graph.entry((name.clone(), def.name.clone())).or_default();
            entry.all |= d.all;
            entry.fields.extend(d.fields);
            entry.refs.extend(d.refs);
        }
    }
    rule_packages
        .iter()
        .map(|package| {
            let pkg = packages.get(*package)?;
            let mut fields = BTreeSet::new();
            let mut seen = BTreeSet::new();
            let mut todo: Vec<(String, String)> = pkg
                .definitions
                .iter()
                .map(|d| (package.to_string(), d.name.clone()))
                .collect();
            todo.push((package.to_string(), RULES.to_string()));
            while let Some(key) = todo.pop() {
                if !seen.insert(key.clone()) {
                    continue;
                }
                if key.1.is_empty() || key.1 == RULES {
                    // A whole package, or its rules: every definition (rule) of it and of the
                    // packages under it.
                    let prefix = format!("{}.", key.0);
                    let whole = key.1.is_empty();
                    for (name, p) in &packages {
                        if *name == key.0 || name.starts_with(&prefix) {
                            todo.extend(
                                p.definitions
                                    .iter()
                                    .filter(|d| whole || !d.function)
                                    .map(|d| (name.clone(), d.name.clone())),
                            );
                        }
                    }
                    continue;
                }
                // A name that no definition has (a builtin namespace or a rule of another
                // file not loaded) reads nothing here.
                let Some(d) = graph.get(&key) else {
                    continue;
                };
                if d.all {
                    return None;
                }
                fields.extend(d.fields.iter().cloned());
                todo.extend(d.refs.iter().cloned());
            }
            Some(fields)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src<'a>(path: &'a str, text: &'a str) -> File<'a> {
        (path, text)
    }

    fn one(sources: &[File<'_>], package: &str) -> Reads {
        reads(sources, &[package]).pop().flatten()
    }

    fn set(fields: &[&str]) -> Reads {
        Some(fields.iter().map(|s| s.to_string()).collect())
    }

    const LIB: &str = "package portcullis.lib\n\
        params(meta) := object.union(meta.params, o) if { o := data.portcullis.params[meta.id] } else := meta.params\n\
        counts(f) if input.environment.accepts_asserted == true\n\
        label(f) := f.label\n\
        chain(f) := counts(f)\n";

    #[test]
    fn follows_helpers_only_as_far_as_they_are_used() {
        let rule = "package portcullis.rules.x\nimport data.portcullis.lib\n\
            violation contains v if {\n  some f in input.findings\n  v := lib.label(f)\n}\n";
        let sources = [src("lib.rego", LIB), src("x.rego", rule)];
        assert_eq!(one(&sources, "portcullis.rules.x"), set(&["findings"]));
        let rule = "package portcullis.rules.x\nimport data.portcullis.lib\n\
            violation contains v if {\n  some f in input.findings\n  lib.chain(f)\n  v := 1\n}\n";
        let sources = [src("lib.rego", LIB), src("x.rego", rule)];
        assert_eq!(
            one(&sources, "portcullis.rules.x"),
            set(&["environment", "findings"])
        );
    }

    #[test]
    fn using_a_package_reaches_its_rules_and_those_under_it_but_not_its_functions() {
        let lib = "package portcullis.lib\nlabel(f) := f.label\ncounts(f) if input.context.x\n";
        let sub = "package portcullis.lib.sub\nall_of := [a | some a in input.attestations]\n";
        let rule = "package portcullis.rules.x\nimport data.portcullis.lib\n\
            violation contains v if { some f in input.findings; v := lib.label(f) }\n";
        let sources = [
            src("lib.rego", lib),
            src("sub.rego", sub),
            src("x.rego", rule),
        ];
        assert_eq!(
            one(&sources, "portcullis.rules.x"),
            set(&["attestations", "findings"])
        );
    }

    #[test]
    fn anything_it_cannot_follow_is_everything() {
        for body in [
            "x := input\nviolation contains v if { v := x.findings }",
            "violation contains v if { k := \"findings\"; v := input[k] }",
            "violation contains v if { v := data.elsewhere.thing }",
            "violation contains v if { v := time.now_ns() }",
            "violation contains v if { v := data }",
            "violation contains v if { v := object.get(data, [\"portcullis\", \"params\"], {}) }",
            "import input.findings as f\nviolation contains v if { v := f }",
        ] {
            let rule = format!("package portcullis.rules.x\n{body}\n");
            let sources = [src("lib.rego", LIB), src("x.rego", &rule)];
            assert_eq!(one(&sources, "portcullis.rules.x"), None, "{body}");
        }
    }

    #[test]
    fn a_package_named_whole_reaches_all_of_it_and_the_packages_under_it() {
        let sub = "package portcullis.lib.sub\nfirst := input.history[0]\n";
        let rule = "package portcullis.rules.x\nimport data.portcullis.lib\n\
            violation contains v if { v := lib }\n";
        let sources = [
            src("lib.rego", LIB),
            src("sub.rego", sub),
            src("x.rego", rule),
        ];
        assert_eq!(
            one(&sources, "portcullis.rules.x"),
            set(&["environment", "history"])
        );
    }

    #[test]
    fn fields_in_brackets_comments_and_other_definitions() {
        let rule = "package portcullis.rules.x\n\
            # input.context is only mentioned here\n\
            helper contains c if { some c in input[\"components\"] }\n\
            violation contains v if {\n  some c in helper\n  v := {\"m\": \"input.history\"}\n}\n\
            unused if input.exposures\n";
        let sources = [src("x.rego", rule)];
        // `unused` is part of the package: kept (a superset is safe).
        assert_eq!(
            one(&sources, "portcullis.rules.x"),
            set(&["components", "exposures"])
        );
    }

    #[test]
    fn a_field_named_input_is_not_the_input() {
        let rule = "package portcullis.rules.x\n\
            violation contains v if { some c in input.components; v := c.input }\n";
        assert_eq!(
            one(&[src("x.rego", rule)], "portcullis.rules.x"),
            set(&["components"])
        );
    }
}
