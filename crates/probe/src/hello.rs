//! A minimal ClientHello of our own, to learn whether a server still accepts what rustls
//! (rightly) cannot offer: SSLv3, TLS 1.0, TLS 1.1, and CBC, RC4 or 3DES cipher suites.
//!
//! Why hand-written and not the openssl crate: we only need the server's first answer (a
//! ServerHello naming a version and a cipher suite, or an alert), never a finished handshake,
//! and a ClientHello is a few dozen fixed bytes (RFC 5246 §7.4.1.2, RFC 6101 §5.6.1.2). The
//! openssl crate would tie the probe to the system libssl, whose build and security level decide
//! what it may offer: OpenSSL 3 refuses TLS 1.0/1.1 at the default level and many distributions
//! compile SSLv3 out, so a "not accepted" could mean "we could not ask". No pure-Rust crate
//! offers these versions (rustls does not implement them by design).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::protocol::{CipherFamily, Version};

/// AEAD suites, offered with TLS 1.2 probes so that only the version is being asked.
const AEAD_SUITES: &[u16] = &[
    0xc02f, 0xc030, 0xc02b, 0xc02c, 0xcca8, 0xcca9, 0x009e, 0x009f, 0x009c, 0x009d,
];

/// What the server answered to one ClientHello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A ServerHello: the version and the cipher suite it chose.
    Accepted { version: Version, suite: u16 },
    /// An alert, a reset, a close, or anything that is not a ServerHello.
    Refused(String),
}

impl Answer {
    pub fn family(&self) -> Option<CipherFamily> {
        match self {
            Answer::Accepted { suite, .. } => CipherFamily::of_suite(*suite),
            Answer::Refused(_) => None,
        }
    }
}

/// Offer exactly `version` (with every classic suite): does the server accept it?
pub async fn offer_version(
    addr: SocketAddr,
    server_name: Option<&str>,
    version: Version,
    timeout: Duration,
) -> Answer {
    let mut suites: Vec<u16> = CipherFamily::ALL
        .iter()
        .flat_map(|f| f.suites().iter().copied())
        .collect();
    if version == Version::Tls12 {
        suites.extend_from_slice(AEAD_SUITES);
    }
    match exchange(addr, &client_hello(version, &suites, server_name), timeout).await {
        // A server that answers a lower version than offered accepts that one, not this.
        Answer::Accepted { version: v, .. } if v != version => {
            Answer::Refused(format!("answered {} instead", v.name()))
        }
        a => a,
    }
}

/// Offer only `family`'s suites (up to TLS 1.2): does the server pick one of them?
pub async fn offer_family(
    addr: SocketAddr,
    server_name: Option<&str>,
    family: CipherFamily,
    timeout: Duration,
) -> Answer {
    let hello = client_hello(Version::Tls12, family.suites(), server_name);
    match exchange(addr, &hello, timeout).await {
        Answer::Accepted { suite, .. } if CipherFamily::of_suite(suite) != Some(family) => {
            Answer::Refused(format!("chose suite {suite:#06x}, not offered"))
        }
        a => a,
    }
}

async fn exchange(addr: SocketAddr, hello: &[u8], timeout: Duration) -> Answer {
    let run = async {
        let mut s = TcpStream::connect(addr).await?;
        s.write_all(hello).await?;
        let mut header = [0u8; 5];
        s.read_exact(&mut header).await?;
        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        let mut body = vec![0u8; len.min(1 << 14)];
        s.read_exact(&mut body).await?;
        Ok::<_, std::io::Error>((header, body))
    };
    match tokio::time::timeout(timeout, run).await {
        Err(_) => Answer::Refused("no answer within the timeout".into()),
        Ok(Err(e)) => Answer::Refused(format!("connection: {e}")),
        Ok(Ok((header, body))) => parse_answer(header, &body),
    }
}

/// Read a ServerHello (or an alert) from the first record.
pub fn parse_answer(header: [u8; 5], body: &[u8]) -> Answer {
    match header[0] {
        0x15 => {
            let desc = body.get(1).copied().unwrap_or(0);
            Answer::Refused(format!("alert {desc}"))
        }
        0x16 => {
            // handshake type(1) length(3) version(2) random(32) session_id(1+n) suite(2)
            if body.first() != Some(&0x02) {
                return Answer::Refused("not a ServerHello".into());
            }
            let (Some(&[v0, v1]), Some(sid_len)) = (body.get(4..6), body.get(38)) else {
                return Answer::Refused("short ServerHello".into());
            };
            let at = 39 + usize::from(*sid_len);
            let Some(&[s0, s1]) = body.get(at..at + 2) else {
                return Answer::Refused("short ServerHello".into());
            };
            let suite = u16::from_be_bytes([s0, s1]);
            match Version::from_wire(u16::from_be_bytes([v0, v1])) {
                // A TLS 1.3 ServerHello says 1.2 here and the real version in an extension;
                // this probe never offers 1.3, so 1.2 means 1.2.
                Some(version) => Answer::Accepted { version, suite },
                None => Answer::Refused(format!("unknown version {v0:02x}{v1:02x}")),
            }
        }
        t => Answer::Refused(format!("record type {t}, not a handshake")),
    }
}

