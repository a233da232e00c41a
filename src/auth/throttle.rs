//! Login throttling. Attempts are counted per address (per /64 for IPv6), per (address,
//! username) and per username, from the moment they start, so a burst of parallel guesses is
//! counted before any of them is checked; a successful sign-in takes its attempt back. The
//! first two refuse further attempts for a while; the per-username count only slows attempts
//! down, so an attacker elsewhere can never lock the real user out.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Window over which failures are counted.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failures from one address, any usernames, before that address must wait.
pub const PER_ADDRESS: usize = 20;
/// Failures from one address for one username before that pair must wait.
pub const PER_PAIR: usize = 5;
/// Failures for one username, any addresses, before every attempt on it is slowed.
pub const PER_USER: usize = 10;
/// The delay added to attempts on a username under attack.
pub const SLOWDOWN: Duration = Duration::from_secs(1);
/// Keys kept before stale ones are swept.
const SWEEP_AT: usize = 10_000;

/// What to do with a login attempt.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Go ahead.
    Allow,
    /// Go ahead after waiting this long.
    Slow(Duration),
    /// Refuse; the caller may try again after this long.
    Refuse(Duration),
}

/// In-memory failure counts (managed state).
#[derive(Default)]
pub struct Throttle {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

/// The part of an address one party controls: the address itself for IPv4, the /64 for IPv6.
fn network(address: &str) -> String {
    match address.parse::<std::net::Ipv6Addr>() {
        Ok(v6) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        _ => address.to_owned(),
    }
}

fn address_key(address: &str) -> String {
    format!("a:{}", network(address))
}

fn pair_key(address: &str, username: &str) -> String {
    format!("p:{}\n{username}", network(address))
}

fn user_key(username: &str) -> String {
    format!("u:{username}")
}

impl Throttle {
    /// Decides on an attempt for `username` from `address` and, unless it is refused, counts
    /// it at once (see [`Throttle::succeeded`]).
    pub fn begin(&self, address: &str, username: &str) -> Verdict {
        self.begin_at(address, username, Instant::now())
    }

    fn begin_at(&self, address: &str, username: &str, now: Instant) -> Verdict {
        let Ok(mut map) = self.failures.lock() else {
            return Verdict::Allow;
        };
        let mut wait = |key: String, limit: usize| -> Option<Duration> {
            let q = map.get_mut(&key)?;
            while q.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
                q.pop_front();
            }
            (q.len() >= limit).then(|| WINDOW.saturating_sub(now.duration_since(q[0])))
        };
        let refuse = wait(address_key(address), PER_ADDRESS)
            .into_iter()
            .chain(wait(pair_key(address, username), PER_PAIR))
            .max();
        if let Some(d) = refuse {
            return Verdict::Refuse(d.max(Duration::from_secs(1)));
        }
        let verdict = match wait(user_key(username), PER_USER) {
            Some(_) => Verdict::Slow(SLOWDOWN),
            None => Verdict::Allow,
        };
        if map.len() >= SWEEP_AT {
            map.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < WINDOW));
        }
        for key in [
            address_key(address),
            pair_key(address, username),
            user_key(username),
        ] {
            map.entry(key).or_default().push_back(now);
        }
        verdict
    }

    /// Takes back the attempt of a successful sign-in and forgets the pair's failures.
    pub fn succeeded(&self, address: &str, username: &str) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(&pair_key(address, username));
            for key in [address_key(address), user_key(username)] {
                if let Some(q) = map.get_mut(&key) {
                    q.pop_back();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_is_refused_but_other_address_is_only_slowed() {
        let t = Throttle::default();
        let now = Instant::now();
        for _ in 0..PER_PAIR {
            assert_eq!(t.begin_at("10.0.0.1", "alice", now), Verdict::Allow);
        }
        assert!(matches!(
            t.begin_at("10.0.0.1", "alice", now),
            Verdict::Refuse(_)
        ));
        assert_eq!(t.begin_at("10.0.0.2", "alice", now), Verdict::Allow);
        for i in 0..PER_USER {
            t.begin_at(&format!("10.1.0.{i}"), "alice", now);
        }
        assert_eq!(
            t.begin_at("10.0.0.3", "alice", now),
            Verdict::Slow(SLOWDOWN)
        );
        assert_eq!(t.begin_at("10.0.0.3", "bob", now), Verdict::Allow);
    }

    #[test]
    fn attempts_expire() {
        let t = Throttle::default();
        let then = Instant::now();
        for _ in 0..PER_PAIR {
            t.begin_at("a", "u", then);
        }
        assert!(matches!(t.begin_at("a", "u", then), Verdict::Refuse(_)));
        assert_eq!(t.begin_at("a", "u", then + WINDOW), Verdict::Allow);
    }

    #[test]
    fn address_limit_covers_every_username() {
        let t = Throttle::default();
        let now = Instant::now();
        for i in 0..PER_ADDRESS {
            t.begin_at("a", &format!("user{i}"), now);
        }
        assert!(matches!(
            t.begin_at("a", "someone-else", now),
            Verdict::Refuse(_)
        ));
    }

    #[test]
    fn a_success_takes_its_attempt_back() {
        let t = Throttle::default();
        let now = Instant::now();
        for _ in 0..PER_PAIR * 3 {
            assert_eq!(t.begin_at("10.0.0.1", "alice", now), Verdict::Allow);
            t.succeeded("10.0.0.1", "alice");
        }
    }

    #[test]
    fn an_ipv6_slash_64_is_one_party() {
        let t = Throttle::default();
        let now = Instant::now();
        for i in 0..PER_PAIR {
            t.begin_at(&format!("2001:db8:1:2::{i:x}"), "alice", now);
        }
        assert!(matches!(
            t.begin_at("2001:db8:1:2:ffff::9", "alice", now),
            Verdict::Refuse(_)
        ));
        assert_eq!(t.begin_at("2001:db8:1:3::1", "alice", now), Verdict::Allow);
    }
}
