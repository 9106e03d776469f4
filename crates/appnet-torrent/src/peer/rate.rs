//! Rates over time, sans IO (the caller passes `now`): [`RateMeter`], a peer's transfer rate
//! over the last few seconds, which the choker ranks peers by; and [`TokenBucket`], which
//! holds uploads or downloads to a configured rate (`--upload-limit`, `--download-limit`).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Rates are averaged over this window: long enough to smooth TCP's bursts, short enough
/// that the 10-second rechoke sees recent behaviour (BEP 3's "rolling 20-second average").
pub const RATE_WINDOW: Duration = Duration::from_secs(20);
const SLOT: Duration = Duration::from_secs(1);

/// Bytes per one-second slot over [`RATE_WINDOW`].
#[derive(Debug, Clone)]
pub struct RateMeter {
    started: Instant,
    slots: VecDeque<(Instant, u64)>,
    total: u64,
}

impl RateMeter {
    pub fn new(now: Instant) -> RateMeter {
        RateMeter {
            started: now,
            slots: VecDeque::new(),
            total: 0,
        }
    }

    pub fn record(&mut self, now: Instant, bytes: u64) {
        self.total += bytes;
        match self.slots.back_mut() {
            Some((at, sum)) if now.duration_since(*at) < SLOT => *sum += bytes,
            _ => self.slots.push_back((now, bytes)),
        }
        self.expire(now);
    }

    /// Bytes per second over the window (or since the start, if that is shorter).
    pub fn rate(&mut self, now: Instant) -> f64 {
        self.expire(now);
        let sum: u64 = self.slots.iter().map(|(_, bytes)| bytes).sum();
        let span = now.duration_since(self.started).min(RATE_WINDOW);
        sum as f64 / span.as_secs_f64().max(1.0)
    }

    /// Bytes since the meter started.
    pub fn total(&self) -> u64 {
        self.total
    }

    fn expire(&mut self, now: Instant) {
        while self
            .slots
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) >= RATE_WINDOW)
        {
            self.slots.pop_front();
        }
    }
}

/// A token bucket: `rate` bytes per second, bursts up to `burst` bytes.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A bucket for `rate` bytes per second; the burst is a quarter second of it, but never
    /// under one 16 KiB block (or a block could never pass). It starts empty, so that over
    /// any stretch from the start no more than the rate goes through — what the swarm
    /// experiment's bounds assume.
    pub fn new(rate: u64, now: Instant) -> TokenBucket {
        let burst = (rate as f64 / 4.0).max(16.0 * 1024.0);
        TokenBucket {
            rate: rate as f64,
            burst,
            tokens: 0.0,
            last: now,
        }
    }

    /// Takes `bytes` if they are there; otherwise how long until they will be.
    pub fn take(&mut self, now: Instant, bytes: u64) -> Result<(), Duration> {
        self.refill(now);
        let bytes = bytes as f64;
        if self.tokens >= bytes.min(self.burst) {
            self.tokens -= bytes;
            return Ok(());
        }
        let missing = bytes.min(self.burst) - self.tokens;
        Err(Duration::from_secs_f64(missing / self.rate.max(1.0)))
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_meter_averages_over_the_window_and_forgets() {
        let start = Instant::now();
        let mut meter = RateMeter::new(start);
        for second in 0..10 {
            meter.record(start + Duration::from_secs(second), 1000);
        }
        let rate = meter.rate(start + Duration::from_secs(10));
        assert!((rate - 1000.0).abs() < 1.0, "{rate}");
        let later = start + Duration::from_secs(60);
        assert_eq!(meter.rate(later), 0.0);
        assert_eq!(meter.total(), 10_000);
    }

    #[test]
    fn the_bucket_holds_the_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(100_000, start);
        let mut sent = 0u64;
        let mut now = start;
        while now < start + Duration::from_secs(10) {
            match bucket.take(now, 16_384) {
                Ok(()) => sent += 16_384,
                Err(wait) => now += wait,
            }
        }
        // Ten seconds at 100 kB/s, and never ahead of the rate.
        assert!((980_000..=1_000_000).contains(&sent), "{sent}");
    }
}
