//! Write a synthetic CycloneDX 1.6 JSON SBOM of about the given size.
//!
//! cargo run --release -p portcullis-evidence --example gen_sbom -- /tmp/big.json 500

use std::io::{BufWriter, Write};

#[path = "../benches/support/sbom_gen.rs"]
mod sbom_gen;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(path), Some(mb)) = (args.next(), args.next()) else {
        eprintln!("usage: gen_sbom PATH TARGET_MB");
        std::process::exit(2);
    };
    let mb: usize = mb.parse().unwrap_or_else(|_| {
        eprintln!("TARGET_MB must be a number");
        std::process::exit(2);
    });
    let n = mb * 1_000_000 / sbom_gen::BYTES_PER_COMPONENT;
    let mut w = BufWriter::new(std::fs::File::create(&path)?);
    sbom_gen::write_sbom(&mut w, n)?;
    w.flush()?;
    let size = std::fs::metadata(&path)?.len();
    println!("{path}: {n} components, {size} bytes");
    Ok(())
}
