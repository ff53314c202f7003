//! The TLS vocabulary the expectations, the rustls checks and the hand-written ClientHello share:
//! protocol versions and weak cipher families (with their IANA suites). A leaf: it imports none
//! of them.

/// A TLS (or SSL) protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    Ssl3,
    Tls10,
    Tls11,
    Tls12,
    Tls13,
}

impl Version {
    pub const ALL: [Version; 5] = [
        Version::Ssl3,
        Version::Tls10,
        Version::Tls11,
        Version::Tls12,
        Version::Tls13,
    ];

    /// `TLSv1.2`, `TLS 1.2`, `tls1_2`, `SSLv3`, `TLSv1`.
    pub fn parse(s: &str) -> Option<Self> {
        let n = s.to_ascii_lowercase().replace(['v', ' ', '_', '-'], "");
        match n.as_str() {
            "ssl3" | "ssl3.0" => Some(Self::Ssl3),
            "tls1" | "tls1.0" | "tls10" => Some(Self::Tls10),
            "tls1.1" | "tls11" => Some(Self::Tls11),
            "tls1.2" | "tls12" => Some(Self::Tls12),
            "tls1.3" | "tls13" => Some(Self::Tls13),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Ssl3 => "SSLv3",
            Self::Tls10 => "TLSv1.0",
            Self::Tls11 => "TLSv1.1",
            Self::Tls12 => "TLSv1.2",
            Self::Tls13 => "TLSv1.3",
        }
    }

    pub fn wire(self) -> u16 {
        match self {
            Self::Ssl3 => 0x0300,
            Self::Tls10 => 0x0301,
            Self::Tls11 => 0x0302,
            Self::Tls12 => 0x0303,
            Self::Tls13 => 0x0304,
        }
    }

    pub fn from_wire(v: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.wire() == v)
    }
}

/// Weak cipher families a server may still accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CipherFamily {
    Cbc,
    Rc4,
    TripleDes,
}

impl CipherFamily {
    pub const ALL: [CipherFamily; 3] = [
        CipherFamily::Cbc,
        CipherFamily::Rc4,
        CipherFamily::TripleDes,
    ];

    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().replace(['-', '_', ' '], "").as_str() {
            "CBC" => Some(Self::Cbc),
            "RC4" => Some(Self::Rc4),
            "3DES" | "TRIPLEDES" | "DESCBC3" => Some(Self::TripleDes),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Cbc => "CBC",
            Self::Rc4 => "RC4",
            Self::TripleDes => "3DES",
        }
    }

    /// The suites of the family (IANA TLS cipher suite registry).
    pub(crate) fn suites(self) -> &'static [u16] {
        match self {
            // AES in CBC mode, with RSA, DHE, ECDHE key exchange, SHA-1 and SHA-2 MACs.
            Self::Cbc => &[
                0xc013, 0xc014, 0xc009, 0xc00a, 0xc027, 0xc028, 0xc023, 0xc024, 0x0033, 0x0039,
                0x0067, 0x006b, 0x002f, 0x0035, 0x003c, 0x003d,
            ],
            Self::Rc4 => &[0x0005, 0x0004, 0xc011, 0xc007],
            Self::TripleDes => &[0x000a, 0xc012, 0xc008, 0x0016],
        }
    }

    pub(crate) fn of_suite(suite: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.suites().contains(&suite))
    }
}
