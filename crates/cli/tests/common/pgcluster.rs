//! A PostgreSQL server of the test's own: its own data directory (a temporary directory) and
//! port on 127.0.0.1, so that the test can stop it for real (`pg_ctl stop -m immediate|fast`)
//! and start it again. Built from the server's own programs (`initdb`, `pg_ctl`) found in
//! `/usr/lib/postgresql/*/bin` or on `PATH`; run as the `postgres` OS user when the test runs
//! as root (PostgreSQL refuses to run as root). Stopped and removed when dropped (kept for
//! inspection when the test failed).
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::os::unix::fs::MetadataExt as _;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub struct PgCluster {
    /// `initdb`, `pg_ctl`, `postgres`.
    bin: PathBuf,
    /// The temporary directory: `data/`, `log`, the socket.
    pub dir: PathBuf,
    pub port: u16,
    /// Run PostgreSQL's programs through `runuser -u postgres --` (the test runs as root).
    as_postgres: bool,
    kept: bool,
}

/// The newest `initdb` of /usr/lib/postgresql/*/bin, else the one on PATH.
fn find_bin() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    if let Some((_, bin)) = found.pop() {
        return Some(bin);
    }
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p).find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
    })
}

/// A port nobody listens on now (the kernel's choice).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

impl PgCluster {
    /// A new, running server; `None` after `skip_or_fail` when PostgreSQL's programs are absent.
    pub fn start(test: &str) -> Option<Self> {
        let Some(bin) = find_bin() else {
            portcullis_testkit::skip_or_fail!(
                test,
                "PostgreSQL's initdb and pg_ctl are not installed (looked in \
                 /usr/lib/postgresql/*/bin and PATH; apt-get install postgresql)"
            );
        };
        let root = std::fs::metadata("/proc/self")
            .map(|m| m.uid() == 0)
            .unwrap_or(false);
        let dir = tempfile::Builder::new()
            .prefix("portcullis-pg-")
            .tempdir()
            .unwrap()
            .keep();
        if root {
            let o = Command::new("chown")
                .args(["-R", "postgres:", dir.to_str().unwrap()])
                .output()
                .unwrap();
            if !o.status.success() {
                portcullis_testkit::skip_or_fail!(
                    test,
                    "running as root, and the data directory cannot be given to the postgres \
                     user (chown: {})",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
            }
        }
        let cluster = PgCluster {
            bin,
            dir,
            port: free_port(),
            as_postgres: root,
            kept: false,
        };
        let data = cluster.data();
        let o = cluster.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        assert!(o.status.success(), "initdb failed:\n{}", text(&o));
        cluster.start_again();
        Some(cluster)
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    pub fn log(&self) -> PathBuf {
        self.dir.join("log")
    }

    /// `postgres://postgres@127.0.0.1:PORT/DATABASE`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    fn command(&self, program: &str, args: &[&str]) -> Command {
        let path = self.bin.join(program);
        let mut c = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        };
        c.args(args).current_dir(&self.dir).stdin(Stdio::null());
        c
    }

    fn run(&self, program: &str, args: &[&str]) -> Output {
        self.command(program, args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
    }

    /// `pg_ctl start` (waits until it accepts connections).
    pub fn start_again(&self) {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -c port={} -c unix_socket_directories={} \
             -c max_connections=100 -c fsync=on",
            self.port,
            self.dir.display()
        );
        let o = self.run(
            "pg_ctl",
            &[
                "start",
                "-w",
                "-t",
                "60",
                "-D",
                self.data().to_str().unwrap(),
                "-l",
                self.log().to_str().unwrap(),
                "-o",
                &options,
            ],
        );
        assert!(
            o.status.success(),
            "pg_ctl start failed:\n{}\nlog:\n{}",
            text(&o),
            self.log_tail()
        );
    }

    /// `pg_ctl stop -m MODE` (`immediate`: no shutdown checkpoint, as a crash; `fast`:
    /// sessions ended, a clean shutdown). Waits until it has stopped.
    pub fn stop(&self, mode: &str) {
        let o = self.run(
            "pg_ctl",
            &[
                "stop",
                "-w",
                "-t",
                "60",
                "-m",
                mode,
                "-D",
                self.data().to_str().unwrap(),
            ],
        );
        assert!(
            o.status.success(),
            "pg_ctl stop -m {mode} failed:\n{}",
            text(&o)
        );
    }

    /// Create a database on it.
    pub fn create_database(&self, name: &str) {
        let start = Instant::now();
        loop {
            let o = Command::new("psql")
                .args([&self.url("postgres"), "-v", "ON_ERROR_STOP=1", "-qc"])
                .arg(format!("CREATE DATABASE {name}"))
                .output();
            match o {
                Ok(o) if o.status.success() => return,
                Ok(o) if start.elapsed() < Duration::from_secs(10) => {
                    let _ = o;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Ok(o) => panic!("CREATE DATABASE {name}: {}", text(&o)),
                Err(e) => panic!("cannot run psql: {e}"),
            }
        }
    }

    pub fn log_tail(&self) -> String {
        let t = std::fs::read_to_string(self.log()).unwrap_or_default();
        let lines: Vec<&str> = t.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Keep the directory (the test failed): its path is printed.
    pub fn keep(&mut self) {
        self.kept = true;
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        let _ = self
            .command(
                "pg_ctl",
                &[
                    "stop",
                    "-w",
                    "-m",
                    "immediate",
                    "-D",
                    self.data().to_str().unwrap(),
                ],
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if self.kept || std::thread::panicking() {
            eprintln!(
                "the PostgreSQL data directory is kept: {}",
                self.dir.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
