//! `portcullis serve` (the decision API and admission webhook), `portcullis token` (API
//! tokens) and `portcullis demo` (a seeded embedded store and a running server).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use clap::{Args, Subcommand, ValueEnum};
use portcullis_firewall::access::{self, Actor, Role};
use portcullis_firewall::exceptions;
use portcullis_server::{AppState, ServerSettings};
use serde_json::json;

use crate::state::{StoreArgs, runtime};
use crate::{LimitArgs, PolicyArgs, exit, gate};

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, env = "PORTCULLIS_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Server settings (YAML): admission webhook namespaces, notifications, body limit.
    #[arg(long, env = "PORTCULLIS_SERVER_CONFIG", value_name = "FILE")]
    pub server_config: Option<PathBuf>,
    /// Known-exploited vulnerabilities catalogue (CISA KEV JSON format).
    #[arg(long, env = "PORTCULLIS_KEV", value_name = "FILE")]
    pub kev: Option<PathBuf>,
    /// Gatekeeper ConstraintTemplates and Constraints (YAML files under DIR, repeatable),
    /// evaluated at admission.
    #[arg(long, value_name = "DIR")]
    pub gatekeeper: Vec<PathBuf>,
    /// A directory of PEM public keys (SPKI; each named by its file stem) trusted to sign
    /// attestations (see `portcullis gate --help`).
    #[arg(long, env = "PORTCULLIS_TRUSTED_KEYS", value_name = "DIR")]
    pub trusted_keys: Option<PathBuf>,
    /// A Sigstore trusted_root.json for keyless bundles (see `portcullis gate --help`).
    #[arg(long, env = "PORTCULLIS_TRUSTED_ROOT", value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// How registries are reached for `image` in decision requests (on top of the
    /// configuration's `registry:`).
    #[command(flatten)]
    pub registry: crate::RegistryArgs,
    /// Largest request body accepted, in bytes (overrides the settings file).
    #[arg(long, env = "PORTCULLIS_BODY_LIMIT")]
    pub body_limit: Option<usize>,
    /// Serve HTTPS with this certificate chain (PEM); reloaded when the file changes.
    #[arg(
        long,
        env = "PORTCULLIS_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(
        long,
        env = "PORTCULLIS_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
    /// Require client certificates signed by this CA bundle (mutual TLS).
    #[arg(
        long,
        env = "PORTCULLIS_TLS_CLIENT_CA",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub tls_client_ca: Option<PathBuf>,
    /// Log lines as text or JSON (one object per line).
    #[arg(long, value_enum, env = "PORTCULLIS_LOG_FORMAT", default_value_t)]
    pub log_format: LogFormat,
    #[command(flatten)]
    pub policies: PolicyArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create an API token; the token is printed once, on stdout (only its digest is kept).
    Create {
        #[arg(long, value_enum)]
        role: RoleArg,
        /// Who or what uses it (e.g. `github-actions shop/checkout`).
        #[arg(long)]
        name: String,
        #[arg(long)]
        by: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// The tokens (ids, names, roles; never the secrets).
    List {
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke a token by id (`tok_…`).
    Revoke {
        id: String,
        #[arg(long)]
        by: Option<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleArg {
    Viewer,
    Ci,
    Approver,
    Admin,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::Viewer => Role::Viewer,
            RoleArg::Ci => Role::Ci,
            RoleArg::Approver => Role::Approver,
            RoleArg::Admin => Role::Admin,
        }
    }
}

pub fn token(cmd: &TokenCommand) -> anyhow::Result<u8> {
    let rt = runtime()?;
    match cmd {
        TokenCommand::Create {
            role,
            name,
            by,
            store,
        } => {
            let store = rt.block_on(store.open())?;
            let (secret, row) = rt.block_on(access::create_token(
                &store,
                name,
                (*role).into(),
                &crate::state::cli_actor(by),
            ))?;
            println!("{secret}");
            eprintln!(
                "created: token {} ({}, role {}) — audit entry {}; the token is shown only now",
                row.id, row.name, row.role, row.seq
            );
            Ok(exit::OK)
        }
        TokenCommand::List { all, store } => {
            let store = rt.block_on(store.open())?;
            for t in rt.block_on(store.tokens(*all))? {
                println!(
                    "{:<16} {:<9} {} (created {} by {}{})",
                    t.id,
                    t.role,
                    t.name,
                    t.created_at,
                    t.created_by,
                    t.revoked_at
                        .map(|at| format!("; revoked {at}"))
                        .unwrap_or_default()
                );
            }
            Ok(exit::OK)
        }
        TokenCommand::Revoke { id, by, store } => {
            let store = rt.block_on(store.open())?;
            let seq = rt.block_on(access::revoke_token(
                &store,
                id,
                &crate::state::cli_actor(by),
            ))?;
            println!("revoked: {id} (audit entry {seq})");
            Ok(exit::OK)
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PORTCULLIS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match format {
        LogFormat::Json => builder.with_writer(std::io::stderr).json().try_init(),
        // A newline or an escape sequence in a logged value cannot forge a line.
        LogFormat::Text => builder
            .with_ansi(false)
            .with_writer(portcullis_server::log::stderr)
            .try_init(),
    };
}

fn settings(args: &ServeArgs) -> anyhow::Result<ServerSettings> {
    let mut settings = match &args.server_config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("--server-config {}: cannot read", path.display()))?;
            ServerSettings::parse(&text, &path.display().to_string()).map_err(|e| anyhow!(e))?
        }
        None => ServerSettings::default(),
    };
    if let Some(limit) = args.body_limit {
        settings.body_limit = Some(limit);
    }
    Ok(settings)
}

