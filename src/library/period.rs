//! "Recorded in summer 2024": a search limited to videos recorded in a span of calendar time.
//!
//! A period is written as a year (`2024`), a month (`2024-07`) or a day (`2024-07-14`) and
//! stands for all of it; `--from` takes the start of its period, `--until` the end of its
//! period, so `--from 2024-06 --until 2024-08` is June through August, both included.
//!
//! Days are the user's days: a video recorded at 22:30 UTC on 13 July was recorded on the
//! 14th in Sydney. Containers store the moment in UTC, so a period is a span of calendar days
//! that becomes a span of time only in a [`Zone`] (`--tz`, the page's browser zone, or the
//! machine's own), with its daylight-saving changes (a day may last 23 or 25 hours).

use std::str::FromStr;

use jiff::ToSpan;
use jiff::civil::Date;
use jiff::tz::TimeZone;

/// The days of a year, a month or a day: from `first` up to (not including) `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    first: Date,
    end: Date,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PeriodError {
    #[error("'{0}' is not a date: give a year (2024), a month (2024-07) or a day (2024-07-14)")]
    Unreadable(String),
    #[error("the period ends before it starts (--from is after --until)")]
    Empty,
    #[error("{0} has no start in time zone {1}")]
    OutOfRange(Date, String),
}

impl FromStr for Period {
    type Err = PeriodError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let unreadable = || PeriodError::Unreadable(s.to_string());
        let parts: Vec<&str> = s.trim().split('-').collect();
        let number = |p: &str, digits: usize| {
            (p.len() == digits && p.bytes().all(|b| b.is_ascii_digit())).then(|| p.parse::<i16>().ok()).flatten()
        };
        let year = parts.first().and_then(|p| number(p, 4)).filter(|y| *y >= 1).ok_or_else(unreadable)?;
        let (first, length) = match parts[1..] {
            [] => (Date::new(year, 1, 1), 1.year()),
            [m] => (Date::new(year, number(m, 2).ok_or_else(unreadable)? as i8, 1), 1.month()),
            [m, d] => {
                let (m, d) = (number(m, 2).ok_or_else(unreadable)?, number(d, 2).ok_or_else(unreadable)?);
                (Date::new(year, m as i8, d as i8), 1.day())
            }
            _ => return Err(unreadable()),
        };
        let first = first.map_err(|_| unreadable())?;
        let end = first.checked_add(length).map_err(|_| unreadable())?;
        Ok(Period { first, end })
    }
}

/// The time zone whose days a period means: an IANA name (`Europe/Berlin`), `UTC`, or the
/// machine's own ([`Zone::system`]: `TZ`, else `/etc/localtime`, else UTC).
#[derive(Debug, Clone)]
pub struct Zone(TimeZone);

/// Why a time zone name names no zone.
#[derive(Debug, thiserror::Error)]
pub enum ZoneError {
    #[error("unknown time zone '{name}': give an IANA name (Europe/Berlin, America/New_York) or UTC")]
    Unknown {
        name: String,
        #[source]
        source: jiff::Error,
    },
    #[error(
        "time zone '{name}' cannot be looked up: this machine has no time zone database (install \
         Debian's tzdata, or set TZDIR to one)"
    )]
    NoDatabase {
        name: String,
        #[source]
        source: jiff::Error,
    },
}

impl Zone {
    pub fn utc() -> Self {
        Zone(TimeZone::UTC)
    }

    /// The machine's zone (`TZ`, else `/etc/localtime`); UTC when neither names one, with a
    /// warning when `TZ` is set to something that is not a zone (a typo would otherwise move
    /// every day boundary without a word).
    pub fn system() -> Self {
        Zone(TimeZone::try_system().unwrap_or_else(|e| {
            if let Some(tz) = tz_set() {
                tracing::warn!(TZ = %tz, error = %e, "TZ names no time zone: days are UTC's");
            }
            TimeZone::UTC
        }))
    }

    /// `TZ`'s value when it is set but names no zone (the machine's zone is then UTC).
    pub fn unreadable_tz() -> Option<String> {
        tz_set().filter(|_| TimeZone::try_system().is_err())
    }

    /// Its IANA name where it has one (`UTC` for UTC), else its current offset.
    pub fn name(&self) -> String {
        match self.0.iana_name() {
            Some(name) => name.to_string(),
            None => self.0.to_offset(jiff::Timestamp::now()).to_string(),
        }
    }

    /// When `day` starts there, in ms since the Unix epoch (the first moment that exists: a
    /// day that starts in a daylight-saving gap starts when the gap ends).
    fn start_ms(&self, day: Date) -> Result<i64, PeriodError> {
        let start = day.to_zoned(self.0.clone()).map_err(|_| PeriodError::OutOfRange(day, self.name()))?;
        Ok(start.timestamp().as_millisecond())
    }

    /// The day (`2024-07-14`) it is there at `ms` since the Unix epoch.
    pub fn day(&self, ms: i64) -> String {
        match jiff::Timestamp::from_millisecond(ms) {
            Ok(t) => t.to_zoned(self.0.clone()).date().to_string(),
            Err(_) => rfc3339(ms),
        }
    }

