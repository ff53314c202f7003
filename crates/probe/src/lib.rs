//! Post-deployment exposure checks: a team declares what a running target is meant to expose
//! (open, required and filtered TCP ports, TLS versions, cipher families and certificates, HTTP
//! status, security headers, cookies, CORS, redirects) in a versioned expectations file; the probe
//! checks the target against it and yields exposure evidence (expected vs observed, deviations,
//! probe metadata) for the firewall's policies. It must not scan anything the file does not
//! declare: every connect goes to an address one of its targets resolved to, and nowhere else.

pub mod error;
pub mod evidence;
pub mod expect;
pub mod hello;
pub mod http;
pub mod protocol;
pub mod report;
pub mod scan;
pub mod tls;
mod top_ports;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use sha2::Digest;

pub use error::ProbeError;
pub use expect::Expectations;
pub use report::{Check, Report};
pub use scan::{PortState, ScanConfig};

use expect::{Target, TcpExpectation};
use report::{ExpectationsRef, OpenPorts, ProbeMeta, ProbedTarget};
use tls::Roots;

/// How to probe.
#[derive(Debug, Clone)]
pub struct Options {
    pub scan: ScanConfig,
    /// Per TLS handshake or ClientHello.
    pub tls_timeout: Duration,
    /// Per HTTP request.
    pub http_timeout: Duration,
    pub artifact: Option<String>,
    pub environment: Option<String>,
    /// Counted as the scan goes (a caller may show progress from them).
    pub counters: Arc<scan::Counters>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            scan: ScanConfig::default(),
            tls_timeout: Duration::from_secs(5),
            http_timeout: Duration::from_secs(10),
            artifact: None,
            environment: None,
            counters: Arc::default(),
        }
    }
}

/// The addresses the expectations file declares (after resolution): the only ones probed.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    addresses: BTreeSet<IpAddr>,
}

impl Scope {
    pub fn allow(&self, addr: IpAddr) -> Result<(), ProbeError> {
        if self.addresses.contains(&addr) {
            Ok(())
        } else {
            Err(ProbeError::Undeclared(addr.to_string()))
        }
    }
}

/// Every A/AAAA record of a target (or its literal address).
pub async fn resolve(target: &Target) -> Result<Vec<IpAddr>, ProbeError> {
    let host = target.address.trim_matches(['[', ']']);
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![ip]);
    }
    let err = |message: String| ProbeError::Resolve {
        target: target.name.clone(),
        address: target.address.clone(),
        message,
    };
    let found = tokio::time::timeout(Duration::from_secs(10), tokio::net::lookup_host((host, 0)))
        .await
        .map_err(|_| err("no answer within 10 s".into()))?
        .map_err(|e| err(e.to_string()))?;
    let set: BTreeSet<IpAddr> = found.map(|a| a.ip()).collect();
    if set.is_empty() {
        return Err(err("no A or AAAA record".into()));
    }
    Ok(set.into_iter().collect())
}

