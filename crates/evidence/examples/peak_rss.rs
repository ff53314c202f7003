//! Parse a CycloneDX JSON file through the streaming reader and print the component count.
//! Measure its peak memory with: /usr/bin/time -v target/release/examples/peak_rss FILE
//! (add `--slice` to read the whole file into memory and use `parse` instead, for comparison).

use portcullis_evidence::Limits;
use portcullis_evidence::formats::cyclonedx::parse_json_reader;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.iter().find(|a| !a.starts_with("--")) else {
        eprintln!("usage: peak_rss FILE [--slice]");
        std::process::exit(2);
    };
    let limits = Limits {
        max_bytes: u64::MAX,
        ..Limits::default()
    };
    let result = if args.iter().any(|a| a == "--slice") {
        std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|b| portcullis_evidence::parse(&b, &limits).map_err(|e| e.to_string()))
    } else {
        std::fs::File::open(path)
            .map_err(|e| e.to_string())
            .and_then(|f| parse_json_reader(f, &limits).map_err(|e| e.to_string()))
    };
    match result {
        Ok(ev) => println!(
            "{} components, {} findings",
            ev.components.len(),
            ev.findings.len()
        ),
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(2);
        }
    }
}
