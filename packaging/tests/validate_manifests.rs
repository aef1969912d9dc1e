//! Validates every manifest against the Kubernetes API schemas offline, with
//! `kubernetes-validate` (PyPI; ./lukseun test installs it into var/tools/venv).

use std::path::{Path, PathBuf};
use std::process::Command;

use packaging::{announce, skip_or_fail, workspace_root};

/// The oldest Kubernetes the manifests support (the preStop `sleep` action) and the newest
/// the validator knows.
const KUBERNETES_VERSIONS: [&str; 2] = ["1.30", "1.37"];

fn validator() -> Option<PathBuf> {
    let in_venv = workspace_root().join("var/tools/venv/bin/kubernetes-validate");
    if in_venv.is_file() {
        return Some(in_venv);
    }
    let on_path = Command::new("kubernetes-validate")
        .arg("--version")
        .output();
    on_path
        .ok()
        .filter(|o| o.status.success())
        .map(|_| PathBuf::from("kubernetes-validate"))
}

/// Objects of the Prometheus Operator's CRDs: the validator has no schema for them (it would
/// warn); tests/observability.rs checks them (promtool for the rules, the ServiceMonitor's
/// selector and ports against the Services).
fn only_operator_objects(path: &Path) -> bool {
    let docs = packaging::manifest::read_yaml(path).unwrap_or_default();
    !docs.is_empty()
        && docs
            .iter()
            .all(|d| d["apiVersion"].as_str() == Some("monitoring.coreos.com/v1"))
}

/// Every YAML file under manifests/ that holds Kubernetes objects (not kustomization.yaml,
/// nor the Prometheus Operator's objects).
fn manifest_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![workspace_root().join("manifests")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read manifests/") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().and_then(|e| e.to_str()) == Some("yaml")
                && path.file_name().and_then(|n| n.to_str()) != Some("kustomization.yaml")
                && !only_operator_objects(&path)
            {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// Runs the validator in strict mode (unknown fields are errors); returns success and output.
fn validate(validator: &Path, version: &str, files: &[PathBuf]) -> (bool, String) {
    let out = Command::new(validator)
        .args(["--strict", "--kubernetes-version", version])
        .args(files)
        .output()
        .expect("run kubernetes-validate");
    (out.status.success(), packaging::output_text(&out))
}

#[test]
fn every_manifest_file_validates_against_the_kubernetes_schemas() {
    let Some(validator) = validator() else {
        return skip_or_fail(
            "manifest schema validation",
            "kubernetes-validate is not installed (var/tools/venv)",
        );
    };
    let files = manifest_files();
    assert!(files.len() >= 10, "found only {files:?}");
    for version in KUBERNETES_VERSIONS {
        let (ok, output) = validate(&validator, version, &files);
        eprintln!("kubernetes-validate --strict -k {version}:\n{output}");
        assert!(
            ok,
            "manifests do not validate against Kubernetes {version}:\n{output}"
        );
        assert!(
            !output.contains("WARN"),
            "no schema for some object:\n{output}"
        );
        let passed = output.matches(" passed for resource ").count();
        assert!(
            passed >= 30,
            "only {passed} objects were validated:\n{output}"
        );
    }
}

/// What `kubectl apply -k` would send, when kubectl is here to build it (kustomize is part of
/// it); the per-file check above covers the schemas either way.
#[test]
fn kustomize_output_validates_when_kubectl_is_present() {
    let Some(validator) = validator() else {
        return skip_or_fail(
            "kustomize output validation",
            "kubernetes-validate is not installed (var/tools/venv)",
        );
    };
    let kubectl_works = Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !kubectl_works {
        announce(
            "kubectl is not installed; kustomize output not built (per-file validation still runs)",
        );
        return;
    }
    let dir = testkit::TempDir::new("kustomize");
    for overlay in ["manifests", "manifests/deps"] {
        let out = Command::new("kubectl")
            .args(["kustomize", overlay])
            .current_dir(workspace_root())
            .output()
            .expect("run kubectl kustomize");
        assert!(
            out.status.success(),
            "kubectl kustomize {overlay} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rendered = dir.path().join(overlay.replace('/', "-") + ".yaml");
        std::fs::write(&rendered, &out.stdout).unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.matches("\n  namespace: lukseun\n").count() >= 25,
            "{overlay}: objects must land in the lukseun namespace"
        );
        let (ok, output) = validate(&validator, "1.37", &[rendered]);
        eprintln!("kubectl kustomize {overlay} | kubernetes-validate --strict:\n{output}");
        assert!(ok, "{overlay} does not validate:\n{output}");
    }
}

/// The check can fail: an unknown field and a wrong type are caught.
#[test]
fn the_validator_rejects_broken_manifests() {
    let Some(validator) = validator() else {
        return skip_or_fail(
            "manifest schema validation",
            "kubernetes-validate is not installed (var/tools/venv)",
        );
    };
    let dir = testkit::TempDir::new("bad-manifests");
    let gate = std::fs::read_to_string(workspace_root().join("manifests/base/gate.yaml")).unwrap();
    let typo = dir.path().join("typo.yaml");
    std::fs::write(&typo, gate.replace("readinessProbe:", "readynessProbe:")).unwrap();
    let wrong_type = dir.path().join("wrong-type.yaml");
    std::fs::write(&wrong_type, gate.replace("replicas: 2", "replicas: two")).unwrap();
    for bad in [typo, wrong_type] {
        let (ok, output) = validate(&validator, "1.37", std::slice::from_ref(&bad));
        assert!(!ok, "{} passed:\n{output}", bad.display());
        assert!(output.contains("ERROR"), "{output}");
    }
}