    /// The time it is there at `ms` since the Unix epoch, to the second, with its offset from
    /// UTC (`2024-07-14 08:30:00 +10:00`): one instant, read as a clock on that wall shows it.
    pub fn time(&self, ms: i64) -> String {
        match jiff::Timestamp::from_millisecond(ms) {
            Ok(t) => t.to_zoned(self.0.clone()).strftime("%Y-%m-%d %H:%M:%S %:z").to_string(),
            Err(_) => rfc3339(ms),
        }
    }
}

impl FromStr for Zone {
    type Err = ZoneError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Zone::lookup(s, jiff::tz::db())
    }
}

impl Zone {
    /// The zone `s` names in `db` (the machine's database for [`FromStr`]); UTC needs no
    /// database, so a machine without tzdata can still name it.
    fn lookup(s: &str, db: &jiff::tz::TimeZoneDatabase) -> Result<Self, ZoneError> {
        if ["utc", "etc/utc", "z"].contains(&s.trim().to_ascii_lowercase().as_str()) {
            return Ok(Zone::utc());
        }
        db.get(s.trim()).map(Zone).map_err(|source| {
            let name = s.to_string();
            if db.is_definitively_empty() {
                ZoneError::NoDatabase { name, source }
            } else {
                ZoneError::Unknown { name, source }
            }
        })
    }
}

/// `TZ`, when it is set to something.
fn tz_set() -> Option<String> {
    std::env::var("TZ").ok().filter(|tz| !tz.is_empty())
}

/// Whether the machine has no time zone database at all (then only UTC can be named).
fn no_database() -> bool {
    jiff::tz::db().is_definitively_empty()
}

/// How many zones the machine's time zone database names (0: none found, so only `UTC` and
/// the machine's own zone from `TZ` or `/etc/localtime` can be used).
pub fn zones_known() -> usize {
    if no_database() { 0 } else { jiff::tz::db().available().count() }
}

/// Recorded from the start of one period until the end of another (either open).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecordedRange {
    from_ms: Option<i64>,
    until_ms: Option<i64>,
}

impl RecordedRange {
    /// From the first day of `from` until the end of `until`'s last day, days in `zone`.
    pub fn new(from: Option<Period>, until: Option<Period>, zone: &Zone) -> Result<Self, PeriodError> {
        let range = Self {
            from_ms: from.map(|p| zone.start_ms(p.first)).transpose()?,
            until_ms: until.map(|p| zone.start_ms(p.end)).transpose()?,
        };
        match (range.from_ms, range.until_ms) {
            (Some(f), Some(u)) if f >= u => Err(PeriodError::Empty),
            _ => Ok(range),
        }
    }

    /// What was asked for, to say with an answer (`--json`, the API): None for the open range.
    pub fn asked(&self, zone: &Zone) -> Option<RangeAsked> {
        (!self.is_open()).then(|| RangeAsked { from: self.from_ms, until: self.until_ms, tz: zone.name() })
    }

    /// Whether anything is asked for (a range with neither end holds every video, dated or not).
    pub fn is_open(&self) -> bool {
        self.from_ms.is_none() && self.until_ms.is_none()
    }

    /// Whether a video recorded at `recorded_ms` is in the range: one without a recording date
    /// is in no range but the open one.
    pub fn contains(&self, recorded_ms: Option<i64>) -> bool {
        if self.is_open() {
            return true;
        }
        recorded_ms.is_some_and(|t| self.from_ms.is_none_or(|f| t >= f) && self.until_ms.is_none_or(|u| t < u))
    }
}

/// A dated search's span as instants (RFC 3339, UTC): from (included) until (left out), and
/// the zone whose days they are.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RangeAsked {
    #[serde(serialize_with = "serialize_ms", skip_serializing_if = "Option::is_none")]
    pub from: Option<i64>,
    #[serde(serialize_with = "serialize_ms", skip_serializing_if = "Option::is_none")]
    pub until: Option<i64>,
    pub tz: String,
}

/// `ms` since the Unix epoch as RFC 3339 in UTC, to the second (`2024-07-14T15:30:12Z`).
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| ms.to_string())
}

