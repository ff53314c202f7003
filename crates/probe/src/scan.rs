//! The TCP connect scan: many connects in flight, each with a timeout, optionally paced.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use serde::Serialize;
use tokio::net::TcpSocket;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// What a connect to one port tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PortState {
    /// The handshake completed (with someone other than ourselves).
    Open,
    /// A reset: the host answers, nothing listens.
    Closed,
    /// No answer within the timeout, or an ICMP unreachable: something drops the packets.
    Filtered,
    /// The scanner could not ask (out of sockets or local ports, persistently).
    Unknown,
}

impl PortState {
    pub fn name(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
            Self::Filtered => "filtered",
            Self::Unknown => "unknown",
        }
    }
}

/// How to scan.
#[derive(Debug, Clone, Serialize)]
pub struct ScanConfig {
    /// Connects in flight at most.
    pub concurrency: usize,
    /// Per connect; at least the kernel's first SYN retransmission (1 s) by default.
    #[serde(serialize_with = "millis")]
    pub timeout: Duration,
    /// New connects per second at most (none: as fast as `concurrency` allows).
    pub rate: Option<u32>,
    /// How often a deviation is probed again before it is reported.
    pub reprobes: u32,
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Default for ScanConfig {
    fn default() -> Self {
        Self {
            concurrency: 2048,
            timeout: Duration::from_millis(1500),
            rate: None,
            reprobes: 3,
        }
    }
}

/// Counters of one scan (probe metadata).
#[derive(Debug, Default)]
pub struct Counters {
    /// Ports to scan (re-probes included) and ports scanned so far: for progress displays.
    pub ports_total: AtomicU64,
    pub ports_done: AtomicU64,
    pub connects: AtomicU64,
    pub self_connects: AtomicU64,
    pub resource_retries: AtomicU64,
}

/// Raise the soft limit on open files towards what `concurrency` needs; returns the
/// concurrency that fits under the limit obtained.
pub fn fit_concurrency(concurrency: usize) -> usize {
    let want = u64::try_from(concurrency)
        .unwrap_or(u64::MAX)
        .saturating_add(256);
    let limit = rlimit::increase_nofile_limit(want).unwrap_or(1024);
    let fits = usize::try_from(limit.saturating_sub(128)).unwrap_or(usize::MAX);
    concurrency.clamp(1, fits.max(16))
}

/// Connect to `addr:port` once (retrying self-connects and local resource shortages).
pub async fn probe_port(
    addr: IpAddr,
    port: u16,
    timeout: Duration,
    counters: &Counters,
) -> PortState {
    let target = SocketAddr::new(addr, port);
    // Self-connects need the kernel to pick `port` as our own source port: a few retries make
    // that vanishingly unlikely; shortages of sockets clear as other connects finish.
    for _ in 0..64 {
        let socket = match if addr.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        } {
            Ok(s) => s,
            Err(_) => {
                counters.resource_retries.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
        };
        counters.connects.fetch_add(1, Ordering::Relaxed);
        match tokio::time::timeout(timeout, socket.connect(target)).await {
            Err(_) => return PortState::Filtered,
            Ok(Ok(stream)) => {
                if is_self_connect(&stream) {
                    // Our own socket answered (TCP simultaneous open on loopback): not a listener.
                    counters.self_connects.fetch_add(1, Ordering::Relaxed);
                    drop(stream);
                    continue;
                }
                // A reset on close: no TIME_WAIT left behind for each open port.
                let _ = socket2_zero_linger(&stream);
                return PortState::Open;
            }
            Ok(Err(e)) => {
                use std::io::ErrorKind as K;
                match e.kind() {
                    K::ConnectionRefused => return PortState::Closed,
                    K::HostUnreachable | K::NetworkUnreachable => return PortState::Filtered,
                    K::AddrNotAvailable | K::AddrInUse | K::OutOfMemory => {}
                    K::TimedOut => return PortState::Filtered,
                    _ => match e.raw_os_error() {
                        // EMFILE, ENFILE, ENOBUFS, EAGAIN: ask again shortly.
                        Some(24 | 23 | 105 | 11) => {}
                        // EHOSTUNREACH, ENETUNREACH, EACCES/EPERM (a local firewall rejects)
                        Some(113 | 101 | 13 | 1) => return PortState::Filtered,
                        _ => return PortState::Filtered,
                    },
                }
                counters.resource_retries.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
    PortState::Unknown
}

/// A connect that reached our own socket (TCP simultaneous open: the kernel chose the target
/// port as our source port), which says nothing about a listener.
pub fn is_self_connect(stream: &tokio::net::TcpStream) -> bool {
    match (stream.local_addr(), stream.peer_addr()) {
        (Ok(me), Ok(peer)) => me == peer,
        _ => false,
    }
}

fn socket2_zero_linger(stream: &tokio::net::TcpStream) -> std::io::Result<()> {
    #[allow(deprecated)]
    stream.set_linger(Some(Duration::ZERO))
}

/// Scan `ports` of `addr`: the state of each, in the order given.
pub async fn scan(
    addr: IpAddr,
    ports: &[u16],
    config: &ScanConfig,
    counters: Arc<Counters>,
) -> Vec<(u16, PortState)> {
    counters.ports_total.fetch_add(
        u64::try_from(ports.len()).unwrap_or(u64::MAX),
        Ordering::Relaxed,
    );
    let ports: Arc<Vec<u16>> = Arc::new(ports.to_vec());
    let next = Arc::new(AtomicUsize::new(0));
    let pace = config.rate.filter(|r| *r > 0).map(|r| {
        (
            Duration::from_secs_f64(1.0 / f64::from(r)),
            Arc::new(Mutex::new(Instant::now())),
        )
    });
    let workers = config.concurrency.clamp(1, ports.len().max(1));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let (ports, next, counters, pace) =
            (ports.clone(), next.clone(), counters.clone(), pace.clone());
        let timeout = config.timeout;
        set.spawn(async move {
            let mut found = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&port) = ports.get(i) else { break };
                if let Some((gap, slot)) = &pace {
                    let at = {
                        let mut s = slot.lock().await;
                        let at = (*s).max(Instant::now());
                        *s = at + *gap;
                        at
                    };
                    tokio::time::sleep_until(at).await;
                }
                found.push((i, port, probe_port(addr, port, timeout, &counters).await));
                counters.ports_done.fetch_add(1, Ordering::Relaxed);
            }
            found
        });
    }
    let mut all = Vec::with_capacity(ports.len());
    while let Some(r) = set.join_next().await {
        if let Ok(found) = r {
            all.extend(found);
        }
    }
    all.sort_unstable_by_key(|(i, _, _)| *i);
    all.into_iter().map(|(_, p, s)| (p, s)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bind a socket to a free port and connect it to that same port: the self-connect the
    /// scanner meets by chance in the ephemeral range, made on purpose.
    #[tokio::test]
    async fn a_self_connect_is_recognized() {
        let mut made = false;
        for _ in 0..20 {
            let Ok(probe) = std::net::TcpListener::bind("127.0.0.1:0") else {
                continue;
            };
            let Ok(addr) = probe.local_addr() else {
                continue;
            };
            drop(probe);
            let Ok(socket) = TcpSocket::new_v4() else {
                continue;
            };
            if socket.set_reuseaddr(true).is_err() || socket.bind(addr).is_err() {
                continue;
            }
            if let Ok(Ok(stream)) =
                tokio::time::timeout(Duration::from_secs(2), socket.connect(addr)).await
            {
                assert!(is_self_connect(&stream));
                made = true;
                break;
            }
        }
        assert!(made, "could not make a self-connect on 127.0.0.1");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        assert!(!is_self_connect(&stream));
        let counters = Counters::default();
        assert_eq!(
            probe_port(addr.ip(), addr.port(), Duration::from_secs(2), &counters).await,
            PortState::Open
        );
        drop(listener);
        assert_eq!(
            probe_port(addr.ip(), addr.port(), Duration::from_secs(2), &counters).await,
            PortState::Closed
        );
    }
}
