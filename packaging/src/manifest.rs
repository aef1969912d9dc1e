//! Loads a kustomization (following `resources:` into files and directories) into its YAML
//! documents, and answers the questions the cross-checks ask of them.

use std::fmt;
use std::path::{Path, PathBuf};

use yaml_rust2::{Yaml, YamlLoader};

#[derive(Debug)]
pub enum ManifestError {
    Read { path: PathBuf, reason: String },
    Yaml { path: PathBuf, reason: String },
    NoKustomization(PathBuf),
    NotAString { path: PathBuf, field: String },
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ManifestError::Read { path, reason } => {
                write!(f, "cannot read {}: {reason}", path.display())
            }
            ManifestError::Yaml { path, reason } => {
                write!(f, "{} is not valid YAML: {reason}", path.display())
            }
            ManifestError::NoKustomization(dir) => {
                write!(f, "{} has no kustomization.yaml", dir.display())
            }
            ManifestError::NotAString { path, field } => {
                write!(
                    f,
                    "{}: an entry of `{field}` is not a string",
                    path.display()
                )
            }
        }
    }
}

/// One Kubernetes object and the file it came from.
#[derive(Clone, Debug)]
pub struct Resource {
    pub file: PathBuf,
    pub doc: Yaml,
}

impl Resource {
    pub fn kind(&self) -> &str {
        self.doc["kind"].as_str().unwrap_or("")
    }

    pub fn name(&self) -> &str {
        self.doc["metadata"]["name"].as_str().unwrap_or("")
    }
}

/// An `images:` entry of a kustomization.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageOverride {
    pub name: String,
    pub new_name: Option<String>,
    pub new_tag: Option<String>,
}

#[derive(Debug, Default)]
pub struct Kustomization {
    pub resources: Vec<Resource>,
    pub images: Vec<ImageOverride>,
    /// Every YAML file pulled in, kustomization.yaml files included.
    pub files: Vec<PathBuf>,
}

impl Kustomization {
    pub fn load(dir: &Path) -> Result<Kustomization, ManifestError> {
        let mut out = Kustomization::default();
        out.add_dir(dir)?;
        Ok(out)
    }

    fn add_dir(&mut self, dir: &Path) -> Result<(), ManifestError> {
        let file = dir.join("kustomization.yaml");
        if !file.is_file() {
            return Err(ManifestError::NoKustomization(dir.to_path_buf()));
        }
        let docs = read_yaml(&file)?;
        self.files.push(file.clone());
        let Some(kustomization) = docs.first() else {
            return Ok(());
        };
        for entry in list(kustomization, "resources") {
            let entry = entry.as_str().ok_or_else(|| ManifestError::NotAString {
                path: file.clone(),
                field: "resources".into(),
            })?;
            let path = dir.join(entry);
            if path.is_dir() {
                self.add_dir(&path)?;
            } else {
                for doc in read_yaml(&path)? {
                    if !doc.is_null() {
                        self.resources.push(Resource {
                            file: path.clone(),
                            doc,
                        });
                    }
                }
                self.files.push(path);
            }
        }
        for image in list(kustomization, "images") {
            self.images.push(ImageOverride {
                name: image["name"].as_str().unwrap_or("").to_string(),
                new_name: image["newName"].as_str().map(str::to_string),
                new_tag: image["newTag"].as_str().map(str::to_string),
            });
        }
        Ok(())
    }

    pub fn find(&self, kind: &str, name: &str) -> Option<&Resource> {
        self.resources
            .iter()
            .find(|r| r.kind() == kind && r.name() == name)
    }

    pub fn all<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Resource> + 'a {
        self.resources.iter().filter(move |r| r.kind() == kind)
    }
}

