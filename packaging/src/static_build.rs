//! Builds the six services once per test process as static musl release binaries, into the
//! normal target directory, and says how long that took.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::{workspace_root, SERVICES};

pub const MUSL_TARGET: &str = "x86_64-unknown-linux-musl";

/// Services built with the `release-small` profile (Cargo.toml says why), as the images are.
pub const SMALL_SERVICES: &[&str] = &["worker"];

#[derive(Debug)]
pub struct StaticBuild {
    /// `target/x86_64-unknown-linux-musl`: `release/` and `release-small/` below it.
    pub dir: PathBuf,
    /// How long `cargo build` took in this process (near zero when nothing changed).
    pub took: Duration,
}

impl StaticBuild {
    pub fn binary(&self, service: &str) -> PathBuf {
        let profile = if SMALL_SERVICES.contains(&service) {
            "release-small"
        } else {
            "release"
        };
        self.dir.join(profile).join(service)
    }
}

/// The build, made on first use; every later call (any test thread) gets the same result.
pub fn static_binaries() -> &'static StaticBuild {
    static BUILD: OnceLock<Result<StaticBuild, String>> = OnceLock::new();
    match BUILD.get_or_init(build) {
        Ok(build) => build,
        Err(message) => panic!("{message}"),
    }
}

/// The target directory this test binary was built into (the nearest ancestor holding
/// cargo's `CACHEDIR.TAG`), so `CARGO_TARGET_DIR` or `--target-dir` is honoured.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("path of the test binary");
    exe.ancestors()
        .find(|dir| dir.join("CACHEDIR.TAG").is_file())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| workspace_root().join("target"))
}

fn build() -> Result<StaticBuild, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let target_dir = target_dir();
    let started = Instant::now();
    for (profile, small) in [("release", false), ("release-small", true)] {
        let mut command = Command::new(&cargo);
        command
            .current_dir(workspace_root())
            .args([
                "build",
                "--profile",
                profile,
                "--locked",
                "--target",
                MUSL_TARGET,
            ])
            .arg("--target-dir")
            .arg(&target_dir);
        for service in SERVICES {
            if SMALL_SERVICES.contains(&service) == small {
                command.args(["-p", service]);
            }
        }
        let status = command
            .status()
            .map_err(|e| format!("cannot run {cargo}: {e}"))?;
        if !status.success() {
            return Err(format!(
                "the static build failed ({status}). Is the target installed? \
                 `rustup target add {MUSL_TARGET}` and `apt-get install musl-tools` \
                 (./lukseun test does both)"
            ));
        }
    }
    let took = started.elapsed();
    crate::announce(&format!(
        "static build of {} took {:.1} s",
        SERVICES.join(", "),
        took.as_secs_f64()
    ));
    Ok(StaticBuild {
        dir: target_dir.join(MUSL_TARGET),
        took,
    })
}
