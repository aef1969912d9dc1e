//! Holds Dockerfile.multi and manifests/ against the code: every port, probe path, env name,
//! selector and image is checked against the binaries' own `--help` and the files they use.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use packaging::dockerfile::{self, Stage};
use packaging::help::{Help, OptionDefault};
use packaging::manifest::{
    container_env, env_value, list, resolve_port, scalar, EnvSource, EnvVar, Kustomization,
};
use packaging::static_build::static_binaries;
use packaging::{workspace_root, SERVICES};
use yaml_rust2::Yaml;

/// The uid and gid every image runs as (Dockerfile `USER`, pod `runAsUser`).
const IMAGE_USER: i64 = 10001;
/// The Secret scripts/create-secrets.sh makes.
const SECRET: &str = "lukseun-secrets";

struct World {
    helps: BTreeMap<&'static str, Help>,
    /// manifests/ (the services) and manifests/deps/ (the services and their servers).
    base: Kustomization,
    deps: Kustomization,
    stages: Vec<Stage>,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let build = static_binaries();
        let helps = SERVICES
            .iter()
            .map(|&service| {
                let out = Command::new(build.binary(service))
                    .arg("--help")
                    .output()
                    .unwrap_or_else(|e| panic!("run {service} --help: {e}"));
                assert!(out.status.success(), "{service} --help failed");
                let text = String::from_utf8(out.stdout).expect("--help is UTF-8");
                let help =
                    Help::parse(&text).unwrap_or_else(|e| panic!("{service} --help: {e}\n{text}"));
                (service, help)
            })
            .collect();
        let root = workspace_root();
        let load = |dir: PathBuf| {
            Kustomization::load(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        };
        let dockerfile =
            std::fs::read_to_string(root.join("Dockerfile.multi")).expect("read Dockerfile.multi");
        World {
            helps,
            base: load(root.join("manifests")),
            deps: load(root.join("manifests/deps")),
            stages: dockerfile::parse(&dockerfile).expect("Dockerfile.multi parses"),
        }
    })
}

/// The one container of a service's Deployment, with its pod spec.
fn pod(service: &str) -> (&'static Yaml, &'static Yaml) {
    let deployment = world()
        .base
        .find("Deployment", service)
        .unwrap_or_else(|| panic!("no Deployment {service} in manifests/"));
    let spec = &deployment.doc["spec"]["template"]["spec"];
    let containers = list(spec, "containers");
    assert_eq!(containers.len(), 1, "{service}: one container per pod");
    (spec, &containers[0])
}

fn env_of(service: &str) -> Vec<EnvVar> {
    container_env(pod(service).1, &world().base)
}

/// What the binary will use for a flag in the cluster: the manifest's env value, else its default.
fn effective(service: &str, flag: &str) -> String {
    let help = &world().helps[service];
    let option = help
        .by_flag(flag)
        .unwrap_or_else(|| panic!("{service} has no --{flag}"));
    if let Some(value) = env_value(&env_of(service), &option.env) {
        return value.to_string();
    }
    match &option.default {
        OptionDefault::Value(v) => v.clone(),
        other => panic!("{service} --{flag} has no value in the manifests ({other:?})"),
    }
}

/// Every `*port` option of a binary that listens (0 would pick a random one).
fn port_flags(service: &str) -> Vec<String> {
    world().helps[service]
        .options
        .iter()
        .filter(|o| o.flag == "port" || o.flag.ends_with("-port"))
        .map(|o| o.flag.clone())
        .collect()
}

fn ports_in_cluster(service: &str) -> BTreeSet<u16> {
    port_flags(service)
        .iter()
        .map(|flag| {
            effective(service, flag)
                .parse()
                .unwrap_or_else(|_| panic!("{service} --{flag} is not a port"))
        })
        .collect()
}

fn stage(service: &str) -> &'static Stage {
    world()
        .stages
        .iter()
        .find(|s| s.name.as_deref() == Some(service))
        .unwrap_or_else(|| panic!("Dockerfile.multi has no target {service}"))
}

fn int(node: &Yaml) -> Option<i64> {
    node.as_i64()
}

#[test]
fn every_service_has_a_deployment_listing_its_ports() {
    for service in SERVICES {
        let (_, container) = pod(service);
        let declared: BTreeSet<u16> = list(container, "ports")
            .iter()
            .map(|p| int(&p["containerPort"]).expect("containerPort") as u16)
            .collect();
        assert_eq!(
            declared,
            ports_in_cluster(service),
            "{service}: containerPorts must be exactly the ports the binary listens on"
        );
        let admin = effective(service, "admin-port");
        assert!(
            list(container, "ports")
                .iter()
                .any(|p| p["name"].as_str() == Some("admin")
                    && scalar(&p["containerPort"]) == Some(admin.clone())),
            "{service}: the admin port {admin} is named `admin`"
        );
    }
}

