//! The images and the manifests on a real container engine: scripts/podman-images.sh builds
//! the six scratch images from the static binaries through Dockerfile.multi's targets, their
//! configuration is held against the Dockerfile (user, entrypoint, ports) and the size
//! budget; then `podman kube play` runs manifests/base through the single-machine overlay
//! (packaging::podman says what it changes and why) against the host's Redis, NATS and
//! MariaDB, a client goes through the containerised gate and edge, every probe answers, the
//! pods stop on SIGTERM with exit 0 and `podman kube down` exits 0.
//!
//! Runs as root where podman runs containers (./lukseun test installs podman, runc and
//! catatonit, and writes /etc/containers/containers.conf when the machine has none); else
//! it says why and counts as skipped.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use packaging::dockerfile;
use packaging::manifest::Kustomization;
use packaging::podman::{single_machine, Host, HostPorts};
use packaging::static_build::static_binaries;
use packaging::{announce, skip_or_fail, workspace_root, SERVICES};
use testkit::free_port;

const CHECK: &str = "podman images and kube play";
const SIZE_BUDGET_BYTES: u64 = 5_000_000;
const JWT_SECRET: &str = "podman-test-key-0123456789abcdef-0123456789";

fn podman(args: &[&str]) -> Output {
    Command::new("podman")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run podman {args:?}: {e}"))
}

fn lines(out: &Output) -> Vec<String> {
    assert!(out.status.success(), "{}", packaging::output_text(out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Why podman cannot run containers here, if it cannot.
fn podman_unusable() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("runs as root only (podman as root, as the issue found it working)".into());
    }
    match Command::new("podman").arg("info").output() {
        Err(e) => Some(format!("podman is not installed ({e})")),
        Ok(out) if !out.status.success() => Some(format!(
            "podman info failed: {}",
            packaging::output_text(&out)
        )),
        Ok(_) => None,
    }
}

/// Everything this run made, removed however the test ends.
struct Cleanup {
    /// Holds the play file, so it outlives the `kube down` below.
    dir: testkit::TempDir,
    play_file: Option<std::path::PathBuf>,
    images: Vec<String>,
    volumes: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(file) = &self.play_file {
            let _ = Command::new("podman")
                .args(["kube", "down"])
                .arg(file)
                .output();
        }
        for volume in &self.volumes {
            let _ = Command::new("podman")
                .args(["volume", "rm", "-f", volume])
                .output();
        }
        for image in &self.images {
            let _ = Command::new("podman").args(["rmi", "-f", image]).output();
        }
    }
}

