//! HTTP-date, RFC 9110 §5.6.7: generation in IMF-fixdate and parsing of all three formats.
//!
//! ```text
//! IMF-fixdate  = day-name "," SP date1 SP time-of-day SP GMT   ; Sun, 06 Nov 1994 08:49:37 GMT
//! rfc850-date  = day-name-l "," SP date2 SP time-of-day SP GMT ; Sunday, 06-Nov-94 08:49:37 GMT
//! asctime-date = day-name SP date3 SP time-of-day SP year      ; Sun Nov  6 08:49:37 1994
//! ```
//!
//! Senders MUST generate IMF-fixdate; recipients MUST accept all three. Names are matched
//! case-insensitively (RFC 9111 §4.2 asks caches to, and nothing is lost for servers). The
//! day-name must be a real day name but is not checked against the date: RFC 9110 encourages
//! robust parsing of timestamps and the date fields alone determine the instant. Everything
//! else is strict: exact field widths, valid calendar dates, `GMT` only, no trailing bytes.
//!
//! The calendar arithmetic is the proleptic Gregorian "days from civil" algorithm, so no
//! dependency is needed and times before 1970 (old `Expires` values) work too.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

const DAY_NAMES: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const DAY_NAMES_LONG: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Longer than any valid HTTP-date (the longest is an RFC 850 date on a Wednesday, 38 bytes);
/// anything beyond is garbage and is refused before it is looked at.
const MAX_DATE_LEN: usize = 64;

const SECS_PER_DAY: i64 = 86_400;

/// Formats `t` as an IMF-fixdate (RFC 9110 §5.6.7), truncating sub-second precision.
/// Instants outside years 1–9999 are clamped, since the format has exactly four year digits.
pub fn format_http_date(t: SystemTime) -> String {
    let secs = unix_seconds(t).clamp(MIN_SECS, MAX_SECS);
    let days = secs.div_euclid(SECS_PER_DAY);
    let in_day = secs.rem_euclid(SECS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    // Written byte by byte: a server puts one or two of these in every response, and the
    // fixed layout needs none of `format!`'s machinery.
    let mut out = String::with_capacity(29);
    out.push_str(DAY_NAMES[weekday_from_days(days)]);
    out.push_str(", ");
    push_digits(&mut out, i64::from(day), 2);
    out.push(' ');
    out.push_str(MONTHS[usize::from(month - 1)]);
    out.push(' ');
    push_digits(&mut out, year, 4);
    out.push(' ');
    push_digits(&mut out, in_day / 3600, 2);
    out.push(':');
    push_digits(&mut out, in_day % 3600 / 60, 2);
    out.push(':');
    push_digits(&mut out, in_day % 60, 2);
    out.push_str(" GMT");
    out
}

/// Appends the last `width` decimal digits of `value` (not negative), zero-padded.
fn push_digits(out: &mut String, value: i64, width: u32) {
    for place in (0..width).rev() {
        let digit = value / 10_i64.pow(place) % 10;
        out.push(char::from(b'0' + digit as u8));
    }
}

/// Parses any of the three HTTP-date formats. Two-digit RFC 850 years are resolved against the
/// system clock; use [`parse_http_date_at`] to supply "now" (tests, replay).
pub fn parse_http_date(value: &str) -> Option<SystemTime> {
    parse_http_date_at(value, SystemTime::now())
}

/// Parses any of the three HTTP-date formats, resolving a two-digit RFC 850 year relative to
/// `now`: RFC 9110 §5.6.7 says a year that appears more than 50 years in the future means the
/// most recent past year with the same last two digits.
pub fn parse_http_date_at(value: &str, now: SystemTime) -> Option<SystemTime> {
    let value = value.trim_matches([' ', '\t']);
    if value.len() > MAX_DATE_LEN || !value.is_ascii() {
        return None;
    }
    let fields = parse_imf_fixdate(value)
        .or_else(|| parse_rfc850(value, now))
        .or_else(|| parse_asctime(value))?;
    Some(fields.to_system_time())
}

/// The broken-down date and time every format yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DateTime {
    year: i64,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
}

