//! IMAP dates: §9 `date` and `date-time` (INTERNALDATE, APPEND, SEARCH BEFORE/ON/SINCE), and
//! the date of an RFC 5322 `Date:` field for SENTBEFORE/SENTON/SENTSINCE, on the calendar
//! arithmetic of [`crate::message::date`].

use std::time::SystemTime;

use crate::message::date::unix_seconds;
pub use crate::message::date::{MONTHS, civil_from_days, days_from_civil};

/// 1–12 for a month's three-letter English name, in any case.
pub fn month_from_name(name: &[u8]) -> Option<u32> {
    MONTHS
        .iter()
        .position(|m| m.as_bytes().eq_ignore_ascii_case(name))
        .map(|i| i as u32 + 1)
}

/// The day (since 1970-01-01, UTC) a time falls on.
pub fn day_of(time: SystemTime) -> i64 {
    unix_seconds(time).div_euclid(86_400)
}

/// §9 `date-time` as INTERNALDATE is sent: `"17-Jul-1996 09:44:25 +0000"` (UTC).
pub fn format_date_time(time: SystemTime) -> String {
    let seconds = unix_seconds(time);
    let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
    let of_day = seconds.rem_euclid(86_400);
    format!(
        "\"{day:02}-{}-{year:04} {:02}:{:02}:{:02} +0000\"",
        MONTHS[(month - 1) as usize],
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

/// The date of an RFC 5322 §3.3 `date-time` as written (`Tue, 1 Jul 2003 10:52:37 +0200`),
/// time and zone disregarded as RFC 3501 §6.4.4 says for SENT* keys.
pub fn day_of_header(value: &str) -> Option<i64> {
    let mut words = value
        .split(|c: char| c.is_ascii_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .skip_while(|w| !w.starts_with(|c: char| c.is_ascii_digit()));
    let day: i64 = words.next()?.parse().ok()?;
    let month = i64::from(month_from_name(words.next()?.as_bytes())?);
    let year: i64 = words.next()?.parse().ok()?;
    // RFC 5322 §4.3 obsolete two-digit years.
    let year = match year {
        0..=49 => year + 2000,
        50..=999 => year + 1900,
        _ => year,
    };
    ((1..=31).contains(&day) && year <= 9999).then(|| days_from_civil(year, month, day))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn days_round_trip_and_format() {
        for days in [-800_000, -1, 0, 1, 10_957, 19_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        let t = UNIX_EPOCH + Duration::from_secs(837_596_665);
        assert_eq!(format_date_time(t), "\"17-Jul-1996 09:44:25 +0000\"");
        assert_eq!(
            day_of_header("Tue, 1 Jul 2003 10:52:37 +0200"),
            Some(days_from_civil(2003, 7, 1))
        );
        assert_eq!(
            day_of_header("1 jul 03 10:52 GMT"),
            Some(days_from_civil(2003, 7, 1))
        );
        assert_eq!(day_of_header("yesterday"), None);
    }
}
