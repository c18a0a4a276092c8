//! Real services for the shared-state tests: a private `redis-server` on a loopback port in
//! a temporary directory, and a tiny HTTP server on loopback that serves a JWKS.
#![allow(dead_code)]

use oathmesh_core::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const AUD: &str = "https://api.test";
pub const NOW: i64 = 1_800_000_000;

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A private Redis: no persistence, loopback only, killed on drop.
pub struct RedisServer {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        let mut server = RedisServer {
            port: free_port(),
            dir: tempfile::tempdir().unwrap(),
            child: None,
        };
        server.restart();
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Starts (again) on the same port, empty.
    pub fn restart(&mut self) {
        let binary =
            std::env::var("OATHMESH_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let child = Command::new(&binary)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {binary} ({e}); install redis-server (scripts/test-rust.sh does)"
                )
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.cmd(&["PING"]).as_deref() != Some("+PONG") {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends one command in RESP and returns the first reply line (enough for tests).
    pub fn cmd(&self, args: &[&str]) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        let mut req = format!("*{}\r\n", args.len());
        for a in args {
            req.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        stream.write_all(req.as_bytes()).ok()?;
        let mut buf = [0u8; 512];
        let n = stream.read(&mut buf).ok()?;
        let text = String::from_utf8_lossy(&buf[..n]).to_string();
        text.split("\r\n").next().map(str::to_owned)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What the JWKS server answers.
#[derive(Clone)]
pub enum Reply {
    Json(String),
    Status(u16),
    /// Close the connection without answering.
    Hangup,
}

/// An HTTP/1.1 server on loopback serving `/.well-known/jwks.json`; counts requests.
pub struct JwksServer {
    pub port: u16,
    pub reply: Arc<Mutex<Reply>>,
    pub hits: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl JwksServer {
    pub fn start(reply: Reply) -> JwksServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let reply = Arc::new(Mutex::new(reply));
        let hits = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (reply, hits, stop) = (reply.clone(), hits.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let (reply, hits) = (reply.clone(), hits.clone());
                            std::thread::spawn(move || serve(stream, &reply, &hits));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(2)),
                    }
                }
            })
        };
        JwksServer {
            port,
            reply,
            hits,
            stop,
            thread: Some(thread),
        }
    }

    /// The issuer URL whose JWKS this server serves (with a path, which must be kept).
    pub fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}/tenant-a/", self.port)
    }

    pub fn set(&self, reply: Reply) {
        *self.reply.lock().unwrap() = reply;
    }

    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::SeqCst)
    }

    /// Stops listening: later connections are refused.
    pub fn shut_down(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.shut_down();
    }
}

fn serve(mut stream: TcpStream, reply: &Mutex<Reply>, hits: &AtomicU64) {
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    hits.fetch_add(1, Ordering::SeqCst);
    let line = String::from_utf8_lossy(&request)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    let reply = reply.lock().unwrap().clone();
    let (status, body) = match reply {
        _ if line != "GET /tenant-a/.well-known/jwks.json HTTP/1.1" => (404, String::new()),
        Reply::Json(body) => (200, body),
        Reply::Status(code) => (code, "{}".into()),
        Reply::Hangup => return,
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// An issuer key with a chosen kid, and a way to mint with it at the shared clock's time.
pub struct Key {
    pub generated: GeneratedKey,
    pub kid: String,
}

impl Key {
    pub fn new(kid: &str) -> Key {
        Key {
            generated: generate_key(),
            kid: kid.to_owned(),
        }
    }

    pub fn jwk(&self) -> serde_json::Value {
        let mut jwk = serde_json::to_value(&self.generated.jwk).unwrap();
        jwk["kid"] = self.kid.clone().into();
        jwk
    }

    pub fn mint(&self, iss: &str, sub: &str, clock: Arc<FixedClock>) -> String {
        let signer =
            LocalSigner::from_pem(&self.generated.private_pem, Some(self.kid.clone())).unwrap();
        let issuer = Issuer::new(iss, Arc::new(signer))
            .unwrap()
            .with_clock(clock);
        issuer
            .mint(&MintRequest {
                sub: sub.into(),
                aud: AUD.into(),
                act: "charge".into(),
                ..MintRequest::default()
            })
            .unwrap()
            .token
    }
}

pub fn jwks_of(keys: &[&Key]) -> String {
    serde_json::json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()}).to_string()
}

pub fn code(r: Result<Caller, VerifyError>) -> String {
    match r {
        Ok(_) => "allow".into(),
        Err(e) => e.code().into_owned(),
    }
}

/// Waits until `f` holds (for background work), at most 10 s.
pub fn eventually(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}
