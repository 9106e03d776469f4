//! Service lifecycle: run a set of named services until a stop signal, then stop them all.
//!
//! Every service is a future that watches a shared [`Shutdown`] token and returns once it fires. On
//! SIGINT or SIGTERM (or when any service fails) the token is cancelled and the services get a grace
//! period to finish; whatever is still running after it is aborted, so a stop is always bounded.

use std::future::Future;
use std::time::Duration;

use tokio::task::JoinSet;
pub use tokio_util::sync::CancellationToken as Shutdown;

/// Why a service set stopped.
#[derive(Debug, PartialEq, Eq)]
pub enum StopReason {
    /// SIGINT or SIGTERM arrived (the signal's name).
    Signal(&'static str),
    /// A service ended with an error (its name and the error).
    Failed(String, String),
    /// Every service ended on its own.
    AllEnded,
}

/// A set of running services sharing one shutdown token.
pub struct Services {
    shutdown: Shutdown,
    tasks: JoinSet<(String, Result<(), String>)>,
}

impl Default for Services {
    fn default() -> Self {
        Services::new()
    }
}

impl Services {
    pub fn new() -> Services {
        Services {
            shutdown: Shutdown::new(),
            tasks: JoinSet::new(),
        }
    }

    /// The token services watch; cancel it to stop them.
    pub fn shutdown(&self) -> Shutdown {
        self.shutdown.clone()
    }

    /// Starts `service` under `name`.
    pub fn spawn<E: std::fmt::Display>(
        &mut self,
        name: impl Into<String>,
        service: impl Future<Output = Result<(), E>> + Send + 'static,
    ) {
        let name = name.into();
        self.tasks
            .spawn(async move { (name, service.await.map_err(|err| err.to_string())) });
    }

    /// Runs until a stop signal or a failing service, then stops everything within `grace`.
    pub async fn run_until_signal(self, grace: Duration) -> StopReason {
        self.run_until(wait_for_stop_signal(), grace).await
    }

    /// Runs until `stop` resolves (its value names the cause) or a service fails or all end, then
    /// cancels the shutdown token and waits at most `grace` before aborting stragglers.
    pub async fn run_until(
        mut self,
        stop: impl Future<Output = &'static str>,
        grace: Duration,
    ) -> StopReason {
        tokio::pin!(stop);
        let reason = loop {
            tokio::select! {
                signal = &mut stop => break StopReason::Signal(signal),
                joined = self.tasks.join_next() => match joined {
                    None => break StopReason::AllEnded,
                    Some(Ok((name, Err(err)))) => break StopReason::Failed(name, err),
                    Some(Err(join_err)) if join_err.is_panic() => {
                        break StopReason::Failed("(service)".into(), "panicked".into())
                    }
                    Some(_) => continue,
                },
            }
        };
        self.shutdown.cancel();
        let drained = tokio::time::timeout(grace, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!("services still running after {grace:?}; aborting them");
            self.tasks.abort_all();
        }
        reason
    }
}

/// Resolves on SIGINT or SIGTERM with the signal's name.
pub async fn wait_for_stop_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
        let mut int = signal(SignalKind::interrupt()).expect("install SIGINT handler");
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stop_cancels_every_service() {
        let mut services = Services::new();
        for name in ["a", "b"] {
            let shutdown = services.shutdown();
            services.spawn(name, async move {
                shutdown.cancelled().await;
                Ok::<(), String>(())
            });
        }
        let reason = services
            .run_until(async { "test" }, Duration::from_secs(1))
            .await;
        assert_eq!(reason, StopReason::Signal("test"));
    }

    #[tokio::test]
    async fn a_failing_service_stops_the_rest() {
        let mut services = Services::new();
        let shutdown = services.shutdown();
        services.spawn("steady", async move {
            shutdown.cancelled().await;
            Ok::<(), String>(())
        });
        services.spawn("broken", async { Err("port in use") });
        let reason = services
            .run_until(std::future::pending(), Duration::from_secs(1))
            .await;
        assert_eq!(
            reason,
            StopReason::Failed("broken".into(), "port in use".into())
        );
    }

    #[tokio::test(start_paused = true)]
    async fn stragglers_are_aborted_after_the_grace_period() {
        let mut services = Services::new();
        services.spawn("deaf", async {
            std::future::pending::<()>().await;
            Ok::<(), String>(())
        });
        let started = tokio::time::Instant::now();
        services
            .run_until(async { "test" }, Duration::from_millis(500))
            .await;
        assert!(started.elapsed() >= Duration::from_millis(500));
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