fn wait_http(addr: std::net::SocketAddr, path: &str, what: &str, logs: &dyn Fn() -> String) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Ok((200, _)) = testkit::http_get(addr, path) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what} {path} did not answer 200 in 90 s:\n{}",
            logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn images_build_and_the_manifests_run_on_podman() {
    if let Some(why) = podman_unusable() {
        return skip_or_fail(CHECK, &why);
    }
    let started = Instant::now();
    let build = static_binaries();
    let tag = format!("podman-test-{}", std::process::id());
    let mut cleanup = Cleanup {
        dir: testkit::TempDir::new("podman-play"),
        play_file: None,
        images: SERVICES
            .iter()
            .map(|s| format!("localhost/lukseun/{s}:{tag}"))
            .collect(),
        volumes: Vec::new(),
    };

    // The images, through the script operators use.
    let script = workspace_root().join("scripts/podman-images.sh");
    let out = Command::new(&script)
        .arg("--binaries")
        .arg(&build.dir)
        .args(["lukseun", &tag])
        .output()
        .expect("run scripts/podman-images.sh");
    assert!(
        out.status.success(),
        "podman-images.sh failed:\n{}",
        packaging::output_text(&out)
    );

    // Can this machine run a container at all? (cgroups, runtime, ulimits)
    let image = |s: &str| format!("localhost/lukseun/{s}:{tag}");
    let probe = podman(&["run", "--rm", &image("gate"), "--help"]);
    if !probe.status.success() {
        return skip_or_fail(
            CHECK,
            &format!(
                "podman built the images but cannot run a container here: {}",
                packaging::output_text(&probe)
            ),
        );
    }

    let stages = dockerfile::parse(
        &std::fs::read_to_string(workspace_root().join("Dockerfile.multi")).unwrap(),
    )
    .unwrap();
    let mut sizes = String::from("images (podman image inspect):\n");
    for service in SERVICES {
        let out = podman(&["image", "inspect", &image(service)]);
        assert!(out.status.success(), "{}", packaging::output_text(&out));
        let inspected: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let config = &inspected[0]["Config"];
        let stage = stages
            .iter()
            .find(|s| s.name.as_deref() == Some(service))
            .unwrap();
        assert_eq!(config["User"], "10001:10001", "{service}");
        let entrypoint: Vec<String> = serde_json::from_value(config["Entrypoint"].clone()).unwrap();
        assert_eq!(entrypoint, [format!("/{service}")], "{service}");
        assert_eq!(entrypoint, stage.entrypoint().unwrap(), "{service}");
        let mut exposed: Vec<u16> = config["ExposedPorts"]
            .as_object()
            .map(|ports| {
                ports
                    .keys()
                    .map(|p| p.trim_end_matches("/tcp").parse().unwrap())
                    .collect()
            })
            .unwrap_or_default();
        exposed.sort();
        let mut expected = stage.exposed_ports().unwrap();
        expected.sort();
        assert_eq!(exposed, expected, "{service}: EXPOSE");
        assert_eq!(config["StopSignal"], "SIGTERM", "{service}");
        let size = inspected[0]["Size"].as_u64().unwrap();
        assert!(
            size <= SIZE_BUDGET_BYTES,
            "{service} image is {size} bytes, over {SIZE_BUDGET_BYTES}"
        );
        sizes.push_str(&format!(
            "  lukseun/{service:<7} {size:>9} bytes ({:.2} MB), user 10001:10001, ports {expected:?}\n",
            size as f64 / 1e6
        ));
    }
    announce(&sizes);

    // The manifests, on the host's Redis, NATS and MariaDB.
    let redis = testkit::Redis::start();
    let nats = testkit::Nats::start();
    let mariadb = testkit::MariaDb::start();
    let ports = HostPorts {
        auth: free_port(),
        config: free_port(),
        mail: free_port(),
        gate: free_port(),
        gate_worker: free_port(),
        edge: free_port(),
        admin: std::array::from_fn(|_| free_port()),
    };
    let prefix = format!("lk{}", std::process::id());
    let host = Host {
        ports: ports.clone(),
        redis_url: redis.url(),
        nats_url: nats.url(),
        mysql_url: mariadb.url(),
        jwt_secret: JWT_SECRET.into(),
        issuer_key: "an issuer key of 32 bytes or more!".into(),
        link_secret: "a link secret of 32 bytes or more".into(),
        tag: tag.clone(),
        prefix: prefix.clone(),
    };
    let base = Kustomization::load(&workspace_root().join("manifests/base")).unwrap();
    let docs: Vec<_> = base.resources.iter().map(|r| r.doc.clone()).collect();
    let play = single_machine(&docs, &host).unwrap();
    let play_file = cleanup.dir.path().join("lukseun-play.yaml");
    std::fs::write(&play_file, &play).unwrap();
    cleanup.play_file = Some(play_file.clone());
    // The volumes podman makes for mail's claim and config's ConfigMap: kube down keeps them.
    cleanup.volumes.push(format!("{prefix}-mail-data"));
    cleanup.volumes.push(format!("{prefix}-game-config"));

    let out = Command::new("podman")
        .args(["kube", "play"])
        .arg(&play_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "podman kube play:\n{}",
        packaging::output_text(&out)
    );
    // podman names a Deployment's pod and container after it; found, not guessed.
    let pods = lines(&podman(&[
        "pod",
        "ps",
        "--filter",
        &format!("name=^{prefix}-"),
        "--format",
        "{{.Name}}",
    ]));
    assert_eq!(pods.len(), SERVICES.len(), "pods: {pods:?}");
    let containers = lines(&podman(&[
        "ps",
        "-a",
        "--filter",
        &format!("name=^{prefix}-"),
        "--format",
        "{{.Names}} {{.IsInfra}}",
    ]))
    .into_iter()
    .filter_map(|l| l.strip_suffix(" false").map(str::to_string))
    .collect::<Vec<_>>();
    assert_eq!(
        containers.len(),
        SERVICES.len(),
        "containers: {containers:?}"
    );
    let logs = || {
        let mut all = String::new();
        for container in &containers {
            let out = podman(&["logs", "--tail", "30", container]);
            all.push_str(&format!(
                "--- {container} ---\n{}\n",
                packaging::output_text(&out)
            ));
        }
        all
    };

    // Probes, from the host: podman cannot run an httpGet probe in a scratch image.
    let local = |port: u16| std::net::SocketAddr::from(([127, 0, 0, 1], port));
    for service in SERVICES {
        let admin = local(ports.admin_of(service));
        wait_http(admin, "/healthz", service, &logs);
        wait_http(admin, "/readyz", service, &logs);
    }
    announce("podman: every service answers /healthz and /readyz with 200");

    let transcript = packaging::client::play(local(ports.gate), local(ports.edge), "podman")
        .unwrap_or_else(|e| panic!("{e}\n{}", logs()));
    announce(&format!(
        "client through the containerised gate and edge:\n  {}",
        transcript.join("\n  ")
    ));

    // Stop as Kubernetes does (SIGTERM, the images' STOPSIGNAL): every container exits 0.
    let mut stop = vec!["pod", "stop", "--time", "30"];
    stop.extend(pods.iter().map(String::as_str));
    let out = podman(&stop);
    assert!(
        out.status.success(),
        "podman pod stop:\n{}",
        packaging::output_text(&out)
    );
    for container in &containers {
        let out = podman(&["inspect", "--format", "{{.State.ExitCode}}", container]);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "0",
            "{container} after SIGTERM: {}\n{}",
            packaging::output_text(&out),
            logs()
        );
    }
    let out = Command::new("podman")
        .args(["kube", "down"])
        .arg(&play_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "podman kube down:\n{}",
        packaging::output_text(&out)
    );
    cleanup.play_file = None;
    announce(&format!(
        "podman: images, kube play, client round, stop and kube down in {:.0} s",
        started.elapsed().as_secs_f64()
    ));
}
