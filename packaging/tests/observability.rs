//! The operator kit in manifests/observability/ held against the real system: the alert
//! rules pass `promtool check rules`, the scrape configuration `promtool check config`, the
//! ServiceMonitor and the pods' scrape annotations name every admin port, and every series
//! the dashboard and the rules read is in a live scrape of the six static binaries after a
//! client's round (guest login, a game call, chat, a mail).

mod system;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use packaging::manifest::{list, read_yaml, resolve_port, scalar, Kustomization};
use packaging::promql::{json_exprs, metric_names, sample_names};
use packaging::{announce, skip_or_fail, workspace_root, SERVICES};
use yaml_rust2::{Yaml, YamlEmitter};

fn kit(file: &str) -> PathBuf {
    workspace_root().join("manifests/observability").join(file)
}

fn promtool() -> Option<PathBuf> {
    let path = PathBuf::from("/usr/bin/promtool");
    path.is_file().then_some(path)
}

fn yaml_text(node: &Yaml) -> String {
    let mut out = String::new();
    YamlEmitter::new(&mut out).dump(node).expect("emit YAML");
    out
}

/// The PrometheusRule's rules, as the rules file promtool and a plain Prometheus read.
fn rules_file() -> Yaml {
    let docs = read_yaml(&kit("prometheusrule.yaml")).unwrap();
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0]["kind"].as_str(), Some("PrometheusRule"));
    docs[0]["spec"].clone()
}

fn rule_exprs() -> Vec<(String, String)> {
    let spec = rules_file();
    list(&spec, "groups")
        .iter()
        .flat_map(|g| list(g, "rules"))
        .map(|r| {
            let name = r["alert"].as_str().or(r["record"].as_str()).unwrap_or("?");
            (name.to_string(), scalar(&r["expr"]).expect("an expr"))
        })
        .collect()
}

fn dashboard_exprs() -> Vec<String> {
    let text = std::fs::read_to_string(kit("dashboard.json")).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&text).expect("dashboard JSON");
    let mut exprs = Vec::new();
    json_exprs(&dashboard, &mut exprs);
    exprs
}

fn run_promtool(args: &[&str], file: &Path) -> (bool, String) {
    let promtool = promtool().expect("checked by the caller");
    let out = Command::new(promtool)
        .args(args)
        .arg(file)
        .output()
        .expect("run promtool");
    (out.status.success(), packaging::output_text(&out))
}

#[test]
fn rules_and_scrape_config_pass_promtool() {
    if promtool().is_none() {
        return skip_or_fail(
            "promtool check rules",
            "promtool is not installed (Debian's prometheus package; ./lukseun test installs it)",
        );
    }
    let dir = testkit::TempDir::new("promtool");
    let rules = dir.path().join("lukseun-rules.yaml");
    std::fs::write(&rules, yaml_text(&rules_file())).unwrap();
    let (ok, output) = run_promtool(&["check", "rules"], &rules);
    eprintln!("promtool check rules:\n{output}");
    assert!(ok, "{output}");
    assert!(
        output.contains(&format!("SUCCESS: {} rules found", rule_exprs().len())),
        "{output}"
    );

    // The check can fail: a broken expression is refused.
    let broken = dir.path().join("broken.yaml");
    let text =
        yaml_text(&rules_file()).replace("gate_timeouts_total[5m]", "gate_timeouts_total[5m");
    std::fs::write(&broken, text).unwrap();
    assert!(!run_promtool(&["check", "rules"], &broken).0);

    let docs = read_yaml(&kit("prometheus-scrape.yaml")).unwrap();
    let text = docs[0]["data"]["prometheus.yml"]
        .as_str()
        .expect("prometheus.yml");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(&config, text).unwrap();
    let (ok, output) = run_promtool(&["check", "config", "--syntax-only"], &config);
    eprintln!("promtool check config:\n{output}");
    if !ok && output.contains("field kubernetes_sd_configs not found") {
        // Debian builds Prometheus without Kubernetes service discovery: check everything
        // else (the relabelling above all) with the discovery swapped for a static target.
        announce("this promtool has no kubernetes_sd_configs (Debian's build); checking the scrape config with a static target in its place");
        let mut doc = yaml_rust2::YamlLoader::load_from_str(text)
            .unwrap()
            .remove(0);
        let Yaml::Hash(top) = &mut doc else {
            panic!("prometheus.yml is not a mapping")
        };
        let jobs = top
            .get_mut(&Yaml::String("scrape_configs".into()))
            .and_then(|j| match j {
                Yaml::Array(jobs) => Some(jobs),
                _ => None,
            })
            .expect("scrape_configs");
        for job in jobs {
            let Yaml::Hash(job) = job else { continue };
            let sd = job.remove(&Yaml::String("kubernetes_sd_configs".into()));
            assert!(sd.is_some(), "each job discovers the pods");
            let target = yaml_rust2::YamlLoader::load_from_str("[{targets: ['10.0.0.1:9105']}]")
                .unwrap()
                .remove(0);
            job.insert(Yaml::String("static_configs".into()), target);
        }
        std::fs::write(&config, yaml_text(&doc)).unwrap();
        let (ok, output) = run_promtool(&["check", "config", "--syntax-only"], &config);
        eprintln!("promtool check config (static target):\n{output}");
        assert!(ok, "{output}");
        return;
    }
    assert!(ok, "{output}");
}

