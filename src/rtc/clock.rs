//! The one place the shell's clock meets str0m's. The driver keeps its own
//! timers on `tokio::time::Instant` (so paused-time tests control them);
//! str0m takes `std::time::Instant`. A [`Clock`] maps one to the other
//! from a shared origin, so str0m sees the tokio clock's time.

use std::time::Instant;

use tokio::time::Instant as TokioInstant;

/// A fixed pairing of a tokio instant and a std instant.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    tokio: TokioInstant,
    std: Instant,
}

impl Clock {
    /// Pair the two clocks now.
    pub fn new() -> Self {
        Clock {
            tokio: TokioInstant::now(),
            std: Instant::now(),
        }
    }

    /// The tokio clock's now, in str0m's terms.
    pub fn now(self) -> Instant {
        self.to_std(TokioInstant::now())
    }

    /// A tokio instant in str0m's terms.
    pub fn to_std(self, t: TokioInstant) -> Instant {
        self.std + t.saturating_duration_since(self.tokio)
    }

    /// A str0m instant on the tokio clock.
    pub fn to_tokio(self, t: Instant) -> TokioInstant {
        self.tokio + t.saturating_duration_since(self.std)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn str0m_sees_paused_tokio_time() {
        let clock = Clock::new();
        let before = clock.now();
        tokio::time::advance(Duration::from_secs(30)).await;
        assert_eq!(clock.now() - before, Duration::from_secs(30));
        let later = TokioInstant::now() + Duration::from_millis(5);
        assert_eq!(clock.to_tokio(clock.to_std(later)), later);
    }
}
