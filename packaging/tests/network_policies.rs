//! The NetworkPolicies of manifests/ (issue 16), evaluated offline: every pod of
//! manifests/deps/ (the six services and Redis, NATS, MariaDB) against every container port
//! of every other, plus a game client, a metrics scraper, a pod of another namespace and
//! the cluster DNS. What may connect must be exactly what the services use: the URLs in
//! their environment (a Service name and port), the two connections no URL names (the
//! worker dials the gate's pod IP from Redis; its MySQL URL is in the Secret), the public
//! client ports, metrics scraping and DNS. No cluster needed; the schema check is
//! validate_manifests.rs.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::OnceLock;

use packaging::manifest::{container_env, list, scalar, EnvSource, Kustomization, Resource};
use packaging::network_policy::{
    allows, egress_allows, ingress_allows, Labels, Peer, Pod, Policy, Protocol,
};
use packaging::{workspace_root, SERVICES};

/// kustomize's `namespace:` of manifests/base.
const NAMESPACE: &str = "lukseun";
/// The namespace label that admits metrics scrapers to the admin ports.
const SCRAPE_LABEL: (&str, &str) = ("lukseun/scrape", "true");
/// A game client's address.
const CLIENT_IP: &str = "203.0.113.7";

struct World {
    deps: Kustomization,
    base: Kustomization,
    policies: Vec<Policy>,
    /// Deployment name -> its pod.
    pods: BTreeMap<String, Pod>,
}

fn load(dir: &str) -> Kustomization {
    let path: PathBuf = workspace_root().join(dir);
    Kustomization::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn labels_of(node: &yaml_rust2::Yaml) -> Labels {
    node.as_hash()
        .map(|pairs| {
            pairs
                .iter()
                .filter_map(|(k, v)| Some((k.as_str()?.to_string(), scalar(v)?)))
                .collect()
        })
        .unwrap_or_default()
}

fn ns_labels(name: &str) -> Labels {
    Labels::from([("kubernetes.io/metadata.name".into(), name.into())])
}

fn pod_of(deployment: &Resource) -> Pod {
    let template = &deployment.doc["spec"]["template"];
    let mut ports = Vec::new();
    for container in list(&template["spec"], "containers") {
        for port in list(container, "ports") {
            let number = port["containerPort"].as_i64().expect("containerPort") as u16;
            let protocol = match port["protocol"].as_str() {
                Some("UDP") => Protocol::Udp,
                _ => Protocol::Tcp,
            };
            ports.push((port["name"].as_str().map(str::to_string), number, protocol));
        }
    }
    Pod {
        namespace: NAMESPACE.into(),
        namespace_labels: ns_labels(NAMESPACE),
        labels: labels_of(&template["metadata"]["labels"]),
        ports,
    }
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let deps = load("manifests/deps");
        let policies = deps
            .all("NetworkPolicy")
            .map(|r| {
                Policy::parse(&r.doc, NAMESPACE)
                    .unwrap_or_else(|e| panic!("{}: {e}", r.file.display()))
            })
            .collect();
        let pods = deps
            .all("Deployment")
            .map(|d| (d.name().to_string(), pod_of(d)))
            .collect();
        World {
            base: load("manifests"),
            deps,
            policies,
            pods,
        }
    })
}

/// The Deployment a Service name leads to, and the container port a Service port targets.
fn service_target(k: &Kustomization, host: &str, port: u16) -> Option<(String, u16)> {
    let service = k.find("Service", host)?;
    let selector = labels_of(&service.doc["spec"]["selector"]);
    let deployment = k.all("Deployment").find(|d| {
        let labels = labels_of(&d.doc["spec"]["template"]["metadata"]["labels"]);
        !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
    })?;
    let entry = list(&service.doc["spec"], "ports")
        .iter()
        .find(|p| p["port"].as_i64() == Some(i64::from(port)))?;
    let container = &deployment.doc["spec"]["template"]["spec"]["containers"][0];
    let target = packaging::manifest::resolve_port(container, &entry["targetPort"])
        .or_else(|| packaging::manifest::resolve_port(container, &entry["port"]))?;
    Some((deployment.name().to_string(), target))
}