impl DateTime {
    /// Checks ranges: the calendar day must exist; a leap second (60) is accepted as the
    /// time-of-day grammar allows it, and simply lands on the next minute.
    fn validated(self) -> Option<Self> {
        let ok = (1..=12).contains(&self.month)
            && self.day >= 1
            && self.day <= days_in_month(self.year, self.month)
            && self.hour <= 23
            && self.minute <= 59
            && self.second <= 60;
        ok.then_some(self)
    }

    fn to_system_time(self) -> SystemTime {
        let days = days_from_civil(self.year, self.month, self.day);
        let secs = days * SECS_PER_DAY
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second);
        from_unix_seconds(secs)
    }
}

/// `Sun, 06 Nov 1994 08:49:37 GMT`
fn parse_imf_fixdate(s: &str) -> Option<DateTime> {
    let (name, rest) = s.split_once(", ")?;
    day_index(&DAY_NAMES, name)?;
    let mut parts = rest.split(' ');
    let day = two_digits(parts.next()?)?;
    let month = month_number(parts.next()?)?;
    let year = four_digits(parts.next()?)?;
    let (hour, minute, second) = time_of_day(parts.next()?)?;
    is_gmt(parts.next()?)?;
    end(parts)?;
    DateTime {
        year,
        month,
        day,
        hour,
        minute,
        second,
    }
    .validated()
}

/// `Sunday, 06-Nov-94 08:49:37 GMT`
fn parse_rfc850(s: &str, now: SystemTime) -> Option<DateTime> {
    let (name, rest) = s.split_once(", ")?;
    day_index(&DAY_NAMES_LONG, name)?;
    let mut parts = rest.split(' ');
    let mut date = parts.next()?.split('-');
    let day = two_digits(date.next()?)?;
    let month = month_number(date.next()?)?;
    let yy = two_digits(date.next()?)?;
    end(date)?;
    let (hour, minute, second) = time_of_day(parts.next()?)?;
    is_gmt(parts.next()?)?;
    end(parts)?;
    let year = resolve_two_digit_year(yy, now);
    DateTime {
        year,
        month,
        day,
        hour,
        minute,
        second,
    }
    .validated()
}

/// `Sun Nov  6 08:49:37 1994` (a one-digit day is padded with a space, so `Nov  6`).
fn parse_asctime(s: &str) -> Option<DateTime> {
    let (name, rest) = s.split_once(' ')?;
    day_index(&DAY_NAMES, name)?;
    let (month, rest) = rest.split_once(' ')?;
    let month = month_number(month)?;
    // date3 = month SP ( 2DIGIT / ( SP DIGIT ) )
    let (day, rest) = match rest.strip_prefix(' ') {
        Some(padded) => {
            let (d, rest) = padded.split_once(' ')?;
            (one_digit(d)?, rest)
        }
        None => {
            let (d, rest) = rest.split_once(' ')?;
            (two_digits(d)?, rest)
        }
    };
    let mut parts = rest.split(' ');
    let (hour, minute, second) = time_of_day(parts.next()?)?;
    let year = four_digits(parts.next()?)?;
    end(parts)?;
    DateTime {
        year,
        month,
        day,
        hour,
        minute,
        second,
    }
    .validated()
}

fn day_index(names: &[&str], name: &str) -> Option<usize> {
    names.iter().position(|n| n.eq_ignore_ascii_case(name))
}

fn month_number(name: &str) -> Option<u8> {
    let index = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(name))?;
    u8::try_from(index + 1).ok()
}

fn is_gmt(s: &str) -> Option<()> {
    s.eq_ignore_ascii_case("GMT").then_some(())
}

fn end<'a>(mut rest: impl Iterator<Item = &'a str>) -> Option<()> {
    rest.next().is_none().then_some(())
}

/// `hour ":" minute ":" second`, each exactly two digits.
fn time_of_day(s: &str) -> Option<(u8, u8, u8)> {
    let mut parts = s.split(':');
    let hour = two_digits(parts.next()?)?;
    let minute = two_digits(parts.next()?)?;
    let second = two_digits(parts.next()?)?;
    end(parts)?;
    Some((hour, minute, second))
}

fn digits_exact(s: &str, n: usize) -> Option<u32> {
    if s.len() != n || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0, |acc, b| acc * 10 + u32::from(b - b'0')))
}

fn one_digit(s: &str) -> Option<u8> {
    digits_exact(s, 1).and_then(|v| u8::try_from(v).ok())
}

