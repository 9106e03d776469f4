//! Login throttling: each failed login from an address makes that address's next answer
//! slower (250 ms, doubling to 8 s), and an address that keeps failing is turned away at
//! connect for a while. Guessing passwords then costs hours, not seconds, while a user who
//! mistypes once hardly notices. Sans IO: the caller passes the time.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Failures are forgotten this long after the last one.
pub const WINDOW: Duration = Duration::from_secs(300);
/// An address with this many recent failures is refused at connect.
pub const BLOCK_AFTER: u32 = 30;
const FIRST_DELAY: Duration = Duration::from_millis(250);
const MAX_DELAY: Duration = Duration::from_secs(8);
/// Addresses remembered at most; past it the stale ones go, then the oldest.
const MAX_ADDRESSES: usize = 10_000;

#[derive(Debug, Default)]
pub struct LoginThrottle {
    failures: HashMap<IpAddr, (u32, Instant)>,
}

impl LoginThrottle {
    /// Records a failed login; returns how long to wait before answering it.
    pub fn failed(&mut self, address: IpAddr, now: Instant) -> Duration {
        if self.failures.len() >= MAX_ADDRESSES {
            self.failures
                .retain(|_, (_, last)| now.duration_since(*last) < WINDOW);
            if self.failures.len() >= MAX_ADDRESSES
                && let Some(oldest) = self.failures.iter().min_by_key(|(_, (_, last))| *last)
            {
                let oldest = *oldest.0;
                self.failures.remove(&oldest);
            }
        }
        let count = match self.failures.get(&address) {
            Some((count, last)) if now.duration_since(*last) < WINDOW => count + 1,
            _ => 1,
        };
        self.failures.insert(address, (count, now));
        FIRST_DELAY
            .saturating_mul(1 << (count - 1).min(6))
            .min(MAX_DELAY)
    }

    /// A successful login clears the address's record.
    pub fn succeeded(&mut self, address: IpAddr) {
        self.failures.remove(&address);
    }

    /// Whether a new connection from `address` is turned away.
    pub fn is_blocked(&self, address: IpAddr, now: Instant) -> bool {
        self.failures.get(&address).is_some_and(|(count, last)| {
            *count >= BLOCK_AFTER && now.duration_since(*last) < WINDOW
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_and_reset() {
        let mut throttle = LoginThrottle::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let now = Instant::now();
        let delays: Vec<_> = (0..8).map(|_| throttle.failed(ip, now)).collect();
        assert_eq!(delays[0], Duration::from_millis(250));
        assert_eq!(delays[1], Duration::from_millis(500));
        assert_eq!(delays[7], MAX_DELAY);
        assert!(!throttle.is_blocked(ip, now));
        throttle.succeeded(ip);
        assert_eq!(throttle.failed(ip, now), FIRST_DELAY);
        let later = now + WINDOW + Duration::from_secs(1);
        assert_eq!(
            throttle.failed(ip, later),
            FIRST_DELAY,
            "old failures expire"
        );
    }

    #[test]
    fn persistent_failures_block_and_the_table_stays_bounded() {
        let mut throttle = LoginThrottle::default();
        let now = Instant::now();
        let ip: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..BLOCK_AFTER {
            throttle.failed(ip, now);
        }
        assert!(throttle.is_blocked(ip, now));
        assert!(!throttle.is_blocked(ip, now + WINDOW));
        for n in 0..(MAX_ADDRESSES as u32 + 10) {
            throttle.failed(IpAddr::from(n.to_be_bytes()), now);
        }
        assert!(throttle.failures.len() <= MAX_ADDRESSES);
    }
}