/// Probe every declared target; deviations are in the report, errors only for what makes
/// judging impossible (unresolvable targets, unreadable CA bundles).
pub async fn run(exp: &Expectations, opts: &Options) -> Result<Report, ProbeError> {
    let started = chrono::Utc::now();
    let text = std::fs::read(&exp.source).unwrap_or_default();
    let digest = format!("sha256:{:x}", sha2::Sha256::digest(&text));

    let mut resolved = Vec::new();
    for t in &exp.targets {
        resolved.push(resolve(t).await?);
    }
    let scope = Scope {
        addresses: resolved.iter().flatten().copied().collect(),
    };
    // Trust stores are read before any probe: a bad bundle is a bad file (exit 2).
    let mut roots: BTreeMap<String, Roots> = BTreeMap::new();
    let file = exp.source.display().to_string();
    for t in &exp.targets {
        let declared = t
            .tls
            .iter()
            .filter_map(|x| x.certificate.as_ref().and_then(|c| c.ca_bundle.clone()))
            .chain(t.http.iter().filter_map(|h| h.ca_bundle.clone()));
        for b in declared {
            if b != "system" && !roots.contains_key(&b) {
                let r = Roots::bundle(&exp.resolve(&b)).map_err(|e| ProbeError::CaBundle {
                    file: file.clone(),
                    bundle: b.clone(),
                    message: e.to_string(),
                })?;
                roots.insert(b, r);
            }
        }
    }
    let system = std::sync::OnceLock::new();
    let roots_for = |declared: Option<&String>| -> Roots {
        match declared.and_then(|d| roots.get(d)) {
            Some(r) => r.clone(),
            None => system.get_or_init(Roots::system).clone(),
        }
    };

    let concurrency = scan::fit_concurrency(opts.scan.concurrency);
    let config = ScanConfig {
        concurrency,
        ..opts.scan.clone()
    };
    let counters = opts.counters.clone();
    let mut checks = Vec::new();
    let mut targets = Vec::new();

    for (t, addrs) in exp.targets.iter().zip(&resolved) {
        let mut open = Vec::new();
        let mut ports_scanned = 0;
        for &addr in addrs {
            scope.allow(addr)?;
            let label = format!("{}/{}", t.name, addr);
            if let Some(tcp) = &t.tcp {
                let (found, port_checks, answered) =
                    tcp_checks(&label, &t.name, tcp, addr, &config, counters.clone()).await;
                if !answered {
                    return Err(ProbeError::Unreachable {
                        target: t.name.clone(),
                        address: addr.to_string(),
                        ports: tcp.scan_ports().len(),
                    });
                }
                ports_scanned = ports_scanned.max(tcp.scan_ports().len());
                open.push(OpenPorts {
                    address: addr.to_string(),
                    ports: found,
                });
                checks.extend(port_checks);
            }
            for x in &t.tls {
                let policy = x.policy().map_err(|e| ProbeError::Invalid {
                    file: file.clone(),
                    location: format!("targets.{}.tls", t.name),
                    message: e.to_string(),
                })?;
                let name = x.server_name.clone().unwrap_or_else(|| t.address.clone());
                let r = roots_for(x.certificate.as_ref().and_then(|c| c.ca_bundle.as_ref()));
                let sa = SocketAddr::new(addr, x.port);
                let label = format!("{}/{}", t.name, sa);
                let once = || async {
                    let obs = tls::observe(
                        sa,
                        &name,
                        policy.forbidden_ciphers.iter().copied(),
                        opts.tls_timeout,
                    )
                    .await;
                    tls::judge(
                        &label,
                        x,
                        &policy,
                        &name,
                        &r,
                        &obs,
                        chrono::Utc::now().timestamp(),
                    )
                };
                let first = once().await;
                let mut got = confirm(config.reprobes, first, once).await;
                name_expectation(&mut got, &format!("{} tls {}", t.name, x.port));
                checks.extend(got);
            }
            for h in &t.http {
                let r = roots_for(h.ca_bundle.as_ref());
                let label = format!("{}/{} {}", t.name, addr, h.url);
                let once = || http::check(&label, h, addr, &r, opts.http_timeout);
                let first = once().await;
                let mut got = confirm(config.reprobes, first, once).await;
                name_expectation(&mut got, &format!("{} http {}", t.name, h.url));
                checks.extend(got);
            }
        }
        targets.push(ProbedTarget {
            name: t.name.clone(),
            address: t.address.clone(),
            addresses: addrs.iter().map(|a| a.to_string()).collect(),
            ports_scanned,
            open,
        });
    }

    let finished = chrono::Utc::now();
    Ok(Report {
        kind: report::KIND.into(),
        version: report::VERSION.into(),
        expectations: ExpectationsRef {
            file,
            api_version: exp.api_version.clone(),
            digest,
        },
        artifact: opts.artifact.clone(),
        environment: opts.environment.clone(),
        probe: ProbeMeta {
            tool: format!("portcullis-probe {}", env!("CARGO_PKG_VERSION")),
            started_at: started.to_rfc3339(),
            finished_at: finished.to_rfc3339(),
            concurrency,
            timeout_ms: u64::try_from(config.timeout.as_millis()).unwrap_or(u64::MAX),
            rate: config.rate,
            reprobes: config.reprobes,
            connects: counters.connects.load(Ordering::Relaxed),
            self_connects: counters.self_connects.load(Ordering::Relaxed),
            resource_retries: counters.resource_retries.load(Ordering::Relaxed),
        },
        targets,
        deviations: checks.iter().filter(|c| c.deviation).count(),
        checks,
    })
}

fn name_expectation(checks: &mut [Check], name: &str) {
    for c in checks {
        c.expectation = name.to_string();
    }
}

/// Probe a deviating check again, `reprobes` times: it is reported when at least half of all
/// probes saw the deviation (a flapping deviation is still reported; a one-off is not).
async fn confirm<F, Fut>(reprobes: u32, first: Vec<Check>, again: F) -> Vec<Check>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Vec<Check>>,
{
    if reprobes == 0 || !first.iter().any(|c| c.deviation) {
        return first;
    }
    let mut checks = first;
    for _ in 0..reprobes {
        let next = again().await;
        for c in checks.iter_mut() {
            c.probes += 1;
            if next
                .iter()
                .any(|n| n.identity() == c.identity() && n.deviation)
            {
                c.deviating_probes += 1;
            }
        }
    }
    for c in &mut checks {
        c.deviation = c.deviating_probes > 0 && c.deviating_probes * 2 >= c.probes;
    }
    checks
}

