//! A test double of the Kubernetes API server, on 127.0.0.1 only.
//!
//! TLS with a CA made at start (as kind makes one), a kubeconfig with
//! client-certificate-data for it, the endpoints scenarios use with real
//! Kubernetes JSON shapes (Status objects on errors), and the documented
//! overload behaviour: separate in-flight limits for mutating and read-only
//! requests answered with 429, `Retry-After` and the API Priority and
//! Fairness headers; a slow-storage mode where latency grows with in-flight
//! writes; and a stall mode. It counts what it served, by verb and status,
//! so tests can check that every request the load generator sent is
//! accounted for.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;
use serde_json::{json, Value as Json};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

pub const FLOW_SCHEMA_UID: &str = "3b2a1c9e-flowschema-service-accounts";
pub const PRIORITY_LEVEL_UID: &str = "7f4e0d2a-prioritylevel-workload-low";
pub const FLOW_SCHEMA_NAME: &str = "service-accounts";
pub const PRIORITY_LEVEL_NAME: &str = "workload-low";

/// How the double behaves under load.
#[derive(Debug, Clone)]
pub struct Behaviour {
    /// Like `--max-mutating-requests-inflight`; 0 means no limit.
    pub max_mutating_inflight: usize,
    /// Like `--max-requests-inflight` (read-only requests); 0 means no limit.
    pub max_readonly_inflight: usize,
    /// The `Retry-After` of 429s: 1 s, as the max-inflight filter sends.
    pub retry_after_seconds: u64,
    pub base_latency: Duration,
    /// Slow storage: each write in flight adds this to every write's latency.
    pub per_inflight_write: Duration,
    /// Stall: from `after` since start, hold every request until `after + length`.
    pub stall: Option<(Duration, Duration)>,
    /// Whether flowcontrol objects may be listed (to resolve APF names).
    pub allow_flowcontrol_list: bool,
    /// Answer this many namespace deletions with 429 before serving one, as
    /// a server still overloaded when the run cleans up.
    pub refuse_namespace_deletes: usize,
    /// How long a Deployment takes to roll out after its pod template
    /// changes: its status shows a surge replica, not yet updated, until then.
    pub rollout_time: Duration,
    /// List every namespace whatever `labelSelector` asks, as a proxy or
    /// an old server that drops the parameter would.
    pub ignore_label_selectors: bool,
    /// Answer every namespace deletion 403, as RBAC that lets a user
    /// create namespaces but not delete them would.
    pub forbid_namespace_deletes: bool,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            max_mutating_inflight: 0,
            max_readonly_inflight: 0,
            retry_after_seconds: 1,
            base_latency: Duration::from_millis(1),
            per_inflight_write: Duration::ZERO,
            stall: None,
            allow_flowcontrol_list: true,
            rollout_time: Duration::from_millis(300),
            refuse_namespace_deletes: 0,
            ignore_label_selectors: false,
            forbid_namespace_deletes: false,
        }
    }
}

/// Requests served, by verb (`create`, `patch`, `get`, `list`, `delete`,
/// `namespace`, `other`) and status code.
pub type Served = BTreeMap<(String, u16), u64>;

