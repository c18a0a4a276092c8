//! Real HTTP on loopback: an echo upstream that reports what it received, a gateway on a
//! free port, tokens minted by the core's issuer, and a one-connection-per-request client.
#![allow(dead_code)] // each test file uses its own subset

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use oathmesh_core::{GeneratedKey, Issuer, MintRequest, generate_key};
use oathmesh_gateway::GatewayConfig;
use serde_json::{Value, json};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const ISS: &str = "https://issuer.internal";
pub const AUD: &str = "https://orders.internal";

/// One signing key, an issuer using it, and the verifier document trusting it.
pub struct Trust {
    pub key: GeneratedKey,
    pub issuer: Issuer,
}

impl Trust {
    pub fn new() -> Trust {
        let key = generate_key();
        let issuer = issuer_at(&key, None);
        Trust { key, issuer }
    }

    /// Static keys (`jwks`), and a policy that denies `delete` and allows the rest.
    pub fn verifier_doc(&self) -> Value {
        json!({
            "audience": AUD,
            "trusted_issuers": [ISS],
            "jwks": {"keys": [self.key.jwk]},
            "policy": {"version": 1, "rules": [
                {"name": "no-deletes", "allow": false, "match": {"act": "delete"}},
                {"name": "orders-callers", "allow": true, "match": {"sub": "svc://*"}}
            ]}
        })
    }

    pub fn mint(&self, act: &str) -> String {
        self.mint_with(MintRequest {
            sub: "svc://checkout".into(),
            aud: AUD.into(),
            act: act.into(),
            ..Default::default()
        })
    }

    pub fn mint_with(&self, request: MintRequest) -> String {
        self.issuer.mint(&request).expect("mint").token
    }

    /// A token bound to one request (`rqh`).
    pub fn mint_bound(&self, method: &str, path_and_query: &str, body: &[u8]) -> String {
        self.mint_with(MintRequest {
            sub: "svc://checkout".into(),
            aud: AUD.into(),
            act: "create".into(),
            rqh: Some(oathmesh_core::canonical_request_hash(
                method,
                path_and_query,
                body,
            )),
            ..Default::default()
        })
    }

    /// A token whose lifetime ended ten minutes ago.
    pub fn mint_expired(&self) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        issuer_at(&self.key, Some(now - 600))
            .mint(&MintRequest {
                sub: "svc://checkout".into(),
                aud: AUD.into(),
                act: "read".into(),
                ttl_hint: Some(60),
                ..Default::default()
            })
            .unwrap()
            .token
    }

    /// A gateway configuration for `upstream`, listening on a free loopback port.
    pub fn gateway_config(&self, upstream: SocketAddr) -> GatewayConfig {
        let mut config = GatewayConfig::new(
            &format!("http://{upstream}"),
            self.verifier_doc().to_string(),
        )
        .unwrap();
        config.listen = "127.0.0.1:0".parse().unwrap();
        config.shutdown_grace = Duration::from_secs(5);
        config
    }
}

fn issuer_at(key: &GeneratedKey, now: Option<i64>) -> Issuer {
    let mut doc = json!({"issuer": ISS, "private_key_pem": key.private_pem});
    if let Some(now) = now {
        doc["testing"] = json!({"now": now});
    }
    Issuer::from_json(doc.to_string().as_bytes()).unwrap()
}

/// A server that stops when dropped.
pub struct Server {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Server {
    /// Asks the server to stop and waits for it (graceful shutdown for the gateway).
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// Starts the gateway on its configured (free) port.
pub async fn start_gateway(config: GatewayConfig) -> Server {
    let bound = oathmesh_gateway::bind(&config)
        .await
        .expect("gateway binds");
    let addr = bound.local_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        bound
            .serve(async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    Server {
        addr,
        stop: Some(stop),
        task: Some(task),
    }
}

/// The echo upstream. `GET /slow/<ms>` waits before answering; `GET /big/<n>` answers `n`
/// bytes; anything else answers JSON describing the request it received:
/// `{"method", "path", "headers": {name: [values]}, "body", "body_len"}`.
pub async fn start_upstream() -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service_fn(echo))
                    .await;
            });
        }
    });
    Server {
        addr,
        stop: None,
        task: Some(task),
    }
}

