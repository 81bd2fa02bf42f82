//! The time left in one invocation.
//!
//! Lambda stops the worker at the invocation's deadline; every outbound
//! call and every wait is bounded by what is left before it, less a reserve
//! for the writes that record how far the message got.

use std::time::{Duration, Instant, SystemTime};

/// The end of this invocation's time budget.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    end: Instant,
}

impl Deadline {
    /// A budget of `budget` starting now.
    pub fn after(budget: Duration) -> Self {
        Self {
            end: Instant::now() + budget,
        }
    }

    /// `reserve` before `end`, a wall-clock time such as Lambda's
    /// invocation deadline.
    pub fn before(end: SystemTime, reserve: Duration) -> Self {
        let left = end
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
            .saturating_sub(reserve);
        Self::after(left)
    }

    /// Time left, zero once passed.
    pub fn remaining(&self) -> Duration {
        self.end.saturating_duration_since(Instant::now())
    }

    /// The timeout for a call that should take at most `cap` and must leave
    /// `reserve` of the budget for what comes after it; `None` when less
    /// than `floor` would be left for the call.
    pub fn timeout(&self, cap: Duration, reserve: Duration, floor: Duration) -> Option<Duration> {
        let available = self.remaining().saturating_sub(reserve).min(cap);
        (available >= floor && !available.is_zero()).then_some(available)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_capped_and_leave_the_reserve() {
        let deadline = Deadline::after(Duration::from_secs(100));
        let t = deadline
            .timeout(
                Duration::from_secs(8),
                Duration::from_secs(3),
                Duration::ZERO,
            )
            .unwrap();
        assert_eq!(t, Duration::from_secs(8));
        let t = deadline
            .timeout(
                Duration::from_secs(500),
                Duration::from_secs(30),
                Duration::ZERO,
            )
            .unwrap();
        assert!(t <= Duration::from_secs(70) && t > Duration::from_secs(60));
    }

    #[test]
    fn a_wall_clock_deadline_keeps_the_reserve() {
        let end = SystemTime::now() + Duration::from_secs(10);
        let left = Deadline::before(end, Duration::from_secs(3)).remaining();
        assert!(
            left <= Duration::from_secs(7) && left > Duration::from_secs(6),
            "{left:?}"
        );
        let past = SystemTime::now() - Duration::from_secs(1);
        assert_eq!(
            Deadline::before(past, Duration::ZERO).remaining(),
            Duration::ZERO
        );
    }

    #[test]
    fn an_exhausted_budget_allows_no_call() {
        let deadline = Deadline::after(Duration::ZERO);
        assert_eq!(deadline.remaining(), Duration::ZERO);
        assert!(
            deadline
                .timeout(Duration::from_secs(1), Duration::ZERO, Duration::ZERO)
                .is_none()
        );
        let deadline = Deadline::after(Duration::from_secs(10));
        assert!(
            deadline
                .timeout(
                    Duration::from_secs(8),
                    Duration::from_secs(9),
                    Duration::from_secs(2)
                )
                .is_none(),
            "less than the floor is left"
        );
    }
}
