//! When servers look at their files again (a poll interval, and at once on SIGHUP), and when
//! they stop (Ctrl-C or SIGTERM). Every watcher gets its own SIGHUP stream: tokio delivers
//! each signal to all of them, so one `kill -HUP` reloads keys and certificates together.

use std::time::Duration;

/// Why a watcher looked again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Poll,
    Hangup,
}

/// Calls `check` every `poll` (at least one second) and on every SIGHUP, on a tokio task,
/// for as long as the runtime runs. `check` must be quick (it runs on an async worker): a
/// few `stat`s and small file reads.
pub fn spawn_watcher(poll: Duration, mut check: impl FnMut(Trigger) + Send + 'static) {
    let poll = poll.max(Duration::from_secs(1));
    tokio::spawn(async move {
        #[cfg(unix)]
        let mut hangup =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        loop {
            #[cfg(unix)]
            let trigger = {
                let hup = async {
                    match hangup.as_mut() {
                        Some(signal) => {
                            signal.recv().await;
                        }
                        None => std::future::pending::<()>().await,
                    }
                };
                tokio::select! {
                    () = tokio::time::sleep(poll) => Trigger::Poll,
                    () = hup => Trigger::Hangup,
                }
            };
            #[cfg(not(unix))]
            let trigger = {
                tokio::time::sleep(poll).await;
                Trigger::Poll
            };
            check(trigger);
        }
    });
}

/// Resolves on Ctrl-C or SIGTERM (what systemd sends on `stop`).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutdown requested");
}

/// One shutdown request shared by several listeners (the API and the metrics listener stop
/// together). Clone it, then `wait()` on each clone.
#[derive(Clone)]
pub struct SharedShutdown(tokio::sync::watch::Receiver<bool>);

impl SharedShutdown {
    /// Watches `shutdown` on a task; must be called inside a tokio runtime.
    pub fn new(shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> Self {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop.send(true);
        });
        SharedShutdown(stopped)
    }

    /// Resolves once shutdown was asked for (or its sender is gone).
    pub async fn wait(mut self) {
        let _ = self.0.wait_for(|stop| *stop).await;
    }
}