/// `scheme://[user@]host:port[/...]` -> (host, port).
fn host_port(url: &str) -> Option<(String, u16)> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split('/').next()?;
    let authority = authority.rsplit('@').next()?;
    let (host, port) = authority.rsplit_once(':')?;
    Some((host.to_string(), port.parse().ok()?))
}

/// (from deployment, to deployment, port): what the services really open.
fn needed() -> BTreeSet<(String, String, u16)> {
    let w = world();
    let mut edges = BTreeSet::new();
    for service in SERVICES {
        let deployment = w.deps.find("Deployment", service).expect("deployment");
        let container = &deployment.doc["spec"]["template"]["spec"]["containers"][0];
        for var in container_env(container, &w.deps) {
            let value = match &var.source {
                EnvSource::Literal(v) => Some(v.clone()),
                EnvSource::ConfigMap { value, .. } => value.clone(),
                // Each service's own Redis and NATS URL, as scripts/create-secrets.sh writes
                // them for the deps overlay's servers (redis:6379, nats:4222).
                EnvSource::Secret { key, .. } if key.starts_with("redis-url-") => {
                    Some("redis://user:pw@redis:6379/".to_string())
                }
                EnvSource::Secret { key, .. } if key.starts_with("nats-url-") => {
                    Some("nats://user:pw@nats:4222".to_string())
                }
                _ => None,
            };
            let Some((host, port)) = value.as_deref().and_then(host_port) else {
                continue;
            };
            let (to, target) = service_target(&w.deps, &host, port).unwrap_or_else(|| {
                panic!(
                    "{service}: {} names {host}:{port}, no Service port",
                    var.name
                )
            });
            edges.insert((service.to_string(), to, target));
        }
    }
    // In the Secret (scripts/create-secrets.sh: mysql://…@mariadb:3306/lukseun).
    edges.insert(("worker".into(), "mariadb".into(), 3306));
    // The worker dials the pod IP a gate put in gates.id.<gid>: the gate's worker port.
    edges.insert(("worker".into(), "gate".into(), port_named("gate", "worker")));
    edges
}

fn port_named(deployment: &str, name: &str) -> u16 {
    world().pods[deployment]
        .ports
        .iter()
        .find(|(n, ..)| n.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("{deployment} has no port {name}"))
        .1
}

/// (deployment, container port) behind the LoadBalancer Services: what clients may reach.
fn public_ports() -> BTreeSet<(String, u16)> {
    let w = world();
    let mut public = BTreeSet::new();
    for service in w.base.all("Service") {
        if service.doc["spec"]["type"].as_str() != Some("LoadBalancer") {
            continue;
        }
        for port in list(&service.doc["spec"], "ports") {
            let number = port["port"].as_i64().expect("port") as u16;
            public.insert(service_target(&w.base, service.name(), number).expect("target"));
        }
    }
    public
}

fn deployment_pod(name: &str) -> Peer {
    Peer::Pod(world().pods[name].clone())
}

fn scraper() -> Peer {
    let mut namespace_labels = ns_labels("monitoring");
    namespace_labels.insert(SCRAPE_LABEL.0.into(), SCRAPE_LABEL.1.into());
    Peer::Pod(Pod {
        namespace: "monitoring".into(),
        namespace_labels,
        labels: Labels::from([("app.kubernetes.io/name".into(), "prometheus".into())]),
        ports: Vec::new(),
    })
}

/// A pod of another namespace wearing a worker's labels: it must get nothing a worker gets.
fn impostor() -> Peer {
    let mut pod = world().pods["worker"].clone();
    pod.namespace = "tenant".into();
    pod.namespace_labels = ns_labels("tenant");
    Peer::Pod(pod)
}

