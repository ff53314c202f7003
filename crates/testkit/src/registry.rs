//! A real OCI registry on 127.0.0.1 for tests: Distribution (`docker-registry`, Debian's 2.8.2)
//! with TLS (a CA and a server certificate made with openssl) and htpasswd (bcrypt) basic auth,
//! filled the way real tools fill registries: images and Buildx indexes copied in by `skopeo`
//! from OCI image layouts, cosign attachments and OCI 1.1 referrers pushed with the ORAS Python
//! SDK (`registry/oci.py`, run with the venv's python). Distribution 2.8 has no referrers API, so
//! [`TestRegistry::attach_referrer`] keeps the referrers tag schema's fallback index, as the
//! distribution spec tells clients to. See `registry/README.md`.
//!
//! Everything lives in a temporary directory removed at drop; the registry listens on
//! 127.0.0.1 only, runs under a supervisor that ends it when the test process goes away (its
//! stdin closes), and every other subprocess is killed after a timeout.
//!
//! Needs `docker-registry`, `skopeo`, `openssl` and the venv
//! `${PORTCULLIS_VENV_REGISTRY:-$HOME/.cache/portcullis/venv-registry}` (oras, bcrypt,
//! securesystemslib); `scripts/test` installs them under CI. Without them
//! [`TestRegistry::start`] returns `None` after [`crate::skip_or_fail`] (a failure under CI).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};
use tempfile::TempDir;

/// The script the harness runs with the venv's python (embedded, written into each tempdir,
/// so a build never points at another checkout's file).
const OCI_PY: &str = include_str!("../registry/oci.py");

/// Media types the harness and its callers use.
pub mod media {
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    pub const DOCKER_MANIFEST_LIST: &str =
        "application/vnd.docker.distribution.manifest.list.v2+json";
    pub const IN_TOTO: &str = "application/vnd.in-toto+json";
    pub const DSSE: &str = "application/vnd.dsse.envelope.v1+json";
    pub const COSIGN_SIMPLESIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
    pub const SPDX_JSON: &str = "text/spdx+json";
    pub const CYCLONEDX_JSON: &str = "application/vnd.cyclonedx+json";
}

/// How long one subprocess (openssl, skopeo, one python command) may take before it is killed.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);
/// How long the registry may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// The registry's longest life (its supervisor ends it then), in seconds; a test that needs
/// longer sets `PORTCULLIS_TEST_REGISTRY_MAX_SECONDS`.
const DEFAULT_MAX_SECONDS: u64 = 1800;

/// One blob of an attachment or referrer: its media type, bytes and descriptor annotations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    pub media_type: String,
    pub bytes: Vec<u8>,
    pub annotations: BTreeMap<String, String>,
}

impl Layer {
    pub fn new(media_type: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Layer {
        Layer {
            media_type: media_type.into(),
            bytes: bytes.into(),
            annotations: BTreeMap::new(),
        }
    }

    /// The layer with one more descriptor annotation.
    pub fn annotation(mut self, key: impl Into<String>, value: impl Into<String>) -> Layer {
        self.annotations.insert(key.into(), value.into());
        self
    }

    fn to_json(&self) -> Value {
        json!({
            "media_type": self.media_type,
            "bytes_b64": BASE64.encode(&self.bytes),
            "annotations": self.annotations,
        })
    }
}

/// Which credentials a [`TestRegistry::fetch`] sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// No `Authorization` header at all.
    Anonymous,
    /// The registry's user and password.
    Valid,
    /// The registry's user with a wrong password.
    Wrong,
}

