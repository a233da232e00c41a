//! The admin's oversight of the lab: Admin → Bookings (every active booking, ended with a
//! reason the member sees) in [`bookings`], a robot's own admin page (edit, delete, access
//! rules) in [`robot`], and a user's page with delete, promote and demote in [`users`].
//! Admins only; everyone else is told these pages do not exist.

pub mod bookings;
pub mod robot;
pub mod users;

use rocket::Route;

/// Routes of this module.
pub fn routes() -> Vec<Route> {
    let mut all = bookings::routes();
    all.extend(robot::routes());
    all.extend(users::routes());
    all
}

/// Checks a reason an admin gives (ending a booking): 1 to 200 characters on one line.
pub fn check_reason(reason: &str) -> Result<&str, String> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(
            "give a reason: the member sees it on their instances page and in their security log"
                .into(),
        );
    }
    if reason.chars().count() > 200 {
        return Err("the reason must be at most 200 characters".into());
    }
    if crate::text::has_forbidden(reason) {
        return Err(format!(
            "the reason must be a single line of text without {}",
            crate::text::FORBIDDEN
        ));
    }
    Ok(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons() {
        assert_eq!(check_reason("  lab closes at 6  "), Ok("lab closes at 6"));
        for bad in ["", "   ", "a\nb", &"x".repeat(201)] {
            assert!(check_reason(bad).is_err(), "{bad:?}");
        }
    }
}
