//! "Wait until a condition holds or a deadline passes", with a message saying what is missing.

use std::time::{Duration, Instant};

/// Polls `check` every `interval` until it returns `Ok(Some(v))` or `timeout` passes.
/// `check` returns `Ok(None)` (not yet) with the reason kept for the timeout message,
/// via `last`; a hard `Err` stops waiting at once.
pub fn until<T, E>(
    timeout: Duration,
    interval: Duration,
    mut check: impl FnMut(&mut String) -> Result<Option<T>, E>,
) -> Result<Result<T, String>, E> {
    let deadline = Instant::now() + timeout;
    let mut last = String::from("the condition was never checked");
    loop {
        if let Some(v) = check(&mut last)? {
            return Ok(Ok(v));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(Err(format!(
                "still not true after {:.0} s: {last}",
                timeout.as_secs_f64()
            )));
        }
        std::thread::sleep(interval.min(deadline - now));
    }
}

/// Exponential backoff delays: `base`, 2×, 4×, … capped at `max`, `attempts` of them.
pub fn backoff(base: Duration, max: Duration, attempts: u32) -> impl Iterator<Item = Duration> {
    (0..attempts).map(move |i| base.saturating_mul(1u32 << i.min(16)).min(max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_value_once_condition_holds() {
        let mut n = 0;
        let r: Result<Result<u32, String>, ()> =
            until(Duration::from_secs(5), Duration::from_millis(1), |_| {
                n += 1;
                Ok((n >= 3).then_some(n))
            });
        assert_eq!(r, Ok(Ok(3)));
    }

    #[test]
    fn deadline_reports_the_last_reason() {
        let r: Result<Result<(), String>, ()> =
            until(Duration::from_millis(20), Duration::from_millis(5), |why| {
                *why = "1 of 2 replicas streaming".into();
                Ok(None)
            });
        let msg = r.unwrap().unwrap_err();
        assert!(msg.contains("1 of 2 replicas streaming"), "{msg}");
    }

    #[test]
    fn hard_error_stops_at_once() {
        let r: Result<Result<(), String>, &str> =
            until(Duration::from_secs(60), Duration::from_secs(1), |_| {
                Err("auth")
            });
        assert_eq!(r, Err("auth"));
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let d: Vec<_> =
            backoff(Duration::from_millis(100), Duration::from_millis(350), 4).collect();
        assert_eq!(
            d.iter().map(|d| d.as_millis()).collect::<Vec<_>>(),
            vec![100, 200, 350, 350]
        );
    }
}