/// The echo upstream on TLS (served by the same listener code as the gateway). When the
/// upstream verified a client certificate, the echo reports its subject as the request
/// header `x-test-client-subject`.
pub async fn start_tls_upstream(tls: std::sync::Arc<oathmesh_serving::ServerTls>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let options = oathmesh_serving::ServeOptions {
        http: hyper::server::conn::http1::Builder::new(),
        handshake_timeout: Duration::from_secs(5),
        shutdown_grace: Duration::from_secs(1),
        name: "test upstream",
    };
    let task = tokio::spawn(oathmesh_serving::serve_http1(
        listener,
        Some(tls),
        options,
        |info: oathmesh_serving::ConnectionInfo| {
            service_fn(move |mut request: Request<Incoming>| {
                if let Some(cert) = &info.client_certificate {
                    request
                        .headers_mut()
                        .insert("x-test-client-subject", cert.subject_dn.parse().unwrap());
                }
                echo(request)
            })
        },
        std::future::pending(),
    ));
    Server {
        addr,
        stop: None,
        task: Some(task),
    }
}

async fn echo(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_owned();
    if let Some(ms) = path.strip_prefix("/slow/") {
        tokio::time::sleep(Duration::from_millis(ms.parse().unwrap_or(1000))).await;
    }
    if let Some(n) = path.strip_prefix("/big/") {
        let n: usize = n.parse().unwrap();
        let body: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
        return Ok(Response::new(Full::new(Bytes::from(body))));
    }
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let mut headers = serde_json::Map::new();
    for name in parts.headers.keys() {
        let values: Vec<Value> = parts
            .headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned().into())
            .collect();
        headers.insert(name.as_str().to_owned(), values.into());
    }
    let report = json!({
        "method": parts.method.as_str(),
        "path": parts.uri.path_and_query().map(|p| p.as_str()),
        "headers": headers,
        "body": String::from_utf8_lossy(&body),
        "body_len": body.len(),
    });
    let mut response = Response::new(Full::new(Bytes::from(report.to_string())));
    response
        .headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    // A hop-by-hop header the gateway must not pass back.
    response
        .headers_mut()
        .insert("keep-alive", "timeout=5".parse().unwrap());
    Ok(response)
}

/// A loopback port with nothing listening on it.
pub async fn dead_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

/// A response, fully read.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "status {} body is not JSON ({e}): {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The upstream's view of a header (the echo's JSON), `None` when it did not get it.
    pub fn upstream_header(&self, name: &str) -> Option<Vec<String>> {
        let json = self.json();
        json["headers"].get(name).map(|values| {
            values
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect()
        })
    }
}

/// Sends one request on a new connection.
pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Reply {
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string());
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    send_request(addr, builder.body(Full::new(body.into())).unwrap()).await
}

pub async fn send_request<B>(addr: SocketAddr, request: Request<B>) -> Reply
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let response = sender.send_request(request).await.expect("a response");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("the whole body").to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// `Authorization: OathMesh <token>`.
pub fn auth(token: &str) -> String {
    format!("OathMesh {token}")
}

/// A request body sent as separate chunks with no length given (chunked encoding).
pub fn chunked(chunks: Vec<Bytes>) -> ChunkBody {
    ChunkBody(chunks.into_iter())
}

pub struct ChunkBody(std::vec::IntoIter<Bytes>);

impl http_body::Body for ChunkBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Infallible>>> {
        std::task::Poll::Ready(self.0.next().map(|c| Ok(hyper::body::Frame::data(c))))
    }
}