/// Serde: an optional time in ms as [`rfc3339`].
pub fn serialize_ms<S: serde::Serializer>(ms: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match ms {
        Some(ms) => s.serialize_str(&rfc3339(*ms)),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    fn day(s: &str) -> Date {
        s.parse().unwrap()
    }

    fn range(from: &str, until: &str, zone: &str) -> Result<RecordedRange, PeriodError> {
        let period = |s: &str| (!s.is_empty()).then(|| s.parse::<Period>().unwrap());
        RecordedRange::new(period(from), period(until), &zone.parse().unwrap())
    }

    #[test]
    fn without_a_time_zone_database_only_utc_can_be_named_and_the_error_says_why() {
        // A machine without tzdata (checked by hand too: an empty folder mounted over
        // /usr/share/zoneinfo in a mount namespace gives this message and exit code 2).
        let none = jiff::tz::TimeZoneDatabase::none();
        assert_eq!(Zone::lookup(" utc", &none).unwrap().name(), "UTC");
        let e = Zone::lookup("Europe/Berlin", &none).unwrap_err();
        assert!(matches!(e, ZoneError::NoDatabase { .. }), "{e}");
        assert!(e.to_string().contains("no time zone database (install Debian's tzdata"), "{e}");
        // With the machine's database a typo is an unknown zone, not a missing database.
        let e = Zone::lookup("Europe/Berln", jiff::tz::db()).unwrap_err();
        assert!(matches!(e, ZoneError::Unknown { .. }), "{e}");
        assert_eq!(Zone::lookup("Europe/Berlin", jiff::tz::db()).unwrap().name(), "Europe/Berlin");
    }

    #[test]
    fn years_months_and_days() {
        let p = |s: &str| s.parse::<Period>();
        assert_eq!(p("2024"), Ok(Period { first: day("2024-01-01"), end: day("2025-01-01") }));
        assert_eq!(p("2024-12"), Ok(Period { first: day("2024-12-01"), end: day("2025-01-01") }));
        assert_eq!(p("2024-02-29"), Ok(Period { first: day("2024-02-29"), end: day("2024-03-01") }));
        for bad in ["24", "0000", "2024-7", "2023-02-29", "2024-13", "2024-07-14-01", "July", "", "2024-07-1x"] {
            assert_eq!(p(bad), Err(PeriodError::Unreadable(bad.to_string())), "{bad}");
        }
    }

    #[test]
    fn ranges_include_both_periods_and_leave_undated_videos_out() {
        let summer = range("2024-06", "2024-08", "UTC").unwrap();
        assert!(summer.contains(Some(at("2024-06-01T00:00:00Z"))));
        assert!(summer.contains(Some(at("2024-08-31T23:59:59Z"))));
        assert!(!summer.contains(Some(at("2024-09-01T00:00:00Z"))));
        assert!(!summer.contains(Some(at("2024-05-31T23:59:59Z"))));
        assert!(!summer.contains(None), "no date, not in summer");
        let since = range("2024", "", "UTC").unwrap();
        assert!(since.contains(Some(at("2030-01-01T00:00:00Z"))) && !since.contains(None));
        assert!(RecordedRange::default().contains(None), "no range asked for: every video");
        assert_eq!(range("2025", "2024", "UTC"), Err(PeriodError::Empty));
        assert!(range("2024", "2024", "UTC").is_ok());
    }

    #[test]
    fn days_are_the_days_of_the_zone_asked_for() {
        // 22:30 UTC on 13 July is the 14th in Sydney (UTC+10 in July) and still the 13th in
        // New York (UTC-4 in summer).
        let late = Some(at("2024-07-13T22:30:00Z"));
        assert!(range("2024-07-14", "2024-07-14", "Australia/Sydney").unwrap().contains(late));
        assert!(!range("2024-07-13", "2024-07-13", "Australia/Sydney").unwrap().contains(late));
        assert!(range("2024-07-13", "2024-07-13", "America/New_York").unwrap().contains(late));
        assert!(!range("2024-07-14", "2024-07-14", "UTC").unwrap().contains(late));
        // The day daylight saving starts in Berlin lasts 23 hours: 31 March 2024 is 23:00 UTC
        // on the 30th until 22:00 UTC on the 31st.
        let spring = range("2024-03-31", "2024-03-31", "Europe/Berlin").unwrap();
        assert!(spring.contains(Some(at("2024-03-30T23:00:00Z"))));
        assert!(!spring.contains(Some(at("2024-03-30T22:59:59Z"))));
        assert!(spring.contains(Some(at("2024-03-31T21:59:59Z"))));
        assert!(!spring.contains(Some(at("2024-03-31T22:00:00Z"))));
        // What a day is there, for showing a recording date.
        let sydney: Zone = "Australia/Sydney".parse().unwrap();
        assert_eq!(
            (sydney.day(at("2024-07-13T22:30:00Z")), sydney.name()),
            ("2024-07-14".into(), "Australia/Sydney".into())
        );
        assert_eq!(Zone::utc().day(at("2024-07-13T22:30:00Z")), "2024-07-13");
        assert_eq!(sydney.time(at("2024-07-13T22:30:05Z")), "2024-07-14 08:30:05 +10:00");
        let new_york: Zone = "America/New_York".parse().unwrap();
        assert_eq!(new_york.time(at("2024-01-13T22:30:05Z")), "2024-01-13 17:30:05 -05:00", "winter: EST");
        let utc: Zone = "utc".parse().unwrap();
        assert_eq!((utc.name(), utc.day(at("2024-07-13T22:30:00Z"))), ("UTC".into(), "2024-07-13".into()));
    }

    #[test]
    fn an_unknown_zone_says_what_is_expected() {
        assert!(zones_known() > 400, "the tests need the system's tzdata: {}", zones_known());
        let err = "Mars/Olympus_Mons".parse::<Zone>().unwrap_err();
        assert!(matches!(err, ZoneError::Unknown { .. }), "{err:?}");
        assert!(err.to_string().contains("unknown time zone 'Mars/Olympus_Mons'"), "{err}");
        assert!(std::error::Error::source(&err).is_some(), "keeps the database's reason");
    }
}