#[test]
fn admin_ports_are_the_documented_ones() {
    let expected = [
        ("auth", "9101"),
        ("config", "9102"),
        ("mail", "9103"),
        ("gate", "9104"),
        ("worker", "9105"),
        ("edge", "9106"),
    ];
    for (service, port) in expected {
        assert_eq!(
            world().helps[service].default_value("admin-port"),
            Some(port),
            "{service} --help"
        );
        assert_eq!(effective(service, "admin-port"), port, "{service} manifest");
    }
}

#[test]
fn probes_use_healthz_and_readyz_on_the_admin_port() {
    for service in SERVICES {
        let (_, container) = pod(service);
        let admin: u16 = effective(service, "admin-port").parse().unwrap();
        for (probe, path) in [
            ("livenessProbe", "/healthz"),
            ("readinessProbe", "/readyz"),
            ("startupProbe", "/healthz"),
        ] {
            let get = &container[probe]["httpGet"];
            if probe == "startupProbe" && container[probe].is_badvalue() {
                continue;
            }
            assert_eq!(get["path"].as_str(), Some(path), "{service} {probe}");
            assert_eq!(
                resolve_port(container, &get["port"]),
                Some(admin),
                "{service} {probe} must hit the admin port"
            );
        }
    }
}

#[test]
fn every_lukseun_variable_is_an_option_of_its_binary() {
    for service in SERVICES {
        let help = &world().helps[service];
        let env = env_of(service);
        for var in &env {
            if var.name.starts_with("LUKSEUN_") {
                assert!(
                    help.by_env(&var.name).is_some(),
                    "{service}: {} is set in manifests/ but `{service} --help` has no such option",
                    var.name
                );
            } else {
                assert!(
                    help.by_alt_env(&var.name).is_some(),
                    "{service}: {} is neither a LUKSEUN_* option nor a fallback the binary reads",
                    var.name
                );
            }
        }
        for option in &help.options {
            if option.default == OptionDefault::Required {
                assert!(
                    env.iter().any(|v| v.name == option.env),
                    "{service}: required --{} ({}) is not set",
                    option.flag,
                    option.env
                );
            }
        }
    }
}

#[test]
fn the_jwt_key_issuer_key_and_database_url_come_from_the_secret() {
    for service in SERVICES {
        for var in env_of(service) {
            if [
                "LUKSEUN_JWT_SECRET",
                "LUKSEUN_MYSQL_URL",
                "LUKSEUN_WORLD_DB",
                "LUKSEUN_ISSUER_KEY",
            ]
            .contains(&var.name.as_str())
            {
                assert!(
                    matches!(&var.source, EnvSource::Secret { secret, .. } if secret == SECRET),
                    "{service}: {} must come from the Secret {SECRET}, not {:?}",
                    var.name,
                    var.source
                );
            }
        }
    }
    let users: Vec<&str> = SERVICES
        .into_iter()
        .filter(|s| env_of(s).iter().any(|v| v.name == "LUKSEUN_JWT_SECRET"))
        .collect();
    assert_eq!(users, vec!["worker", "auth"]);
    // The operators' key (issue 16): auth alone holds it; without it no admin token is minted.
    let holders: Vec<&str> = SERVICES
        .into_iter()
        .filter(|s| env_of(s).iter().any(|v| v.name == "LUKSEUN_ISSUER_KEY"))
        .collect();
    assert_eq!(holders, vec!["auth"]);
    let script = std::fs::read_to_string(workspace_root().join("scripts/create-secrets.sh"))
        .expect("scripts/create-secrets.sh");
    for service in SERVICES {
        for var in env_of(service) {
            if let EnvSource::Secret { key, .. } = &var.source {
                assert!(
                    script.contains(&format!("--from-literal={key}=")),
                    "create-secrets.sh does not make the key {key} that {service} reads"
                );
            }
        }
    }
}

#[test]
fn gate_advertises_its_pod_ip_from_the_downward_api() {
    let help = &world().helps["gate"];
    let option = help.by_flag("advertise-ip").expect("gate --advertise-ip");
    let alt = option
        .alt_env
        .as_deref()
        .expect("gate reads a fallback env");
    let env = env_of("gate");
    assert!(
        env.contains(&EnvVar {
            name: alt.to_string(),
            source: EnvSource::Field("status.podIP".into())
        }),
        "gate needs {alt} from status.podIP"
    );
    assert!(
        !env.iter().any(|v| v.name == option.env),
        "{} would hide {alt}",
        option.env
    );
}

