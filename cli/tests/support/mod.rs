//! What the CLI's process tests share: a child process killed when the test ends, and a free
//! loopback port.
#![allow(dead_code)]

use std::process::Child;

/// A child process, killed and reaped on drop (also when the test panics).
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
