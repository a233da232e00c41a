//! Hardening suites (issue 12): the route walk.

mod walk;