struct State {
    behaviour: Behaviour,
    started: Instant,
    mutating: AtomicUsize,
    readonly: AtomicUsize,
    namespaces: Mutex<BTreeMap<String, Json>>,
    /// (namespace, resource, name) → object.
    objects: Mutex<BTreeMap<(String, String, String), Json>>,
    /// When each Deployment's pod template last changed.
    template_changed: Mutex<BTreeMap<(String, String, String), Instant>>,
    served: Mutex<Served>,
    namespace_deletes_refused: AtomicUsize,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

pub struct FakeApiServer {
    pub url: String,
    pub kubeconfig: PathBuf,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeApiServer {
    /// Starts on a free port of 127.0.0.1 and writes its kubeconfig into `dir`.
    /// Must be called inside a multi-threaded tokio runtime.
    pub async fn start(behaviour: Behaviour, dir: &Path) -> std::io::Result<FakeApiServer> {
        let address = SocketAddr::from(([127, 0, 0, 1], 0));
        FakeApiServer::start_on(behaviour, address, &dir.join("kubeconfig")).await
    }

    /// Starts on `address` (a loopback one: the double is for this
    /// machine) and writes a kubeconfig that reaches it to `kubeconfig`.
    pub async fn start_on(
        behaviour: Behaviour,
        address: SocketAddr,
        kubeconfig: &Path,
    ) -> std::io::Result<FakeApiServer> {
        if !address.ip().is_loopback() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "{address} is not a loopback address: the API double serves this machine only"
                ),
            ));
        }
        let pki = Pki::new().map_err(std::io::Error::other)?;
        let listener = TcpListener::bind(address).await?;
        let address = listener.local_addr()?;
        let url = format!("https://{address}");
        let kubeconfig = kubeconfig.to_path_buf();
        std::fs::write(&kubeconfig, pki.kubeconfig(&url))?;

        let acceptor = TlsAcceptor::from(Arc::new(
            pki.server_config().map_err(std::io::Error::other)?,
        ));
        let state = Arc::new(State {
            behaviour,
            started: Instant::now(),
            mutating: AtomicUsize::new(0),
            readonly: AtomicUsize::new(0),
            namespaces: Mutex::new(BTreeMap::new()),
            objects: Mutex::new(BTreeMap::new()),
            template_changed: Mutex::new(BTreeMap::new()),
            served: Mutex::new(BTreeMap::new()),
            namespace_deletes_refused: AtomicUsize::new(0),
        });
        let serving = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                let state = serving.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(stream).await else {
                        return;
                    };
                    let service = service_fn(move |request| handle(state.clone(), request));
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        Ok(FakeApiServer {
            url,
            kubeconfig,
            state,
            task,
        })
    }

    pub fn served(&self) -> Served {
        lock(&self.state.served).clone()
    }

    /// Total served for a verb, all statuses.
    pub fn served_for(&self, verb: &str) -> u64 {
        self.served()
            .iter()
            .filter(|((v, _), _)| v == verb)
            .map(|(_, n)| n)
            .sum()
    }

    pub fn namespaces(&self) -> Vec<String> {
        lock(&self.state.namespaces).keys().cloned().collect()
    }

    pub fn object_count(&self) -> usize {
        lock(&self.state.objects).len()
    }

    /// An object as stored, or null.
    pub fn object(&self, namespace: &str, resource: &str, name: &str) -> Json {
        let key = (
            namespace.to_string(),
            resource.to_string(),
            name.to_string(),
        );
        lock(&self.state.objects)
            .get(&key)
            .cloned()
            .unwrap_or(Json::Null)
    }

    /// Adds an object, as one deployed before the run.
    pub fn add_object(&self, namespace: &str, resource: &str, object: Json) {
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or("")
            .to_string();
        lock(&self.state.objects)
            .insert((namespace.to_string(), resource.to_string(), name), object);
    }

    /// Adds a namespace as a leftover of an earlier run would be.
    pub fn add_namespace(&self, name: &str, labels: Json) {
        lock(&self.state.namespaces).insert(
            name.to_string(),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels, "uid": namespace_uid(name)}}),
        );
    }
}

struct Pki {
    ca_pem: String,
    server_der: CertificateDer<'static>,
    server_key: Vec<u8>,
    client_pem: String,
    client_key_pem: String,
    ca_der: CertificateDer<'static>,
}

impl Pki {
    /// A CA, a server certificate for 127.0.0.1 and a client certificate in
    /// `system:masters`, as kind's kubeadm makes them.
    fn new() -> Result<Pki, rcgen::Error> {
        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "fake-kubernetes-ca");
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let issuer = Issuer::from_params(&ca_params, &ca_key);

