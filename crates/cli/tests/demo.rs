//! `portcullis demo --seed-only`: the seeded story holds (a Log4Shell deny, and 2.4.1 passing
//! staging and then production on the server's own record).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::*;

#[test]
fn the_demo_seeds_a_deny_and_an_allowed_promotion() {
    let home = fresh_home();
    let o = portcullis_with_home(
        &root(),
        &home,
        &[
            "demo",
            "--seed-only",
            "--listen",
            "127.0.0.1:0",
            "--home",
            home.join("demo").to_str().unwrap(),
            "--examples",
            "examples",
        ],
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    for line in [
        "demo: 2.4.0 to staging: \"deny\"",
        "demo: 2.4.1 to staging: \"allow\"",
        "demo: 2.4.1 to production: \"allow\"",
    ] {
        assert!(err.contains(line), "{line}: {err}");
    }
}