/// The answer to one [`TestRegistry::fetch`].
#[derive(Debug, Clone)]
pub struct HttpAnswer {
    pub status: u16,
    /// Header names in lower case.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl HttpAnswer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

/// cosign's tag for something attached to `subject` ("sha256:<hex>"): `sha256-<hex>.<suffix>`.
pub fn cosign_tag(subject: &str, suffix: &str) -> String {
    format!("{}.{suffix}", referrers_tag(subject))
}

/// The referrers tag schema's fallback tag for `subject` ("sha256:<hex>"): `sha256-<hex>`.
pub fn referrers_tag(subject: &str) -> String {
    subject.replacen(':', "-", 1)
}

/// The lowercase hex SHA-256 of `bytes`, as "sha256:<hex>" (to check a digest the registry
/// answered against the bytes it served).
pub fn sha256_digest(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    let mut out = String::from("sha256:");
    for b in sha2::Sha256::digest(bytes) {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// A Distribution registry of the test's own on 127.0.0.1, with TLS and basic auth.
pub struct TestRegistry {
    test: String,
    dir: TempDir,
    tools: Tools,
    host: String,
    username: String,
    password: String,
    ca_file: PathBuf,
    cert_dir: PathBuf,
    docker_config: PathBuf,
    wrong_docker_config: PathBuf,
    policy: PathBuf,
    script: PathBuf,
    log: PathBuf,
    supervisor: Option<Supervisor>,
}

struct Supervisor {
    child: Child,
    /// Held open while the registry should run: the supervisor ends it at EOF.
    lifeline: Option<ChildStdin>,
}

#[derive(Debug, Clone)]
struct Tools {
    registry: PathBuf,
    skopeo: PathBuf,
    openssl: PathBuf,
    python: PathBuf,
}

impl TestRegistry {
    /// Starts `docker-registry` on a free 127.0.0.1 port with TLS and htpasswd auth. `None`
    /// after [`crate::skip_or_fail`] when a tool is missing (a failure under CI); panics when the
    /// tools are there but the registry does not start.
    #[track_caller]
    pub fn start(test: &str) -> Option<TestRegistry> {
        let tools = match tools() {
            Ok(tools) => tools.clone(),
            Err(reason) => {
                crate::skip_or_fail(test, format_args!("the registry harness needs {reason}"));
                return None;
            }
        };
        Some(Self::start_with(test, tools))
    }

    fn start_with(test: &str, tools: Tools) -> TestRegistry {
        let dir = tempfile::Builder::new()
            .prefix("portcullis-registry-")
            .tempdir()
            .unwrap_or_else(|e| panic!("{test}: a temporary directory: {e}"));
        let root = dir.path().to_path_buf();
        let script = root.join("oci.py");
        write(&script, OCI_PY.as_bytes());
        let username = "portcullis".to_string();
        let password = random_hex(test, 16);
        let mut me = TestRegistry {
            test: test.to_string(),
            dir,
            tools,
            host: String::new(),
            username,
            password,
            ca_file: root.join("tls/ca.pem"),
            cert_dir: root.join("certs.d"),
            docker_config: root.join("docker-config"),
            wrong_docker_config: root.join("docker-config-wrong"),
            policy: root.join("policy.json"),
            script,
            log: root.join("registry.log"),
            supervisor: None,
        };
        me.make_tls();
        me.python(
            "htpasswd",
            &json!({
                "path": root.join("htpasswd"),
                "username": me.username,
                "password": me.password,
            }),
        );
        write(
            &me.policy,
            br#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
        );
        me.serve();
        me.write_docker_configs();
        me
    }

    /// "127.0.0.1:PORT".
    pub fn host(&self) -> String {
        self.host.clone()
    }

    /// "127.0.0.1:PORT/REPO:TAG", or "…/REPO@sha256:…" when `reference` is a digest.
    pub fn reference(&self, repo: &str, reference: &str) -> String {
        let sep = if reference.starts_with("sha256:") {
            '@'
        } else {
            ':'
        };
        format!("{}/{repo}{sep}{reference}", self.host)
    }

    /// The CA's certificate (PEM); the server's certificate is for 127.0.0.1 and localhost.
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    /// A directory holding the CA as `ca.crt` (what skopeo's `--cert-dir` and Docker's
    /// `certs.d/HOST` take).
    pub fn cert_dir(&self) -> &Path {
        &self.cert_dir
    }

    pub fn username(&self) -> &str {
        &self.username
    }

    pub fn password(&self) -> &str {
        &self.password
    }

    /// A directory with a Docker `config.json` holding the credentials
    /// (`{"auths":{"127.0.0.1:PORT":{"auth":base64("user:pass")}}}`): what `DOCKER_CONFIG`
    /// points at.
    pub fn docker_config_dir(&self) -> &Path {
        &self.docker_config
    }

    /// The same with a wrong password.
    pub fn wrong_docker_config_dir(&self) -> &Path {
        &self.wrong_docker_config
    }

    /// The registry's log so far (for a failing test's message).
    pub fn log(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.log).unwrap_or_default()).into_owned()
    }

    /// Whether the registry is still running (false after [`TestRegistry::stop`]).
    pub fn is_running(&mut self) -> bool {
        self.supervisor
            .as_mut()
            .is_some_and(|s| matches!(s.child.try_wait(), Ok(None)))
    }

    /// An OCI image layout (one small gzip tar layer whose content depends on `seed`, an OCI
    /// config, an OCI manifest) copied into REPO:TAG with `skopeo copy --preserve-digests`.
    /// Returns the manifest digest ("sha256:<hex>") as the registry stores it.
    pub fn push_image(&self, repo: &str, tag: &str, seed: &str) -> String {
        let layout = self.work_dir("image");
        let made = self.python("layout", &json!({"dir": layout, "tag": tag, "seed": seed}));
        let manifest = string_field(&self.test, &made, "manifest");
        let pushed = self.skopeo_copy(&layout, repo, tag, false);
        assert_eq!(
            pushed, manifest,
            "{}: skopeo pushed another manifest",
            self.test
        );
        manifest
    }

    /// An OCI image layout made elsewhere (e.g. by `scripts/image`): its image tagged TAG
    /// copied into REPO:TAG with `skopeo copy --preserve-digests`. Returns the manifest digest
    /// as the registry stores it.
    pub fn push_layout(&self, layout: &Path, repo: &str, tag: &str) -> String {
        self.skopeo_copy(layout, repo, tag, false)
    }

    /// Docker Buildx's shape: an OCI image index under REPO:TAG with one linux/amd64 image
    /// manifest (as [`TestRegistry::push_image`] makes it) and an attestation manifest as
    /// BuildKit writes it (platform unknown/unknown; annotations `vnd.docker.reference.type`
    /// = `attestation-manifest` and `vnd.docker.reference.digest` = the image manifest's
    /// digest; one `application/vnd.in-toto+json` layer per statement, the statement's bytes
    /// as given, annotated `in-toto.io/predicate-type`). Copied with `skopeo copy --all
    /// --preserve-digests`. Returns (index digest, image manifest digest).
    pub fn push_buildx_index(
        &self,
        repo: &str,
        tag: &str,
        seed: &str,
        statements: &[Vec<u8>],
    ) -> (String, String) {
        let layout = self.work_dir("buildx");
        let statements: Vec<String> = statements.iter().map(|s| BASE64.encode(s)).collect();
        let made = self.python(
            "layout",
            &json!({"dir": layout, "tag": tag, "seed": seed, "statements_b64": statements}),
        );
        let index = string_field(&self.test, &made, "index");
        let manifest = string_field(&self.test, &made, "manifest");
        let pushed = self.skopeo_copy(&layout, repo, tag, true);
        assert_eq!(pushed, index, "{}: skopeo pushed another index", self.test);
        (index, manifest)
    }

    /// cosign's tag scheme: a manifest under `sha256-<hex>.<suffix>` in `repo` (suffix `att`,
    /// `sig` or `sbom`) for `subject` ("sha256:<hex>"), built as cosign builds it (an OCI image
    /// manifest whose config, `application/vnd.oci.image.config.v1+json`, is
    /// go-containerregistry's near-empty config; the layers as given, e.g.
    /// `application/vnd.dsse.envelope.v1+json` annotated `predicateType` for `.att`,
    /// `application/vnd.dev.cosign.simplesigning.v1+json` annotated
    /// `dev.cosignproject.cosign/signature` for `.sig`, `text/spdx+json` for `.sbom`). The tag
    /// holds exactly these layers: cosign appends to an existing `.att`/`.sig`, so pass all of
    /// them at once. Pushed with the ORAS SDK. Returns the manifest digest.
    pub fn attach_cosign(
        &self,
        repo: &str,
        subject: &str,
        suffix: &str,
        layers: &[Layer],
    ) -> String {
        let answer = self.python(
            "cosign",
            &self.with_registry(json!({
                "repo": repo,
                "subject": subject,
                "suffix": suffix,
                "layers": layers.iter().map(Layer::to_json).collect::<Vec<_>>(),
            })),
        );
        string_field(&self.test, &answer, "digest")
    }

    /// An OCI 1.1 referrer of `subject` ("sha256:<hex>", a manifest in `repo`): an image
    /// manifest with `artifactType`, the empty config, these layers and `subject` (media type,
    /// digest and size of the subject's manifest), pushed by digest; then the referrers tag
    /// schema's fallback: the OCI image index under `sha256-<hex>` lists every referrer pushed
    /// so far for that subject (media type, digest, size, artifactType, annotations). Pushed
    /// with the ORAS SDK. Returns the referrer's manifest digest.
    pub fn attach_referrer(
        &self,
        repo: &str,
        subject: &str,
        artifact_type: &str,
        layers: &[Layer],
    ) -> String {
        let answer = self.python(
            "referrer",
            &self.with_registry(json!({
                "repo": repo,
                "subject": subject,
                "artifact_type": artifact_type,
                "layers": layers.iter().map(Layer::to_json).collect::<Vec<_>>(),
            })),
        );
        string_field(&self.test, &answer, "digest")
    }

    /// Any bytes as a manifest under REPO:TAG (or REPO@DIGEST) with `Content-Type: media_type`
    /// (oversized, malformed, unknown types). `Ok(digest)` when the registry took it, else
    /// `Err("HTTP <status>: <body>")`.
    pub fn push_raw_manifest(
        &self,
        repo: &str,
        tag: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<String, String> {
        let answer = self.python(
            "raw",
            &self.with_registry(json!({
                "repo": repo,
                "tag": tag,
                "media_type": media_type,
                "bytes_b64": BASE64.encode(bytes),
            })),
        );
        match (answer.get("ok"), answer.get("err")) {
            (Some(Value::String(digest)), _) => Ok(digest.clone()),
            (_, Some(Value::String(err))) => Err(err.clone()),
            _ => panic!("{}: oci.py raw answered {answer}", self.test),
        }
    }

    /// One HTTPS GET of `path` (e.g. "/v2/", "/v2/REPO/manifests/TAG"), verified against the
    /// CA, with `accept` as the Accept header when not empty.
    pub fn fetch(&self, path: &str, auth: Auth, accept: &str) -> HttpAnswer {
        let auth = match auth {
            Auth::Anonymous => "none",
            Auth::Valid => "user",
            Auth::Wrong => "wrong",
        };
        let answer = self.python(
            "fetch",
            &self.with_registry(json!({"path": path, "auth": auth, "accept": accept})),
        );
        let status = answer
            .get("status")
            .and_then(Value::as_u64)
            .unwrap_or_default();
        let headers = answer
            .get("headers")
            .and_then(Value::as_object)
            .map(|h| {
                h.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let body = BASE64
            .decode(string_field(&self.test, &answer, "body_b64"))
            .unwrap_or_else(|e| panic!("{}: oci.py fetch: body: {e}", self.test));
        HttpAnswer {
            status: u16::try_from(status).unwrap_or_default(),
            headers,
            body,
        }
    }

    /// A manifest's media type and exact bytes (`reference` a tag or a digest), with the
    /// credentials; `None` when the registry has none (404).
    pub fn manifest(&self, repo: &str, reference: &str) -> Option<(String, Vec<u8>)> {
        let accept = [
            media::OCI_MANIFEST,
            media::OCI_INDEX,
            media::DOCKER_MANIFEST,
            media::DOCKER_MANIFEST_LIST,
        ]
        .join(", ");
        let answer = self.fetch(
            &format!("/v2/{repo}/manifests/{reference}"),
            Auth::Valid,
            &accept,
        );
        match answer.status {
            200 => {
                let media_type = answer
                    .header("content-type")
                    .unwrap_or_default()
                    .to_string();
                Some((media_type, answer.body))
            }
            404 => None,
            status => panic!(
                "{}: GET {repo}/manifests/{reference}: HTTP {status}: {}",
                self.test,
                String::from_utf8_lossy(&answer.body)
            ),
        }
    }

    /// `skopeo inspect --raw` of REPO:TAG or REPO@DIGEST (`reference` as
    /// [`TestRegistry::reference`] takes it) with the credentials: the manifest's bytes, or
    /// skopeo's error.
    pub fn inspect_raw(&self, repo: &str, reference: &str) -> Result<Vec<u8>, String> {
        let mut cmd = Command::new(&self.tools.skopeo);
        cmd.arg("inspect")
            .arg("--raw")
            .arg("--cert-dir")
            .arg(&self.cert_dir)
            .arg("--creds")
            .arg(format!("{}:{}", self.username, self.password))
            .arg(format!("docker://{}", self.reference(repo, reference)));
        let out = run(&mut self.env(cmd), b"", COMMAND_TIMEOUT)?;
        if out.status.success() {
            Ok(out.stdout)
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
        }
    }

    /// Stops the registry ("registry down" tests); the port stays closed. Drop does it too.
    pub fn stop(&mut self) {
        let Some(mut supervisor) = self.supervisor.take() else {
            return;
        };
        drop(supervisor.lifeline.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match supervisor.child.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if Instant::now() >= deadline => {
                    // The supervisor did not end the registry: end both.
                    if let Some(pid) = self.registry_pid() {
                        let _ = Command::new("kill")
                            .arg("-KILL")
                            .arg(pid.to_string())
                            .status();
                    }
                    let _ = supervisor.child.kill();
                    let _ = supervisor.child.wait();
                    break;
                }
                Ok(None) => thread::sleep(Duration::from_millis(20)),
            }
        }
    }

    fn registry_pid(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.dir.path().join("supervisor.json")).ok()?;
        let value: Value = serde_json::from_str(&text).ok()?;
        value
            .get("pid")?
            .as_u64()
            .and_then(|p| u32::try_from(p).ok())
    }

    // --- setup -------------------------------------------------------------------------------

    fn make_tls(&self) {
        let tls = self.dir.path().join("tls");
        mkdir(&tls);
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        self.openssl(&tls, |c| {
            c.args(["req", "-x509"])
                .args(ec)
                .args(["-keyout", "ca.key", "-out", "ca.pem", "-days", "2"])
                .args(["-subj", "/CN=Portcullis test registry CA"])
                .args(["-addext", "basicConstraints=critical,CA:TRUE"])
                .args(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
        });
        self.openssl(&tls, |c| {
            c.args(["req", "-new"]).args(ec).args([
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=127.0.0.1",
            ]);
        });
        write(
            &tls.join("server.ext"),
            b"basicConstraints=critical,CA:FALSE\n\
              keyUsage=critical,digitalSignature\n\
              extendedKeyUsage=serverAuth\n\
              subjectAltName=IP:127.0.0.1,DNS:localhost\n\
              subjectKeyIdentifier=hash\n\
              authorityKeyIdentifier=keyid,issuer\n",
        );
        self.openssl(&tls, |c| {
            c.args([
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
            ])
            .args(["-CAcreateserial", "-days", "2", "-out", "server.pem"])
            .args(["-extfile", "server.ext"]);
        });
        mkdir(&self.cert_dir);
        write(&self.cert_dir.join("ca.crt"), &read(&self.ca_file));
    }

    fn openssl(&self, dir: &Path, args: impl FnOnce(&mut Command)) {
        let mut cmd = Command::new(&self.tools.openssl);
        cmd.current_dir(dir);
        args(&mut cmd);
        let out = run(&mut self.env(cmd), b"", COMMAND_TIMEOUT)
            .unwrap_or_else(|e| panic!("{}: openssl: {e}", self.test));
        if !out.status.success() {
            panic!(
                "{}: openssl failed: {}",
                self.test,
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    /// Starts the registry under its supervisor on a free port, retrying when another process
    /// took the port between the probe and the registry's bind.
    fn serve(&mut self) {
        let max_seconds = std::env::var("PORTCULLIS_TEST_REGISTRY_MAX_SECONDS")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(DEFAULT_MAX_SECONDS);
        let root = self.dir.path().to_path_buf();
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port(&self.test);
            let host = format!("127.0.0.1:{port}");
            let config = root.join("config.yml");
            write(
                &config,
                registry_config(&root, &host, &random_hex(&self.test, 16)).as_bytes(),
            );
            write(&self.log, b"");
            let request = json!({
                "command": [self.tools.registry, "serve", config],
                "log": self.log,
                "max_seconds": max_seconds,
            });
            let mut cmd = Command::new(&self.tools.python);
            cmd.arg("-I").arg(&self.script).arg("supervise");
            let mut cmd = self.env(cmd);
            cmd.stdin(Stdio::piped())
                .stdout(Stdio::from(create(&root.join("supervisor.json"))))
                .stderr(Stdio::from(create(&root.join("supervisor.err"))));
            let mut child = cmd
                .spawn()
                .unwrap_or_else(|e| panic!("{}: the supervisor: {e}", self.test));
            let mut lifeline = child.stdin.take();
            if let Some(stdin) = lifeline.as_mut() {
                let _ = stdin.write_all(format!("{request}\n").as_bytes());
                let _ = stdin.flush();
            }
            self.supervisor = Some(Supervisor { child, lifeline });
            match self.wait_listening(&host) {
                Ok(()) => {
                    self.host = host;
                    return;
                }
                Err(e) => {
                    self.stop();
                    last = e;
                    if !last.contains("address already in use") {
                        break;
                    }
                }
            }
        }
        panic!("{}: docker-registry did not start: {last}", self.test);
    }

    fn wait_listening(&mut self, host: &str) -> Result<(), String> {
        let listening = format!("listening on {host}");
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if self.log().contains(&listening) && TcpStream::connect(host).is_ok() {
                return Ok(());
            }
            if !self.is_running() {
                let err = std::fs::read_to_string(self.dir.path().join("supervisor.err"))
                    .unwrap_or_default();
                return Err(format!("it exited: {}{err}", self.log()));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "not listening after {START_TIMEOUT:?}: {}",
                    self.log()
                ));
            }
            thread::sleep(Duration::from_millis(25));
        }
    }

    fn write_docker_configs(&self) {
        for (dir, password) in [
            (&self.docker_config, self.password.clone()),
            (
                &self.wrong_docker_config,
                format!("{}-wrong", self.password),
            ),
        ] {
            mkdir(dir);
            let auth = BASE64.encode(format!("{}:{password}", self.username));
            let config = json!({"auths": {self.host.clone(): {"auth": auth}}});
            write(&dir.join("config.json"), config.to_string().as_bytes());
        }
    }

    // --- running the tools -------------------------------------------------------------------

    /// A command with the environment the harness's tools run in: no proxies (everything is
    /// on 127.0.0.1), no `REGISTRY_*` overrides of Distribution's configuration, no
    /// `PYTHON*` (the venv is what runs), `TMPDIR` inside the tempdir.
    fn env(&self, mut cmd: Command) -> Command {
        for (key, _) in std::env::vars_os() {
            let Some(key) = key.to_str() else { continue };
            let upper = key.to_ascii_uppercase();
            if upper.ends_with("_PROXY")
                || upper.starts_with("REGISTRY_")
                || upper.starts_with("PYTHON")
            {
                cmd.env_remove(key);
            }
        }
        let tmp = self.dir.path().join("tmp");
        let _ = std::fs::create_dir_all(&tmp);
        cmd.env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost");
        cmd.env("TMPDIR", tmp);
        cmd
    }

    fn with_registry(&self, mut request: Value) -> Value {
        if let Value::Object(map) = &mut request {
            map.insert("host".into(), json!(self.host));
            map.insert("ca".into(), json!(self.ca_file));
            map.insert("username".into(), json!(self.username));
            map.insert("password".into(), json!(self.password));
        }
        request
    }

    /// Runs `oci.py COMMAND` with the request on stdin; its JSON answer, or a panic with what
    /// it printed.
    fn python(&self, command: &str, request: &Value) -> Value {
        let mut cmd = Command::new(&self.tools.python);
        cmd.arg("-I").arg(&self.script).arg(command);
        let out = run(
            &mut self.env(cmd),
            request.to_string().as_bytes(),
            COMMAND_TIMEOUT,
        )
        .unwrap_or_else(|e| panic!("{}: oci.py {command}: {e}", self.test));
        if !out.status.success() {
            panic!(
                "{}: oci.py {command} failed ({}): {}\nregistry log:\n{}",
                self.test,
                out.status,
                String::from_utf8_lossy(&out.stderr),
                tail(&self.log(), 4000),
            );
        }
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{}: oci.py {command} answered no JSON ({e}): {}",
                self.test,
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    fn skopeo_copy(&self, layout: &Path, repo: &str, tag: &str, all: bool) -> String {
        let digest_file = layout.with_extension("digest");
        let mut cmd = Command::new(&self.tools.skopeo);
        cmd.arg("--policy")
            .arg(&self.policy)
            .arg("copy")
            .arg("--quiet");
        if all {
            cmd.arg("--all");
        }
        cmd.arg("--preserve-digests")
            .arg("--retry-times")
            .arg("0")
            .arg("--digestfile")
            .arg(&digest_file)
            .arg("--dest-cert-dir")
            .arg(&self.cert_dir)
            .arg("--dest-creds")
            .arg(format!("{}:{}", self.username, self.password))
            .arg(format!("oci:{}:{tag}", layout.display()))
            .arg(format!("docker://{}", self.reference(repo, tag)));
        let out = run(&mut self.env(cmd), b"", COMMAND_TIMEOUT)
            .unwrap_or_else(|e| panic!("{}: skopeo copy: {e}", self.test));
        if !out.status.success() {
            panic!(
                "{}: skopeo copy to {repo}:{tag} failed: {}\nregistry log:\n{}",
                self.test,
                String::from_utf8_lossy(&out.stderr),
                tail(&self.log(), 4000)
            );
        }
        String::from_utf8_lossy(&read(&digest_file))
            .trim()
            .to_string()
    }

    fn work_dir(&self, kind: &str) -> PathBuf {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        self.dir.path().join("work").join(format!("{kind}-{n}"))
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        self.stop();
    }
}

impl std::fmt::Debug for TestRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestRegistry")
            .field("host", &self.host)
            .field("dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

fn registry_config(root: &Path, host: &str, secret: &str) -> String {
    let root = root.display();
    format!(
        "version: 0.1\n\
         log:\n  level: info\n  formatter: text\n\
         storage:\n  filesystem:\n    rootdirectory: {root}/storage\n  delete:\n    enabled: true\n\
         \x20 maintenance:\n    uploadpurging:\n      enabled: false\n\
         http:\n  addr: {host}\n  secret: {secret}\n\
         \x20 tls:\n    certificate: {root}/tls/server.pem\n    key: {root}/tls/server.key\n\
         \x20 headers:\n    X-Content-Type-Options: [nosniff]\n\
         auth:\n  htpasswd:\n    realm: portcullis-test\n    path: {root}/htpasswd\n"
    )
}

/// The tools, looked up once per test process.
fn tools() -> &'static Result<Tools, String> {
    static TOOLS: OnceLock<Result<Tools, String>> = OnceLock::new();
    TOOLS.get_or_init(find_tools)
}

/// Where the harness's venv is: `PORTCULLIS_VENV_REGISTRY`, else
/// `$HOME/.cache/portcullis/venv-registry` (what `scripts/test` fills).
pub fn venv_dir() -> PathBuf {
    match std::env::var_os("PORTCULLIS_VENV_REGISTRY") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
            .join(".cache/portcullis/venv-registry"),
    }
}

fn find_tools() -> Result<Tools, String> {
    let mut missing = Vec::new();
    let mut find = |name: &str, package: &str| {
        let found = on_path(name);
        if found.is_none() {
            missing.push(format!("{name} (Debian package {package})"));
        }
        found.unwrap_or_default()
    };
    let registry = find("docker-registry", "docker-registry");
    let skopeo = find("skopeo", "skopeo");
    let openssl = find("openssl", "openssl");
    let venv = venv_dir();
    let python = venv.join("bin/python");
    if !python.is_file() {
        missing.push(format!(
            "the venv {} (oras, bcrypt, securesystemslib[crypto]; scripts/test makes it under CI)",
            venv.display()
        ));
    }
    if !missing.is_empty() {
        return Err(missing.join(", "));
    }
    // The venv is whole: oci.py imports everything it and the tests use.
    let dir = tempfile::tempdir().map_err(|e| format!("a temporary directory: {e}"))?;
    let script = dir.path().join("oci.py");
    std::fs::write(&script, OCI_PY).map_err(|e| format!("{}: {e}", script.display()))?;
    let mut cmd = Command::new(&python);
    cmd.arg("-I").arg(&script).arg("versions");
    let out = run(&mut cmd, b"{}", COMMAND_TIMEOUT)?;
    if !out.status.success() {
        return Err(format!(
            "the venv {} with oras, bcrypt and securesystemslib[crypto] ({})",
            venv.display(),
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or_default()
        ));
    }
    Ok(Tools {
        registry,
        skopeo,
        openssl,
        python,
    })
}

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// What one finished subprocess printed.
struct Output {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// Runs `cmd` with `input` on stdin, killing it after `timeout`.
fn run(cmd: &mut Command, input: &[u8], timeout: Duration) -> Result<Output, String> {
    let what = format!("{:?}", cmd.get_program());
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("{what}: {e}"))?;
    let stdin = child.stdin.take();
    let input = input.to_vec();
    let writer = thread::spawn(move || {
        if let Some(mut stdin) = stdin {
            let _ = stdin.write_all(&input);
        }
    });
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let read_out = thread::spawn(move || read_to_end(stdout));
    let read_err = thread::spawn(move || read_to_end(stderr));
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{what} was killed after {timeout:?}"));
            }
            Ok(None) => thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("{what}: {e}")),
        }
    };
    let _ = writer.join();
    let stdout = read_out.join().unwrap_or_default();
    let stderr = read_err.join().unwrap_or_default();
    Ok(Output {
        status,
        stdout,
        stderr,
    })
}

