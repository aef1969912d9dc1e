//! The single-machine overlay for `podman kube play`: manifests/base rewritten for one host,
//! as podman runs Kubernetes YAML. Pure (YAML in, YAML out) and unit-tested; the run is
//! `tests/podman.rs`.
//!
//! What changes, and why:
//! - **Host networking** (`hostNetwork: true`), every port from [`HostPorts`] (free ports of
//!   the host, so a local `./lukseun up` never collides). podman has no Services and no
//!   cluster DNS (`redis`, `auth`, `gate-public` resolve to nothing), and the gate must be
//!   reachable by the worker at the IP it advertises: on the host network that is 127.0.0.1.
//! - **Redis, NATS and MariaDB are the host's** (testkit's servers): the URLs point there.
//!   Building images of them from Debian's packages would test Debian, not Lukseun.
//! - **Images** `localhost/lukseun/<service>:<tag>`, built by scripts/podman-images.sh;
//!   **one replica** (podman plays one pod per Deployment); worker threads cut to 4.
//! - **No probes, no preStop**: podman runs an `httpGet` probe as `curl` inside the
//!   container, and a scratch image has no curl; the test probes `/healthz` and `/readyz`
//!   from the host instead. The `sleep` preStop action is Kubernetes's own.
//! - **The Secret's values inline** (`secretKeyRef` becomes `value`): the JWT key and the
//!   MySQL URL are test values here; scripts/create-secrets.sh stays the production path.
//! - **`POD_IP` from the downward API** goes; the gate advertises 127.0.0.1.
//! - Services, autoscalers, disruption budgets and the Namespace go: podman has none.
//! - Names carry a prefix (pods, mail's claim, the game-config ConfigMap: podman makes
//!   named volumes of both, which `podman kube down` keeps), so runs never share state.
//!
//! Kept as in production: images, user 10001, read-only root, dropped capabilities, the
//! seccomp profile, memory limits, the env ConfigMaps (rewritten values only), the
//! game-config ConfigMap mounted over config's copy, mail's volume claim.

use yaml_rust2::yaml::Hash;
use yaml_rust2::{Yaml, YamlEmitter};

use crate::SERVICES;

/// The host ports of one podman run.
#[derive(Debug, Clone)]
pub struct HostPorts {
    pub auth: u16,
    pub config: u16,
    pub mail: u16,
    pub gate: u16,
    pub gate_worker: u16,
    pub edge: u16,
    /// Admin port per service, in [`SERVICES`] order.
    pub admin: [u16; 6],
}

impl HostPorts {
    pub fn admin_of(&self, service: &str) -> u16 {
        let i = SERVICES
            .iter()
            .position(|s| *s == service)
            .unwrap_or_else(|| panic!("{service} is not a service"));
        self.admin[i]
    }
}

/// What the overlay needs to know about the host.
#[derive(Debug, Clone)]
pub struct Host {
    pub ports: HostPorts,
    pub redis_url: String,
    pub nats_url: String,
    pub mysql_url: String,
    pub jwt_secret: String,
    /// auth's issuer key (operators mint admin tokens with it).
    pub issuer_key: String,
    /// The gate's and worker's link secret (the worker port's proof).
    pub link_secret: String,
    /// The images' tag.
    pub tag: String,
    /// Prefix of pod and volume names.
    pub prefix: String,
}

fn key(k: &str) -> Yaml {
    Yaml::String(k.to_string())
}

fn text(v: impl ToString) -> Yaml {
    Yaml::String(v.to_string())
}

fn hash_mut(node: &mut Yaml) -> Option<&mut Hash> {
    match node {
        Yaml::Hash(h) => Some(h),
        _ => None,
    }
}

fn field<'a>(node: &'a mut Yaml, path: &[&str]) -> Option<&'a mut Yaml> {
    let mut node = node;
    for k in path {
        node = hash_mut(node)?.get_mut(&key(k))?;
    }
    Some(node)
}

fn array_mut<'a>(node: &'a mut Yaml, path: &[&str]) -> Vec<&'a mut Yaml> {
    match field(node, path) {
        Some(Yaml::Array(items)) => items.iter_mut().collect(),
        _ => Vec::new(),
    }
}

fn set(node: &mut Yaml, k: &str, v: Yaml) {
    if let Some(h) = hash_mut(node) {
        h.insert(key(k), v);
    }
}

fn remove(node: &mut Yaml, k: &str) {
    if let Some(h) = hash_mut(node) {
        h.remove(&key(k));
    }
}

