//! `./lukseun up` and `var/cluster.env`: the file exists only while a cluster is up, so a
//! tool waiting for it never reads the addresses of a stopped cluster.
//!
//! The real script runs from a copy in a temporary root (its `var/` is that root's), up to
//! its build step; there a stand-in `cargo` waits as a long build would (building and
//! starting the whole system is what `./lukseun up` itself is for, minutes of CPU). Ctrl-C
//! then stops it as an operator would: SIGINT to its process group.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use packaging::{skip_or_fail, workspace_root};
use testkit::TempDir;

const CHECK: &str = "lukseun up forgets var/cluster.env";
/// What the stand-in apt-get says: packages were missing, the test does not install them.
const NO_INSTALL: &str = "lukseun-test: not installing";

fn write_executable(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn up_removes_the_cluster_env_when_it_starts_and_when_it_stops() {
    // The script's offline validator venv: reused from this checkout, never installed here.
    let tools = workspace_root().join("var/tools");
    if !tools.join("venv/bin/kubernetes-validate").exists() {
        skip_or_fail(
            CHECK,
            "var/tools/venv is missing (./lukseun test installs it)",
        );
        return;
    }
    let root = TempDir::new("lukseun-up");
    let script = root.path().join("lukseun");
    std::fs::copy(workspace_root().join("lukseun"), &script).unwrap();
    let var = root.path().join("var");
    std::fs::create_dir_all(&var).unwrap();
    std::os::unix::fs::symlink(&tools, var.join("tools")).unwrap();
    let fake = root.path().join("fake-bin");
    std::fs::create_dir_all(&fake).unwrap();
    let building = root.path().join("building");
    write_executable(
        &fake.join("cargo"),
        &format!(
            "#!/bin/sh\necho \"$@\" > '{}'\nexec sleep 300\n",
            building.display()
        ),
    );
    write_executable(
        &fake.join("apt-get"),
        &format!("#!/bin/sh\necho '{NO_INSTALL}' >&2\nexit 1\n"),
    );
    let cluster_env = var.join("cluster.env");
    std::fs::write(&cluster_env, "LUKSEUN_GATE=127.0.0.1:1\n").unwrap();

    let log = root.path().join("stderr");
    let path = format!(
        "{}:{}",
        fake.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut up = Command::new("bash")
        .arg(&script)
        .arg("up")
        .env("PATH", path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .process_group(0)
        .spawn()
        .expect("run bash");
    let stderr = || std::fs::read_to_string(&log).unwrap_or_default();

    let deadline = Instant::now() + Duration::from_secs(120);
    while !building.exists() {
        if let Some(status) = up.try_wait().unwrap() {
            if stderr().contains(NO_INSTALL) {
                skip_or_fail(
                    CHECK,
                    "the script's packages are not installed (./lukseun test installs them)",
                );
                return;
            }
            panic!(
                "lukseun up exited ({status}) before building:\n{}",
                stderr()
            );
        }
        assert!(Instant::now() < deadline, "no build step:\n{}", stderr());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !cluster_env.exists(),
        "a starting cluster left the stopped one's var/cluster.env in place"
    );

    // As if the cluster were up: then Ctrl-C.
    std::fs::write(&cluster_env, "LUKSEUN_GATE=127.0.0.1:8880\n").unwrap();
    let pgid = up.id() as libc::pid_t;
    // SAFETY: kill(2) on the process group this test made; no memory is involved.
    assert_eq!(unsafe { libc::kill(-pgid, libc::SIGINT) }, 0);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = up.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            // SAFETY: as above.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
            panic!("lukseun up did not stop on Ctrl-C:\n{}", stderr());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}:\n{}", stderr());
    assert!(
        !cluster_env.exists(),
        "a stopped cluster left its var/cluster.env:\n{}",
        stderr()
    );
}