fn client() -> Peer {
    Peer::External(CLIENT_IP.parse::<IpAddr>().unwrap())
}

fn reach(from: &Peer, to: &Peer, port: u16, protocol: Protocol) -> bool {
    allows(&world().policies, from, to, port, protocol)
}

#[test]
fn every_pod_is_selected_by_the_default_deny_and_a_policy_of_its_own() {
    let w = world();
    let names: BTreeSet<&str> = w.policies.iter().map(|p| p.name.as_str()).collect();
    for deployment in w.pods.keys() {
        assert!(
            names.contains(deployment.as_str()),
            "no NetworkPolicy {deployment} for the Deployment of that name"
        );
    }
    assert!(names.contains("default-deny") && names.contains("dns"));
    // The base alone (no deps) carries the six services' policies.
    let base: BTreeSet<&str> = w.base.all("NetworkPolicy").map(|r| r.name()).collect();
    for service in SERVICES {
        assert!(
            base.contains(service),
            "manifests/ lacks the policy {service}"
        );
    }
}

#[test]
fn pods_reach_exactly_the_ports_they_use() {
    let w = world();
    let needed = needed();
    let mut allowed = BTreeSet::new();
    for (from_name, from) in &w.pods {
        for (to_name, to) in &w.pods {
            for (_, port, protocol) in &to.ports {
                if reach(
                    &Peer::Pod(from.clone()),
                    &Peer::Pod(to.clone()),
                    *port,
                    *protocol,
                ) {
                    allowed.insert((from_name.clone(), to_name.clone(), *port));
                }
            }
        }
    }
    // Each half on its own, too: a pod admits only those that use it, and may call only
    // what it uses (so one loose policy is caught even while the other end holds).
    let public = public_ports();
    for (from_name, from) in &w.pods {
        for (to_name, to) in &w.pods {
            for (_, port, protocol) in &to.ports {
                if public.contains(&(to_name.clone(), *port)) {
                    continue; // open to every address by design
                }
                let edge = (from_name.clone(), to_name.clone(), *port);
                let (f, t) = (Peer::Pod(from.clone()), Peer::Pod(to.clone()));
                for (half, open) in [
                    (
                        "ingress",
                        ingress_allows(&w.policies, &f, &t, *port, *protocol),
                    ),
                    (
                        "egress",
                        egress_allows(&w.policies, &f, &t, *port, *protocol),
                    ),
                ] {
                    assert!(
                        !open || needed.contains(&edge),
                        "{half} of {from_name} -> {to_name}:{port} is open but never used"
                    );
                }
            }
        }
    }
    let missing: Vec<_> = needed.difference(&allowed).collect();
    let extra: Vec<_> = allowed.difference(&needed).collect();
    assert!(missing.is_empty(), "needed but refused: {missing:?}");
    assert!(extra.is_empty(), "allowed but never used: {extra:?}");
    eprintln!(
        "{} pod-to-pod connections allowed: {allowed:?}",
        allowed.len()
    );
}

#[test]
fn clients_reach_only_the_gate_and_edge_client_ports() {
    let w = world();
    let mut open = BTreeSet::new();
    for (name, pod) in &w.pods {
        for (_, port, protocol) in &pod.ports {
            if reach(&client(), &Peer::Pod(pod.clone()), *port, *protocol) {
                open.insert((name.clone(), *port));
            }
        }
    }
    let expected = BTreeSet::from([
        ("edge".to_string(), port_named("edge", "chat")),
        ("gate".to_string(), port_named("gate", "client")),
    ]);
    assert_eq!(public_ports(), expected);
    assert_eq!(open, expected);
}

