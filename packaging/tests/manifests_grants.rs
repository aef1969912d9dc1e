//! Least trust in manifests/: each service reaches Redis and NATS as its own user with the
//! URL from the Secret, gate and worker share the link secret, and the deps overlay's
//! Redis and NATS carry exactly the users of shared::grants. Reads only the YAML (no
//! binaries), so it runs anywhere.

use std::path::PathBuf;

use packaging::manifest::{container_env, list, scalar, EnvSource, EnvVar, Kustomization};
use packaging::workspace_root;
use shared::grants::{self, Grants};

const SECRET: &str = "lukseun-secrets";

fn load(dir: &str) -> Kustomization {
    let path: PathBuf = workspace_root().join(dir);
    Kustomization::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn container<'a>(k: &'a Kustomization, deployment: &str) -> &'a yaml_rust2::Yaml {
    let d = k
        .find("Deployment", deployment)
        .unwrap_or_else(|| panic!("no Deployment {deployment}"));
    &list(&d.doc["spec"]["template"]["spec"], "containers")[0]
}

fn env(k: &Kustomization, deployment: &str) -> Vec<EnvVar> {
    container_env(container(k, deployment), k)
}

fn secret_key(vars: &[EnvVar], name: &str) -> Option<String> {
    vars.iter()
        .find(|v| v.name == name)
        .map(|v| match &v.source {
            EnvSource::Secret { secret, key } if secret == SECRET => key.clone(),
            other => panic!("{name} must come from the Secret {SECRET}, not {other:?}"),
        })
}

fn script() -> String {
    std::fs::read_to_string(workspace_root().join("scripts/create-secrets.sh"))
        .expect("scripts/create-secrets.sh")
}

#[test]
fn each_service_uses_its_own_users_and_the_link_secret_from_the_secret() {
    let base = load("manifests");
    let script = script();
    // A single Redis unless the operator names a cluster (docs/redis.md).
    assert!(script.contains("redis_scheme=${REDIS_SCHEME:-redis}\n"));
    for g in grants::ALL {
        let vars = env(&base, g.service);
        let redis = format!("redis-url-{}", g.service);
        assert_eq!(secret_key(&vars, "LUKSEUN_REDIS_URL"), Some(redis.clone()));
        assert!(script.contains(&format!(
            "--from-literal={redis}=\"$redis_scheme://{}:",
            g.service
        )));
        let nats = g.uses_nats().then(|| format!("nats-url-{}", g.service));
        assert_eq!(secret_key(&vars, "LUKSEUN_NATS_URL"), nats);
        if let Some(nats) = nats {
            assert!(script.contains(&format!("--from-literal={nats}=\"nats://{}:", g.service)));
        }
    }
    for service in ["gate", "worker"] {
        let vars = env(&base, service);
        assert_eq!(
            secret_key(&vars, "LUKSEUN_LINK_SECRET").as_deref(),
            Some("link-secret"),
            "{service}"
        );
    }
    assert!(script.contains("--from-literal=link-secret="));
    // mail and config have no user, and nothing else gets the link secret.
    for service in ["mail", "config", "edge", "auth"] {
        let vars = env(&base, service);
        assert!(
            !vars.iter().any(|v| v.name == "LUKSEUN_LINK_SECRET"),
            "{service}"
        );
    }
}

fn password_var(server: &str, service: &str) -> String {
    grants::password_env(server, service)
}

/// The password variable is filled from the Secret key `<server>-password-<service>`,
/// which create-secrets.sh makes.
fn assert_password_from_secret(vars: &[EnvVar], server: &str, service: &str) {
    let key = format!("{server}-password-{service}");
    assert_eq!(
        secret_key(vars, &password_var(server, service)),
        Some(key.clone())
    );
    assert!(
        script().contains(&format!("--from-literal={key}=")),
        "{key}"
    );
}

#[test]
fn the_deps_nats_server_has_exactly_the_grants_users() {
    let deps = load("manifests/deps");
    let config = deps
        .find("ConfigMap", "nats-config")
        .and_then(|c| scalar(&c.doc["data"]["nats.conf"]))
        .expect("ConfigMap nats-config with nats.conf");
    let expected = grants::nats_server_config(|s| format!("${}", password_var("nats", s)));
    assert_eq!(config, expected);
    let vars = env(&deps, "nats");
    for g in grants::ALL.iter().filter(|g| g.uses_nats()) {
        assert_password_from_secret(&vars, "nats", g.service);
    }
    let args: Vec<String> = list(container(&deps, "nats"), "args")
        .iter()
        .filter_map(scalar)
        .collect();
    assert!(args.windows(2).any(|w| w[0] == "--config"), "{args:?}");
}

#[test]
fn the_deps_redis_has_exactly_the_grants_users() {
    let deps = load("manifests/deps");
    let args: Vec<String> = list(container(&deps, "redis"), "args")
        .iter()
        .filter_map(scalar)
        .collect();
    // Redis reads `--name words...` as one config line per `--`.
    let mut lines: Vec<Vec<&str>> = Vec::new();
    for a in &args {
        if let Some(name) = a.strip_prefix("--") {
            lines.push(vec![name]);
        } else if let Some(line) = lines.last_mut() {
            line.push(a);
        }
    }
    let user_lines: Vec<String> = lines
        .iter()
        .filter(|l| l[0] == "user")
        .map(|l| l[1..].join(" "))
        .collect();
    let reference = |g: &Grants| format!("$({})", password_var("redis", g.service));
    let mut expected = vec![format!(
        "default on >$({}) ~* &* +@all",
        grants::REDIS_DEFAULT_PASSWORD_ENV
    )];
    expected.extend(grants::ALL.iter().map(|g| {
        format!(
            "{} {}",
            g.service,
            g.redis_acl_words(&reference(g)).join(" ")
        )
    }));
    assert_eq!(user_lines, expected);
    let vars = env(&deps, "redis");
    for g in grants::ALL {
        assert_password_from_secret(&vars, "redis", g.service);
    }
    assert_password_from_secret(&vars, "redis", "default");
}