/// Does a Deployment's pod template carry every label of the selector?
fn selects(selector: &Yaml, deployment: &Yaml) -> bool {
    let labels = &deployment["spec"]["template"]["metadata"]["labels"];
    match selector.as_hash() {
        Some(pairs) if !pairs.is_empty() => pairs
            .iter()
            .all(|(k, v)| &labels[k.as_str().unwrap_or("")] == v),
        _ => false,
    }
}

#[test]
fn services_select_deployments_and_name_their_ports() {
    for k in [&world().base, &world().deps] {
        for service in k.all("Service") {
            let selector = &service.doc["spec"]["selector"];
            let matching: Vec<_> = k
                .all("Deployment")
                .filter(|d| selects(selector, &d.doc))
                .collect();
            assert_eq!(
                matching.len(),
                1,
                "Service {} must select exactly one Deployment",
                service.name()
            );
            let container = &matching[0].doc["spec"]["template"]["spec"]["containers"][0];
            for port in list(&service.doc["spec"], "ports") {
                assert!(
                    resolve_port(container, &port["targetPort"]).is_some(),
                    "Service {} targetPort {:?} is no port of {}",
                    service.name(),
                    port["targetPort"],
                    matching[0].name()
                );
            }
        }
        for deployment in k.all("Deployment") {
            let selector = &deployment.doc["spec"]["selector"]["matchLabels"];
            assert!(
                selects(selector, &deployment.doc),
                "Deployment {}: its selector does not match its own pods",
                deployment.name()
            );
        }
    }
}

#[test]
fn only_gate_and_edge_are_exposed_outside() {
    let mut public = BTreeMap::new();
    for service in world().base.all("Service") {
        if service.doc["spec"]["type"].as_str() == Some("LoadBalancer") {
            let ports: Vec<String> = list(&service.doc["spec"], "ports")
                .iter()
                .filter_map(|p| scalar(&p["port"]))
                .collect();
            let target = world()
                .base
                .all("Deployment")
                .find(|d| selects(&service.doc["spec"]["selector"], &d.doc))
                .map(|d| d.name().to_string())
                .unwrap_or_default();
            public.insert(target, ports);
        }
    }
    let expected = BTreeMap::from([
        ("edge".to_string(), vec![effective("edge", "port")]),
        ("gate".to_string(), vec![effective("gate", "port")]),
    ]);
    assert_eq!(public, expected);
    assert_eq!(effective("gate", "port"), "8880");
    assert_eq!(effective("edge", "port"), "9000");
    // Workers dial the pod IP in gates.id.<gid>: the worker port needs a containerPort only.
    assert_eq!(effective("gate", "worker-port"), "8201");
}

#[test]
fn autoscalers_and_disruption_budgets_point_at_deployments() {
    let k = &world().base;
    let scaled: BTreeSet<&str> = k
        .all("HorizontalPodAutoscaler")
        .map(|h| {
            let target = &h.doc["spec"]["scaleTargetRef"];
            assert_eq!(target["kind"].as_str(), Some("Deployment"));
            let name = target["name"].as_str().unwrap_or("");
            assert!(
                k.find("Deployment", name).is_some(),
                "HPA {name}: no such Deployment"
            );
            let min = int(&h.doc["spec"]["minReplicas"]).unwrap_or(1);
            let max = int(&h.doc["spec"]["maxReplicas"]).unwrap_or(0);
            assert!(min >= 2 && max > min, "HPA {name}: {min}..{max}");
            name
        })
        .collect();
    assert_eq!(scaled, BTreeSet::from(["edge", "gate", "mail", "worker"]));
    let budgeted: BTreeSet<&str> = k
        .all("PodDisruptionBudget")
        .map(|pdb| {
            let selector = &pdb.doc["spec"]["selector"]["matchLabels"];
            let targets: Vec<_> = k
                .all("Deployment")
                .filter(|d| selects(selector, &d.doc))
                .collect();
            assert_eq!(
                targets.len(),
                1,
                "PDB {} selects one Deployment",
                pdb.name()
            );
            let replicas = int(&targets[0].doc["spec"]["replicas"]).unwrap_or(1);
            let min = int(&pdb.doc["spec"]["minAvailable"]).expect("minAvailable");
            assert!(
                min < replicas,
                "PDB {} would block every eviction",
                pdb.name()
            );
            targets[0].name()
        })
        .collect();
    assert_eq!(
        budgeted,
        BTreeSet::from(["auth", "config", "edge", "gate", "mail", "worker"]),
        "every service has a budget"
    );
}