pub fn serve(args: &ServeArgs) -> anyhow::Result<u8> {
    init_logging(args.log_format);
    let settings = settings(args)?;
    let loaded = portcullis_firewall::Setup {
        kev: args.kev.clone(),
        gatekeeper: args.gatekeeper.clone(),
        trusted_keys: args.trusted_keys.clone(),
        trusted_root: args.trusted_root.clone(),
        registry: args.registry.settings(),
        ..gate::setup(&args.policies, args.limits.limits())
    }
    .load()?;
    for n in &loaded.notes {
        tracing::warn!("{n}");
    }
    let rt = server_runtime()?;
    rt.block_on(async {
        let store = args.store.open().await?;
        let location = store.location().to_string();
        let state = AppState::from_loaded(store, loaded, settings)
            .await
            .map_err(|e| anyhow!("cannot start: {e}"))?;
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let addr = listener.local_addr()?;
        let tls = args
            .tls_cert
            .as_ref()
            .zip(args.tls_key.as_ref())
            .map(|(cert, key)| portcullis_server::tls::TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
                client_ca: args.tls_client_ca.clone(),
            });
        let scheme = if tls.is_some() { "https" } else { "http" };
        tracing::info!(%addr, store = %location, "portcullis serving");
        eprintln!("portcullis: serving on {scheme}://{addr} (state in {location})");
        portcullis_server::serve(state, listener, tls, portcullis_server::shutdown_signal())
            .await?;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(exit::OK)
}

fn server_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Address and port to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The demo's state directory (created; seeded once).
    #[arg(long, default_value = ".portcullis-demo")]
    pub home: PathBuf,
    /// The repository's `examples/` directory.
    #[arg(long, default_value = "examples")]
    pub examples: PathBuf,
    /// Seed the store and exit instead of serving.
    #[arg(long)]
    pub seed_only: bool,
}

const DEMO_ARTIFACT: &str = "registry.example.com/shop/checkout-api@sha256:9f3c1d0a8e5b7c2f4a6d8e0b1c3f5a7d9e1b3c5f7a9d1e3b5c7f9a1d3e5b7c9f";
const DEMO_CLEAN: &str = "registry.example.com/shop/checkout-api@sha256:fefd31d2667bc768c7174b24c29c256ff27d4903a2d552ee8c4951c9d094363c";