#[test]
fn every_admin_port_is_scraped() {
    let base = Kustomization::load(&workspace_root().join("manifests/base")).unwrap();
    let monitor = &read_yaml(&kit("servicemonitor.yaml")).unwrap()[0];
    let endpoints = list(&monitor["spec"], "endpoints");
    assert_eq!(endpoints.len(), 1);
    assert_eq!(endpoints[0]["port"].as_str(), Some("admin"));
    let selector = &monitor["spec"]["selector"]["matchLabels"];
    for service in SERVICES {
        // The ServiceMonitor's selector picks a Service that names the admin port.
        let scraped = base.all("Service").any(|s| {
            s.doc["metadata"]["labels"]["app.kubernetes.io/name"].as_str() == Some(service)
                && selector.as_hash().unwrap().iter().all(|(k, v)| {
                    s.doc["metadata"]["labels"][k.as_str().unwrap()].as_str() == v.as_str()
                })
                && list(&s.doc["spec"], "ports")
                    .iter()
                    .any(|p| p["name"].as_str() == Some("admin"))
        });
        assert!(
            scraped,
            "the ServiceMonitor reaches no admin port of {service}"
        );

        // The pod annotation names the container's admin port.
        let deployment = base.find("Deployment", service).expect(service);
        let template = &deployment.doc["spec"]["template"];
        let annotations = &template["metadata"]["annotations"];
        assert_eq!(annotations["prometheus.io/scrape"].as_str(), Some("true"));
        assert_eq!(annotations["prometheus.io/path"].as_str(), Some("/metrics"));
        let container = &list(&template["spec"], "containers")[0];
        let admin = list(container, "ports")
            .iter()
            .find(|p| p["name"].as_str() == Some("admin"))
            .and_then(|p| resolve_port(container, &p["name"]))
            .expect("an admin port");
        assert_eq!(
            annotations["prometheus.io/port"].as_str(),
            Some(admin.to_string().as_str()),
            "{service}"
        );
    }
}

#[test]
fn dashboard_and_rules_read_only_series_the_services_expose() {
    // The names each query reads.
    let mut wanted: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (alert, expr) in rule_exprs() {
        for name in metric_names(&expr) {
            wanted
                .entry(name)
                .or_default()
                .insert(format!("alert {alert}"));
        }
    }
    let dashboard = dashboard_exprs();
    assert!(dashboard.len() >= 20, "{dashboard:?}");
    for expr in dashboard {
        for name in metric_names(&expr) {
            wanted.entry(name).or_default().insert("dashboard".into());
        }
    }

    let redis = testkit::Redis::start();
    let nats = testkit::Nats::start();
    let mariadb = testkit::MariaDb::start();
    let dir = testkit::TempDir::new("observability");
    let running = system::Running::start(
        &system::Backends {
            redis_url: redis.url(),
            nats_url: nats.url(),
            mysql_url: mariadb.url(),
        },
        dir.path(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let transcript = packaging::client::play(running.gate, running.edge, "kit")
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!("client round:\n  {}", transcript.join("\n  "));

    let mut exposed: BTreeMap<String, &str> = BTreeMap::new();
    for (service, admin) in &running.admin {
        let (code, text) = testkit::http_get(*admin, "/metrics").unwrap();
        assert_eq!(code, 200, "{service}");
        // Every service reports its readiness and start time (the admin server adds them).
        assert!(text.contains("\nlukseun_ready 1\n"), "{service}: {text}");
        assert!(
            text.contains("\nlukseun_start_time_seconds "),
            "{service}: {text}"
        );
        for name in sample_names(&text) {
            exposed.entry(name).or_insert(service);
        }
    }
    let mut report = String::new();
    let mut missing = Vec::new();
    for (name, users) in &wanted {
        match exposed.get(name) {
            Some(service) => report.push_str(&format!(
                "  {name:<40} {service:<7} {}\n",
                users.iter().cloned().collect::<Vec<_>>().join(", ")
            )),
            None => missing.push(format!("{name} (read by {users:?})")),
        }
    }
    announce(&format!(
        "{} series read by the dashboard and the alerts, each found in a live scrape:\n{report}",
        wanted.len()
    ));
    assert!(
        missing.is_empty(),
        "series the kit reads but no service exposes: {missing:#?}"
    );
    assert!(wanted.len() >= 15, "{wanted:?}");
}
