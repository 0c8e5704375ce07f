//! Client-side limits that keep Identity Center within AWS's documented rates, shared by
//! every grant and revoke of the process: a token bucket for all Identity Center calls (20
//! a second by default) and a cap on account-assignment creations in flight (10 by
//! default, from the create until its status poll ends). Waiting here is cheaper than
//! being throttled: a throttled call costs a retry and a backoff.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// The limits' settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimits {
    /// Identity Center calls per second (sso-admin and identitystore together).
    pub calls_per_second: f64,
    /// Account-assignment creations in flight at once.
    pub creations_in_flight: usize,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            calls_per_second: 20.0,
            creations_in_flight: 10,
        }
    }
}

/// The shared limiter.
#[derive(Debug, Clone)]
pub struct Limiter {
    bucket: Arc<Mutex<Bucket>>,
    rate: f64,
    creations: Arc<Semaphore>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Limiter {
    /// A limiter with these limits (a rate of zero or less means no rate limit).
    pub fn new(limits: RateLimits) -> Self {
        let rate = limits.calls_per_second;
        Limiter {
            bucket: Arc::new(Mutex::new(Bucket {
                // A full second's worth at start: bursts up to the rate are fine.
                tokens: rate.max(1.0),
                at: Instant::now(),
            })),
            rate,
            creations: Arc::new(Semaphore::new(limits.creations_in_flight.max(1))),
        }
    }

    /// Waits until one more call fits in the rate.
    pub async fn call(&self) {
        if self.rate <= 0.0 {
            return;
        }
        loop {
            let wait = {
                let mut bucket = self.bucket.lock().await;
                let now = Instant::now();
                let refill = now.duration_since(bucket.at).as_secs_f64() * self.rate;
                bucket.tokens = (bucket.tokens + refill).min(self.rate.max(1.0));
                bucket.at = now;
                if bucket.tokens >= 1.0 {
                    bucket.tokens -= 1.0;
                    return;
                }
                Duration::from_secs_f64((1.0 - bucket.tokens) / self.rate)
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// Holds one of the creation slots until the permit is dropped.
    pub async fn creation(&self) -> Option<OwnedSemaphorePermit> {
        self.creations.clone().acquire_owned().await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn calls_never_exceed_the_rate() {
        let limiter = Limiter::new(RateLimits {
            calls_per_second: 20.0,
            creations_in_flight: 10,
        });
        let start = Instant::now();
        for _ in 0..60 {
            limiter.call().await;
        }
        // 20 at once (the burst), then 40 more at 20 a second.
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(1_950), "{took:?}");
        assert!(took <= Duration::from_millis(2_100), "{took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn at_most_the_configured_creations_are_in_flight() {
        let limiter = Limiter::new(RateLimits {
            calls_per_second: 0.0,
            creations_in_flight: 3,
        });
        let in_flight = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let peak = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..12 {
            let (limiter, in_flight, peak) = (limiter.clone(), in_flight.clone(), peak.clone());
            tasks.spawn(async move {
                let _slot = limiter.creation().await;
                let now = in_flight.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                peak.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(100)).await;
                in_flight.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            });
        }
        while tasks.join_next().await.is_some() {}
        assert_eq!(peak.load(std::sync::atomic::Ordering::SeqCst), 3);
    }
}
