//! Untrusted input never panics: log lines, series files, configurations, metric values.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Write as _;
use std::path::Path;

use portcullis_verify::config::AnalysisConfig;
use portcullis_verify::judge::{self, MetricRule};
use portcullis_verify::logs::{self, LogConfig, Miner, MinerConfig};
use portcullis_verify::metrics_formats::{self, SeriesFormat};
use portcullis_verify::provider::{read_series_file, read_series_file_as};
use portcullis_verify::stats::mann_whitney;
use proptest::prelude::*;

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        8 => -1e6f64..1e6,
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => (0u8..5).prop_map(f64::from),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_miner_takes_any_bytes(lines in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 1..40)) {
        let mut plain = Miner::new(MinerConfig::default());
        let mut tuned = Miner::new(MinerConfig {
            depth: 6,
            similarity: 0.9,
            extra_delimiters: "=,:".into(),
            patterns: vec![r"\d+".into(), r"(/[\w-]+)+".into()],
            ..MinerConfig::default()
        });
        for l in &lines {
            let c = plain.add(l);
            prop_assert!(c < plain.clusters().len());
            let _ = plain.template(c);
            tuned.add(l);
        }
    }

    #[test]
    fn the_log_analysis_takes_any_bytes(
        lines in proptest::collection::vec(prop_oneof![
            4 => "\\PC{0,80}",
            1 => Just("Traceback (most recent call last):".to_string()),
            1 => Just("goroutine 7 [running]:".to_string()),
            1 => Just("  File \"x.py\", line 1, in f".to_string()),
            1 => Just("\tat a.B.c(B.java:1)".to_string()),
            1 => Just("/app/x.js:3".to_string()),
            1 => "\\{\"level\":[0-9a-z\"]{0,6}\\}".prop_map(|s| s),
            1 => "<[0-9]{1,4}>.{0,20}".prop_map(|s| s),
        ], 0..40),
        raw in proptest::collection::vec(any::<u8>(), 0..300),
        magic in prop_oneof![Just(&b""[..]), Just(&[0x1fu8, 0x8b][..]), Just(&[0x28u8, 0xb5, 0x2f, 0xfd][..])],
    ) {
        let config: LogConfig = serde_json::from_value(serde_json::json!({"baseline": ["b"], "canary": ["c"]})).unwrap();
        let text = lines.join("\n");
        let mut junk = magic.to_vec();
        junk.extend_from_slice(&raw);
        let r = logs::analyse_readers(&config, vec![
            (std::path::PathBuf::from("b"), false, text.as_bytes()),
            (std::path::PathBuf::from("c"), true, &junk[..]),
        ]);
        if let Err(e) = r {
            let m = e.to_string();
            prop_assert!(m.starts_with("c: ") || m.starts_with("b: "), "the file is named: {m}");
        }
    }

    #[test]
    fn series_files_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400), json in any::<bool>()) {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        if json {
            f.write_all(b"{").unwrap();
        }
        f.write_all(&bytes).unwrap();
        let _ = read_series_file(f.path());
    }

    #[test]
    fn series_files_in_every_format_never_panic(
        prefix in 0usize..10,
        body in "[a-zA-Z_0-9{}=\",.:#+ \\\n\t\\[\\]-]{0,300}",
        raw in proptest::collection::vec(any::<u8>(), 0..64),
        format in 0usize..5,
    ) {
        // Each format's opening, then text close to what it parses, then arbitrary bytes.
        let prefixes = [
            "",
            "time,a,b\n",
            "\"Time\",\"x{a=\"\"b\"\"}\"\n2026-01-01 00:00:00,",
            "metric,timestamp,value,job\n",
            "# TYPE x gauge\nx{",
            "{__name__=\"",
            "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"metric\":{\"__name__\":\"",
            "{\"m\": [[",
            "[{\"time\": ",
            "{\"m\": {\"",
        ];
        let formats = [
            SeriesFormat::Auto,
            SeriesFormat::WideCsv,
            SeriesFormat::LongCsv,
            SeriesFormat::Json,
            SeriesFormat::Prometheus,
        ];
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(prefixes[prefix].as_bytes()).unwrap();
        f.write_all(body.as_bytes()).unwrap();
        f.write_all(&raw).unwrap();
        if let Ok(series) = read_series_file_as(f.path(), formats[format]) {
            for key in series.keys() {
                let _ = metrics_formats::lookup(&series, key);
            }
        }
        let _ = metrics_formats::lookup(&Default::default(), &body);
        let _ = metrics_formats::canonical_key(&body);
        let _ = metrics_formats::parse_time(&body);
    }

    #[test]
    fn configurations_never_panic(text in "\\PC{0,300}") {
        let _ = AnalysisConfig::parse(Path::new("fuzz.yaml"), &text);
        let prefixed = format!("apiVersion: portcullis.dev/v1\nkind: CanaryAnalysis\n{text}");
        let _ = AnalysisConfig::parse(Path::new("fuzz.yaml"), &prefixed);
    }

    #[test]
    fn the_judge_takes_any_values(
        base in proptest::collection::vec(value(), 0..80),
        canary in proptest::collection::vec(value(), 0..80),
        bound in proptest::option::of(0.0f64..3.0),
    ) {
        let rule = MetricRule { remove_outliers: true, max_relative_change: bound, ..MetricRule::default() };
        let r = judge::classify(&base, &canary, &rule);
        prop_assert!(!r.reason.is_empty());
    }

    #[test]
    fn intervals_are_ordered(
        x in proptest::collection::vec((0u8..20).prop_map(f64::from), 1..70),
        y in proptest::collection::vec(-50.0f64..50.0, 1..70),
    ) {
        let r = mann_whitney(&x, &y, 0.98).unwrap();
        prop_assert!((0.0..=1.0).contains(&r.p_value), "p {}", r.p_value);
        prop_assert!(r.lower <= r.upper, "{r:?}");
    }
}
