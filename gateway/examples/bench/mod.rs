//! What the gateway benchmarks share (`load.rs`, `proxies.rs`): child server processes with
//! their CPU time and memory from /proc, the bounded load driver (plain or TLS keep-alive
//! connections, paced or closed loop), and token minting before the clock starts.
#![allow(dead_code)] // each example uses its own subset

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use oathmesh_core::{Issuer, MintRequest};
use oathmesh_gateway::GatewayConfig;
use std::convert::Infallible;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};

pub const ISS: &str = "https://issuer.bench";
pub const AUD: &str = "https://upstream.bench";

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Resolves when the parent closes our stdin (it exited or is done with us).
pub async fn parent_gone() {
    let _ = tokio::task::spawn_blocking(|| {
        let mut sink = String::new();
        while std::io::stdin().read_line(&mut sink).is_ok_and(|n| n > 0) {}
    })
    .await;
}

/// A minimal upstream: 200 with a two-byte body.
pub fn serve_upstream() {
    runtime().block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("LISTENING {}", listener.local_addr().unwrap());
        let accept = async {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let _ = stream.set_nodelay(true);
                tokio::spawn(async move {
                    let service = service_fn(|_: Request<Incoming>| async {
                        Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(
                            b"ok",
                        ))))
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        };
        tokio::select! {
            () = accept => {}
            () = parent_gone() => {}
        }
    });
}

/// The gateway as a child process; `tls` is `[cert_file, key_file]` for a TLS listener.
pub fn serve_gateway(upstream: &str, verifier_json: &str, tls: &[String]) {
    let mut config =
        GatewayConfig::new(&format!("http://{upstream}"), verifier_json.as_bytes()).unwrap();
    config.listen = "127.0.0.1:0".parse().unwrap();
    if let [cert, key] = tls {
        config.tls = Some(oathmesh_serving::TlsSettings::new(cert, key));
    }
    runtime().block_on(async {
        let bound = oathmesh_gateway::bind(&config).await.unwrap();
        println!("LISTENING {}", bound.local_addr());
        bound.serve(parent_gone()).await.unwrap();
    });
}

/// A child process of this binary, killed on drop.
pub struct ChildServer {
    pub child: Child,
    pub addr: SocketAddr,
}

impl ChildServer {
    /// This binary in another mode (`--serve-upstream`, `--serve-gateway`).
    pub fn spawn(args: &[&str]) -> ChildServer {
        let mut command = Command::new(std::env::current_exe().unwrap());
        command.args(args);
        ChildServer::spawn_command(command)
    }

    /// Any server that prints `LISTENING <addr>` on its first stdout line.
    pub fn spawn_command(mut command: Command) -> ChildServer {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("LISTENING ")
            .unwrap_or_else(|| panic!("child said {line:?}"))
            .parse()
            .unwrap();
        ChildServer { child, addr }
    }

    /// A server that does not announce its address (nginx): waits until `addr` accepts.
    pub fn spawn_listening_on(mut command: Command, addr: SocketAddr) -> ChildServer {
        let child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{command:?} did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        ChildServer { child, addr }
    }

    pub fn proc_status(&self, field: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with(field))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// User plus system CPU time, in clock ticks (100 Hz on Linux).
    pub fn cpu_ticks(&self) -> Option<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?;
        let after_name = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------- load

pub struct RunResult {
    pub latencies_us: Vec<u64>,
    pub errors: u64,
    pub elapsed: Duration,
}

impl RunResult {
    pub fn percentile(&self, p: f64) -> f64 {
        let mut sorted = self.latencies_us.clone();
        sorted.sort_unstable();
        if sorted.is_empty() {
            return f64::NAN;
        }
        let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted[index] as f64 / 1000.0
    }

    pub fn throughput(&self) -> f64 {
        self.latencies_us.len() as f64 / self.elapsed.as_secs_f64()
    }
}

/// One keep-alive HTTP/1.1 connection, on TLS (server name `localhost`) when `tls` is given.
async fn connect(
    addr: SocketAddr,
    tls: Option<&tokio_rustls::TlsConnector>,
) -> hyper::client::conn::http1::SendRequest<Empty<Bytes>> {
    let stream = TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    match tls {
        None => handshake(stream).await,
        Some(connector) => {
            let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
            handshake(connector.connect(name, stream).await.unwrap()).await
        }
    }
}

async fn handshake<IO>(io: IO) -> hyper::client::conn::http1::SendRequest<Empty<Bytes>>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .unwrap();
    tokio::spawn(connection);
    sender
}

/// `requests` GETs over `connections` keep-alive connections; request `i` carries
/// `tokens[i]` when tokens are given. With a `rate`, each connection sends on its own
/// schedule (staggered), else as soon as its previous answer is in. Latency is measured
/// from the actual send. Stops at the count or the deadline.
pub async fn drive(
    addr: SocketAddr,
    requests: usize,
    connections: usize,
    tokens: Option<Arc<Vec<String>>>,
    deadline: Instant,
    rate: Option<f64>,
) -> RunResult {
    drive_over(addr, None, requests, connections, tokens, deadline, rate).await
}

/// [`drive`] on TLS connections when `tls` is given.
pub async fn drive_over(
    addr: SocketAddr,
    tls: Option<tokio_rustls::TlsConnector>,
    requests: usize,
    connections: usize,
    tokens: Option<Arc<Vec<String>>>,
    deadline: Instant,
    rate: Option<f64>,
) -> RunResult {
    let interval = rate.map(|r| Duration::from_secs_f64(connections as f64 / r));
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..connections {
        let (next, errors, tokens, tls) =
            (next.clone(), errors.clone(), tokens.clone(), tls.clone());
        let first = tokio::time::Instant::now()
            + interval.map_or(Duration::ZERO, |i| i.mul_f64(c as f64 / connections as f64));
        tasks.push(tokio::spawn(async move {
            let mut sender = connect(addr, tls.as_ref()).await;
            let mut latencies = Vec::new();
            let mut scheduled = first;
            loop {
                if let Some(interval) = interval {
                    tokio::time::sleep_until(scheduled).await;
                    scheduled += interval;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests || Instant::now() > deadline {
                    break;
                }
                let mut request = Request::get("/orders/42?view=full").header("host", "bench");
                if let Some(tokens) = &tokens {
                    request = request.header("authorization", format!("OathMesh {}", tokens[i]));
                }
                let request = request.body(Empty::<Bytes>::new()).unwrap();
                let sent = Instant::now();
                let ok = match sender.send_request(request).await {
                    Ok(response) => {
                        let status = response.status();
                        response.into_body().collect().await.is_ok() && status.is_success()
                    }
                    Err(_) => false,
                };
                if ok {
                    latencies.push(sent.elapsed().as_micros() as u64);
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                    if sender.ready().await.is_err() {
                        break;
                    }
                }
            }
            latencies
        }));
    }
    let mut latencies_us = Vec::with_capacity(requests);
    for task in tasks {
        latencies_us.extend(task.await.unwrap());
    }
    RunResult {
        latencies_us,
        errors: errors.load(Ordering::Relaxed),
        elapsed: started.elapsed(),
    }
}

pub fn mint_tokens(issuer: &Issuer, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| {
            issuer
                .mint(&MintRequest {
                    sub: "svc://checkout".into(),
                    aud: AUD.into(),
                    act: "read".into(),
                    ttl_hint: Some(300),
                    scope: Some(vec!["orders:read".into()]),
                    ..Default::default()
                })
                .unwrap()
                .token
        })
        .collect()
}

pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    values[values.len() / 2]
}
