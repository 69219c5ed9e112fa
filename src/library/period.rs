//! "Recorded in summer 2024": a search limited to videos recorded in a span of calendar time.
//!
//! A period is written as a year (`2024`), a month (`2024-07`) or a day (`2024-07-14`) and
//! stands for all of it; `--from` takes the start of its period, `--until` the end of its
//! period, so `--from 2024-06 --until 2024-08` is June through August, both included. Dates are
//! UTC (what most containers store).

use std::str::FromStr;

use chrono::{Datelike, NaiveDate};

/// The span of a year, a month or a day: `[start_ms, end_ms)` since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub start_ms: i64,
    pub end_ms: i64,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PeriodError {
    #[error("'{0}' is not a date: give a year (2024), a month (2024-07) or a day (2024-07-14)")]
    Unreadable(String),
    #[error("the period ends before it starts (--from is after --until)")]
    Empty,
}

fn ms(d: NaiveDate) -> i64 {
    d.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp_millis()).unwrap_or(i64::MAX)
}

impl FromStr for Period {
    type Err = PeriodError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let unreadable = || PeriodError::Unreadable(s.to_string());
        let parts: Vec<&str> = s.trim().split('-').collect();
        let number = |p: &str, digits: usize| {
            (p.len() == digits && p.bytes().all(|b| b.is_ascii_digit())).then(|| p.parse::<u32>().ok()).flatten()
        };
        let year = parts.first().and_then(|p| number(p, 4)).ok_or_else(unreadable)? as i32;
        let (start, end) = match parts[1..] {
            [] => (NaiveDate::from_ymd_opt(year, 1, 1), NaiveDate::from_ymd_opt(year + 1, 1, 1)),
            [m] => {
                let m = number(m, 2).ok_or_else(unreadable)?;
                let start = NaiveDate::from_ymd_opt(year, m, 1);
                (start, start.and_then(|d| d.checked_add_months(chrono::Months::new(1))))
            }
            [m, d] => {
                let (m, d) = (number(m, 2).ok_or_else(unreadable)?, number(d, 2).ok_or_else(unreadable)?);
                let start = NaiveDate::from_ymd_opt(year, m, d);
                (start, start.and_then(|d| d.succ_opt()))
            }
            _ => return Err(unreadable()),
        };
        match (start, end) {
            (Some(s), Some(e)) if s.year() >= 1 => Ok(Period { start_ms: ms(s), end_ms: ms(e) }),
            _ => Err(unreadable()),
        }
    }
}

/// Recorded from the start of one period until the end of another (either open).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecordedRange {
    from_ms: Option<i64>,
    until_ms: Option<i64>,
}

impl RecordedRange {
    pub fn new(from: Option<Period>, until: Option<Period>) -> Result<Self, PeriodError> {
        let range = Self { from_ms: from.map(|p| p.start_ms), until_ms: until.map(|p| p.end_ms) };
        match (range.from_ms, range.until_ms) {
            (Some(f), Some(u)) if f >= u => Err(PeriodError::Empty),
            _ => Ok(range),
        }
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

    #[test]
    fn years_months_and_days() {
        let p = |s: &str| s.parse::<Period>();
        assert_eq!(p("2024"), Ok(Period { start_ms: at("2024-01-01T00:00:00Z"), end_ms: at("2025-01-01T00:00:00Z") }));
        assert_eq!(
            p("2024-12"),
            Ok(Period { start_ms: at("2024-12-01T00:00:00Z"), end_ms: at("2025-01-01T00:00:00Z") })
        );
        assert_eq!(
            p("2024-02-29"),
            Ok(Period { start_ms: at("2024-02-29T00:00:00Z"), end_ms: at("2024-03-01T00:00:00Z") })
        );
        for bad in ["24", "2024-7", "2023-02-29", "2024-13", "2024-07-14-01", "July", "", "2024-07-1x"] {
            assert_eq!(p(bad), Err(PeriodError::Unreadable(bad.to_string())), "{bad}");
        }
    }

    #[test]
    fn ranges_include_both_periods_and_leave_undated_videos_out() {
        let summer = RecordedRange::new(Some("2024-06".parse().unwrap()), Some("2024-08".parse().unwrap())).unwrap();
        assert!(summer.contains(Some(at("2024-06-01T00:00:00Z"))));
        assert!(summer.contains(Some(at("2024-08-31T23:59:59Z"))));
        assert!(!summer.contains(Some(at("2024-09-01T00:00:00Z"))));
        assert!(!summer.contains(Some(at("2024-05-31T23:59:59Z"))));
        assert!(!summer.contains(None), "no date, not in summer");
        let since = RecordedRange::new(Some("2024".parse().unwrap()), None).unwrap();
        assert!(since.contains(Some(at("2030-01-01T00:00:00Z"))) && !since.contains(None));
        assert!(RecordedRange::default().contains(None), "no range asked for: every video");
        let backwards = RecordedRange::new(Some("2025".parse().unwrap()), Some("2024".parse().unwrap()));
        assert_eq!(backwards, Err(PeriodError::Empty));
        assert!(RecordedRange::new(Some("2024".parse().unwrap()), Some("2024".parse().unwrap())).is_ok());
    }
}