#[test]
fn mail_replicas_share_one_volume() {
    let k = &world().base;
    let deployment = k.find("Deployment", "mail").unwrap();
    let replicas = int(&deployment.doc["spec"]["replicas"]).unwrap_or(1);
    assert!(replicas >= 2, "mail runs {replicas} replica(s)");
    assert!(k
        .all("HorizontalPodAutoscaler")
        .any(|h| h.doc["spec"]["scaleTargetRef"]["name"].as_str() == Some("mail")));
    let (spec, container) = pod("mail");
    let root = effective("mail", "root");
    let mount = list(container, "volumeMounts")
        .iter()
        .find(|m| m["mountPath"].as_str() == Some(root.as_str()))
        .unwrap_or_else(|| panic!("nothing is mounted at the Maildir root {root}"));
    let volume = list(spec, "volumes")
        .iter()
        .find(|v| v["name"] == mount["name"])
        .expect("the mounted volume");
    let claim = volume["persistentVolumeClaim"]["claimName"]
        .as_str()
        .expect("the Maildir is a PersistentVolumeClaim");
    let pvc = k.find("PersistentVolumeClaim", claim).expect("the claim");
    let modes: Vec<&str> = list(&pvc.doc["spec"], "accessModes")
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    assert_eq!(modes, vec!["ReadWriteMany"]);
    assert_eq!(int(&spec["securityContext"]["fsGroup"]), Some(IMAGE_USER));
}

#[test]
fn config_serves_the_game_config_files() {
    let k = &world().base;
    let (spec, container) = pod("config");
    let dir = effective("config", "dir");
    let mount = list(container, "volumeMounts")
        .iter()
        .find(|m| m["mountPath"].as_str() == Some(dir.as_str()))
        .unwrap_or_else(|| panic!("nothing is mounted at config's --dir {dir}"));
    let volume = list(spec, "volumes")
        .iter()
        .find(|v| v["name"] == mount["name"])
        .expect("the mounted volume");
    let name = volume["configMap"]["name"]
        .as_str()
        .expect("a ConfigMap volume");
    let map = k
        .find("ConfigMap", name)
        .expect("the game config ConfigMap");
    let in_manifest: BTreeMap<String, String> = map.doc["data"]
        .as_hash()
        .expect("data")
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().unwrap().to_string(),
                v.as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut on_disk = BTreeMap::new();
    for entry in std::fs::read_dir(workspace_root().join("game-config")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) == Some("json") {
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            on_disk.insert(name, std::fs::read_to_string(&path).unwrap());
        }
    }
    assert!(!on_disk.is_empty());
    assert!(
        in_manifest == on_disk,
        "manifests/base/game-config.yaml is stale: run scripts/game-config-configmap.sh"
    );
}

#[test]
fn grace_periods_cover_the_drain() {
    for service in SERVICES {
        let (spec, container) = pod(service);
        let grace = int(&spec["terminationGracePeriodSeconds"])
            .unwrap_or_else(|| panic!("{service}: terminationGracePeriodSeconds"));
        let pre_stop = int(&container["lifecycle"]["preStop"]["sleep"]["seconds"]).unwrap_or(0);
        // The gate answers everything in flight, each within the job timeout, then closes.
        let drain_ms = if service == "gate" {
            effective("gate", "job-timeout-ms").parse::<i64>().unwrap() + 500
        } else {
            2_000
        };
        let needed_secs = pre_stop + (drain_ms + 999) / 1000 + 5;
        assert!(
            grace >= needed_secs,
            "{service}: grace {grace} s < preStop {pre_stop} s + drain {drain_ms} ms + 5 s margin"
        );
    }
}

#[test]
fn containers_run_as_the_image_user_without_privileges() {
    for service in SERVICES {
        let (spec, container) = pod(service);
        let context = &spec["securityContext"];
        assert_eq!(context["runAsNonRoot"].as_bool(), Some(true), "{service}");
        assert_eq!(int(&context["runAsUser"]), Some(IMAGE_USER), "{service}");
        let own = &container["securityContext"];
        assert_eq!(
            own["readOnlyRootFilesystem"].as_bool(),
            Some(true),
            "{service}"
        );
        assert_eq!(
            own["allowPrivilegeEscalation"].as_bool(),
            Some(false),
            "{service}"
        );
        assert!(
            container["resources"]["requests"]["cpu"].as_str().is_some()
                && container["resources"]["limits"]["memory"]
                    .as_str()
                    .is_some(),
            "{service}: needs a CPU request (for the HPA) and a memory limit"
        );
    }
}

