//! `portcullis init`: write a first `portcullis.yaml` — the environments, which of them are
//! protected, where an approval is needed and in which order artifacts are promoted — with
//! comments that say what each part does, check it the way `gate` will read it, and print the
//! commands to run next.
//!
//! The questions are asked on stdin line by line (a default in brackets, Enter takes it), when
//! stdin is a terminal and no `--env` was given, or with `--interactive`; otherwise the flags
//! and their defaults answer. Line-based prompts rather than a terminal prompt library: they
//! read piped answers too, so a script or a test can answer them.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use portcullis_firewall::Config;
use portcullis_firewall::names::{self, NameKind};
use portcullis_policy::{Action, PolicyBundle};

use crate::exit;

/// Where the file goes unless `--output` says otherwise: where `gate` looks without `--config`.
pub const DEFAULT_FILE: &str = "portcullis.yaml";

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// The environments, in promotion order (comma-separated or repeated), e.g.
    /// `--env dev,staging,production`. Default: dev, staging, production.
    #[arg(long = "env", value_name = "ENV", value_delimiter = ',')]
    pub environments: Vec<String>,
    /// The protected environments: every rule takes its strict action there (most enforce,
    /// so violations deny). Default: every environment whose name does not look like a
    /// development or test one (dev, test, qa, sandbox, local, preview, ci).
    #[arg(long, value_name = "ENV", value_delimiter = ',')]
    pub protected: Option<Vec<String>>,
    /// Environments where a deployment needs a recorded approval by someone other than the
    /// requester (PCL-CHG-002). Default: the last protected environment. `--approval none`
    /// for none.
    #[arg(long, value_name = "ENV", value_delimiter = ',')]
    pub approval: Option<Vec<String>>,
    /// Do not require the promotion order (PCL-CHG-004: each protected environment only after
    /// the environment before it in `--env`).
    #[arg(long)]
    pub no_promotion_order: bool,
    /// Ask the questions on stdin even when it is not a terminal (answers may be piped).
    #[arg(long, conflicts_with = "no_input")]
    pub interactive: bool,
    /// Never ask: take the flags and the defaults.
    #[arg(long)]
    pub no_input: bool,
    /// The file to write (`-` for stdout).
    #[arg(long, short, value_name = "FILE", default_value = DEFAULT_FILE)]
    pub output: PathBuf,
    /// Replace the file if it exists.
    #[arg(long)]
    pub force: bool,
}

/// What the file will say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// In promotion order.
    pub environments: Vec<String>,
    pub protected: BTreeSet<String>,
    pub approval: Vec<String>,
    pub promotion_order: bool,
}

const DEFAULT_ENVIRONMENTS: [&str; 3] = ["dev", "staging", "production"];

/// Words that mark an environment as a place to try things (unprotected by default).
const UNPROTECTED_WORDS: [&str; 9] = [
    "dev",
    "development",
    "test",
    "testing",
    "qa",
    "sandbox",
    "local",
    "preview",
    "ci",
];

/// Whether `name` looks like an environment to protect: none of its words (split at `-`, `_`,
/// `.`, `/`) is a development or test word.
pub fn looks_protected(name: &str) -> bool {
    !name
        .split(['-', '_', '.', '/'])
        .any(|w| UNPROTECTED_WORDS.contains(&w.to_ascii_lowercase().as_str()))
}