        let server_key = KeyPair::generate()?;
        let mut server_params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])?;
        server_params
            .distinguished_name
            .push(DnType::CommonName, "kube-apiserver");
        let server_cert = server_params.signed_by(&server_key, &issuer)?;

        let client_key = KeyPair::generate()?;
        let mut client_params = CertificateParams::new(Vec::<String>::new())?;
        client_params
            .distinguished_name
            .push(DnType::CommonName, "loadgen-test");
        client_params
            .distinguished_name
            .push(DnType::OrganizationName, "system:masters");
        let client_cert = client_params.signed_by(&client_key, &issuer)?;

        Ok(Pki {
            ca_pem: ca_cert.pem(),
            ca_der: ca_cert.der().clone(),
            server_der: server_cert.der().clone(),
            server_key: server_key.serialize_der(),
            client_pem: client_cert.pem(),
            client_key_pem: client_key.serialize_pem(),
        })
    }

    fn server_config(&self) -> Result<rustls::ServerConfig, rustls::Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        roots.add(self.ca_der.clone())?;
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| rustls::Error::General(e.to_string()))?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                vec![self.server_der.clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key.clone())),
            )?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }

    fn kubeconfig(&self, url: &str) -> String {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {url}\n    certificate-authority-data: {}\nusers:\n- name: fake-admin\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\ncontexts:\n- name: fake\n  context: {{cluster: fake, user: fake-admin}}\ncurrent-context: fake\n",
            b64(&self.ca_pem),
            b64(&self.client_pem),
            b64(&self.client_key_pem)
        )
    }
}

type Reply = Response<Full<Bytes>>;

fn respond(status: StatusCode, body: &Json) -> Reply {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        // API Priority and Fairness marks every response it handled.
        .header("X-Kubernetes-PF-FlowSchema-UID", FLOW_SCHEMA_UID)
        .header("X-Kubernetes-PF-PriorityLevel-UID", PRIORITY_LEVEL_UID)
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("a valid response")
}

fn status(code: StatusCode, reason: &str, message: &str) -> Reply {
    respond(
        code,
        &json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {},
            "status": "Failure", "message": message, "reason": reason, "code": code.as_u16(),
        }),
    )
}

struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn handle(
    state: Arc<State>,
    request: Request<Incoming>,
) -> Result<Reply, std::convert::Infallible> {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let query = request.uri().query().unwrap_or("").to_string();
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let route = Route::parse(&method, &path);
    let verb = route.verb(&method);

    let mutating = method != Method::GET;
    let (counter, limit) = if mutating {
        (&state.mutating, state.behaviour.max_mutating_inflight)
    } else {
        (&state.readonly, state.behaviour.max_readonly_inflight)
    };
    let inflight = counter.fetch_add(1, Ordering::SeqCst) + 1;
    let _guard = InFlight(counter);
    let refuse_delete = matches!(route, Route::Namespace(_))
        && method == Method::DELETE
        && state
            .namespace_deletes_refused
            .fetch_add(1, Ordering::SeqCst)
            < state.behaviour.refuse_namespace_deletes;
    let reply = if refuse_delete || (limit > 0 && inflight > limit) {
        let mut reply = status(
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequests",
            "Too many requests, please try again later.",
        );
        reply
            .headers_mut()
            .insert("Retry-After", state.behaviour.retry_after_seconds.into());
        reply
    } else {
        delay(&state, mutating, inflight).await;
        serve(&state, &route, &method, &query, &body)
    };
    *lock(&state.served)
        .entry((verb.to_string(), reply.status().as_u16()))
        .or_default() += 1;
    Ok(reply)
}

async fn delay(state: &State, mutating: bool, inflight: usize) {
    let behaviour = &state.behaviour;
    let mut wait = behaviour.base_latency;
    if mutating {
        wait += behaviour.per_inflight_write * inflight as u32;
    }
    tokio::time::sleep(wait).await;
    if let Some((after, length)) = behaviour.stall {
        let elapsed = state.started.elapsed();
        if elapsed >= after && elapsed < after + length {
            tokio::time::sleep(after + length - elapsed).await;
        }
    }
}

enum Route {
    Version,
    Namespaces,
    Namespace(String),
    Collection {
        namespace: String,
        resource: String,
    },
    Object {
        namespace: String,
        resource: String,
        name: String,
    },
    FlowControl(String),
    Unknown,
}

