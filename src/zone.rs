//! The lab's time zone, a server-wide setting used by the booking pages, the API and the
//! `labtime` template filter: booking windows are entered and shown in it and stored as UTC
//! unix seconds. An admin sets it (`lab_timezone` in `settings`, an IANA name; UTC when unset).
//!
//! The zone rules come from the tz database bundled into the binary (jiff's
//! `tzdb-bundle-always`), so a lab's times do not depend on the host's `/usr/share/zoneinfo`
//! (absent from slim containers). Local times that a DST change skips are refused with a
//! message; local times it repeats mean the first of the two.

use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{civil, Timestamp};
use rusqlite::Connection;

use crate::error::AppError;

/// Settings key of the lab's time zone.
pub const ZONE_KEY: &str = "lab_timezone";

/// The lab's time zone.
#[derive(Debug, Clone)]
pub struct LabZone {
    name: String,
    tz: TimeZone,
}

impl LabZone {
    /// UTC, the default.
    pub fn utc() -> LabZone {
        LabZone {
            name: "UTC".into(),
            tz: TimeZone::UTC,
        }
    }

    /// A zone by IANA name (`Europe/Berlin`), or why not.
    pub fn named(name: &str) -> Result<LabZone, String> {
        let name = name.trim();
        if name.is_empty() || name.len() > 64 || name.chars().any(|c| c.is_control()) {
            return Err("give a time zone name such as Europe/Berlin or UTC".into());
        }
        let tz = TimeZone::get(name).map_err(|_| {
            format!("{name:?} is not a time zone this server knows; use an IANA name such as Europe/Berlin, America/New_York or UTC")
        })?;
        Ok(LabZone {
            name: tz.iana_name().unwrap_or(name).to_owned(),
            tz,
        })
    }

    /// The zone the admin set, or UTC.
    pub fn load(conn: &Connection) -> Result<LabZone, AppError> {
        Ok(crate::db::setting(conn, ZONE_KEY)?
            .and_then(|name| LabZone::named(&name).ok())
            .unwrap_or_else(LabZone::utc))
    }

    /// Its IANA name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn zoned(&self, ts: i64) -> Option<jiff::Zoned> {
        Timestamp::from_second(ts)
            .ok()
            .map(|t| t.to_zoned(self.tz.clone()))
    }

    /// `2026-12-02 14:00 CET`.
    pub fn format(&self, ts: i64) -> String {
        self.zoned(ts)
            .map(|z| z.strftime("%Y-%m-%d %H:%M %Z").to_string())
            .unwrap_or_else(|| "?".into())
    }

    /// `2026-12-02T14:00`, the value of an `<input type="datetime-local">`.
    pub fn input_value(&self, ts: i64) -> String {
        self.zoned(ts)
            .map(|z| z.strftime("%Y-%m-%dT%H:%M").to_string())
            .unwrap_or_default()
    }

    /// Reads a local time (`2026-12-02T14:00` or `2026-12-02 14:00`, seconds optional) in this
    /// zone as unix seconds.
    pub fn parse_local(&self, text: &str) -> Result<i64, String> {
        let text = text.trim().replacen(' ', "T", 1);
        let dt: civil::DateTime = text.parse().map_err(|_| {
            "give the start as a date and time, for example 2026-12-02T14:00".to_owned()
        })?;
        let ambiguous = self.tz.to_ambiguous_zoned(dt);
        if let AmbiguousOffset::Gap { .. } = ambiguous.offset() {
            return Err(format!(
                "{} does not exist in {}: the clocks skip that hour for daylight saving time; choose a time outside it",
                dt.strftime("%Y-%m-%d %H:%M"),
                self.name
            ));
        }
        // In a repeated hour the first of the two is meant.
        let zoned = ambiguous
            .earlier()
            .map_err(|_| "that time is out of range".to_owned())?;
        Ok(zoned.timestamp().as_second())
    }

    /// Each local midnight in `[from, until)` with a label such as `Wed 02`.
    pub fn midnights(&self, from: i64, until: i64) -> Vec<(i64, String)> {
        let mut out = Vec::new();
        let Some(start) = self.zoned(from) else {
            return out;
        };
        let Ok(mut day) = start.start_of_day() else {
            return out;
        };
        while day.timestamp().as_second() < until {
            let at = day.timestamp().as_second();
            if at >= from {
                out.push((at, day.strftime("%a %d").to_string()));
            }
            match day.tomorrow().and_then(|d| d.start_of_day()) {
                Ok(next) => day = next,
                Err(_) => break,
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn berlin() -> LabZone {
        LabZone::named("Europe/Berlin").unwrap()
    }

    #[test]
    fn names() {
        assert_eq!(LabZone::named("UTC").unwrap().name(), "UTC");
        assert_eq!(berlin().name(), "Europe/Berlin");
        assert!(LabZone::named("Mars/Olympus").is_err());
        assert!(LabZone::named("").is_err());
    }

    #[test]
    fn local_times_round_trip_across_dst() {
        let z = berlin();
        // Winter: UTC+1. 2026-03-28 10:00 local is 09:00 UTC.
        let winter = z.parse_local("2026-03-28T10:00").unwrap();
        assert_eq!(winter, 1_774_688_400);
        // Summer, the day after the change: UTC+2. 2026-03-29 10:00 local is 08:00 UTC.
        let summer = z.parse_local("2026-03-29 10:00").unwrap();
        assert_eq!(summer, 1_774_771_200);
        // The same local hour a day apart is 23 hours apart in real time.
        assert_eq!(summer - winter, 23 * 3600);
        assert_eq!(z.input_value(summer), "2026-03-29T10:00");
        assert_eq!(z.format(winter), "2026-03-28 10:00 CET");
        assert_eq!(z.format(summer), "2026-03-29 10:00 CEST");
    }

    #[test]
    fn skipped_and_repeated_hours() {
        let z = berlin();
        // 02:30 on 2026-03-29 never happens in Berlin.
        let err = z.parse_local("2026-03-29T02:30").unwrap_err();
        assert!(err.contains("does not exist in Europe/Berlin"), "{err}");
        // 02:30 on 2026-10-25 happens twice; the first (still UTC+2) is meant: 00:30 UTC.
        assert_eq!(z.parse_local("2026-10-25T02:30").unwrap(), 1_792_888_200);
        assert!(z.parse_local("tomorrow").is_err());
    }

    #[test]
    fn midnights_follow_the_zone() {
        let z = berlin();
        let from = z.parse_local("2026-03-28T12:00").unwrap();
        let days = z.midnights(from, from + 3 * 86400);
        let labels: Vec<&str> = days.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, ["Sun 29", "Mon 30", "Tue 31"]);
        // The DST day is 23 hours long.
        assert_eq!(days[1].0 - days[0].0, 23 * 3600);
        assert_eq!(days[2].0 - days[1].0, 24 * 3600);
        let utc = LabZone::utc().midnights(0, 86400 * 2);
        assert_eq!(utc[0], (0, "Thu 01".to_owned()));
    }
}