pub fn read_yaml(path: &Path) -> Result<Vec<Yaml>, ManifestError> {
    let text = std::fs::read_to_string(path).map_err(|e| ManifestError::Read {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    YamlLoader::load_from_str(&text).map_err(|e| ManifestError::Yaml {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// The sequence under `key`, or nothing.
pub fn list<'a>(node: &'a Yaml, key: &str) -> &'a [Yaml] {
    node[key].as_vec().map(Vec::as_slice).unwrap_or(&[])
}

/// A scalar as text: strings as they are, numbers and booleans printed.
pub fn scalar(node: &Yaml) -> Option<String> {
    match node {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Where a container's environment variable gets its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnvSource {
    Literal(String),
    ConfigMap { map: String, value: Option<String> },
    Secret { secret: String, key: String },
    Field(String),
    Other,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvVar {
    pub name: String,
    pub source: EnvSource,
}

/// A container's environment: `envFrom` ConfigMaps (looked up in `all`) first, then `env`,
/// which wins for a name given twice, as in Kubernetes.
pub fn container_env(container: &Yaml, all: &Kustomization) -> Vec<EnvVar> {
    let mut vars: Vec<EnvVar> = Vec::new();
    let mut set = |var: EnvVar| {
        vars.retain(|v| v.name != var.name);
        vars.push(var);
    };
    for from in list(container, "envFrom") {
        if let Some(map) = from["configMapRef"]["name"].as_str() {
            let data = all
                .find("ConfigMap", map)
                .and_then(|r| r.doc["data"].as_hash().cloned())
                .unwrap_or_default();
            for (key, value) in data {
                set(EnvVar {
                    name: key.as_str().unwrap_or("").to_string(),
                    source: EnvSource::ConfigMap {
                        map: map.to_string(),
                        value: scalar(&value),
                    },
                });
            }
        }
    }
    for var in list(container, "env") {
        let name = var["name"].as_str().unwrap_or("").to_string();
        let from = &var["valueFrom"];
        let source = if let Some(value) = scalar(&var["value"]) {
            EnvSource::Literal(value)
        } else if let Some(secret) = from["secretKeyRef"]["name"].as_str() {
            EnvSource::Secret {
                secret: secret.to_string(),
                key: from["secretKeyRef"]["key"].as_str().unwrap_or("").into(),
            }
        } else if let Some(path) = from["fieldRef"]["fieldPath"].as_str() {
            EnvSource::Field(path.to_string())
        } else if let Some(map) = from["configMapKeyRef"]["name"].as_str() {
            let key = &from["configMapKeyRef"]["key"];
            let value = all
                .find("ConfigMap", map)
                .and_then(|r| scalar(&r.doc["data"][key.as_str().unwrap_or("")]));
            EnvSource::ConfigMap {
                map: map.to_string(),
                value,
            }
        } else {
            EnvSource::Other
        };
        set(EnvVar { name, source });
    }
    vars
}

/// The plain value of an environment variable, if it has one in the manifests.
pub fn env_value<'a>(vars: &'a [EnvVar], name: &str) -> Option<&'a str> {
    vars.iter()
        .find(|v| v.name == name)
        .and_then(|v| match &v.source {
            EnvSource::Literal(value) => Some(value.as_str()),
            EnvSource::ConfigMap { value, .. } => value.as_deref(),
            _ => None,
        })
}

/// A container port by name or number, as probes and Services name them.
pub fn resolve_port(container: &Yaml, port: &Yaml) -> Option<u16> {
    let ports = list(container, "ports");
    match port {
        Yaml::Integer(n) => u16::try_from(*n).ok().filter(|n| {
            ports
                .iter()
                .any(|p| p["containerPort"].as_i64() == Some(i64::from(*n)))
        }),
        Yaml::String(name) => ports
            .iter()
            .find(|p| p["name"].as_str() == Some(name))
            .and_then(|p| p["containerPort"].as_i64())
            .and_then(|n| u16::try_from(n).ok()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(files: &[(&str, &str)]) -> PathBuf {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("packaging-manifest-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (name, text) in files {
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        dir
    }

    const APP: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-env\ndata:\n  LUKSEUN_PORT: \"8000\"\n  LUKSEUN_DIR: /x\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          envFrom:\n            - configMapRef:\n                name: app-env\n          env:\n            - name: LUKSEUN_DIR\n              value: /y\n            - name: POD_IP\n              valueFrom:\n                fieldRef:\n                  fieldPath: status.podIP\n            - name: LUKSEUN_JWT_SECRET\n              valueFrom:\n                secretKeyRef:\n                  name: s\n                  key: jwt\n          ports:\n            - name: http\n              containerPort: 8000\n";

    #[test]
    fn follows_resources_into_directories_and_reads_env() {
        let dir = dir_with(&[
            (
                "kustomization.yaml",
                "resources:\n  - base\nimages:\n  - name: x/app\n    newTag: \"1.0\"\n",
            ),
            ("base/kustomization.yaml", "resources:\n  - app.yaml\n"),
            ("base/app.yaml", APP),
        ]);
        let k = Kustomization::load(&dir).unwrap();
        assert_eq!(k.resources.len(), 2);
        assert_eq!(k.files.len(), 3);
        assert_eq!(
            k.images,
            vec![ImageOverride {
                name: "x/app".into(),
                new_name: None,
                new_tag: Some("1.0".into())
            }]
        );
        let deployment = k.find("Deployment", "app").unwrap();
        let container = &deployment.doc["spec"]["template"]["spec"]["containers"][0];
        let env = container_env(container, &k);
        assert_eq!(env_value(&env, "LUKSEUN_PORT"), Some("8000"));
        assert_eq!(
            env_value(&env, "LUKSEUN_DIR"),
            Some("/y"),
            "env beats envFrom"
        );
        assert_eq!(env.iter().filter(|v| v.name == "LUKSEUN_DIR").count(), 1);
        assert!(env.contains(&EnvVar {
            name: "POD_IP".into(),
            source: EnvSource::Field("status.podIP".into())
        }));
        assert!(env.contains(&EnvVar {
            name: "LUKSEUN_JWT_SECRET".into(),
            source: EnvSource::Secret {
                secret: "s".into(),
                key: "jwt".into()
            }
        }));
        assert_eq!(
            resolve_port(container, &Yaml::String("http".into())),
            Some(8000)
        );
        assert_eq!(resolve_port(container, &Yaml::Integer(8000)), Some(8000));
        assert_eq!(resolve_port(container, &Yaml::String("admin".into())), None);
        assert_eq!(resolve_port(container, &Yaml::Integer(9000)), None);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_missing_resource_file_is_an_error() {
        let dir = dir_with(&[("kustomization.yaml", "resources:\n  - gone.yaml\n")]);
        let err = Kustomization::load(&dir).unwrap_err();
        assert!(matches!(err, ManifestError::Read { .. }), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_directory_without_kustomization_is_an_error() {
        let dir = std::env::temp_dir().join("packaging-manifest-none");
        let err = Kustomization::load(&dir).unwrap_err();
        assert!(matches!(err, ManifestError::NoKustomization(_)), "{err}");
    }

    #[test]
    fn broken_yaml_is_an_error() {
        let dir = dir_with(&[
            ("kustomization.yaml", "resources:\n  - bad.yaml\n"),
            ("bad.yaml", "kind: [unclosed\n"),
        ]);
        let err = Kustomization::load(&dir).unwrap_err();
        assert!(matches!(err, ManifestError::Yaml { .. }), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