impl Route {
    fn parse(method: &Method, path: &str) -> Route {
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        match parts.as_slice() {
            ["version"] => Route::Version,
            ["api", "v1", "namespaces"] => Route::Namespaces,
            ["api", "v1", "namespaces", name] => Route::Namespace(name.to_string()),
            ["apis", "flowcontrol.apiserver.k8s.io", _, resource] if method == Method::GET => {
                Route::FlowControl(resource.to_string())
            }
            ["api", "v1", "namespaces", ns, resource]
            | ["apis", _, _, "namespaces", ns, resource] => Route::Collection {
                namespace: ns.to_string(),
                resource: resource.to_string(),
            },
            // A status write stands for a write of the object: the double
            // keeps no separate status.
            ["api", "v1", "namespaces", ns, resource, name]
            | ["apis", _, _, "namespaces", ns, resource, name]
            | ["api", "v1", "namespaces", ns, resource, name, "status"]
            | ["apis", _, _, "namespaces", ns, resource, name, "status"] => Route::Object {
                namespace: ns.to_string(),
                resource: resource.to_string(),
                name: name.to_string(),
            },
            _ => Route::Unknown,
        }
    }

    /// The verb as the load generator names it, for the served counts.
    fn verb(&self, method: &Method) -> &'static str {
        match (self, method.clone()) {
            (Route::Collection { .. }, Method::POST) => "create",
            (Route::Collection { .. }, Method::GET) => "list",
            (Route::Object { .. }, Method::GET) => "get",
            (Route::Object { .. }, Method::PATCH) => "patch",
            (Route::Object { .. }, Method::PUT) => "update",
            (Route::Object { .. }, Method::DELETE) => "delete",
            (Route::Namespaces | Route::Namespace(_), _) => "namespace",
            (Route::Version, _) => "version",
            (Route::FlowControl(_), _) => "flowcontrol",
            _ => "other",
        }
    }
}

