//! A clock the test moves by hand.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use aws_jit_app::ports::Clock;
use jiff::Timestamp;

/// A clock the test moves by hand; `sleep` advances it instead of waiting.
#[derive(Debug)]
pub struct FixedClock {
    now: Mutex<Timestamp>,
}

impl FixedClock {
    /// A clock at `now`.
    pub fn at(now: Timestamp) -> FixedClock {
        FixedClock {
            now: Mutex::new(now),
        }
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().expect("clock");
        *now = now.checked_add(by).expect("in range");
    }
}

#[async_trait]
impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        *self.now.lock().expect("clock")
    }

    async fn sleep(&self, duration: Duration) {
        self.advance(duration);
    }
}