/// `portcullis demo`: seed an embedded store through the server's own API (a deploy of
/// 2.4.0 to dev, the Log4Shell advisory and its impact on it, the 2.4.0 denial in staging,
/// the clean 2.4.1 allowed in production, the example exceptions), then serve it.
pub fn demo(args: &DemoArgs) -> anyhow::Result<u8> {
    init_logging(LogFormat::Text);
    let ex = &args.examples;
    if !ex.join("portcullis.yaml").is_file() {
        bail!(
            "{}: not the repository's examples directory (run from the repository root, or pass --examples DIR)",
            ex.display()
        );
    }
    // The example attestations are signed with the demo key (scripts/sign-examples).
    let loaded = portcullis_firewall::Setup {
        config: portcullis_firewall::ConfigSource::File(ex.join("portcullis.yaml")),
        kev: Some(ex.join("kev.json")),
        trusted_keys: Some(ex.join("keys")),
        ..Default::default()
    }
    .load()?;
    for n in &loaded.notes {
        tracing::warn!("{n}");
    }
    let store_args = StoreArgs {
        database_url: None,
        home: Some(args.home.clone()),
        checkpoint_key: None,
    };
    let rt = server_runtime()?;
    rt.block_on(async {
        let store = store_args.open().await?;
        let location = store.location().to_string();
        let demo = Actor::new("portcullis demo", Role::Admin);
        let (admin, _) = access::create_token(&store, "demo admin", Role::Admin, &demo).await?;
        let (viewer, _) = access::create_token(&store, "demo viewer", Role::Viewer, &demo).await?;
        let seeded = !store.decisions(None, None, None, 1).await?.is_empty();
        let state = AppState::from_loaded(store, loaded, ServerSettings::default())
            .await
            .map_err(|e| anyhow!("cannot start: {e}"))?;
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let addr = listener.local_addr()?;
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(portcullis_server::serve(state, listener, None, async move {
            tokio::select! {
                _ = portcullis_server::shutdown_signal() => {},
                _ = stop_rx => {},
            }
        }));
        let base = format!("http://{addr}");
        if seeded {
            eprintln!("demo: {location} is seeded already");
        } else {
            seed(&base, &admin, ex).await?;
        }
        println!("Portcullis demo: {base}");
        println!("  dashboard:    {base}/ui (log in with a token below)");
        println!("  admin token:  {admin}");
        println!("  viewer token: {viewer}");
        println!("  try:  curl -s -H 'Authorization: Bearer {viewer}' {base}/v1/decisions");
        println!("        curl -s -H 'Authorization: Bearer {viewer}' {base}/v1/advisories/GHSA-jfh8-c2jp-5v3q/impact");
        println!("        curl -s {base}/metrics");
        if args.seed_only {
            let _ = stop_tx.send(());
        }
        server.await??;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(exit::OK)
}

async fn seed(base: &str, token: &str, ex: &Path) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let read = |p: PathBuf| -> anyhow::Result<serde_json::Value> {
        let bytes = std::fs::read(&p).with_context(|| format!("{}: cannot read", p.display()))?;
        Ok(json!({
            "name": p.display().to_string(),
            "content_base64": base64_encode(&bytes),
        }))
    };
    let post = |path: &str, body: serde_json::Value| {
        let req = client
            .post(format!("{base}{path}"))
            .bearer_auth(token)
            .json(&body);
        let path = path.to_string();
        async move {
            let resp = req.send().await?;
            let status = resp.status();
            let v: serde_json::Value = resp.json().await.unwrap_or_default();
            if !status.is_success() {
                bail!("{path}: {status}: {v}");
            }
            Ok::<_, anyhow::Error>(v)
        }
    };
    // The example exceptions still to expire are granted (an exception is granted until a
    // time to come); an expired one stays in the file to show `gate --exceptions` reporting it.
    let path = ex.join("exceptions.yaml");
    let text = std::fs::read_to_string(&path).context("examples/exceptions.yaml")?;
    let now = chrono::Utc::now();
    let mut current = Vec::new();
    for c in exceptions::parse_exceptions(&text, &path.display().to_string())? {
        if c.expires_at > now {
            current.push(c.exception);
        } else {
            eprintln!(
                "demo: {} expired on {}: not granted",
                c.exception.id.as_deref().unwrap_or("an exception"),
                c.exception.expires
            );
        }
    }
    if !current.is_empty() {
        post("/v1/exceptions", json!({"exceptions": current})).await?;
    }
    let verdict = |d: &serde_json::Value| d.pointer("/decision/decision").cloned();
    let full = vec![
        read(ex.join("evidence/checkout-api.cdx.json"))?,
        read(ex.join("evidence/trivy-image.json"))?,
    ];
    // 2.4.0 went to dev before anyone knew of Log4Shell.
    let d = post(
        "/v1/decisions",
        json!({"artifact": DEMO_ARTIFACT, "environment": "dev", "evidence": full,
               "context": {"pipeline": "demo", "requester": "ci@example.com"}}),
    )
    .await?;
    eprintln!("demo: 2.4.0 to dev: {}", verdict(&d).unwrap_or_default());
    post(
        "/v1/deployments",
        json!({"artifact": DEMO_ARTIFACT, "environment": "dev"}),
    )
    .await?;
    let osv: serde_json::Value = serde_json::from_slice(
        &std::fs::read(ex.join("evidence/log4shell.osv.json")).context("log4shell.osv.json")?,
    )?;
    let a = post("/v1/advisories", json!({"osv": osv})).await?;
    eprintln!(
        "demo: Log4Shell added; it affects {} deployed artifact(s)",
        a.get("affected")
            .and_then(serde_json::Value::as_array)
            .map(Vec::len)
            .unwrap_or(0)
    );
    let d = post(
        "/v1/decisions",
        json!({"artifact": DEMO_ARTIFACT, "environment": "staging", "evidence": full,
               "context": {"pipeline": "demo", "requester": "ci@example.com"}}),
    )
    .await?;
    eprintln!(
        "demo: 2.4.0 to staging: {}",
        verdict(&d).unwrap_or_default()
    );
    let clean = vec![
        read(ex.join("evidence/clean/checkout-api-2.4.1.cdx.json"))?,
        read(ex.join("evidence/clean/checkout-api-2.4.1.intoto.jsonl"))?,
        read(ex.join("evidence/clean/trivy-image.json"))?,
    ];
    let json_file = |p: PathBuf| -> anyhow::Result<serde_json::Value> {
        let bytes = std::fs::read(&p).with_context(|| format!("{}: cannot read", p.display()))?;
        serde_json::from_slice(&bytes).with_context(|| format!("{}: not JSON", p.display()))
    };
    let mut verifications = json_file(ex.join("gate/canary-2.4.1.json"))?;
    if !verifications.is_array() {
        verifications = json!([verifications]);
    }
    // 2.4.1 passes staging and runs there first: the promotion order to production is judged
    // from the server's own record.
    let d = post(
        "/v1/decisions",
        json!({"artifact": DEMO_CLEAN, "environment": "staging", "evidence": clean,
               "verifications": verifications,
               "context": {"pipeline": "demo", "change_ref": "CHG-2026-1142"}}),
    )
    .await?;
    eprintln!(
        "demo: 2.4.1 to staging: {}",
        verdict(&d).unwrap_or_default()
    );
    if verdict(&d).is_some_and(|v| v == "allow") {
        post(
            "/v1/deployments",
            json!({"artifact": DEMO_CLEAN, "environment": "staging"}),
        )
        .await?;
    }
    let d = post(
        "/v1/decisions",
        json!({"artifact": DEMO_CLEAN, "environment": "production", "evidence": clean,
               "verifications": verifications,
               "context": {"pipeline": "demo", "approver": "bob@example.com",
                           "change_ref": "CHG-2026-1142"}}),
    )
    .await?;
    eprintln!(
        "demo: 2.4.1 to production: {}",
        verdict(&d).unwrap_or_default()
    );
    if verdict(&d).is_some_and(|v| v == "allow") {
        post(
            "/v1/deployments",
            json!({"artifact": DEMO_CLEAN, "environment": "production"}),
        )
        .await?;
    }
    Ok(())
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