fn serve(state: &State, route: &Route, method: &Method, query: &str, body: &[u8]) -> Reply {
    match (route, method.clone()) {
        (Route::Version, Method::GET) => respond(
            StatusCode::OK,
            &json!({"major": "1", "minor": "31", "gitVersion": "v1.31.0-fake"}),
        ),
        (Route::Namespaces, Method::POST) => {
            let (object, name) = match named_object(body) {
                Ok(named) => named,
                Err((code, reason, message)) => return status(code, reason, message),
            };
            let mut namespaces = lock(&state.namespaces);
            if namespaces.contains_key(&name) {
                return status(
                    StatusCode::CONFLICT,
                    "AlreadyExists",
                    &format!("namespaces \"{name}\" already exists"),
                );
            }
            let mut object = object.clone();
            object["metadata"]["uid"] = json!(namespace_uid(&name));
            namespaces.insert(name, object.clone());
            respond(StatusCode::CREATED, &object)
        }
        (Route::Namespaces, Method::GET) => {
            let selector = label_selector(query);
            let items: Vec<Json> = lock(&state.namespaces)
                .values()
                .filter(|o| state.behaviour.ignore_label_selectors || selector.matches(o))
                .cloned()
                .collect();
            respond(
                StatusCode::OK,
                &json!({"kind": "NamespaceList", "apiVersion": "v1", "metadata": {}, "items": items}),
            )
        }
        (Route::Namespace(name), Method::GET) => match lock(&state.namespaces).get(name) {
            Some(object) => respond(StatusCode::OK, object),
            None => status(
                StatusCode::NOT_FOUND,
                "NotFound",
                &format!("namespaces \"{name}\" not found"),
            ),
        },
        (Route::Namespace(name), Method::DELETE) if state.behaviour.forbid_namespace_deletes => {
            status(
                StatusCode::FORBIDDEN,
                "Forbidden",
                &format!("namespaces \"{name}\" is forbidden: User cannot delete resource \"namespaces\""),
            )
        }
        (Route::Namespace(name), Method::DELETE) => {
            // DeleteOptions' preconditions, as the API server checks them.
            let wanted_uid = serde_json::from_slice::<Json>(body)
                .ok()
                .and_then(|o| o.pointer("/preconditions/uid").and_then(Json::as_str).map(str::to_string));
            let mut namespaces = lock(&state.namespaces);
            let current_uid = namespaces
                .get(name)
                .and_then(|o| o.pointer("/metadata/uid").and_then(Json::as_str));
            if let (Some(wanted), Some(current)) = (wanted_uid.as_deref(), current_uid) {
                if wanted != current {
                    return status(
                        StatusCode::CONFLICT,
                        "Conflict",
                        &format!("Precondition failed: UID in precondition: {wanted}, UID in object meta: {current}"),
                    );
                }
            }
            let removed = namespaces.remove(name);
            drop(namespaces);
            match removed {
                None => status(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    &format!("namespaces \"{name}\" not found"),
                ),
                Some(object) => {
                    lock(&state.objects).retain(|(ns, _, _), _| ns != name);
                    respond(StatusCode::OK, &object)
                }
            }
        }
        (
            Route::Collection {
                namespace,
                resource,
            },
            Method::POST,
        ) => {
            if !lock(&state.namespaces).contains_key(namespace) {
                return status(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    &format!("namespaces \"{namespace}\" not found"),
                );
            }
            let (object, name) = match named_object(body) {
                Ok(named) => named,
                Err((code, reason, message)) => return status(code, reason, message),
            };
            let key = (namespace.clone(), resource.clone(), name.clone());
            let mut objects = lock(&state.objects);
            if objects.contains_key(&key) {
                return status(
                    StatusCode::CONFLICT,
                    "AlreadyExists",
                    &format!("{resource} \"{name}\" already exists"),
                );
            }
            objects.insert(key, object.clone());
            respond(StatusCode::CREATED, &object)
        }
        (
            Route::Collection {
                namespace,
                resource,
            },
            Method::GET,
        ) => {
            let selector = label_selector(query);
            let items: Vec<Json> = lock(&state.objects)
                .iter()
                .filter(|((ns, r, _), o)| ns == namespace && r == resource && selector.matches(o))
                .map(|(_, o)| o.clone())
                .collect();
            respond(
                StatusCode::OK,
                &json!({"kind": "List", "apiVersion": "v1", "metadata": {}, "items": items}),
            )
        }
        (
            Route::Object {
                namespace,
                resource,
                name,
            },
            method,
        ) => {
            let key = (namespace.clone(), resource.clone(), name.clone());
            let mut objects = lock(&state.objects);
            let not_found = || {
                status(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    &format!("{resource} \"{name}\" not found"),
                )
            };
            match method {
                Method::GET if resource == "deployments" => {
                    objects.get(&key).map_or_else(not_found, |o| {
                        let changed = lock(&state.template_changed).get(&key).copied();
                        respond(
                            StatusCode::OK,
                            &with_status(o, changed, state.behaviour.rollout_time),
                        )
                    })
                }
                Method::GET => objects
                    .get(&key)
                    .map_or_else(not_found, |o| respond(StatusCode::OK, o)),
                Method::DELETE => objects
                    .remove(&key)
                    .map_or_else(not_found, |o| respond(StatusCode::OK, &o)),
                Method::PUT => {
                    match (objects.get_mut(&key), serde_json::from_slice::<Json>(body)) {
                        (None, _) => not_found(),
                        (Some(_), Err(_)) => status(
                            StatusCode::BAD_REQUEST,
                            "BadRequest",
                            "the body is not JSON",
                        ),
                        (Some(object), Ok(replacement)) => {
                            *object = replacement;
                            respond(StatusCode::OK, object)
                        }
                    }
                }
                Method::PATCH => {
                    let Some(patch) = serde_json::from_slice::<Json>(body).ok() else {
                        return status(
                            StatusCode::BAD_REQUEST,
                            "BadRequest",
                            "the patch is not JSON",
                        );
                    };
                    match objects.get_mut(&key) {
                        None => not_found(),
                        Some(object) => {
                            merge_patch(object, &patch);
                            if resource == "deployments"
                                && patch.pointer("/spec/template").is_some()
                            {
                                let generation =
                                    object["metadata"]["generation"].as_i64().unwrap_or(1);
                                object["metadata"]["generation"] = json!(generation + 1);
                                lock(&state.template_changed).insert(key.clone(), Instant::now());
                            }
                            respond(StatusCode::OK, object)
                        }
                    }
                }
                _ => status(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "MethodNotAllowed",
                    "the server does not allow this method",
                ),
            }
        }
        (Route::FlowControl(resource), _) if state.behaviour.allow_flowcontrol_list => {
            let (uid, name) = match resource.as_str() {
                "prioritylevelconfigurations" => (PRIORITY_LEVEL_UID, PRIORITY_LEVEL_NAME),
                _ => (FLOW_SCHEMA_UID, FLOW_SCHEMA_NAME),
            };
            respond(
                StatusCode::OK,
                &json!({"kind": "List", "apiVersion": "v1", "metadata": {}, "items": [{"metadata": {"uid": uid, "name": name}}]}),
            )
        }
        (Route::FlowControl(_), _) => status(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "flowcontrol is forbidden for this user",
        ),
        _ => status(
            StatusCode::NOT_FOUND,
            "NotFound",
            "the server could not find the requested resource",
        ),
    }
}