#[test]
fn scrapers_reach_admin_ports_only_and_strangers_nothing() {
    let w = world();
    for (name, pod) in &w.pods {
        for (port_name, port, protocol) in &pod.ports {
            let to = Peer::Pod(pod.clone());
            let is_public = public_ports().contains(&(name.clone(), *port));
            let is_metrics = matches!(port_name.as_deref(), Some("admin" | "monitor"));
            assert_eq!(
                reach(&scraper(), &to, *port, *protocol),
                is_metrics || is_public,
                "scraper -> {name}:{port}"
            );
            assert_eq!(
                reach(&impostor(), &to, *port, *protocol),
                is_public,
                "a worker-labelled pod of another namespace -> {name}:{port}"
            );
        }
    }
    // Every service's admin port is named admin (what the scraper rule is checked by).
    for service in SERVICES {
        port_named(service, "admin");
    }
}

#[test]
fn every_pod_resolves_names_and_nothing_else_leaves_but_the_workers_hooks() {
    let w = world();
    let dns = Peer::Pod(Pod {
        namespace: "kube-system".into(),
        namespace_labels: ns_labels("kube-system"),
        labels: Labels::from([("k8s-app".into(), "kube-dns".into())]),
        ports: vec![
            (Some("dns".into()), 53, Protocol::Udp),
            (Some("dns-tcp".into()), 53, Protocol::Tcp),
        ],
    });
    let outside = Peer::External("198.51.100.25".parse().unwrap());
    for (name, pod) in &w.pods {
        let from = Peer::Pod(pod.clone());
        assert!(reach(&from, &dns, 53, Protocol::Udp), "{name} -> DNS/UDP");
        assert!(reach(&from, &dns, 53, Protocol::Tcp), "{name} -> DNS/TCP");
        assert!(
            !reach(&from, &dns, 80, Protocol::Tcp),
            "{name} -> kube-dns:80"
        );
        assert!(
            !reach(&from, &outside, 443, Protocol::Tcp),
            "{name} -> :443"
        );
        // The SMTP relay and the http:// hooks of the worker; no other pod leaves.
        for port in [25, 587, 80] {
            assert_eq!(
                reach(&from, &outside, port, Protocol::Tcp),
                name == "worker",
                "{name} -> outside:{port}"
            );
        }
    }
    // Managed stores outside the cluster: their ports are open to the services using them.
    let store = Peer::External("192.0.2.10".parse().unwrap());
    for (service, port, open) in [
        ("auth", 6379, true),
        ("auth", 4222, false),
        ("worker", 3306, true),
        ("gate", 3306, false),
        ("edge", 4222, true),
        ("mail", 6379, false),
        ("config", 6379, false),
    ] {
        assert_eq!(
            reach(&deployment_pod(service), &store, port, Protocol::Tcp),
            open,
            "{service} -> a store outside on {port}"
        );
    }
}

#[test]
fn policy_ports_are_ports_of_the_pods_they_select() {
    // A typo in a port (8021 for 8020) would close a path the tests above would also
    // catch; this names the policy directly.
    let w = world();
    for r in w.deps.all("NetworkPolicy") {
        let selector = labels_of(&r.doc["spec"]["podSelector"]["matchLabels"]);
        if selector.is_empty() {
            continue;
        }
        let Some(pod) = w
            .pods
            .values()
            .find(|p| selector.iter().all(|(k, v)| p.labels.get(k) == Some(v)))
        else {
            panic!("NetworkPolicy {} selects no pod", r.name());
        };
        for rule in list(&r.doc["spec"], "ingress") {
            for port in list(rule, "ports") {
                let n = port["port"].as_i64().expect("numeric port") as u16;
                assert!(
                    pod.ports.iter().any(|(_, p, _)| *p == n),
                    "NetworkPolicy {} admits port {n}, which its pods do not listen on",
                    r.name()
                );
            }
        }
    }
}

#[test]
fn urls_parse() {
    assert_eq!(
        host_port("redis://redis:6379/"),
        Some(("redis".into(), 6379))
    );
    assert_eq!(
        host_port("mysql://u:p@mariadb:3306/lukseun"),
        Some(("mariadb".into(), 3306))
    );
    assert_eq!(host_port("http://auth:8001"), Some(("auth".into(), 8001)));
    assert_eq!(host_port("info"), None);
}
