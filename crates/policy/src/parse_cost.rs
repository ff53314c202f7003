//! A bound on what parsing a Rego source may cost, checked before regorus parses it.
//!
//! regorus (0.14) parses `[` and `{` by first trying a comprehension and, when that fails,
//! parsing the same tokens again as an array, set or object. Nested, this backtracking
//! doubles the work at every level: an expression nested 12 brackets deep takes about 2.5 ms
//! to parse, 16 deep about 80 ms, 24 deep (`[{` twelve times) about 16 s, and the parser
//! cannot be interrupted (its own depth limit is 32). A Gatekeeper template or policy file
//! with such an expression would hold `portcullis gate`, `serve` and admission while it is
//! compiled (found by the `gatekeeper` fuzz target). The parser is regorus's own, so the
//! bound is set here, over the source text, before it gets there.
//!
//! The cost model follows the backtracking: a bracket opened at depth `d` costs `2^d`
//! units, so an expression of depth `D` costs about `2^(D+1)`. Written by hand because no
//! Rego tokenizer short of regorus's own parser exists: this one only needs to skip
//! strings, raw strings and comments, so that a bracket inside them does not count.

/// The deepest nesting of `[` and `{` accepted. Rego written by people nests 5 deep at most
/// (the gatekeeper-library's templates, the built-in policies); its tests' data literals,
/// 13. At 16 one expression parses in about 80 ms.
pub const MAX_DEPTH: usize = 16;

/// The parse units a source may cost in all (`2^d` per bracket opened at depth `d`): about
/// 0.6 s of parsing on a slow core, and more than 100 times what the most nested real policy
/// costs.
pub const MAX_UNITS: u64 = 1 << 20;

/// Where a source goes past a bound, and which.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TooCostly {
    #[error(
        "line {line}, column {column}: brackets nested {depth} deep (`[` and `{{`); at most {max} are parsed, because the Rego parser's time doubles with each level"
    )]
    Depth {
        line: usize,
        column: usize,
        depth: usize,
        max: usize,
    },
    #[error(
        "line {line}, column {column}: the source's nested brackets would cost the Rego parser more than {max} units (2^depth per bracket), about half a second; split the deeply nested expressions"
    )]
    Units {
        line: usize,
        column: usize,
        max: u64,
    },
}

/// Check `source` against [`MAX_DEPTH`] and [`MAX_UNITS`].
pub fn check(source: &str) -> Result<(), TooCostly> {
    check_with(source, MAX_DEPTH, MAX_UNITS)
}

fn check_with(source: &str, max_depth: usize, max_units: u64) -> Result<(), TooCostly> {
    let mut depth = 0usize;
    let mut units = 0u64;
    let mut line = 1usize;
    let mut line_start = 0usize;
    let mut chars = source.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            '\n' => {
                line += 1;
                line_start = at + 1;
            }
            '#' => {
                // A comment, to the end of the line (the newline itself is counted above).
                while let Some(&(_, n)) = chars.peek() {
                    if n == '\n' {
                        break;
                    }
                    chars.next();
                }
            }
            '"' => {
                // A string: ends at an unescaped quote (or a newline, which Rego refuses anyway).
                while let Some((i, n)) = chars.next() {
                    match n {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        '\n' => {
                            line += 1;
                            line_start = i + 1;
                            break;
                        }
                        _ => {}
                    }
                }
            }
            '`' => {
                // A raw string: no escapes, may span lines.
                for (i, n) in chars.by_ref() {
                    if n == '`' {
                        break;
                    }
                    if n == '\n' {
                        line += 1;
                        line_start = i + 1;
                    }
                }
            }
            '[' | '{' => {
                depth += 1;
                let column = source.get(line_start..at).map_or(0, |s| s.chars().count()) + 1;
                if depth > max_depth {
                    return Err(TooCostly::Depth {
                        line,
                        column,
                        depth,
                        max: max_depth,
                    });
                }
                units = units.saturating_add(1u64 << depth.min(63));
                if units > max_units {
                    return Err(TooCostly::Units {
                        line,
                        column,
                        max: max_units,
                    });
                }
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_policies_pass() {
        let src = r#"package k8srequiredlabels
violation[{"msg": msg, "details": {"missing": missing}}] {
  provided := {label | input.review.object.metadata.labels[label]}
  required := {label | label := input.parameters.labels[_].key}
  missing := required - provided
  count(missing) > 0
  msg := sprintf("you must provide labels: %v", [missing])
}
"#;
        assert_eq!(check(src), Ok(()));
    }

    #[test]
    fn depth_is_refused_with_its_place() {
        let deep = format!("package p\n\nx := {}1{}\n", "[".repeat(17), "]".repeat(17));
        assert_eq!(
            check(&deep),
            Err(TooCostly::Depth {
                line: 3,
                column: 22,
                depth: 17,
                max: 16
            })
        );
        // Unclosed, as the fuzzer wrote it: refused alike.
        let open = format!("package p\nx := a{}", "[{".repeat(9));
        assert!(matches!(
            check(&open),
            Err(TooCostly::Depth { line: 2, .. })
        ));
        let ok = format!("package p\nx := {}1{}\n", "[".repeat(16), "]".repeat(16));
        assert_eq!(check(&ok), Ok(()));
    }

    #[test]
    fn brackets_in_strings_and_comments_do_not_count() {
        let src = format!(
            "package p\n# {}\nx := \"{}\\\"{}\"\ny := `{}\n{}`\nz := [1]\n",
            "[".repeat(40),
            "{".repeat(40),
            "[".repeat(40),
            "[".repeat(40),
            "{".repeat(40)
        );
        assert_eq!(check(&src), Ok(()));
    }

    #[test]
    fn many_deep_expressions_are_refused_in_all() {
        // One expression 14 deep costs 2^15 - 2 units: 32 of them fit, the 33rd (on line 34)
        // does not.
        let one = format!("x := {}1{}\n", "[".repeat(14), "]".repeat(14));
        let fits = format!("package p\n{}", one.repeat(32));
        assert_eq!(check(&fits), Ok(()));
        let too_many = format!("package p\n{}", one.repeat(40));
        assert!(
            matches!(check(&too_many), Err(TooCostly::Units { line: 34, .. })),
            "{:?}",
            check(&too_many)
        );
    }
}