/// Why a posted object is refused: status, reason, message.
type Refusal = (StatusCode, &'static str, &'static str);

/// A posted object and its `metadata.name`, or why the API server would refuse it.
fn named_object(body: &[u8]) -> Result<(Json, String), Refusal> {
    let object: Json = serde_json::from_slice(body).map_err(|_| {
        (
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "the body is not JSON",
        )
    })?;
    let name = object
        .pointer("/metadata/name")
        .and_then(Json::as_str)
        .map(str::to_string)
        .ok_or((
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid",
            "metadata.name: Required value",
        ))?;
    Ok((object, name))
}

/// A Deployment with the status its controller would report: mid-rollout
/// (one surge replica, not yet updated) for `rollout_time` after its
/// template changed, then complete.
fn with_status(deployment: &Json, changed: Option<Instant>, rollout_time: Duration) -> Json {
    let mut object = deployment.clone();
    let generation = object["metadata"]["generation"].as_i64().unwrap_or(1);
    object["metadata"]["generation"] = json!(generation);
    let wanted = object["spec"]["replicas"].as_i64().unwrap_or(1);
    let rolling = changed.is_some_and(|at| at.elapsed() < rollout_time);
    object["status"] = if rolling {
        json!({"observedGeneration": generation, "replicas": wanted + 1, "updatedReplicas": wanted - 1,
               "readyReplicas": wanted, "availableReplicas": wanted})
    } else {
        json!({"observedGeneration": generation, "replicas": wanted, "updatedReplicas": wanted,
               "readyReplicas": wanted, "availableReplicas": wanted})
    };
    object
}

/// JSON merge patch (RFC 7386).
fn merge_patch(target: &mut Json, patch: &Json) {
    let Json::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    let target = target.as_object_mut().expect("made an object above");
    for (key, value) in patch {
        if value.is_null() {
            target.remove(key);
        } else {
            merge_patch(target.entry(key.clone()).or_insert(Json::Null), value);
        }
    }
}

/// A namespace's uid: one per name and creation in a real server; a name's
/// hash is enough for the double, whose namespaces are never recreated
/// under a test's feet.
fn namespace_uid(name: &str) -> String {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}-namespace")
}

/// `labelSelector=key` or `labelSelector=key=value` (URL-encoded `=`).
struct Selector(Option<(String, Option<String>)>);

fn label_selector(query: &str) -> Selector {
    let raw = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("labelSelector="))
        .map(|s| {
            s.replace("%3D", "=")
                .replace("%3d", "=")
                .replace("%2F", "/")
        });
    Selector(raw.map(|s| match s.split_once('=') {
        Some((k, v)) => (k.to_string(), Some(v.to_string())),
        None => (s, None),
    }))
}

impl Selector {
    fn matches(&self, object: &Json) -> bool {
        let Some((key, value)) = &self.0 else {
            return true;
        };
        let label = object
            .pointer("/metadata/labels")
            .and_then(|l| l.get(key))
            .and_then(Json::as_str);
        match value {
            Some(v) => label == Some(v.as_str()),
            None => label.is_some(),
        }
    }
}
