//! Kubernetes NetworkPolicy semantics, enough to answer "may this peer open a connection to
//! that pod on this port?" offline, for the cross-checks of `manifests/` (issue 16). Pure.
//!
//! The rules followed (networking.k8s.io/v1): a pod is isolated for ingress (egress) when
//! any policy of its namespace selects it with that type; an isolated pod admits only what
//! some selecting policy's rule allows; a connection needs the source's egress and the
//! destination's ingress. A rule without `from`/`to` admits every peer, without `ports`
//! every port. `podSelector` alone means pods of the policy's namespace, with
//! `namespaceSelector` pods of the selected namespaces. `ipBlock` is taken to match only
//! addresses outside the cluster (what the API promises; pod IPs are implementation-defined),
//! and named ports resolve against the destination pod's container ports.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use yaml_rust2::Yaml;

use crate::manifest::list;

pub type Labels = BTreeMap<String, String>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Protocol {
    Tcp,
    Udp,
}

/// A pod: where it lives, its labels, its container ports (name, number, protocol).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pod {
    pub namespace: String,
    pub namespace_labels: Labels,
    pub labels: Labels,
    pub ports: Vec<(Option<String>, u16, Protocol)>,
}

/// One end of a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Peer {
    Pod(Pod),
    /// An address outside the cluster (a game client, an SMTP relay).
    External(IpAddr),
}

#[derive(Debug, PartialEq, Eq)]
pub struct PolicyError(pub String);

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PolicyError {}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Requirement {
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

/// A label selector; the empty one matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selector {
    labels: Labels,
    expressions: Vec<Requirement>,
}