/// A ClientHello record offering `version` and `suites` (RFC 5246 §7.4.1.2).
pub fn client_hello(version: Version, suites: &[u16], server_name: Option<&str>) -> Vec<u8> {
    let wire = version.wire();
    let mut hello = Vec::with_capacity(256);
    hello.extend_from_slice(&wire.to_be_bytes());
    // The random need not be random: nothing is negotiated past the ServerHello.
    hello.extend((0u8..32).map(|i| i.wrapping_mul(37).wrapping_add(11)));
    hello.push(0); // no session id
    push_u16(&mut hello, suites.len() * 2);
    for s in suites {
        hello.extend_from_slice(&s.to_be_bytes());
    }
    hello.extend_from_slice(&[1, 0]); // compression: null only
    if version != Version::Ssl3 {
        let mut ext = Vec::new();
        if let Some(name) = server_name.filter(|n| n.parse::<std::net::IpAddr>().is_err()) {
            let name = name.as_bytes();
            let mut list = vec![0u8];
            push_u16(&mut list, name.len());
            list.extend_from_slice(name);
            let mut data = Vec::new();
            push_u16(&mut data, list.len());
            data.extend_from_slice(&list);
            push_ext(&mut ext, 0x0000, &data);
        }
        // supported_groups: x25519, secp256r1, secp384r1
        push_ext(&mut ext, 0x000a, &[0, 6, 0, 0x1d, 0, 0x17, 0, 0x18]);
        // ec_point_formats: uncompressed
        push_ext(&mut ext, 0x000b, &[1, 0]);
        // signature_algorithms: ecdsa/rsa-pss/rsa with SHA-256/384, rsa-sha1
        let algs: [u16; 7] = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0201];
        let mut data = Vec::new();
        push_u16(&mut data, algs.len() * 2);
        for a in algs {
            data.extend_from_slice(&a.to_be_bytes());
        }
        push_ext(&mut ext, 0x000d, &data);
        // renegotiation_info, empty (RFC 5746)
        push_ext(&mut ext, 0xff01, &[0]);
        push_u16(&mut hello, ext.len());
        hello.extend_from_slice(&ext);
    }
    let mut handshake = vec![0x01];
    let len = hello.len();
    handshake.extend_from_slice(&[(len >> 16) as u8, (len >> 8) as u8, len as u8]);
    handshake.extend_from_slice(&hello);
    // Record version: 1.0 for every TLS version (what clients send), 3.0 for SSLv3.
    let record_version: u16 = if version == Version::Ssl3 {
        0x0300
    } else {
        0x0301
    };
    let mut record = vec![0x16];
    record.extend_from_slice(&record_version.to_be_bytes());
    push_u16(&mut record, handshake.len());
    record.extend_from_slice(&handshake);
    record
}

fn push_u16(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&u16::try_from(n).unwrap_or(u16::MAX).to_be_bytes());
}

fn push_ext(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
    out.extend_from_slice(&kind.to_be_bytes());
    push_u16(out, data.len());
    out.extend_from_slice(data);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_lengths_are_consistent() {
        let r = client_hello(Version::Tls10, &[0x002f], Some("example.com"));
        assert_eq!(r[0], 0x16);
        let rec_len = usize::from(u16::from_be_bytes([r[3], r[4]]));
        assert_eq!(rec_len, r.len() - 5);
        let hs_len = (usize::from(r[6]) << 16) | (usize::from(r[7]) << 8) | usize::from(r[8]);
        assert_eq!(hs_len, r.len() - 9);
        assert_eq!(&r[9..11], &[3, 1]);
    }

    #[test]
    fn server_hello_and_garbage() {
        let mut body = vec![0x02, 0, 0, 70, 3, 2];
        body.extend([0u8; 32]);
        body.push(0);
        body.extend([0xc0, 0x14, 0]);
        assert_eq!(
            parse_answer([0x16, 3, 2, 0, 0], &body),
            Answer::Accepted {
                version: Version::Tls11,
                suite: 0xc014
            }
        );
        assert!(matches!(
            parse_answer([0x15, 3, 3, 0, 2], &[2, 40]),
            Answer::Refused(_)
        ));
        assert!(matches!(
            parse_answer([0x16, 3, 3, 0, 2], &[2]),
            Answer::Refused(_)
        ));
        assert!(matches!(
            parse_answer([0x17, 0, 0, 0, 0], &[]),
            Answer::Refused(_)
        ));
    }
}
