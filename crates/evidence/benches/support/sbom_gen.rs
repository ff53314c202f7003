#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! A realistic synthetic CycloneDX 1.6 JSON SBOM, shared by the `parse` bench and the
//! `gen_sbom` example: each component has a purl, a bom-ref, a license, two hashes and
//! properties, and the dependencies section gives each component up to three edges.

use std::io::{self, Write};

const NAMES: [&str; 8] = [
    "jackson-databind",
    "commons-lang3",
    "guava",
    "netty-handler",
    "spring-core",
    "log4j-core",
    "slf4j-api",
    "snakeyaml",
];
const LICENSES: [&str; 4] = ["Apache-2.0", "MIT", "BSD-3-Clause", "EPL-2.0"];

fn hex(seed: u64, len: usize) -> String {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut s = String::with_capacity(len);
    while s.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.push_str(&format!("{x:016x}"));
    }
    s.truncate(len);
    s
}

/// Write an SBOM with `n` components.
pub fn write_sbom<W: Write>(w: &mut W, n: usize) -> io::Result<()> {
    write!(
        w,
        r#"{{"bomFormat":"CycloneDX","specVersion":"1.6","serialNumber":"urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79","version":1,
"metadata":{{"timestamp":"2025-01-01T00:00:00Z","tools":{{"components":[{{"type":"application","group":"@cyclonedx","name":"cdxgen","version":"11.0.0"}}]}},
"component":{{"type":"container","bom-ref":"root","name":"registry.example.com/shop/api","version":"sha256:{}","purl":"pkg:oci/api@sha256%3A{}?repository_url=registry.example.com/shop/api"}}}},
"components":[
"#,
        hex(1, 64),
        hex(1, 64)
    )?;
    for i in 0..n {
        let name = NAMES[i % NAMES.len()];
        let group = format!("org.example.g{}", i % 97);
        let version = format!("{}.{}.{}", i % 7, i % 13, i % 31);
        let purl = format!("pkg:maven/{group}/{name}-{i}@{version}?type=jar");
        if i > 0 {
            w.write_all(b",\n")?;
        }
        write!(
            w,
            r#"{{"type":"library","bom-ref":"{purl}","group":"{group}","name":"{name}-{i}","version":"{version}","description":"The {name} library, build {i}","scope":"required","hashes":[{{"alg":"SHA-256","content":"{}"}},{{"alg":"SHA-1","content":"{}"}}],"licenses":[{{"license":{{"id":"{}"}}}}],"purl":"{purl}","externalReferences":[{{"type":"website","url":"https://example.com/{name}"}}],"properties":[{{"name":"cdx:maven:package:test","value":"false"}},{{"name":"SrcFile","value":"/app/lib/{name}-{i}.jar"}}]}}"#,
            hex(i as u64 * 2 + 3, 64),
            hex(i as u64 * 2 + 4, 40),
            LICENSES[i % LICENSES.len()],
        )?;
    }
    w.write_all(b"\n],\n\"dependencies\":[\n")?;
    for i in 0..n {
        if i > 0 {
            w.write_all(b",\n")?;
        }
        let r = |j: usize| {
            let name = NAMES[j % NAMES.len()];
            format!(
                "pkg:maven/org.example.g{}/{name}-{j}@{}.{}.{}?type=jar",
                j % 97,
                j % 7,
                j % 13,
                j % 31
            )
        };
        let deps: Vec<String> = (1..=3)
            .map(|k| i * 7 + k)
            .filter(|&j| j < n && j != i)
            .map(|j| format!("\"{}\"", r(j)))
            .collect();
        write!(
            w,
            r#"{{"ref":"{}","dependsOn":[{}]}}"#,
            r(i),
            deps.join(",")
        )?;
    }
    w.write_all(b"\n]}\n")?;
    Ok(())
}

/// Roughly how many bytes one component (with its dependency entry) takes.
pub const BYTES_PER_COMPONENT: usize = 830;