#[test]
fn images_are_the_dockerfile_targets() {
    let k = &world().base;
    for service in SERVICES {
        let image = pod(service).1["image"].as_str().unwrap_or("");
        assert_eq!(image, format!("lukseun/{service}"), "{service}: image");
        assert!(
            k.images
                .iter()
                .any(|i| i.name == image && i.new_tag.is_some()),
            "manifests: no `images:` entry pins a tag for {image}"
        );
        stage(service);
    }
}

#[test]
fn dockerfile_targets_hold_one_static_binary_each() {
    let w = world();
    let build = w
        .stages
        .iter()
        .find(|s| s.name.as_deref() == Some("build"))
        .expect("a build stage");
    let compile = build.runs().join(" ");
    assert!(
        compile.contains("--target x86_64-unknown-linux-musl"),
        "{compile}"
    );
    let targets: BTreeSet<&str> = w.stages.iter().filter_map(|s| s.name.as_deref()).collect();
    let mut expected: BTreeSet<&str> = SERVICES.into_iter().collect();
    expected.insert("build");
    assert_eq!(targets, expected);
    for service in SERVICES {
        let stage = stage(service);
        assert!(
            compile.contains(&format!("-p {service} ")),
            "builder skips {service}"
        );
        assert_eq!(stage.base, "scratch", "{service}");
        let copies = stage.copies().unwrap();
        let binary = copies
            .iter()
            .find(|c| c.dest == format!("/{service}"))
            .unwrap_or_else(|| panic!("{service}: the binary is not copied to /{service}"));
        assert_eq!(binary.from.as_deref(), Some("build"));
        assert_eq!(binary.sources, vec![format!("/out/{service}")]);
        assert_eq!(stage.entrypoint().unwrap(), vec![format!("/{service}")]);
        assert_eq!(stage.stop_signal(), Some("SIGTERM"), "{service}");
        let user = stage.user().unwrap_or_else(|| panic!("{service}: no USER"));
        let (uid, gid) = user.split_once(':').unwrap_or((user, user));
        assert_eq!(
            (uid.parse::<i64>().ok(), gid.parse::<i64>().ok()),
            (Some(IMAGE_USER), Some(IMAGE_USER)),
            "{service}: USER must be the numeric non-root {IMAGE_USER}"
        );
        // EXPOSE: the ports the binary listens on by default (or by the image's ENV).
        let help = &w.helps[service];
        let image_env = stage.env();
        for (name, _) in &image_env {
            assert!(
                help.by_env(name).is_some(),
                "{service}: ENV {name} is no option"
            );
        }
        let image_value = |flag: &str| {
            let env = &help.by_flag(flag).unwrap().env;
            image_env
                .iter()
                .find(|(k, _)| k == env)
                .map(|(_, v)| v.clone())
                .or_else(|| help.default_value(flag).map(str::to_string))
                .unwrap_or_else(|| panic!("{service} --{flag} has no value in the image"))
        };
        let listening: BTreeSet<u16> = port_flags(service)
            .iter()
            .map(|f| image_value(f).parse().unwrap())
            .collect();
        let exposed: BTreeSet<u16> = stage.exposed_ports().unwrap().into_iter().collect();
        assert_eq!(exposed, listening, "{service}: EXPOSE");
        // Paths the binary needs must exist in the image.
        if service == "config" {
            let dir = image_value("dir");
            assert!(
                copies
                    .iter()
                    .any(|c| c.dest == dir && c.sources.iter().any(|s| s.ends_with("game-config"))),
                "config: the image has no game-config at {dir}"
            );
        }
        if service == "mail" {
            let root = image_value("root");
            let copy = copies
                .iter()
                .find(|c| c.dest == root)
                .unwrap_or_else(|| panic!("mail: the image has no Maildir root {root}"));
            assert_eq!(
                copy.chown.as_deref(),
                Some(user),
                "mail: the root must be the user's"
            );
        }
    }
}

#[test]
fn every_manifest_file_is_applied() {
    // The operator kit is applied on its own (docs/operations.md).
    let observability = Kustomization::load(&workspace_root().join("manifests/observability"))
        .expect("manifests/observability");
    let applied: BTreeSet<PathBuf> = world()
        .base
        .files
        .iter()
        .chain(&world().deps.files)
        .chain(&observability.files)
        .map(|p| p.canonicalize().unwrap())
        .collect();
    let mut stack = vec![workspace_root().join("manifests")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().and_then(|e| e.to_str()) == Some("yaml") {
                assert!(
                    applied.contains(&path.canonicalize().unwrap()),
                    "{} is in no kustomization",
                    path.display()
                );
            }
        }
    }
}
