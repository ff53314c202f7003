//! `policy test`: run the `test_` rules of a bundle, as `opa test` does.
//!
//! A test is a top-level rule whose name starts with `test_`, written at the start of a line
//! (as `opa fmt` writes rules). It passes when it evaluates to `true`; `false`, undefined or an
//! error fail it.

use std::time::{Duration, Instant};

use regorus::Engine;

use crate::bundle::PolicySource;
use crate::error::PolicyError;

/// The outcome of one `test_` rule.
#[derive(Debug, Clone, PartialEq)]
pub struct TestResult {
    /// `data.<package>.<test>`.
    pub name: String,
    pub file: String,
    pub outcome: TestOutcome,
    pub duration: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestOutcome {
    Pass,
    /// Evaluated to false or undefined.
    Fail,
    Error(String),
}

/// Load every source (tests included) into one engine and run each `test_` rule.
pub fn run_tests(sources: &[PolicySource]) -> Result<Vec<TestResult>, PolicyError> {
    let mut engine = Engine::new();
    engine.set_strict_builtin_errors(true);
    let mut tests = Vec::new();
    for s in sources {
        crate::parse_cost::check(&s.text).map_err(|e| PolicyError::Compile {
            file: s.path.clone(),
            message: e.to_string(),
        })?;
        let package = engine
            .add_policy(s.path.clone(), s.text.clone())
            .map_err(|e| PolicyError::Compile {
                file: s.path.clone(),
                message: e.to_string(),
            })?;
        for name in test_rule_names(&s.text) {
            let full = format!("{package}.{name}");
            if !tests.iter().any(|(n, _): &(String, String)| *n == full) {
                tests.push((full, s.path.clone()));
            }
        }
    }
    engine.set_input(regorus::Value::new_object());
    let mut results = Vec::with_capacity(tests.len());
    for (name, file) in tests {
        let started = Instant::now();
        let outcome = match engine.eval_rule(name.clone()) {
            Ok(regorus::Value::Bool(true)) => TestOutcome::Pass,
            Ok(_) => TestOutcome::Fail,
            Err(e) => TestOutcome::Error(e.to_string()),
        };
        results.push(TestResult {
            name,
            file,
            outcome,
            duration: started.elapsed(),
        });
    }
    Ok(results)
}

/// Names of `test_` rules declared at the start of a line.
fn test_rule_names(text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for line in text.lines() {
        if !line.starts_with("test_") {
            continue;
        }
        let name: String = line
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(path: &str, text: &str) -> PolicySource {
        PolicySource {
            path: path.into(),
            text: text.into(),
        }
    }

    #[test]
    fn passing_failing_and_erroring_tests_are_told_apart() {
        let results = run_tests(&[src(
            "t_test.rego",
            "package t\n\
             test_pass if { 1 + 1 == 2 }\n\
             test_fail if { 1 + 1 == 3 }\n\
             test_error if { to_number(\"x\") == 1 }\n\
             helper if { true }\n",
        )])
        .unwrap();
        let by: Vec<(&str, &TestOutcome)> = results
            .iter()
            .map(|r| (r.name.as_str(), &r.outcome))
            .collect();
        assert_eq!(by.len(), 3, "{by:?}");
        assert_eq!(by[0], ("data.t.test_pass", &TestOutcome::Pass));
        assert_eq!(by[1], ("data.t.test_fail", &TestOutcome::Fail));
        assert!(matches!(by[2].1, TestOutcome::Error(_)), "{by:?}");
    }

    #[test]
    fn a_test_with_several_bodies_is_run_once() {
        let names =
            test_rule_names("test_a if { true }\ntest_a if { false }\n  test_b if { true }\n");
        assert_eq!(names, vec!["test_a".to_string()]);
    }
}
