//! When a video was recorded, from its container's tags: what a library user sorts and filters
//! their own footage by ("the beach, summer 2024"), and what the file's modification time is
//! not (copying a file changes that).
//!
//! Cameras and phones write it in different places, read in this order: Apple's
//! `com.apple.quicktime.creationdate` (local time with its offset, written by iPhones), then
//! the container's `creation_time` (MP4/MOV `mvhd`, Matroska `DateUTC`, UTC), then a plain
//! `date` tag (AVI and others). Values an encoder writes when it knows nothing — 1904 and 1970
//! epochs, zeros — and dates in the future are not dates: before 1980 or more than a day ahead
//! of now reads as none.

use chrono::{DateTime, NaiveDate, NaiveDateTime};

/// The tags that may say when a video was recorded, most trusted first.
const KEYS: [&str; 3] = ["com.apple.quicktime.creationdate", "creation_time", "date"];

/// Milliseconds since the Unix epoch (UTC) of the recording, from `(key, value)` tags (keys in
/// any case); `None` when no tag holds a plausible date.
pub fn recorded_at_ms<'a>(tags: impl IntoIterator<Item = (&'a str, &'a str)> + Clone, now_ms: i64) -> Option<i64> {
    KEYS.iter().find_map(|key| {
        let value = tags.clone().into_iter().find(|(k, _)| k.eq_ignore_ascii_case(key))?.1;
        parse(value.trim()).filter(|ms| plausible(*ms, now_ms))
    })
}

fn plausible(ms: i64, now_ms: i64) -> bool {
    const JAN_1980_MS: i64 = 315_532_800_000;
    (JAN_1980_MS..=now_ms + 86_400_000).contains(&ms)
}

/// RFC 3339 (`2024-07-14T15:30:12.000000Z`), ISO 8601 with a `+0200` offset, or a date and time
/// without a zone (taken as UTC), or a date alone.
fn parse(value: &str) -> Option<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Some(t.timestamp_millis());
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S%.f%z"] {
        if let Ok(t) = DateTime::parse_from_str(value, f) {
            return Some(t.timestamp_millis());
        }
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(value, f) {
            return Some(t.and_utc().timestamp_millis());
        }
    }
    let day = NaiveDate::parse_from_str(value, "%Y-%m-%d").ok()?;
    day.and_hms_opt(0, 0, 0).map(|t| t.and_utc().timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_764_547_200_000; // 2025-12-01T00:00:00Z

    #[test]
    fn the_forms_cameras_write() {
        let at = |tags: &[(&str, &str)]| recorded_at_ms(tags.iter().copied(), NOW);
        let utc = 1_720_971_012_000; // 2024-07-14T15:30:12Z
        assert_eq!(at(&[("creation_time", "2024-07-14T15:30:12.000000Z")]), Some(utc));
        assert_eq!(at(&[("com.apple.quicktime.creationdate", "2024-07-14T17:30:12+0200")]), Some(utc));
        assert_eq!(at(&[("CREATION_TIME", "2024-07-14 15:30:12")]), Some(utc), "no zone: UTC");
        assert_eq!(at(&[("date", "2024-07-14")]), Some(utc - (15 * 3600 + 30 * 60 + 12) * 1000));
        // Apple's local time wins over the UTC stamp the muxer wrote (they agree here anyway).
        let both = [
            ("creation_time", "2024-07-14T15:30:13.000000Z"),
            ("com.apple.quicktime.creationdate", "2024-07-14T17:30:12+02:00"),
        ];
        assert_eq!(at(&both), Some(utc));
    }

    #[test]
    fn placeholders_and_nonsense_are_no_date() {
        let at = |v: &str| recorded_at_ms([("creation_time", v)], NOW);
        for v in [
            "1970-01-01T00:00:00.000000Z",
            "1904-01-01T00:00:00Z",
            "0000-00-00 00:00:00",
            "2031-01-01T00:00:00Z",
            "yesterday",
            "",
        ] {
            assert_eq!(at(v), None, "{v}");
        }
        // A bad first choice falls back to the next tag.
        let tags = [("com.apple.quicktime.creationdate", "garbage"), ("creation_time", "2020-02-02T02:02:02Z")];
        assert_eq!(recorded_at_ms(tags, NOW), Some(1_580_608_922_000));
        assert_eq!(recorded_at_ms(std::iter::empty::<(&str, &str)>(), NOW), None);
    }
}
