//! The store's own defences: PostgreSQL over TLS with the server's certificate checked
//! (`sslmode=verify-full`, against a PostgreSQL instance this test starts with a CA of its
//! own; a certificate from another CA is refused), and SQLite files only their owner can read.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use portcullis_store::{Store, StoreConfig};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A store made under a fresh home: the home directory is 0700, the database and its WAL
/// files 0600.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_files_are_the_owners_alone() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("state").join("home");
    // The default umask (022) would leave them readable by everyone.
    let store = Store::open(&StoreConfig::in_home(&home)).await;
    let store = store.unwrap();
    store.ping().await.unwrap();
    assert_eq!(mode(&home), 0o700, "the home directory");
    let db = home.join("portcullis.db");
    assert_eq!(mode(&db), 0o600, "the database");
    for side in ["portcullis.db-wal", "portcullis.db-shm"] {
        let p = home.join(side);
        if p.exists() {
            assert_eq!(mode(&p), 0o600, "{side}");
        }
    }
    assert_eq!(mode(&home.join("checkpoint.key")), 0o600, "the key");
    drop(store);
    // A database file left readable by others is tightened when opened.
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let store = Store::open(&StoreConfig::in_home(&home)).await.unwrap();
    assert_eq!(mode(&db), 0o600);
    drop(store);
}

struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

fn ca(name: &str) -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    Ca {
        pem: cert.pem(),
        issuer: Issuer::new(params, key),
    }
}

fn pg_bin() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("postgres").exists() && b.join("initdb").exists())
        .collect();
    found.sort();
    found.pop()
}

/// A PostgreSQL instance of the test's own, stopped when dropped.
struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    _dir: tempfile::TempDir,
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `program args` as the postgres user when we are root (PostgreSQL refuses to run as root).
fn as_postgres(program: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    cmd.args(args)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", program.display()))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Postgres {
    /// initdb, a server certificate for localhost signed by `ca`, TLS required for every
    /// TCP connection (pg_hba: hostssl only), started on a free port.
    fn start(bin: PathBuf, ca: &Ca) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let tls = dir.path().join("tls");
        std::fs::create_dir_all(&tls).unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &ca.issuer).unwrap();
        std::fs::write(tls.join("server.crt"), cert.pem()).unwrap();
        std::fs::write(tls.join("server.key"), key.serialize_pem()).unwrap();
        if is_root() {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap()
                .success();
            assert!(ok, "chown to postgres");
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            for p in [dir.path(), tls.as_path()] {
                std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
            }
            std::fs::set_permissions(
                tls.join("server.key"),
                std::fs::Permissions::from_mode(0o600),
            )
            .unwrap();
        }
        let out = as_postgres(
            &bin.join("initdb"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
            ],
        );
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 0.0.0.0/0 reject\n",
        )
        .unwrap();
        let port = free_port();
        let options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c ssl=on \
             -c ssl_cert_file={} -c ssl_key_file={} -c fsync=off",
            dir.path().display(),
            tls.join("server.crt").display(),
            tls.join("server.key").display(),
        );
        let log = dir.path().join("postgres.log");
        let out = as_postgres(
            &bin.join("pg_ctl"),
            &[
                "start",
                "-w",
                "-t",
                "60",
                "-D",
                data.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-o",
                &options,
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl start: {}{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        Self {
            bin,
            data,
            port,
            _dir: dir,
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = as_postgres(
            &self.bin.join("pg_ctl"),
            &[
                "stop",
                "-m",
                "immediate",
                "-D",
                self.data.to_str().unwrap_or(""),
            ],
        );
    }
}

fn config(url: String, home: &Path) -> StoreConfig {
    StoreConfig {
        url,
        ..StoreConfig::in_home(home)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_over_tls_verifies_the_server_certificate() {
    let Some(bin) = pg_bin() else {
        portcullis_testkit::skip_or_fail!(
            "PostgreSQL over TLS",
            "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin"
        );
    };
    let ours = ca("portcullis test CA");
    let pg = Postgres::start(bin, &ours);
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.crt");
    std::fs::write(&ca_file, &ours.pem).unwrap();
    let base = format!("postgres://postgres@localhost:{}/postgres", pg.port);

    // verify-full with our CA: the store opens, migrates, appends and reads back.
    let url = format!(
        "{base}?sslmode=verify-full&sslrootcert={}",
        ca_file.display()
    );
    let store = Store::open(&config(url, &dir.path().join("a")))
        .await
        .unwrap_or_else(|e| panic!("verify-full with the right CA: {e}"));
    store.ping().await.unwrap();
    drop(store);

    // Without TLS the server refuses (hostnossl reject): the connection above was TLS.
    let plain = Store::open(&config(
        format!("{base}?sslmode=disable"),
        &dir.path().join("b"),
    ))
    .await;
    assert!(plain.is_err(), "a plain connection was accepted");

    // Another CA: the server's certificate does not verify, nothing is sent.
    let other = ca("someone else's CA");
    let other_file = dir.path().join("other.crt");
    std::fs::write(&other_file, &other.pem).unwrap();
    let wrong = Store::open(&config(
        format!(
            "{base}?sslmode=verify-full&sslrootcert={}",
            other_file.display()
        ),
        &dir.path().join("c"),
    ))
    .await;
    let Err(err) = wrong else {
        panic!("a certificate from another CA was accepted");
    };
    assert!(err.to_string().contains("cannot connect"), "{err}");

    // The right CA, a name the certificate does not have: refused too.
    let wrong_name = Store::open(&config(
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres?sslmode=verify-full&sslrootcert={}",
            pg.port,
            ca_file.display()
        ),
        &dir.path().join("d"),
    ))
    .await;
    assert!(
        wrong_name.is_err(),
        "a certificate for another name was accepted"
    );
}