fn two_digits(s: &str) -> Option<u8> {
    digits_exact(s, 2).and_then(|v| u8::try_from(v).ok())
}

fn four_digits(s: &str) -> Option<i64> {
    digits_exact(s, 4).map(i64::from)
}

/// RFC 9110 §5.6.7: pick the century that puts the year no more than 50 years after `now`'s.
fn resolve_two_digit_year(yy: u8, now: SystemTime) -> i64 {
    let (this_year, _, _) = civil_from_days(unix_seconds(now).div_euclid(SECS_PER_DAY));
    let mut year = this_year - this_year.rem_euclid(100) + i64::from(yy);
    if year > this_year + 50 {
        year -= 100;
    } else if year + 100 <= this_year + 50 {
        year += 100;
    }
    year
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: u8) -> u8 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u8, day: u8) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`]: days since 1970-01-01 → (year, month, day).
pub(crate) fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Both are in range by construction (1..=31 and 1..=12).
    (
        year,
        u8::try_from(month).unwrap_or(1),
        u8::try_from(day).unwrap_or(1),
    )
}

/// 0 = Sunday; 1970-01-01 was a Thursday.
fn weekday_from_days(days: i64) -> usize {
    usize::try_from((days + 4).rem_euclid(7)).unwrap_or(0)
}

/// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the span four year digits can write.
const MIN_SECS: i64 = -62_135_596_800;
const MAX_SECS: i64 = 253_402_300_799;

/// Whole seconds since the epoch, rounding down (also before 1970).
pub(crate) fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => {
            let d = e.duration();
            let whole = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            -whole - i64::from(d.subsec_nanos() > 0)
        }
    }
}

pub(crate) fn from_unix_seconds(secs: i64) -> SystemTime {
    let magnitude = Duration::from_secs(secs.unsigned_abs());
    let t = if secs >= 0 {
        UNIX_EPOCH.checked_add(magnitude)
    } else {
        UNIX_EPOCH.checked_sub(magnitude)
    };
    t.unwrap_or(UNIX_EPOCH)
}

/// `t` with sub-second precision dropped (towards the past), the resolution of an HTTP-date.
/// Validators compare file times this way, since the client only ever saw whole seconds.
pub fn truncate_to_seconds(t: SystemTime) -> SystemTime {
    from_unix_seconds(unix_seconds(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9110 §5.6.7's example instant: Sun, 06 Nov 1994 08:49:37 GMT.
    const EXAMPLE_SECS: i64 = 784_111_777;

    fn at(secs: i64) -> SystemTime {
        from_unix_seconds(secs)
    }

    fn now_2026() -> SystemTime {
        parse_http_date_at("Thu, 01 Jan 2026 00:00:00 GMT", UNIX_EPOCH).unwrap()
    }

    #[test]
    fn formats_imf_fixdate() {
        assert_eq!(
            format_http_date(at(EXAMPLE_SECS)),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(
            format_http_date(UNIX_EPOCH),
            "Thu, 01 Jan 1970 00:00:00 GMT"
        );
        assert_eq!(
            format_http_date(at(951_782_400)),
            "Tue, 29 Feb 2000 00:00:00 GMT"
        );
    }

    #[test]
    fn format_drops_subseconds_towards_the_past() {
        let t = at(EXAMPLE_SECS) + Duration::from_millis(999);
        assert_eq!(format_http_date(t), "Sun, 06 Nov 1994 08:49:37 GMT");
        let before = UNIX_EPOCH - Duration::from_millis(1);
        assert_eq!(format_http_date(before), "Wed, 31 Dec 1969 23:59:59 GMT");
    }

    #[test]
    fn format_clamps_to_four_digit_years() {
        let far = UNIX_EPOCH + Duration::from_secs(400_000_000_000);
        assert_eq!(format_http_date(far), "Fri, 31 Dec 9999 23:59:59 GMT");
    }

    #[test]
    fn parses_the_three_rfc_examples() {
        let now = now_2026();
        for text in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(
                parse_http_date_at(text, now),
                Some(at(EXAMPLE_SECS)),
                "{text}"
            );
        }
    }

    #[test]
    fn asctime_accepts_two_digit_day() {
        let t = parse_http_date_at("Thu Nov 16 08:49:37 1994", UNIX_EPOCH);
        assert_eq!(t, Some(at(EXAMPLE_SECS + 10 * SECS_PER_DAY)));
    }

    #[test]
    fn names_match_case_insensitively() {
        let t = parse_http_date_at("sun, 06 nov 1994 08:49:37 gmt", UNIX_EPOCH);
        assert_eq!(t, Some(at(EXAMPLE_SECS)));
    }

    #[test]
    fn rfc850_two_digit_years_follow_the_fifty_year_rule() {
        let now = now_2026();
        let year = |text: &str| {
            let t = parse_http_date_at(text, now).unwrap();
            civil_from_days(unix_seconds(t).div_euclid(SECS_PER_DAY)).0
        };
        assert_eq!(year("Sunday, 06-Nov-94 08:49:37 GMT"), 1994);
        assert_eq!(year("Friday, 01-Jan-76 00:00:00 GMT"), 2076);
        assert_eq!(year("Saturday, 01-Jan-77 00:00:00 GMT"), 1977);
        assert_eq!(year("Monday, 01-Jan-30 00:00:00 GMT"), 2030);
        // Late in a century, small years belong to the next one.
        let now_2090 = parse_http_date_at("Sun, 01 Jan 2090 00:00:00 GMT", UNIX_EPOCH).unwrap();
        let t = parse_http_date_at("Monday, 01-Jan-05 00:00:00 GMT", now_2090).unwrap();
        assert_eq!(
            civil_from_days(unix_seconds(t).div_euclid(SECS_PER_DAY)).0,
            2105
        );
    }

    #[test]
    fn rejects_garbage() {
        for text in [
            "",
            "0",
            "-1",
            "yesterday",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 06 Nov 1994 08:49:37 GMT trailing",
            "Sun, 6 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 94 08:49:37 GMT",
            "Sun, 06 Nov 1994 8:49:37 GMT",
            "Sun, 31 Feb 1994 08:49:37 GMT",
            "Sun, 29 Feb 1900 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 08:60:00 GMT",
            "Xyz, 06 Nov 1994 08:49:37 GMT",
            "Sun,06 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 08:49:37 GMT",
            "Sun, 06-Nov-94 08:49:37 GMT",
            "Sunday, 06-Nov-1994 08:49:37 GMT",
            "Sun Nov 6 08:49:37 1994",
            "Sun Nov  6 08:49:37 94",
            "Sun, 06 Nov 1994 08:49:37 GMT\u{e9}",
            "Sun, ０６ Nov 1994 08:49:37 GMT",
        ] {
            assert_eq!(parse_http_date_at(text, now_2026()), None, "{text:?}");
        }
    }

    #[test]
    fn leap_day_and_leap_second() {
        let t = parse_http_date_at("Tue, 29 Feb 2000 00:00:00 GMT", UNIX_EPOCH);
        assert_eq!(t, Some(at(951_782_400)));
        let leap = parse_http_date_at("Sat, 31 Dec 2016 23:59:60 GMT", UNIX_EPOCH).unwrap();
        assert_eq!(format_http_date(leap), "Sun, 01 Jan 2017 00:00:00 GMT");
    }

    #[test]
    fn dates_before_1970_round_trip() {
        let text = "Fri, 01 Jan 1960 12:34:56 GMT";
        let t = parse_http_date_at(text, UNIX_EPOCH).unwrap();
        assert!(t < UNIX_EPOCH);
        assert_eq!(format_http_date(t), text);
    }

    #[test]
    fn truncation_rounds_down() {
        let t = at(10) + Duration::from_nanos(999_999_999);
        assert_eq!(truncate_to_seconds(t), at(10));
        let t = UNIX_EPOCH - Duration::from_nanos(1);
        assert_eq!(truncate_to_seconds(t), at(-1));
    }

    proptest::proptest! {
        #[test]
        fn format_then_parse_round_trips(secs in MIN_SECS..=MAX_SECS) {
            let t = at(secs);
            let text = format_http_date(t);
            proptest::prop_assert_eq!(parse_http_date_at(&text, UNIX_EPOCH), Some(t));
        }

        #[test]
        fn parse_never_panics(text in "\\PC{0,80}") {
            let _ = parse_http_date_at(&text, UNIX_EPOCH);
        }
    }
}