/// A service's env ConfigMap values on this host (`None`: keep the manifest's value).
fn env_value(host: &Host, service: &str, name: &str) -> Option<String> {
    let p = &host.ports;
    let local = |port: u16| format!("http://127.0.0.1:{port}");
    Some(match name {
        "LUKSEUN_REDIS_URL" => host.redis_url.clone(),
        "LUKSEUN_NATS_URL" => host.nats_url.clone(),
        "LUKSEUN_CONFIG_URL" => local(p.config),
        "LUKSEUN_MAIL_URL" => local(p.mail),
        "LUKSEUN_AUTH_URL" => local(p.auth),
        "LUKSEUN_ADMIN_PORT" => p.admin_of(service).to_string(),
        "LUKSEUN_WORKER_PORT" => p.gate_worker.to_string(),
        "LUKSEUN_THREADS" => "4".into(),
        "LUKSEUN_PORT" => match service {
            "auth" => p.auth,
            "config" => p.config,
            "mail" => p.mail,
            "gate" => p.gate,
            "edge" => p.edge,
            _ => return None,
        }
        .to_string(),
        _ => return None,
    })
}

/// The value of a Secret key, from the host.
fn secret_value(host: &Host, secret_key: &str) -> Option<String> {
    match secret_key {
        "jwt-secret" => Some(host.jwt_secret.clone()),
        "mysql-url" => Some(host.mysql_url.clone()),
        "issuer-key" => Some(host.issuer_key.clone()),
        "link-secret" => Some(host.link_secret.clone()),
        // One machine, one MariaDB: every world on `mysql-url` (the key is optional).
        "world-db" => Some(String::new()),
        // The host's servers of the run take anyone: every service gets their plain URL
        // in place of its own user's (users are tested apart, shared/tests/*_users.rs).
        k if k.starts_with("redis-url-") => Some(host.redis_url.clone()),
        k if k.starts_with("nats-url-") => Some(host.nats_url.clone()),
        _ => None,
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum OverlayError {
    /// A `secretKeyRef` to a key the overlay has no value for.
    UnknownSecretKey(String),
    /// A Deployment of the six is missing.
    MissingDeployment(String),
}

impl std::fmt::Display for OverlayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OverlayError::UnknownSecretKey(k) => {
                write!(f, "no value for the Secret key {k} on a single machine")
            }
            OverlayError::MissingDeployment(d) => write!(f, "no Deployment {d} in the base"),
        }
    }
}

impl std::error::Error for OverlayError {}

/// The play file: `docs` (the objects of manifests/base) rewritten as the module header says.
pub fn single_machine(docs: &[Yaml], host: &Host) -> Result<String, OverlayError> {
    let mut out: Vec<Yaml> = Vec::new();
    let claim_name = |name: &str| format!("{}-{name}", host.prefix);
    for doc in docs {
        let kind = doc["kind"].as_str().unwrap_or("");
        let name = doc["metadata"]["name"].as_str().unwrap_or("").to_string();
        let mut doc = doc.clone();
        match kind {
            "ConfigMap" => {
                if !name.ends_with("-env") {
                    // Mounted as a volume (game-config): podman makes a named volume of it.
                    set(
                        field(&mut doc, &["metadata"]).expect("metadata"),
                        "name",
                        text(claim_name(&name)),
                    );
                }
                let service = name.strip_suffix("-env").unwrap_or("");
                if SERVICES.contains(&service) {
                    if let Some(Yaml::Hash(data)) = field(&mut doc, &["data"]) {
                        for (k, v) in data.iter_mut() {
                            if let Some(value) =
                                k.as_str().and_then(|k| env_value(host, service, k))
                            {
                                *v = text(value);
                            }
                        }
                    }
                }
                out.push(doc);
            }
            "PersistentVolumeClaim" => {
                set(
                    field(&mut doc, &["metadata"]).expect("metadata"),
                    "name",
                    text(claim_name(&name)),
                );
                out.push(doc);
            }
            "Deployment" => {
                deployment(&mut doc, &name, host, &claim_name)?;
                out.push(doc);
            }
            // Service, HorizontalPodAutoscaler, PodDisruptionBudget, Namespace: podman has none.
            _ => {}
        }
    }
    for service in SERVICES {
        let prefixed = format!("{}-{service}", host.prefix);
        let found = out.iter().any(|d| {
            d["kind"].as_str() == Some("Deployment")
                && d["metadata"]["name"].as_str() == Some(&prefixed)
        });
        if !found {
            return Err(OverlayError::MissingDeployment(service.to_string()));
        }
    }
    let mut text = String::new();
    for doc in &out {
        let mut one = String::new();
        YamlEmitter::new(&mut one).dump(doc).expect("emit YAML");
        text.push_str(&one);
        text.push('\n');
    }
    Ok(text)
}