fn split_list(text: &str) -> Vec<String> {
    text.split([',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn check_names(what: &str, list: &[String]) -> anyhow::Result<()> {
    for n in list {
        names::check(NameKind::Environment, n).map_err(|e| anyhow::anyhow!("{what}: {e}"))?;
    }
    Ok(())
}

fn check_subset(what: &str, list: &[String], environments: &[String]) -> anyhow::Result<()> {
    if let Some(unknown) = list.iter().find(|e| !environments.contains(e)) {
        bail!(
            "{what}: {unknown:?} is not one of the environments ({})",
            environments.join(", ")
        );
    }
    Ok(())
}

impl Plan {
    /// The plan from flags and defaults alone.
    pub fn from_flags(args: &InitArgs) -> anyhow::Result<Self> {
        let environments = if args.environments.is_empty() {
            DEFAULT_ENVIRONMENTS.iter().map(|s| s.to_string()).collect()
        } else {
            args.environments.clone()
        };
        let protected = args
            .protected
            .clone()
            .unwrap_or_else(|| default_protected(&environments));
        let approval = match &args.approval {
            Some(list) if list.len() == 1 && list.iter().any(|s| s == "none") => Vec::new(),
            Some(list) => list.clone(),
            None => default_approval(&environments, &protected),
        };
        Self::build(environments, protected, approval, !args.no_promotion_order)
    }

    fn build(
        environments: Vec<String>,
        protected: Vec<String>,
        approval: Vec<String>,
        promotion_order: bool,
    ) -> anyhow::Result<Self> {
        if environments.is_empty() {
            bail!("no environments: name at least one (e.g. --env dev,staging,production)");
        }
        check_names("environments", &environments)?;
        let mut seen = BTreeSet::new();
        if let Some(dup) = environments.iter().find(|e| !seen.insert(e.as_str())) {
            bail!("environments: {dup:?} is named twice");
        }
        check_subset("protected", &protected, &environments)?;
        check_subset("approval", &approval, &environments)?;
        Ok(Plan {
            environments,
            protected: protected.into_iter().collect(),
            approval,
            promotion_order,
        })
    }

    /// The promotion order PCL-CHG-004 is given: each protected environment after the one
    /// before it in the list.
    pub fn order(&self) -> BTreeMap<&str, &str> {
        if !self.promotion_order {
            return BTreeMap::new();
        }
        self.environments
            .windows(2)
            .filter_map(|w| match w {
                [before, after] if self.protected.contains(after) => {
                    Some((after.as_str(), before.as_str()))
                }
                _ => None,
            })
            .collect()
    }
}

fn default_protected(environments: &[String]) -> Vec<String> {
    let p: Vec<String> = environments
        .iter()
        .filter(|e| looks_protected(e))
        .cloned()
        .collect();
    // A single environment, or only development-looking ones: the last one is where it counts.
    if p.is_empty() {
        environments.last().cloned().into_iter().collect()
    } else {
        p
    }
}

fn default_approval(environments: &[String], protected: &[String]) -> Vec<String> {
    environments
        .iter()
        .rev()
        .find(|e| protected.contains(e))
        .cloned()
        .into_iter()
        .collect()
}

/// One question: the answer (the default when empty) parsed by `parse`; a wrong answer is
/// said and asked again, up to three times.
fn question<T>(
    input: &mut dyn BufRead,
    prompt: &mut dyn Write,
    text: &str,
    default: &str,
    parse: impl Fn(&str) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let mut tries = 0;
    loop {
        write!(prompt, "{text} [{default}]: ")?;
        prompt.flush()?;
        let mut answer = String::new();
        let read = input.read_line(&mut answer).context("reading an answer")?;
        let answer = answer.trim();
        let answer = if answer.is_empty() { default } else { answer };
        match parse(answer) {
            Ok(v) => return Ok(v),
            // No more input (a pipe that ended): asking again would get nothing more.
            Err(e) if tries < 2 && read > 0 => {
                writeln!(prompt, "  {e}")?;
                tries += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Ask the questions on `input`, prompting on `prompt`; the flags give the defaults.
pub fn ask(
    args: &InitArgs,
    input: &mut dyn BufRead,
    prompt: &mut dyn Write,
) -> anyhow::Result<Plan> {
    let flags = Plan::from_flags(args)?;
    let environments = question(
        input,
        prompt,
        "Environments, in promotion order",
        &flags.environments.join(", "),
        |a| {
            let list = split_list(a);
            Plan::build(list.clone(), Vec::new(), Vec::new(), false).map(|_| list)
        },
    )?;
    let protected_default = if environments == flags.environments {
        flags.protected.iter().cloned().collect::<Vec<_>>()
    } else {
        default_protected(&environments)
    };
    // The default's text keeps the promotion order.
    let protected_default: Vec<String> = environments
        .iter()
        .filter(|e| protected_default.contains(e))
        .cloned()
        .collect();
    let protected = question(
        input,
        prompt,
        "Protected environments (their rules enforce: violations deny)",
        &protected_default.join(", "),
        |a| {
            let list = split_list(a);
            check_subset("protected", &list, &environments).map(|()| list)
        },
    )?;
    let approval_default = default_approval(&environments, &protected);
    let approval = question(
        input,
        prompt,
        "Environments that need an approval before a deployment (or none)",
        &if approval_default.is_empty() {
            "none".to_string()
        } else {
            approval_default.join(", ")
        },
        |a| {
            let list = if a == "none" {
                Vec::new()
            } else {
                split_list(a)
            };
            check_subset("approval", &list, &environments).map(|()| list)
        },
    )?;
    let order = environments.len() > 1
        && question(
            input,
            prompt,
            "Promote in this order (each protected environment only after the one before it)? y/n",
            if flags.promotion_order { "y" } else { "n" },
            |a| match a.to_ascii_lowercase().as_str() {
                "y" | "yes" => Ok(true),
                "n" | "no" => Ok(false),
                other => bail!("{other:?}: answer y or n"),
            },
        )?;
    Plan::build(environments, protected, approval, order)
}

/// A YAML scalar for `s`: JSON's double-quoted string is valid YAML for any name.
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
}

fn flow_list(items: &[&str]) -> String {
    let inner: Vec<String> = items.iter().map(|s| quoted(s)).collect();
    format!("[{}]", inner.join(", "))
}

/// The commented `portcullis.yaml` of a plan.
pub fn render(plan: &Plan) -> String {
    let mut y = String::new();
    let _ = writeln!(
        y,
        "# portcullis.yaml — written by `portcullis init`. Where the gate is strict, and how strict.\n\
         #\n\
         #   portcullis policy list --config portcullis.yaml   # every rule, its parameters and\n\
         #                                                     # its action in each environment\n\
         #\n\
         # A rule's action in an environment is `enforce` (its violations deny the deployment),\n\
         # `warn` (reported; the deployment goes on) or `off` (not evaluated). Each rule has a\n\
         # default action for protected and for unprotected environments; `rules.<ID>.actions`\n\
         # overrides it by environment name, by class (`protected`, `unprotected`) or with \"*\".\n\
         # An environment not declared below is treated as protected: a typo in `--env` never\n\
         # loosens the gate."
    );
    let _ = writeln!(y, "\nenvironments:");
    for env in &plan.environments {
        let protected = plan.protected.contains(env);
        let _ = writeln!(y, "  {}:", quoted(env));
        if protected {
            let _ = writeln!(
                y,
                "    # Protected: every rule takes its strict action. Facts the request only\n\
                 \x20   # asserts (an approver named on the command line, an inline canary result,\n\
                 \x20   # a claimed history) do not count here; set `accept_asserted_facts: true`\n\
                 \x20   # only where no shared firewall records them."
            );
        } else {
            let _ = writeln!(
                y,
                "    # Unprotected: rules take their lenient action (many warn instead of deny)."
            );
        }
        let _ = writeln!(y, "    protected: {protected}");
    }
    let _ = writeln!(y, "\nrules:");
    if plan.approval.is_empty() {
        let _ = writeln!(
            y,
            "  # Approvals (PCL-CHG-002): no environment needs one. Undeclared environments\n\
             \x20 # still do, as they are treated as protected.\n\
             \x20 PCL-CHG-002:\n    params:\n      environments: []"
        );
    } else {
        let list: Vec<&str> = plan.approval.iter().map(String::as_str).collect();
        let _ = writeln!(
            y,
            "  # Approvals (PCL-CHG-002): a deployment here needs an approval of its digest by\n\
             \x20 # someone other than the requester: `portcullis approve --artifact-digest DIGEST\n\
             \x20 # --env ENV --reason WHY` with an approver token, the API or the dashboard.\n\
             \x20 PCL-CHG-002:\n    params:\n      environments: {}",
            flow_list(&list)
        );
    }
    let order = plan.order();
    if order.is_empty() {
        let _ = writeln!(
            y,
            "\n  # Promotion order (PCL-CHG-004): none required.\n\
             \x20 PCL-CHG-004:\n    params:\n      order: {{}}"
        );
    } else {
        let _ = writeln!(
            y,
            "\n  # Promotion order (PCL-CHG-004): the same digest must have been decided (allowed)\n\
             \x20 # in the environment before; `require_deployed: true` asks that it also ran there\n\
             \x20 # (`portcullis deployed`, or the inventory).\n\
             \x20 PCL-CHG-004:\n    params:\n      order:"
        );
        for env in &plan.environments {
            if let Some(before) = order.get(env.as_str()) {
                let _ = writeln!(y, "        {}: {}", quoted(env), flow_list(&[before]));
            }
        }
        let _ = writeln!(y, "      require_deployed: false");
    }
    let _ = writeln!(
        y,
        "\n  # More to tune when you are ready (uncomment; `portcullis policy list` shows every\n\
         \x20 # rule's parameters and defaults):\n\
         \x20 #\n\
         \x20 # Vulnerabilities with a fix available that block protected environments:\n\
         \x20 # PCL-VULN-002:\n\
         \x20 #   params: {{ severities: [critical, high] }}\n\
         \x20 #\n\
         \x20 # Scans older than this many days are stale:\n\
         \x20 # PCL-EVID-001:\n\
         \x20 #   params: {{ max_age_days: 14 }}\n\
         \x20 #\n\
         \x20 # The canary score (0-100) a deployment needs:\n\
         \x20 # PCL-VERIFY-001:\n\
         \x20 #   params: {{ min_score: 85 }}\n\
         \x20 #\n\
         \x20 # A rule's action by environment (enforce, warn, off):\n\
         \x20 # PCL-PROV-001:\n\
         \x20 #   actions: {{ unprotected: \"off\" }}"
    );
    y
}

/// Per environment: how many rules enforce, warn and are off under `config`.
pub fn action_counts(config: &Config, bundle: &PolicyBundle, env: &str) -> (usize, usize, usize) {
    let mut counts = (0, 0, 0);
    for rule in bundle.rules() {
        match config.action(rule, env) {
            Action::Enforce => counts.0 += 1,
            Action::Warn => counts.1 += 1,
            Action::Off => counts.2 += 1,
        }
    }
    counts
}

fn write_file(path: &Path, text: &str, force: bool) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            anyhow::anyhow!(
                "{} exists already; nothing was written (--force replaces it, --output writes \
                 elsewhere)",
                path.display()
            )
        } else {
            anyhow::anyhow!("cannot write {}: {e}", path.display())
        }
    })?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

pub fn run(args: &InitArgs) -> anyhow::Result<u8> {
    let to_stdout = args.output.as_os_str() == "-";
    if !to_stdout && !args.force && args.output.exists() {
        bail!(
            "{} exists already; nothing was written (--force replaces it, --output writes \
             elsewhere)",
            args.output.display()
        );
    }
    let stdin = std::io::stdin();
    let interactive =
        args.interactive || (!args.no_input && args.environments.is_empty() && stdin.is_terminal());
    let plan = if interactive {
        let mut err = std::io::stderr();
        ask(args, &mut stdin.lock(), &mut err)?
    } else {
        Plan::from_flags(args)?
    };
    let text = render(&plan);
    let source = if to_stdout {
        "portcullis.yaml (stdout)".to_string()
    } else {
        args.output.display().to_string()
    };
    // Read back the way `gate` reads it: a file `init` writes must never be refused.
    let config = Config::from_yaml(&text, &source)
        .with_context(|| format!("the configuration written for {source} does not parse"))?;
    let bundle = PolicyBundle::builtin().context("loading the built-in policy library")?;
    config
        .check(&bundle)
        .with_context(|| format!("the configuration written for {source} does not check"))?;
    if to_stdout {
        print!("{text}");
    } else {
        write_file(&args.output, &text, args.force)?;
    }
    let mut out = String::new();
    let config_arg = if to_stdout || args.output == Path::new(DEFAULT_FILE) {
        String::new()
    } else {
        format!(
            " --config {}",
            shell_word(&args.output.display().to_string())
        )
    };
    let _ = writeln!(out, "Wrote {source}. With it, the built-in rules:");
    for env in &plan.environments {
        let (enforce, warn, off) = action_counts(&config, &bundle, env);
        let _ = writeln!(
            out,
            "  {env:<14} {:<12} {enforce} enforce, {warn} warn, {off} off{}",
            if plan.protected.contains(env) {
                "protected"
            } else {
                "unprotected"
            },
            if plan.approval.contains(env) {
                "; needs an approval"
            } else {
                ""
            }
        );
    }
    let first = plan
        .environments
        .first()
        .map(String::as_str)
        .unwrap_or("dev");
    let _ = writeln!(
        out,
        "\nNext:\n  portcullis policy list{config_arg}\n      every rule, its parameters and its action in each environment\n  \
         portcullis gate{config_arg} --env {first} --artifact NAME@sha256:DIGEST --evidence sbom.cdx.json scan.json\n      \
         decide a deployment on its evidence (exit 0 allowed, 1 denied)\n  \
         portcullis demo\n      the dashboard and API on the examples, on an embedded store"
    );
    if to_stdout {
        eprint!("{out}");
    } else {
        print!("{out}");
    }
    Ok(exit::OK)
}

/// `s` as one shell word (quoted when it needs to be).
fn shell_word(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_./=:@".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> InitArgs {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct T {
            #[command(flatten)]
            a: InitArgs,
        }
        let mut v = vec!["t"];
        v.extend_from_slice(list);
        T::parse_from(v).a
    }

    #[test]
    fn defaults_protect_what_does_not_look_like_development() {
        let p = Plan::from_flags(&args(&[])).unwrap();
        assert_eq!(p.environments, ["dev", "staging", "production"]);
        assert_eq!(
            p.protected.iter().collect::<Vec<_>>(),
            ["production", "staging"]
        );
        assert_eq!(p.approval, ["production"]);
        assert_eq!(
            p.order().into_iter().collect::<Vec<_>>(),
            [("production", "staging"), ("staging", "dev")]
        );
        assert!(!looks_protected("feature-preview"));
        assert!(!looks_protected("QA"));
        assert!(looks_protected("prod-eu"));
        assert!(looks_protected("devops")); // a whole word, not a prefix
    }

    #[test]
    fn bad_answers_are_refused_with_the_reason() {
        let e = Plan::from_flags(&args(&["--env", "dev,prod", "--protected", "stage"]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("\"stage\" is not one of the environments"),
            "{e}"
        );
        let e = Plan::from_flags(&args(&["--env", "dev,dev"]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("named twice"), "{e}");
        let e = Plan::from_flags(&args(&["--env", "a\u{202e}b"]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("format character"), "{e}");
    }

    #[test]
    fn answers_on_stdin_override_the_flags_and_wrong_ones_are_asked_again() {
        let mut input: &[u8] =
            b"test, stage, prod-eu, prod-us\nstage, prod-xx\nstage,prod-eu,prod-us\n\nn\n";
        let mut prompt = Vec::new();
        let p = ask(&args(&[]), &mut input, &mut prompt).unwrap();
        let prompt = String::from_utf8(prompt).unwrap();
        assert!(prompt.contains("[dev, staging, production]"), "{prompt}");
        // The default offered for protected environments follows the new list.
        assert!(prompt.contains("[stage, prod-eu, prod-us]"), "{prompt}");
        assert!(
            prompt.contains("\"prod-xx\" is not one of the environments"),
            "{prompt}"
        );
        assert_eq!(p.environments, ["test", "stage", "prod-eu", "prod-us"]);
        assert_eq!(p.approval, ["prod-us"]);
        assert!(!p.promotion_order);
        assert!(p.order().is_empty());
    }

    #[test]
    fn every_plan_renders_a_configuration_the_gate_accepts() {
        let bundle = PolicyBundle::builtin().unwrap();
        for flags in [
            vec![],
            vec!["--env", "only"],
            vec!["--env", "dev", "--approval", "none", "--no-promotion-order"],
            vec!["--env", "a:b,#c,'d',\"e\",prod", "--approval", "#c,prod"],
        ] {
            let plan = Plan::from_flags(&args(&flags)).unwrap();
            let text = render(&plan);
            let config = Config::from_yaml(&text, "init").unwrap();
            config.check(&bundle).unwrap();
            let declared: Vec<&String> = config.environments.keys().collect();
            let mut want: Vec<&String> = plan.environments.iter().collect();
            want.sort();
            assert_eq!(declared, want, "{text}");
            for env in &plan.environments {
                assert_eq!(
                    config.environments[env].protected,
                    plan.protected.contains(env)
                );
            }
            let approval = &config.rules["PCL-CHG-002"].params["environments"];
            assert_eq!(approval, &serde_json::json!(plan.approval), "{text}");
            let order = &config.rules["PCL-CHG-004"].params["order"];
            let want: serde_json::Map<String, serde_json::Value> = plan
                .order()
                .into_iter()
                .map(|(a, b)| (a.to_string(), serde_json::json!([b])))
                .collect();
            assert_eq!(order, &serde_json::Value::Object(want), "{text}");
        }
    }
}
