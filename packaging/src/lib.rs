//! Checks of the deployment that need no cluster and no Docker engine: the static (musl)
//! binaries, `Dockerfile.multi` and `manifests/`, all held against what the code really does.
//! The parsing here is pure and unit-tested; the tests in `tests/` run the real binaries.

#![forbid(unsafe_code)]

pub mod client;
pub mod dockerfile;
pub mod elf;
pub mod help;
pub mod manifest;
pub mod network_policy;
pub mod podman;
pub mod promql;
pub mod static_build;

use std::io::Write;
use std::path::PathBuf;

/// The six services: each is a binary, a Dockerfile target and a Deployment of this name.
pub const SERVICES: [&str; 6] = ["gate", "worker", "auth", "edge", "mail", "config"];

/// The repository root (this crate lives in `packaging/`).
pub fn workspace_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent()
        .expect("packaging/ has a parent")
        .to_path_buf()
}

/// What a finished command printed, stdout then stderr: the text a failed check shows.
pub fn output_text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// True on CI, where a missing tool must fail a check instead of skipping it.
pub fn on_ci() -> bool {
    matches!(
        std::env::var("CI").as_deref(),
        Ok("true") | Ok("1") | Ok("yes")
    )
}

/// Skips a check that cannot run here, loudly; on CI the same condition fails the test.
pub fn skip_or_fail(check: &str, reason: &str) {
    let banner = "!".repeat(78);
    if on_ci() {
        panic!("{check}: {reason} (CI=true: this check must run)");
    }
    // Straight to fd 2: the test harness captures eprintln!, which would hide the skip.
    let _ = writeln!(
        std::io::stderr(),
        "\n{banner}\n!! SKIPPED {check}: {reason}\n!! Run ./lukseun test (it installs what is missing) to run this check.\n{banner}\n"
    );
}

/// A line the test harness does not capture (it captures `eprintln!`), for figures and notes
/// every run should show.
pub fn announce(line: &str) {
    let _ = writeln!(std::io::stderr(), "packaging: {line}");
}
