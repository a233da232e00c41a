//! What robots ask: the keys allowed in right now ([`endpoint`]), and the `authorized-keys`
//! helper sshd runs on the robot to ask it ([`helper`]).
//!
//! The two halves share one line format, built by [`authorized_line`]:
//! `restrict,pty,expiry-time="YYYYMMDDHHMMZ" TYPE BASE64`. Nothing a person typed (key names,
//! comments) ever reaches a robot.

pub mod endpoint;
pub mod helper;

use rocket::Route;

pub use helper::{run_helper, HelperArgs};

/// Routes of this module.
pub fn routes() -> Vec<Route> {
    endpoint::routes()
}

/// The options every served key carries. `restrict` turns off forwarding, X11, agent and user
/// rc; `pty` gives back the terminal a person logging in needs.
pub const KEY_OPTIONS: &str = "restrict,pty";

/// The `expiry-time` value for an instance ending at `expires` (unix seconds): UTC minutes,
/// rounded down so the key never outlives the instance.
pub fn expiry_timespec(expires: i64) -> String {
    let minute = expires - expires.rem_euclid(60);
    let fmt = time::macros::format_description!("[year][month][day][hour][minute]Z");
    time::OffsetDateTime::from_unix_timestamp(minute)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        // Out of the representable range: an expiry in the past refuses the key, which is safe.
        .unwrap_or_else(|| "19700101Z".into())
}

/// One authorized_keys line (with its newline) for a canonical `TYPE BASE64` key.
pub fn authorized_line(canonical: &str, expires: i64) -> String {
    format!(
        "{KEY_OPTIONS},expiry-time=\"{}\" {canonical}\n",
        expiry_timespec(expires)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_utc_minutes_rounded_down() {
        // 2024-03-05 06:07:59 UTC
        assert_eq!(expiry_timespec(1_709_618_879), "202403050607Z");
        // exactly on the minute stays
        assert_eq!(expiry_timespec(1_709_618_820), "202403050607Z");
        assert_eq!(expiry_timespec(0), "197001010000Z");
    }

    #[test]
    fn line_has_options_then_key_only() {
        assert_eq!(
            authorized_line("ssh-ed25519 AAAA", 1_709_618_879),
            "restrict,pty,expiry-time=\"202403050607Z\" ssh-ed25519 AAAA\n"
        );
    }
}