fn deployment(
    doc: &mut Yaml,
    name: &str,
    host: &Host,
    claim_name: &dyn Fn(&str) -> String,
) -> Result<(), OverlayError> {
    let metadata = field(doc, &["metadata"]).expect("metadata");
    set(metadata, "name", text(format!("{}-{name}", host.prefix)));
    let spec = field(doc, &["spec"]).expect("spec");
    set(spec, "replicas", Yaml::Integer(1));
    let pod = field(spec, &["template", "spec"]).expect("a pod template");
    set(pod, "hostNetwork", Yaml::Boolean(true));
    for volume in array_mut(pod, &["volumes"]) {
        if let Some(claim) = field(volume, &["persistentVolumeClaim"]) {
            let claimed = claim["claimName"].as_str().unwrap_or("").to_string();
            set(claim, "claimName", text(claim_name(&claimed)));
        }
        if let Some(map) = field(volume, &["configMap"]) {
            let mapped = map["name"].as_str().unwrap_or("").to_string();
            set(map, "name", text(claim_name(&mapped)));
        }
    }
    for container in array_mut(pod, &["containers"]) {
        let image = container["image"].as_str().unwrap_or("").to_string();
        set(
            container,
            "image",
            text(format!("localhost/{image}:{}", host.tag)),
        );
        for k in [
            "livenessProbe",
            "readinessProbe",
            "startupProbe",
            "lifecycle",
            "ports",
        ] {
            remove(container, k);
        }
        let mut env: Vec<Yaml> = Vec::new();
        if let Some(Yaml::Array(vars)) = field(container, &["env"]) {
            for var in vars.iter() {
                let var_name = var["name"].as_str().unwrap_or("");
                if var["valueFrom"]["fieldRef"]["fieldPath"].as_str() == Some("status.podIP") {
                    let mut advertise = Yaml::Hash(Hash::new());
                    set(&mut advertise, "name", text("LUKSEUN_ADVERTISE_IP"));
                    set(&mut advertise, "value", text("127.0.0.1"));
                    env.push(advertise);
                    continue;
                }
                if let Some(secret_key) = var["valueFrom"]["secretKeyRef"]["key"].as_str() {
                    let value = secret_value(host, secret_key)
                        .ok_or_else(|| OverlayError::UnknownSecretKey(secret_key.to_string()))?;
                    let mut inline = Yaml::Hash(Hash::new());
                    set(&mut inline, "name", text(var_name));
                    set(&mut inline, "value", text(value));
                    env.push(inline);
                    continue;
                }
                env.push(var.clone());
            }
        }
        if !env.is_empty() {
            set(container, "env", Yaml::Array(env));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use yaml_rust2::YamlLoader;

    fn host() -> Host {
        Host {
            ports: HostPorts {
                auth: 1001,
                config: 1002,
                mail: 1003,
                gate: 1004,
                gate_worker: 1005,
                edge: 1006,
                admin: [2001, 2002, 2003, 2004, 2005, 2006],
            },
            redis_url: "redis://127.0.0.1:7000/".into(),
            nats_url: "nats://127.0.0.1:7001".into(),
            mysql_url: "mysql://root@127.0.0.1:7002/lukseun".into(),
            jwt_secret: "k".repeat(32),
            issuer_key: "i".repeat(32),
            link_secret: "l".repeat(32),
            tag: "t1".into(),
            prefix: "lk1".into(),
        }
    }

    fn base() -> Vec<Yaml> {
        let dir = crate::workspace_root().join("manifests/base");
        crate::manifest::Kustomization::load(&dir)
            .unwrap()
            .resources
            .into_iter()
            .map(|r| r.doc)
            .collect()
    }

    fn played() -> Vec<Yaml> {
        YamlLoader::load_from_str(&single_machine(&base(), &host()).unwrap()).unwrap()
    }

    fn find<'a>(docs: &'a [Yaml], kind: &str, name: &str) -> &'a Yaml {
        docs.iter()
            .find(|d| {
                d["kind"].as_str() == Some(kind) && d["metadata"]["name"].as_str() == Some(name)
            })
            .unwrap_or_else(|| panic!("no {kind} {name}"))
    }

    #[test]
    fn keeps_the_deployments_and_what_they_read_and_nothing_podman_lacks() {
        let docs = played();
        let mut kinds: Vec<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
        kinds.sort();
        kinds.dedup();
        assert_eq!(kinds, ["ConfigMap", "Deployment", "PersistentVolumeClaim"]);
        for service in SERVICES {
            let d = find(&docs, "Deployment", &format!("lk1-{service}"));
            assert_eq!(d["spec"]["replicas"].as_i64(), Some(1));
            let pod = &d["spec"]["template"]["spec"];
            assert_eq!(pod["hostNetwork"].as_bool(), Some(true));
            assert_eq!(pod["securityContext"]["runAsUser"].as_i64(), Some(10001));
            let c = &pod["containers"][0];
            assert_eq!(
                c["image"].as_str(),
                Some(format!("localhost/lukseun/{service}:t1").as_str())
            );
            assert!(c["livenessProbe"].is_badvalue() && c["readinessProbe"].is_badvalue());
            assert_eq!(
                c["securityContext"]["readOnlyRootFilesystem"].as_bool(),
                Some(true)
            );
            let text = format!("{:?}", c["env"]);
            assert!(
                !text.contains("secretKeyRef") && !text.contains("fieldRef"),
                "{text}"
            );
        }
    }

    #[test]
    fn points_the_services_at_the_host() {
        let docs = played();
        let gate_env = &find(&docs, "ConfigMap", "gate-env")["data"];
        assert_eq!(gate_env["LUKSEUN_PORT"].as_str(), Some("1004"));
        assert_eq!(gate_env["LUKSEUN_WORKER_PORT"].as_str(), Some("1005"));
        assert_eq!(gate_env["LUKSEUN_ADMIN_PORT"].as_str(), Some("2001"));
        let worker_env = &find(&docs, "ConfigMap", "worker-env")["data"];
        assert_eq!(
            worker_env["LUKSEUN_AUTH_URL"].as_str(),
            Some("http://127.0.0.1:1001")
        );
        assert_eq!(worker_env["LUKSEUN_ADMIN_PORT"].as_str(), Some("2002"));
        assert_eq!(worker_env["LUKSEUN_THREADS"].as_str(), Some("4"));
        let worker = &find(&docs, "Deployment", "lk1-worker")["spec"]["template"]["spec"];
        let env = worker["containers"][0]["env"].as_vec().unwrap();
        let value = |n: &str| {
            env.iter()
                .find(|v| v["name"].as_str() == Some(n))
                .and_then(|v| v["value"].as_str())
        };
        assert_eq!(
            value("LUKSEUN_MYSQL_URL"),
            Some("mysql://root@127.0.0.1:7002/lukseun")
        );
        assert_eq!(value("LUKSEUN_JWT_SECRET"), Some("k".repeat(32).as_str()));
        assert_eq!(value("LUKSEUN_LINK_SECRET"), Some("l".repeat(32).as_str()));
        // Each service's own Redis and NATS URLs come from the Secret: here the host's.
        assert_eq!(value("LUKSEUN_REDIS_URL"), Some("redis://127.0.0.1:7000/"));
        assert_eq!(value("LUKSEUN_NATS_URL"), Some("nats://127.0.0.1:7001"));
        let gate = &find(&docs, "Deployment", "lk1-gate")["spec"]["template"]["spec"];
        let env = gate["containers"][0]["env"].as_vec().unwrap();
        assert!(env
            .iter()
            .any(|v| v["name"].as_str() == Some("LUKSEUN_ADVERTISE_IP")
                && v["value"].as_str() == Some("127.0.0.1")));
        // mail's claim and the volume that names it both carry the prefix.
        let claim = docs
            .iter()
            .find(|d| d["kind"].as_str() == Some("PersistentVolumeClaim"))
            .unwrap();
        let claim_name = claim["metadata"]["name"].as_str().unwrap();
        assert!(claim_name.starts_with("lk1-"), "{claim_name}");
        let mail = &find(&docs, "Deployment", "lk1-mail")["spec"]["template"]["spec"];
        assert_eq!(
            mail["volumes"][0]["persistentVolumeClaim"]["claimName"].as_str(),
            Some(claim_name)
        );
        find(&docs, "ConfigMap", "lk1-game-config");
        let config = &find(&docs, "Deployment", "lk1-config")["spec"]["template"]["spec"];
        assert_eq!(
            config["volumes"][0]["configMap"]["name"].as_str(),
            Some("lk1-game-config")
        );
    }

    #[test]
    fn an_unknown_secret_key_is_an_error() {
        let mut docs = base();
        for doc in docs.iter_mut() {
            if doc["metadata"]["name"].as_str() == Some("auth")
                && doc["kind"].as_str() == Some("Deployment")
            {
                let env = field(doc, &["spec", "template", "spec", "containers"]).unwrap();
                let mut emitted = String::new();
                YamlEmitter::new(&mut emitted).dump(env).unwrap();
                let changed = emitted.replace("key: jwt-secret", "key: other-key");
                *env = YamlLoader::load_from_str(&changed).unwrap().remove(0);
            }
        }
        assert_eq!(
            single_machine(&docs, &host()),
            Err(OverlayError::UnknownSecretKey("other-key".into()))
        );
    }
}
