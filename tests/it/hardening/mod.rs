//! Issue 12's hardening findings, each against the real binary over real sockets: slow and
//! silent clients ([`slow`]), what reaches the log ([`logs`]), whose proxy header is believed
//! ([`proxies`]), and a bounded load run ([`saturation`]).

mod logs;
mod proxies;
mod running;
mod saturation;
mod slow;