/// Scan one address, re-probe what deviates, and compare with the declaration.
async fn tcp_checks(
    label: &str,
    name: &str,
    tcp: &TcpExpectation,
    addr: IpAddr,
    config: &ScanConfig,
    counters: Arc<scan::Counters>,
) -> (Vec<u16>, Vec<Check>, bool) {
    let ports: Vec<u16> = tcp.scan_ports().into_iter().collect();
    let allowed = tcp.allowed.ports().unwrap_or_default();
    let required = tcp.required.ports().unwrap_or_default();
    let filtered = tcp.filtered.ports().unwrap_or_default();
    let deviates = |port: u16, state: PortState| -> bool {
        if filtered.contains(&port) {
            state != PortState::Filtered
        } else if required.contains(&port) {
            state != PortState::Open
        } else {
            state == PortState::Open && !allowed.contains(&port)
        }
    };
    let first = scan::scan(addr, &ports, config, counters.clone()).await;
    let mut seen: BTreeMap<u16, Vec<PortState>> = ports.iter().map(|p| (*p, Vec::new())).collect();
    for (p, s) in first {
        if let Some(v) = seen.get_mut(&p) {
            v.push(s);
        }
    }
    // A port a worker never reported (it cannot happen short of a panic) is not silently closed.
    for v in seen.values_mut() {
        if v.is_empty() {
            v.push(PortState::Unknown);
        }
    }
    let suspects: Vec<u16> = seen
        .iter()
        .filter(|(p, v)| v.first().is_some_and(|s| deviates(**p, *s)))
        .map(|(p, _)| *p)
        .collect();
    for _ in 0..config.reprobes {
        if suspects.is_empty() {
            break;
        }
        let again = scan::scan(addr, &suspects, config, counters.clone()).await;
        for (p, s) in again {
            if let Some(v) = seen.get_mut(&p) {
                v.push(s);
            }
        }
    }

    let answered = seen
        .values()
        .flatten()
        .any(|s| matches!(s, PortState::Open | PortState::Closed));
    let controls = tcp.controls();
    let expectation = format!("{name} tcp");
    let mut open = Vec::new();
    let mut out = Vec::new();
    for (port, states) in &seen {
        let bad = states.iter().filter(|s| deviates(*port, **s)).count();
        let n = states.len();
        let state = if bad > 0 && bad * 2 >= n {
            states
                .iter()
                .copied()
                .find(|s| deviates(*port, *s))
                .unwrap_or(PortState::Unknown)
        } else {
            states
                .iter()
                .copied()
                .find(|s| !deviates(*port, *s))
                .unwrap_or(PortState::Unknown)
        };
        if state == PortState::Open {
            open.push(*port);
        }
        let observed = Some(format!("{port}/tcp {}", state.name()));
        let mut check = if filtered.contains(port) {
            let dev = state != PortState::Filtered;
            Check::new(
                label,
                "port-filtered",
                Some(format!("{port}/tcp filtered")),
                observed,
                dev,
                if dev {
                    format!("{port}/tcp must be filtered but is {}", state.name())
                } else {
                    "filtered as declared".into()
                },
                &controls,
            )
        } else if required.contains(port) {
            let dev = state != PortState::Open;
            Check::new(
                label,
                "port-required",
                Some(format!("{port}/tcp open")),
                observed,
                dev,
                if dev {
                    format!("{port}/tcp must be open but is {}", state.name())
                } else {
                    "open as declared".into()
                },
                &controls,
            )
        } else if state == PortState::Open && allowed.contains(port) {
            Check::new(
                label,
                "port",
                Some(format!("{port}/tcp")),
                Some(format!("{port}/tcp")),
                false,
                "open as allowed".into(),
                &controls,
            )
        } else if state == PortState::Open {
            Check::new(
                label,
                "port",
                None,
                Some(format!("{port}/tcp")),
                true,
                "open port not in the declaration".into(),
                &controls,
            )
        } else {
            continue;
        };
        check.expectation = expectation.clone();
        check.probes = u32::try_from(n).unwrap_or(u32::MAX);
        check.deviating_probes = u32::try_from(bad).unwrap_or(u32::MAX);
        out.push(check);
    }
    (open, out, answered)
}
