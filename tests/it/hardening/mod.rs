//! Issue 12's hardening suites. Against the real binary over real sockets: slow and silent
//! clients ([`slow`]), what reaches the log ([`logs`]), whose proxy header is believed
//! ([`proxies`]), and a bounded load run ([`saturation`]). In process: every mounted route
//! called by someone who must be refused ([`walk`]).

mod logs;
mod proxies;
mod running;
mod saturation;
mod slow;
mod walk;
