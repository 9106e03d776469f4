//! The keep-alive pool: idle persistent connections (RFC 9112 §9.3) kept per origin — scheme,
//! host and port — for the next request to the same origin, newest first, each for at most the
//! idle timeout, at most `max_idle_per_host` per origin and [`MAX_IDLE_TOTAL`] in all.
//!
//! A connection enters the pool only after its response ended with the parser saying the
//! connection persists; the client checks it still looks open before reusing it, and RFC 9112
//! §9.3.1's retry covers a close it could not see.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::connection::Connection;
use super::url::{Host, Scheme, Url};

/// Idle connections kept across all origins.
pub const MAX_IDLE_TOTAL: usize = 256;

/// The origin a connection belongs to (RFC 6454 §4).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct PoolKey {
    scheme: Scheme,
    host: Host,
    port: u16,
}

impl PoolKey {
    pub(crate) fn of(url: &Url) -> PoolKey {
        PoolKey {
            scheme: url.scheme(),
            host: url.host().clone(),
            port: url.port(),
        }
    }
}

/// Idle connections by origin.
pub(crate) struct Pool {
    idle: Mutex<HashMap<PoolKey, Vec<Connection>>>,
    max_per_host: usize,
    idle_timeout: Duration,
}

impl Pool {
    pub(crate) fn new(max_per_host: usize, idle_timeout: Duration) -> Pool {
        Pool {
            idle: Mutex::new(HashMap::new()),
            max_per_host,
            idle_timeout,
        }
    }

    /// The most recently idled connection to `key` that has not timed out.
    pub(crate) fn take(&self, key: &PoolKey) -> Option<Connection> {
        let mut idle = self.lock();
        let list = idle.get_mut(key)?;
        let now = Instant::now();
        let found = std::iter::from_fn(|| list.pop())
            .find(|conn| now.duration_since(conn.idle_since) < self.idle_timeout);
        if list.is_empty() {
            idle.remove(key);
        }
        found
    }

    /// Keeps `conn` for the next request to `key`, dropping the oldest beyond the limits.
    pub(crate) fn put(&self, key: PoolKey, mut conn: Connection) {
        if self.max_per_host == 0 {
            return;
        }
        conn.idle_since = Instant::now();
        let mut idle = self.lock();
        let total: usize = idle.values().map(Vec::len).sum();
        if total >= MAX_IDLE_TOTAL {
            self.expire(&mut idle);
            if idle.values().map(Vec::len).sum::<usize>() >= MAX_IDLE_TOTAL {
                return;
            }
        }
        let list = idle.entry(key).or_default();
        if list.len() >= self.max_per_host {
            list.remove(0);
        }
        list.push(conn);
    }

    /// Idle connections now held, all origins together.
    pub(crate) fn idle_count(&self) -> usize {
        self.lock().values().map(Vec::len).sum()
    }

    fn expire(&self, idle: &mut HashMap<PoolKey, Vec<Connection>>) {
        let now = Instant::now();
        for list in idle.values_mut() {
            list.retain(|conn| now.duration_since(conn.idle_since) < self.idle_timeout);
        }
        idle.retain(|_, list| !list.is_empty());
    }

    /// A panic elsewhere while holding the lock leaves a map that is still consistent.
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PoolKey, Vec<Connection>>> {
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
