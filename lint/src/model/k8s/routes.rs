//! What sends user traffic to a Service from outside the cluster: Ingress
//! backends, Gateway API routes attached to a Gateway, and the route
//! resources of ingress controllers (Traefik, Contour, Istio
//! VirtualServices bound to a gateway). Mesh routes (GAMMA routes whose
//! parents are Services, VirtualServices for the mesh alone) are
//! east-west traffic and do not count. And what serves only operators:
//! metrics, profiling and probe ports, and what a Prometheus Operator
//! `ServiceMonitor` scrapes.

use crate::model::parse::yaml::Node;

use super::{LabelSelector, Object};

/// A Service a route sends traffic to: (namespace, name).
pub type Target = (String, String);

const GATEWAY_ROUTES: &[&str] = &["HTTPRoute", "GRPCRoute", "TLSRoute", "TCPRoute", "UDPRoute"];

/// Whether objects of this kind route traffic to Services.
pub fn is_route(object: &Object<'_>) -> bool {
    let group = object.api_version.split('/').next().unwrap_or("");
    match object.kind {
        "Ingress" => true,
        kind if GATEWAY_ROUTES.contains(&kind) => group == "gateway.networking.k8s.io",
        "IngressRoute" | "IngressRouteTCP" => {
            matches!(group, "traefik.io" | "traefik.containo.us")
        }
        "HTTPProxy" => group == "projectcontour.io",
        "VirtualService" => group == "networking.istio.io",
        _ => false,
    }
}

/// The Services a route object sends traffic to.
pub fn targets(object: &Object<'_>) -> Vec<Target> {
    if !is_route(object) {
        return Vec::new();
    }
    let own = object.namespace;
    let spec = object.node.get("spec");
    let mut found = Vec::new();
    let mut add = |namespace: Option<&str>, name: Option<&str>| {
        if let Some(name) = name.filter(|n| !n.is_empty()) {
            let target = (namespace.unwrap_or(own).to_string(), name.to_string());
            if !found.contains(&target) {
                found.push(target);
            }
        }
    };
    let items = |node: Option<&Node>, key: &str| -> Vec<Node> {
        node.and_then(|n| n.get(key))
            .map_or(&[][..], Node::items)
            .to_vec()
    };
    let field = |node: &Node, key: &str| node.get(key).and_then(Node::str).map(str::to_string);
    match object.kind {
        "Ingress" => {
            let mut backends: Vec<Node> = spec
                .and_then(|s| s.get("defaultBackend").or_else(|| s.get("backend")))
                .into_iter()
                .cloned()
                .collect();
            for rule in items(spec, "rules") {
                backends.extend(
                    items(rule.get("http"), "paths")
                        .iter()
                        .filter_map(|p| p.get("backend").cloned()),
                );
            }
            for backend in backends {
                let name = backend
                    .at(&["service", "name"])
                    .or_else(|| backend.get("serviceName"))
                    .and_then(Node::str);
                add(None, name);
            }
        }
        // A route whose parents are all Services is a mesh (GAMMA) route:
        // east-west traffic, not from outside.
        kind if GATEWAY_ROUTES.contains(&kind) && is_mesh_route(spec) => {}
        kind if GATEWAY_ROUTES.contains(&kind) => {
            for rule in items(spec, "rules") {
                for backend in items(Some(&rule), "backendRefs") {
                    if field(&backend, "kind").is_none_or(|k| k == "Service") {
                        add(
                            field(&backend, "namespace").as_deref(),
                            field(&backend, "name").as_deref(),
                        );
                    }
                }
            }
        }
        "IngressRoute" | "IngressRouteTCP" => {
            for route in items(spec, "routes") {
                for service in items(Some(&route), "services") {
                    if field(&service, "kind").is_none_or(|k| k == "Service") {
                        add(
                            field(&service, "namespace").as_deref(),
                            field(&service, "name").as_deref(),
                        );
                    }
                }
            }
        }
        "HTTPProxy" => {
            let mut services = Vec::new();
            for route in items(spec, "routes") {
                services.extend(items(Some(&route), "services"));
            }
            services.extend(items(spec.and_then(|s| s.get("tcpproxy")), "services"));
            for service in services {
                add(None, field(&service, "name").as_deref());
            }
        }
        // Without `gateways`, or with only `mesh`, a VirtualService routes
        // traffic inside the mesh alone.
        "VirtualService" if !binds_a_gateway(spec) => {}
        "VirtualService" => {
            for protocol in ["http", "tcp", "tls"] {
                for route in items(spec, protocol) {
                    for destination in items(Some(&route), "route") {
                        let host = destination.at(&["destination", "host"]).and_then(Node::str);
                        // `reviews`, `reviews.prod`, `reviews.prod.svc.cluster.local`
                        let mut parts = host.unwrap_or("").split('.');
                        let name = parts.next();
                        add(parts.next(), name);
                    }
                }
            }
        }
        _ => {}
    }
    found
}

fn is_mesh_route(spec: Option<&Node>) -> bool {
    let parents = spec
        .and_then(|s| s.get("parentRefs"))
        .map_or(&[][..], Node::items);
    !parents.is_empty()
        && parents
            .iter()
            .all(|parent| parent.get("kind").and_then(Node::str) == Some("Service"))
}

fn binds_a_gateway(spec: Option<&Node>) -> bool {
    spec.and_then(|s| s.get("gateways"))
        .map_or(&[][..], Node::items)
        .iter()
        .any(|gateway| gateway.str().is_some_and(|g| g != "mesh"))
}

/// What a `ServiceMonitor` scrapes: the Services its selector matches in
/// the namespaces it names, on the ports its endpoints name.
#[derive(Debug, Clone)]
pub struct Scrape {
    pub selector: LabelSelector,
    /// `None`: every namespace; otherwise these.
    pub namespaces: Option<Vec<String>>,
    pub ports: Vec<String>,
}

