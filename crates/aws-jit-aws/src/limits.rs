//! Client-side limits that keep Identity Center within AWS's documented rates, shared by
//! every grant and revoke of the process: a token bucket for all Identity Center calls (20
//! a second by default) and a cap on account-assignment creations in flight (10 by
//! default, from the create until its status poll ends). Waiting here is cheaper than
//! being throttled: a throttled call costs a retry and a backoff.

use std::collections::VecDeque;
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
    /// When the calls of the last second started (at most `rate` of them).
    window: Arc<Mutex<VecDeque<Instant>>>,
    rate: usize,
    /// The calls a second this handle may start: the whole rate, or (for the front doors)
    /// the rate less the share kept for revocations.
    share: usize,
    creations: Arc<Semaphore>,
}

impl Limiter {
    /// A limiter with these limits (a rate below one a second means no rate limit).
    pub fn new(limits: RateLimits) -> Self {
        // Whole calls: a sliding one-second window holds at most this many.
        let rate = if limits.calls_per_second >= 1.0 {
            limits.calls_per_second.floor() as usize
        } else {
            0
        };
        Limiter {
            window: Arc::new(Mutex::new(VecDeque::with_capacity(rate))),
            rate,
            share: rate,
            creations: Arc::new(Semaphore::new(limits.creations_in_flight.max(1))),
        }
    }

    /// A handle on the same window for the front doors (API, Slack): it starts a call only
    /// while at least a quarter of the rate (one call a second at the least) is left over
    /// in the window, so that the expiry worker, on the full-rate handle, always finds room
    /// for its revocations however busy the front doors are.
    pub fn front_doors(&self) -> Limiter {
        let reserve = (self.rate / 4).max(1);
        Limiter {
            share: self.rate.saturating_sub(reserve).max(1),
            ..self.clone()
        }
    }

    /// Waits until one more call fits: never more than `rate` calls start within any one
    /// second (a sliding window, so bursts up to the rate are fine).
    pub async fn call(&self) {
        if self.rate == 0 {
            return;
        }
        let second = Duration::from_secs(1);
        loop {
            let wait = {
                let mut window = self.window.lock().await;
                let now = Instant::now();
                while window
                    .front()
                    .is_some_and(|t| now.duration_since(*t) >= second)
                {
                    window.pop_front();
                }
                if window.len() < self.share {
                    window.push_back(now);
                    return;
                }
                window.front().map_or(Duration::ZERO, |oldest| {
                    second.saturating_sub(now.duration_since(*oldest))
                })
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
        let mut starts = Vec::new();
        for _ in 0..60 {
            limiter.call().await;
            starts.push(Instant::now());
        }
        // No one-second window holds more than 20 starts.
        for (i, at) in starts.iter().enumerate() {
            let within = starts[i..]
                .iter()
                .take_while(|t| t.duration_since(*at) < Duration::from_secs(1))
                .count();
            assert!(within <= 20, "{within} calls within a second");
        }
        // 20 at once, 20 a second later, 20 a second after that.
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(2_000), "{took:?}");
        assert!(took <= Duration::from_millis(2_100), "{took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_front_doors_leave_the_workers_share_of_the_rate() {
        let worker = Limiter::new(RateLimits {
            calls_per_second: 20.0,
            creations_in_flight: 10,
        });
        let front = worker.front_doors();
        // The front doors fill what they may of the window: 15 of 20.
        for _ in 0..15 {
            front.call().await;
        }
        let start = Instant::now();
        let blocked = tokio::time::timeout(Duration::from_millis(10), front.call()).await;
        assert!(blocked.is_err(), "a 16th front-door call waits");
        // The worker still starts its 5 at once.
        for _ in 0..5 {
            worker.call().await;
        }
        assert!(
            start.elapsed() < Duration::from_millis(20),
            "{:?}",
            start.elapsed()
        );
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