fn read_to_end(from: Option<impl Read>) -> Vec<u8> {
    let mut out = Vec::new();
    if let Some(mut from) = from {
        let _ = from.read_to_end(&mut out);
    }
    out
}

fn free_port(test: &str) -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{test}: a free port on 127.0.0.1: {e}"))
}

fn random_hex(test: &str, bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .unwrap_or_else(|e| panic!("{test}: /dev/urandom: {e}"));
    buf.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn string_field(test: &str, value: &Value, key: &str) -> String {
    match value.get(key) {
        Some(Value::String(s)) => s.clone(),
        _ => panic!("{test}: oci.py answered without {key}: {value}"),
    }
}

fn tail(text: &str, max: usize) -> &str {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text.get(start..).unwrap_or_default()
}

fn mkdir(path: &Path) {
    std::fs::create_dir_all(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

fn create(path: &Path) -> std::fs::File {
    std::fs::File::create(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_follow_cosign_and_the_referrers_tag_schema() {
        let subject = "sha256:6457936b024c4dab75b962204edcfba0ec5f194cc67236f5a54cf68d082555cf";
        assert_eq!(
            referrers_tag(subject),
            "sha256-6457936b024c4dab75b962204edcfba0ec5f194cc67236f5a54cf68d082555cf"
        );
        assert_eq!(
            cosign_tag(subject, "att"),
            "sha256-6457936b024c4dab75b962204edcfba0ec5f194cc67236f5a54cf68d082555cf.att"
        );
    }

    #[test]
    fn sha256_of_nothing() {
        assert_eq!(
            sha256_digest(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn config_listens_on_loopback_only() {
        let config = registry_config(Path::new("/tmp/x"), "127.0.0.1:5555", "s");
        assert!(config.contains("  addr: 127.0.0.1:5555\n"), "{config}");
        assert!(
            config.contains("  tls:\n    certificate: /tmp/x/tls/server.pem\n"),
            "{config}"
        );
        assert!(
            config.contains("  htpasswd:\n    realm: portcullis-test\n"),
            "{config}"
        );
    }
}