pub fn scrape(object: &Object<'_>) -> Option<Scrape> {
    if object.kind != "ServiceMonitor" || !object.api_version.starts_with("monitoring.coreos.com/")
    {
        return None;
    }
    let spec = object.node.get("spec")?;
    let selector = spec.get("selector").and_then(LabelSelector::parse)?;
    let namespace_selector = spec.get("namespaceSelector");
    let any = namespace_selector
        .and_then(|n| n.get("any"))
        .and_then(Node::bool)
        == Some(true);
    let named: Vec<String> = namespace_selector
        .and_then(|n| n.get("matchNames"))
        .map_or(&[][..], Node::items)
        .iter()
        .filter_map(Node::str)
        .map(str::to_string)
        .collect();
    let namespaces = match (any, named.is_empty()) {
        (true, _) => None,
        (false, true) => Some(vec![object.namespace.to_string()]),
        (false, false) => Some(named),
    };
    let ports = spec
        .get("endpoints")
        .map_or(&[][..], Node::items)
        .iter()
        .filter_map(|e| e.get("port").and_then(Node::str).map(str::to_string))
        .collect();
    Some(Scrape {
        selector,
        namespaces,
        ports,
    })
}

/// A port name that says it serves operators, not users: metrics
/// (`metrics`, `http-metrics`, `*-metrics`, `monitoring`, and
/// `*-servicemonitor`, as cert-manager names its metrics port), profiling
/// (`profiling`, `http-profiling`, `pprof`) or health probes (`probes`,
/// `health`, `healthz`).
pub fn is_operations_port(name: &str) -> bool {
    const KINDS: &[&str] = &[
        "metrics",
        "monitoring",
        "servicemonitor",
        "profiling",
        "pprof",
        "probes",
        "health",
        "healthz",
    ];
    KINDS.iter().any(|kind| {
        name == *kind
            || name.ends_with(&format!("-{kind}"))
            || name.starts_with(&format!("{kind}-"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::k8s::objects;
    use crate::model::parse::yaml::parse_documents;

    fn targets_of(yaml: &str) -> Vec<Target> {
        let docs = parse_documents(yaml).unwrap();
        objects(&docs[0], "shop").iter().flat_map(targets).collect()
    }

    #[test]
    fn finds_the_services_routes_send_to() {
        assert_eq!(
            targets_of("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web}\nspec:\n  defaultBackend: {service: {name: web, port: {number: 80}}}\n  rules:\n  - http:\n      paths:\n      - {path: /api, backend: {service: {name: api, port: {number: 80}}}}\n"),
            vec![("shop".into(), "web".into()), ("shop".into(), "api".into())]
        );
        assert_eq!(
            targets_of("apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata: {name: old}\nspec:\n  backend: {serviceName: legacy, servicePort: 80}\n"),
            vec![("shop".into(), "legacy".into())]
        );
        assert_eq!(
            targets_of("apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec:\n  rules:\n  - backendRefs:\n    - {name: api, port: 80}\n    - {name: other, namespace: edge, port: 80}\n    - {name: bucket, kind: Backend, group: example.com}\n"),
            vec![("shop".into(), "api".into()), ("edge".into(), "other".into())]
        );
        assert_eq!(
            targets_of("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: v}\nspec:\n  gateways: [istio-system/ingress, mesh]\n  http:\n  - route:\n    - destination: {host: reviews.prod.svc.cluster.local}\n    - destination: {host: ratings}\n"),
            vec![("prod".into(), "reviews".into()), ("shop".into(), "ratings".into())]
        );
        // Mesh-only routes carry east-west traffic, not traffic from outside:
        // a VirtualService with no gateways (or only `mesh`), and a Gateway
        // API route whose parents are Services (GAMMA).
        for mesh in [
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: v}\nspec:\n  http:\n  - route:\n    - destination: {host: reviews}\n",
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: v}\nspec:\n  gateways: [mesh]\n  http:\n  - route:\n    - destination: {host: reviews}\n",
            "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec:\n  parentRefs: [{group: \"\", kind: Service, name: reviews, port: 9080}]\n  rules:\n  - backendRefs: [{name: reviews-v2, port: 9080}]\n",
        ] {
            assert!(targets_of(mesh).is_empty(), "{mesh}");
        }
        assert_eq!(
            targets_of("apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec:\n  parentRefs: [{name: public}]\n  rules:\n  - backendRefs: [{name: api, port: 80}]\n"),
            vec![("shop".into(), "api".into())],
            "a route attached to a Gateway is from outside"
        );
        assert!(targets_of(
            "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: g}\nspec: {}\n"
        )
        .is_empty());
    }

    #[test]
    fn reads_what_a_service_monitor_scrapes() {
        let docs = parse_documents("apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: m, namespace: monitoring}\nspec:\n  selector: {matchLabels: {app: api}}\n  namespaceSelector: {matchNames: [shop]}\n  endpoints: [{port: http-metrics}]\n").unwrap();
        let scrape = scrape(&objects(&docs[0], "default")[0]).unwrap();
        assert_eq!(scrape.namespaces, Some(vec!["shop".to_string()]));
        assert_eq!(scrape.ports, vec!["http-metrics".to_string()]);
        assert!(is_operations_port("http-metrics"));
        assert!(is_operations_port("metrics"));
        assert!(is_operations_port("http-profiling"));
        assert!(is_operations_port("probes"));
        assert!(is_operations_port("tcp-prometheus-servicemonitor"));
        assert!(is_operations_port("monitoring"));
        assert!(!is_operations_port("http"));
        assert!(!is_operations_port("metricsservice"));
    }
}