impl Selector {
    fn parse(node: &Yaml, at: &str) -> Result<Selector, PolicyError> {
        let mut selector = Selector::default();
        if node.is_badvalue() || node.is_null() {
            return Ok(selector);
        }
        if let Some(pairs) = node["matchLabels"].as_hash() {
            for (k, v) in pairs {
                let (Some(k), Some(v)) = (k.as_str(), crate::manifest::scalar(v)) else {
                    return Err(PolicyError(format!("{at}: matchLabels must map strings")));
                };
                selector.labels.insert(k.to_string(), v);
            }
        }
        for e in list(node, "matchExpressions") {
            let key = e["key"].as_str().unwrap_or("").to_string();
            let values: Vec<String> = list(e, "values")
                .iter()
                .filter_map(crate::manifest::scalar)
                .collect();
            selector.expressions.push(match e["operator"].as_str() {
                Some("In") => Requirement::In(key, values),
                Some("NotIn") => Requirement::NotIn(key, values),
                Some("Exists") => Requirement::Exists(key),
                Some("DoesNotExist") => Requirement::DoesNotExist(key),
                other => {
                    return Err(PolicyError(format!("{at}: unknown operator {other:?}")));
                }
            });
        }
        Ok(selector)
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        self.labels.iter().all(|(k, v)| labels.get(k) == Some(v))
            && self.expressions.iter().all(|r| match r {
                Requirement::In(k, vs) => labels.get(k).is_some_and(|v| vs.contains(v)),
                Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|v| !vs.contains(v)),
                Requirement::Exists(k) => labels.contains_key(k),
                Requirement::DoesNotExist(k) => !labels.contains_key(k),
            })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum PeerRule {
    Pods {
        namespaces: Option<Selector>,
        pods: Option<Selector>,
    },
    IpBlock {
        cidr: (IpAddr, u8),
        except: Vec<(IpAddr, u8)>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum PortRule {
    Number(u16, Protocol),
    Name(String, Protocol),
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Rule {
    /// `None`: every peer.
    peers: Option<Vec<PeerRule>>,
    /// `None`: every port.
    ports: Option<Vec<PortRule>>,
}

/// One NetworkPolicy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub name: String,
    pub namespace: String,
    selector: Selector,
    ingress: Option<Vec<Rule>>,
    egress: Option<Vec<Rule>>,
}

fn protocol(node: &Yaml, at: &str) -> Result<Protocol, PolicyError> {
    match node.as_str() {
        None | Some("TCP") => Ok(Protocol::Tcp),
        Some("UDP") => Ok(Protocol::Udp),
        Some(other) => Err(PolicyError(format!("{at}: protocol {other} not modelled"))),
    }
}

fn cidr(text: &str, at: &str) -> Result<(IpAddr, u8), PolicyError> {
    let bad = || PolicyError(format!("{at}: bad CIDR {text:?}"));
    let (ip, bits) = text.split_once('/').ok_or_else(bad)?;
    let ip: IpAddr = ip.parse().map_err(|_| bad())?;
    let bits: u8 = bits.parse().map_err(|_| bad())?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    if bits > max {
        return Err(bad());
    }
    Ok((ip, bits))
}

fn in_cidr(ip: IpAddr, (net, bits): (IpAddr, u8)) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

fn rules(node: &Yaml, peers_key: &str, at: &str) -> Result<Vec<Rule>, PolicyError> {
    let mut out = Vec::new();
    for (i, rule) in node
        .as_vec()
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .enumerate()
    {
        let at = format!("{at}[{i}]");
        let peers = match rule[peers_key].as_vec() {
            None => None,
            Some(peers) if peers.is_empty() => None,
            Some(peers) => Some(
                peers
                    .iter()
                    .map(|p| {
                        if let Some(block) = p["ipBlock"].as_hash().map(|_| &p["ipBlock"]) {
                            let except = list(block, "except")
                                .iter()
                                .map(|e| cidr(e.as_str().unwrap_or(""), &at))
                                .collect::<Result<_, _>>()?;
                            Ok(PeerRule::IpBlock {
                                cidr: cidr(block["cidr"].as_str().unwrap_or(""), &at)?,
                                except,
                            })
                        } else {
                            let ns = &p["namespaceSelector"];
                            let pods = &p["podSelector"];
                            if ns.is_badvalue() && pods.is_badvalue() {
                                return Err(PolicyError(format!("{at}: an empty peer")));
                            }
                            Ok(PeerRule::Pods {
                                namespaces: (!ns.is_badvalue())
                                    .then(|| Selector::parse(ns, &at))
                                    .transpose()?,
                                pods: (!pods.is_badvalue())
                                    .then(|| Selector::parse(pods, &at))
                                    .transpose()?,
                            })
                        }
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        let ports = match rule["ports"].as_vec() {
            None => None,
            Some(ports) if ports.is_empty() => None,
            Some(ports) => Some(
                ports
                    .iter()
                    .map(|p| {
                        if !p["endPort"].is_badvalue() {
                            return Err(PolicyError(format!("{at}: endPort not modelled")));
                        }
                        let protocol = protocol(&p["protocol"], &at)?;
                        match (&p["port"], p["port"].as_i64(), p["port"].as_str()) {
                            (_, Some(n), _) => u16::try_from(n)
                                .ok()
                                .filter(|n| *n > 0)
                                .map(|n| PortRule::Number(n, protocol))
                                .ok_or_else(|| PolicyError(format!("{at}: port {n}"))),
                            (_, _, Some(name)) => Ok(PortRule::Name(name.to_string(), protocol)),
                            (node, ..) => Err(PolicyError(format!(
                                "{at}: a port rule without a port ({node:?}) is not modelled"
                            ))),
                        }
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        out.push(Rule { peers, ports });
    }
    Ok(out)
}

impl Policy {
    /// A NetworkPolicy document; `namespace` when its metadata names none (kustomize's).
    pub fn parse(doc: &Yaml, namespace: &str) -> Result<Policy, PolicyError> {
        let name = doc["metadata"]["name"].as_str().unwrap_or("").to_string();
        let at = format!("NetworkPolicy {name}");
        if doc["kind"].as_str() != Some("NetworkPolicy") {
            return Err(PolicyError(format!("{at}: not a NetworkPolicy")));
        }
        let spec = &doc["spec"];
        if spec["podSelector"].is_badvalue() {
            return Err(PolicyError(format!("{at}: spec.podSelector is required")));
        }
        let types: Vec<&str> = list(spec, "policyTypes")
            .iter()
            .filter_map(Yaml::as_str)
            .collect();
        let has_egress_rules = !spec["egress"].is_badvalue();
        let (ingress_type, egress_type) = if types.is_empty() {
            (true, has_egress_rules)
        } else {
            (types.contains(&"Ingress"), types.contains(&"Egress"))
        };
        Ok(Policy {
            namespace: doc["metadata"]["namespace"]
                .as_str()
                .unwrap_or(namespace)
                .to_string(),
            selector: Selector::parse(&spec["podSelector"], &at)?,
            ingress: ingress_type
                .then(|| rules(&spec["ingress"], "from", &format!("{at} ingress")))
                .transpose()?,
            egress: egress_type
                .then(|| rules(&spec["egress"], "to", &format!("{at} egress")))
                .transpose()?,
            name,
        })
    }

    fn selects(&self, pod: &Pod) -> bool {
        pod.namespace == self.namespace && self.selector.matches(&pod.labels)
    }
}

impl PeerRule {
    fn matches(&self, peer: &Peer, policy_namespace: &str) -> bool {
        match (self, peer) {
            (PeerRule::Pods { namespaces, pods }, Peer::Pod(pod)) => {
                let namespace_ok = match namespaces {
                    None => pod.namespace == policy_namespace,
                    Some(selector) => selector.matches(&pod.namespace_labels),
                };
                namespace_ok && pods.as_ref().is_none_or(|s| s.matches(&pod.labels))
            }
            (PeerRule::IpBlock { cidr, except }, Peer::External(ip)) => {
                in_cidr(*ip, *cidr) && !except.iter().any(|e| in_cidr(*ip, *e))
            }
            _ => false,
        }
    }
}

impl Rule {
    /// `target` is the pod whose named ports a name resolves against (the destination).
    fn admits(&self, peer: &Peer, namespace: &str, target: &Peer, port: u16, p: Protocol) -> bool {
        let peer_ok = self
            .peers
            .as_ref()
            .is_none_or(|peers| peers.iter().any(|r| r.matches(peer, namespace)));
        let port_ok = self.ports.as_ref().is_none_or(|ports| {
            ports.iter().any(|rule| match rule {
                PortRule::Number(n, proto) => *n == port && *proto == p,
                PortRule::Name(name, proto) => {
                    *proto == p
                        && matches!(target, Peer::Pod(pod) if pod.ports.iter().any(
                            |(n, number, q)| n.as_deref() == Some(name) && *number == port && *q == p
                        ))
                }
            })
        });
        peer_ok && port_ok
    }
}

/// May `from` open a connection to `to` on `port`/`protocol` under `policies`?
pub fn allows(policies: &[Policy], from: &Peer, to: &Peer, port: u16, protocol: Protocol) -> bool {
    egress_allows(policies, from, to, port, protocol)
        && ingress_allows(policies, from, to, port, protocol)
}

/// The source's half of [`allows`]: its egress policies.
pub fn egress_allows(
    policies: &[Policy],
    from: &Peer,
    to: &Peer,
    port: u16,
    protocol: Protocol,
) -> bool {
    match from {
        Peer::External(_) => true,
        Peer::Pod(pod) => {
            let mut selecting = policies
                .iter()
                .filter(|p| p.selects(pod) && p.egress.is_some())
                .peekable();
            selecting.peek().is_none()
                || selecting.any(|p| {
                    p.egress
                        .as_ref()
                        .unwrap()
                        .iter()
                        .any(|rule| rule.admits(to, &p.namespace, to, port, protocol))
                })
        }
    }
}

/// The destination's half of [`allows`]: its ingress policies.
pub fn ingress_allows(
    policies: &[Policy],
    from: &Peer,
    to: &Peer,
    port: u16,
    protocol: Protocol,
) -> bool {
    match to {
        Peer::External(_) => true,
        Peer::Pod(pod) => {
            let mut selecting = policies
                .iter()
                .filter(|p| p.selects(pod) && p.ingress.is_some())
                .peekable();
            selecting.peek().is_none()
                || selecting.any(|p| {
                    p.ingress
                        .as_ref()
                        .unwrap()
                        .iter()
                        .any(|rule| rule.admits(from, &p.namespace, to, port, protocol))
                })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use yaml_rust2::YamlLoader;

    fn policy(text: &str) -> Policy {
        let doc = &YamlLoader::load_from_str(text).unwrap()[0];
        Policy::parse(doc, "ns").unwrap()
    }

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn pod(ns: &str, name: &str, ports: &[(&str, u16)]) -> Peer {
        Peer::Pod(Pod {
            namespace: ns.into(),
            namespace_labels: labels(&[("kubernetes.io/metadata.name", ns)]),
            labels: labels(&[("app", name)]),
            ports: ports
                .iter()
                .map(|(n, p)| (Some(n.to_string()), *p, Protocol::Tcp))
                .collect(),
        })
    }

    const DENY: &str = "kind: NetworkPolicy\nmetadata: {name: deny}\nspec:\n  podSelector: {}\n  policyTypes: [Ingress, Egress]\n";
    const API: &str = "kind: NetworkPolicy
metadata: {name: api}
spec:
  podSelector: {matchLabels: {app: api}}
  policyTypes: [Ingress]
  ingress:
    - from: [{podSelector: {matchLabels: {app: web}}}]
      ports: [{port: http}]
    - from:
        - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: mon}}
      ports: [{port: 9100}]
";
    const WEB: &str = "kind: NetworkPolicy
metadata: {name: web}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Egress]
  egress:
    - to: [{podSelector: {matchLabels: {app: api}}}]
      ports: [{port: 8080}]
    - ports: [{port: 53, protocol: UDP}]
    - to: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8]}}]
      ports: [{port: 443}]
";

    #[test]
    fn without_policies_everything_is_allowed() {
        let (web, api) = (pod("ns", "web", &[]), pod("ns", "api", &[("http", 8080)]));
        assert!(allows(&[], &web, &api, 8080, Protocol::Tcp));
    }

    #[test]
    fn default_deny_then_allow_rules() {
        let all = [policy(DENY), policy(API), policy(WEB)];
        let web = pod("ns", "web", &[]);
        let api = pod("ns", "api", &[("http", 8080), ("admin", 9100)]);
        let other = pod("ns", "other", &[]);
        let web_elsewhere = pod("x", "web", &[]);
        let prometheus = pod("mon", "prom", &[]);
        assert!(allows(&all, &web, &api, 8080, Protocol::Tcp));
        assert!(
            !allows(&all, &web, &api, 9100, Protocol::Tcp),
            "web's egress"
        );
        assert!(!allows(&all, &web, &api, 8080, Protocol::Udp));
        assert!(!allows(&all, &other, &api, 8080, Protocol::Tcp));
        assert!(
            !allows(&all, &web_elsewhere, &api, 8080, Protocol::Tcp),
            "podSelector alone is the policy's namespace"
        );
        assert!(allows(&all, &prometheus, &api, 9100, Protocol::Tcp));
        assert!(!allows(&all, &prometheus, &api, 8080, Protocol::Tcp));
        assert!(
            !allows(&all, &api, &web, 1, Protocol::Tcp),
            "deny both ways"
        );
        let dns = pod("kube-system", "dns", &[]);
        assert!(allows(&all, &web, &dns, 53, Protocol::Udp));
        assert!(!allows(&all, &api, &dns, 53, Protocol::Udp));
        let outside = Peer::External("93.184.216.34".parse().unwrap());
        let inside = Peer::External("10.1.2.3".parse().unwrap());
        assert!(allows(&all, &web, &outside, 443, Protocol::Tcp));
        assert!(!allows(&all, &web, &inside, 443, Protocol::Tcp), "except");
        assert!(!allows(&all, &web, &outside, 80, Protocol::Tcp));
        assert!(!allows(&all, &outside, &api, 8080, Protocol::Tcp));
    }

    #[test]
    fn selectors_and_cidrs() {
        let s = Selector::parse(
            &YamlLoader::load_from_str(
                "matchLabels: {a: '1'}\nmatchExpressions:\n  - {key: b, operator: In, values: [x, y]}\n  - {key: c, operator: DoesNotExist}",
            )
            .unwrap()[0],
            "t",
        )
        .unwrap();
        assert!(s.matches(&labels(&[("a", "1"), ("b", "y")])));
        assert!(!s.matches(&labels(&[("a", "1"), ("b", "z")])));
        assert!(!s.matches(&labels(&[("a", "1"), ("b", "x"), ("c", "")])));
        assert!(Selector::default().matches(&Labels::new()));
        assert!(in_cidr(
            "10.9.0.1".parse().unwrap(),
            cidr("10.0.0.0/8", "t").unwrap()
        ));
        assert!(in_cidr(
            "1.2.3.4".parse().unwrap(),
            cidr("0.0.0.0/0", "t").unwrap()
        ));
        assert!(!in_cidr(
            "::1".parse().unwrap(),
            cidr("0.0.0.0/0", "t").unwrap()
        ));
        assert!(cidr("10.0.0.0/33", "t").is_err());
    }

    #[test]
    fn what_is_not_modelled_is_an_error_not_a_guess() {
        let doc = |text: &str| YamlLoader::load_from_str(text).unwrap()[0].clone();
        let e = Policy::parse(
            &doc("kind: NetworkPolicy\nmetadata: {name: p}\nspec: {}"),
            "n",
        )
        .unwrap_err();
        assert!(e.0.contains("podSelector"), "{e}");
        let e = Policy::parse(
            &doc("kind: NetworkPolicy\nmetadata: {name: p}\nspec:\n  podSelector: {}\n  ingress: [{ports: [{port: 1, endPort: 9}]}]"),
            "n",
        )
        .unwrap_err();
        assert!(e.0.contains("endPort"), "{e}");
        let e = Policy::parse(
            &doc("kind: NetworkPolicy\nmetadata: {name: p}\nspec:\n  podSelector: {}\n  ingress: [{ports: [{port: 1, protocol: SCTP}]}]"),
            "n",
        )
        .unwrap_err();
        assert!(e.0.contains("SCTP"), "{e}");
        // No policyTypes: Ingress, and Egress only when egress rules are written.
        let p = Policy::parse(
            &doc("kind: NetworkPolicy\nmetadata: {name: p}\nspec: {podSelector: {}}"),
            "n",
        )
        .unwrap();
        assert_eq!((p.ingress.is_some(), p.egress.is_some()), (true, false));
    }
}
