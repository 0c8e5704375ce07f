//! Access durations: how long a grant lasts.
//!
//! Accepts the two spellings the seed's configs use: ISO 8601 durations limited to days,
//! hours, minutes and seconds (`PT1H`, `PT30M`, `PT1H30M`, `PT45S`, `P1D`) and the short
//! forms (`1h`, `30m`, `45s`, `1h30m`, `2d`). Years, months and weeks are refused on purpose:
//! their length depends on the calendar and a time-boxed grant must have an exact end.
//! This module never reads the clock.

use std::fmt;
use std::str::FromStr;

/// The longest duration the tool accepts anywhere: 366 days.
pub const MAX_SECONDS: u64 = 366 * 86_400;

/// A positive, bounded span of whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccessDuration {
    seconds: u64,
}

/// Why a duration string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DurationError {
    /// The input was empty or blank.
    #[error("duration is empty: use e.g. `PT1H` or `1h`")]
    Empty,
    /// The input did not follow either grammar.
    #[error(
        "`{input}` is not a duration: use ISO 8601 (`PT1H30M`, `P1D`) or a short form (`1h30m`, `45s`)"
    )]
    Syntax {
        /// The refused input.
        input: String,
    },
    /// A calendar unit (years, months, weeks) was used.
    #[error("`{input}` uses {unit}, whose length varies: use days, hours, minutes or seconds")]
    CalendarUnit {
        /// The refused input.
        input: String,
        /// The unit found.
        unit: &'static str,
    },
    /// The duration is zero.
    #[error("`{input}` is zero: a grant must last at least one second")]
    Zero {
        /// The refused input.
        input: String,
    },
    /// The duration is negative.
    #[error("`{input}` is negative: a grant must last at least one second")]
    Negative {
        /// The refused input.
        input: String,
    },
    /// The duration exceeds [`MAX_SECONDS`] or overflows.
    #[error("`{input}` is too long: the longest accepted duration is `P366D`")]
    TooLong {
        /// The refused input.
        input: String,
    },
}

impl AccessDuration {
    /// Builds a duration from whole seconds, refusing zero and anything above [`MAX_SECONDS`].
    pub fn from_seconds(seconds: u64) -> Option<Self> {
        (1..=MAX_SECONDS)
            .contains(&seconds)
            .then_some(Self { seconds })
    }

    /// Parses ISO 8601 (`PT1H`) or the short form (`1h`).
    pub fn parse(input: &str) -> Result<Self, DurationError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(DurationError::Empty);
        }
        let owned = || trimmed.to_owned();
        if trimmed.starts_with('-') {
            return Err(DurationError::Negative { input: owned() });
        }
        let total = if let Some(rest) = trimmed
            .strip_prefix('P')
            .or_else(|| trimmed.strip_prefix('p'))
        {
            parse_iso(rest, trimmed)?
        } else {
            parse_short(trimmed)?
        };
        match total {
            0 => Err(DurationError::Zero { input: owned() }),
            s if s > MAX_SECONDS => Err(DurationError::TooLong { input: owned() }),
            seconds => Ok(Self { seconds }),
        }
    }

    /// The length in whole seconds.
    pub fn as_seconds(self) -> u64 {
        self.seconds
    }

    /// The length as a `std` duration.
    pub fn to_std(self) -> std::time::Duration {
        std::time::Duration::from_secs(self.seconds)
    }

    /// The length as a signed span, for timestamp arithmetic.
    pub fn to_signed(self) -> jiff::SignedDuration {
        // MAX_SECONDS fits in i64 by a wide margin.
        jiff::SignedDuration::from_secs(i64::try_from(self.seconds).unwrap_or(i64::MAX))
    }

    /// A compact human spelling such as `1h30m`.
    pub fn human(self) -> String {
        let (d, h, m, s) = self.parts();
        let mut out = String::new();
        for (value, unit) in [(d, 'd'), (h, 'h'), (m, 'm'), (s, 's')] {
            if value > 0 {
                out.push_str(&format!("{value}{unit}"));
            }
        }
        out
    }

    fn parts(self) -> (u64, u64, u64, u64) {
        let s = self.seconds;
        (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60, s % 60)
    }
}

/// A number and its unit letter, e.g. `30` and `m`.
fn take_number(rest: &str) -> Option<(u64, char, &str)> {
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let (number, tail) = rest.split_at(digits);
    let mut chars = tail.chars();
    let unit = chars.next()?;
    // Absurdly long digit strings saturate and are then refused as too long.
    let value = number.parse::<u64>().unwrap_or(u64::MAX);
    Some((value, unit, chars.as_str()))
}

fn scale(value: u64, unit_seconds: u64, total: u64, input: &str) -> Result<u64, DurationError> {
    value
        .checked_mul(unit_seconds)
        .and_then(|v| v.checked_add(total))
        .ok_or_else(|| DurationError::TooLong {
            input: input.to_owned(),
        })
}

fn calendar_unit(unit: char) -> Option<&'static str> {
    match unit.to_ascii_lowercase() {
        'y' => Some("years"),
        'w' => Some("weeks"),
        _ => None,
    }
}

/// `rest` follows the `P`: `[nD][T[nH][nM][nS]]`, units in order, each at most once.
fn parse_iso(rest: &str, input: &str) -> Result<u64, DurationError> {
    let syntax = || DurationError::Syntax {
        input: input.to_owned(),
    };
    let (date_part, time_part) = match rest.find(['T', 't']) {
        Some(i) => (
            rest.get(..i).unwrap_or(""),
            Some(rest.get(i + 1..).unwrap_or("")),
        ),
        None => (rest, None),
    };
    let mut total = 0u64;
    let mut remaining = date_part;
    let mut seen_any = false;
    while !remaining.is_empty() {
        let (value, unit, tail) = take_number(remaining).ok_or_else(syntax)?;
        match unit.to_ascii_uppercase() {
            'D' if !seen_any => total = scale(value, 86_400, total, input)?,
            'M' => {
                return Err(DurationError::CalendarUnit {
                    input: input.to_owned(),
                    unit: "months",
                });
            }
            u => {
                return Err(match calendar_unit(u) {
                    Some(unit) => DurationError::CalendarUnit {
                        input: input.to_owned(),
                        unit,
                    },
                    None => syntax(),
                });
            }
        }
        seen_any = true;
        remaining = tail;
    }
    if let Some(time) = time_part {
        if time.is_empty() {
            return Err(syntax());
        }
        let mut remaining = time;
        let mut last_rank = 0;
        while !remaining.is_empty() {
            let (value, unit, tail) = take_number(remaining).ok_or_else(syntax)?;
            let (rank, seconds) = match unit.to_ascii_uppercase() {
                'H' => (1, 3_600),
                'M' => (2, 60),
                'S' => (3, 1),
                _ => return Err(syntax()),
            };
            if rank <= last_rank {
                return Err(syntax());
            }
            last_rank = rank;
            total = scale(value, seconds, total, input)?;
            remaining = tail;
        }
        seen_any = true;
    }
    if seen_any { Ok(total) } else { Err(syntax()) }
}

/// `1h30m`, `45s`, `2d`: units in descending order, each at most once.
fn parse_short(input: &str) -> Result<u64, DurationError> {
    let syntax = || DurationError::Syntax {
        input: input.to_owned(),
    };
    let mut total = 0u64;
    let mut remaining = input;
    let mut last_rank = 0;
    while !remaining.is_empty() {
        let (value, unit, tail) = take_number(remaining).ok_or_else(syntax)?;
        let (rank, seconds) = match unit.to_ascii_lowercase() {
            'd' => (1, 86_400),
            'h' => (2, 3_600),
            'm' => (3, 60),
            's' => (4, 1),
            other => {
                return Err(match calendar_unit(other) {
                    Some(unit) => DurationError::CalendarUnit {
                        input: input.to_owned(),
                        unit,
                    },
                    None => syntax(),
                });
            }
        };
        if rank <= last_rank {
            return Err(syntax());
        }
        last_rank = rank;
        total = scale(value, seconds, total, input)?;
        remaining = tail;
    }
    Ok(total)
}

impl fmt::Display for AccessDuration {
    /// ISO 8601, e.g. `PT1H30M` or `P1DT2H`; parses back to the same value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (d, h, m, s) = self.parts();
        f.write_str("P")?;
        if d > 0 {
            write!(f, "{d}D")?;
        }
        if h + m + s > 0 {
            f.write_str("T")?;
            for (value, unit) in [(h, 'H'), (m, 'M'), (s, 'S')] {
                if value > 0 {
                    write!(f, "{value}{unit}")?;
                }
            }
        }
        Ok(())
    }
}

impl FromStr for AccessDuration {
    type Err = DurationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The outcome of fitting a requested duration under the access's maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EffectiveDuration {
    /// The duration the grant will have.
    pub duration: AccessDuration,
    /// Set when the request was longer than allowed and was shortened.
    pub capped_from: Option<AccessDuration>,
}

/// Applies the seed's rule: a request above the maximum is capped to it (with a warning for
/// the caller to show), no request means the maximum. `global_cap` is `MAX_DURATION`.
pub fn effective_duration(
    requested: Option<AccessDuration>,
    access_max: AccessDuration,
    global_cap: Option<AccessDuration>,
) -> EffectiveDuration {
    let max = global_cap.map_or(access_max, |cap| cap.min(access_max));
    match requested {
        None => EffectiveDuration {
            duration: max,
            capped_from: None,
        },
        Some(d) if d > max => EffectiveDuration {
            duration: max,
            capped_from: Some(d),
        },
        Some(d) => EffectiveDuration {
            duration: d,
            capped_from: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    #[rstest]
    #[case::iso_hour("PT1H", 3_600)]
    #[case::iso_half_hour("PT30M", 1_800)]
    #[case::iso_mixed("PT1H30M", 5_400)]
    #[case::iso_seconds("PT45S", 45)]
    #[case::iso_day("P1D", 86_400)]
    #[case::iso_day_and_time("P1DT2H", 93_600)]
    #[case::short_hour("1h", 3_600)]
    #[case::short_minutes("30m", 1_800)]
    #[case::short_seconds("45s", 45)]
    #[case::short_mixed("1h30m", 5_400)]
    #[case::short_day("2d", 172_800)]
    #[case::upper_short("1H", 3_600)]
    #[case::padded(" PT1H ", 3_600)]
    #[case::longest("P366D", MAX_SECONDS)]
    fn accepted_spellings_parse_to_seconds(#[case] input: &str, #[case] seconds: u64) {
        assert_eq!(AccessDuration::parse(input).unwrap().as_seconds(), seconds);
    }

    #[rstest]
    #[case::empty("")]
    #[case::zero_short("0s")]
    #[case::zero_iso("PT0S")]
    #[case::bare_p("P")]
    #[case::bare_pt("PT")]
    #[case::year("1y")]
    #[case::iso_year("P1Y")]
    #[case::iso_month("P1M")]
    #[case::week("1w")]
    #[case::negative("-5m")]
    #[case::garbage("soon")]
    #[case::no_unit("60")]
    #[case::unit_twice("1h1h")]
    #[case::wrong_order("30m1h")]
    #[case::overflow("99999999999999999999999h")]
    #[case::over_max("P367D")]
    #[case::fraction("1.5h")]
    #[case::space_inside("1h 30m")]
    fn refused_spellings_are_errors(#[case] input: &str) {
        assert!(AccessDuration::parse(input).is_err(), "{input} parsed");
    }

    #[test]
    fn errors_name_the_input_and_the_fix() {
        let e = AccessDuration::parse("1y").unwrap_err().to_string();
        assert_eq!(
            e,
            "`1y` uses years, whose length varies: use days, hours, minutes or seconds"
        );
        let e = AccessDuration::parse("0s").unwrap_err().to_string();
        assert_eq!(e, "`0s` is zero: a grant must last at least one second");
    }

    #[test]
    fn display_is_iso_8601() {
        let d = AccessDuration::parse("1h30m").unwrap();
        assert_eq!(d.to_string(), "PT1H30M");
        assert_eq!(d.human(), "1h30m");
        assert_eq!(AccessDuration::parse("P1D").unwrap().to_string(), "P1D");
    }

    #[test]
    fn a_request_above_the_maximum_is_capped_with_a_note() {
        let max = AccessDuration::parse("PT1H").unwrap();
        let asked = AccessDuration::parse("2h").unwrap();
        let got = effective_duration(Some(asked), max, None);
        assert_eq!(got.duration, max);
        assert_eq!(got.capped_from, Some(asked));
        let got = effective_duration(None, max, AccessDuration::parse("30m").ok());
        assert_eq!(got.duration.as_seconds(), 1_800);
        assert_eq!(got.capped_from, None);
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in ".*") {
            let _ = AccessDuration::parse(&s);
        }

        #[test]
        fn display_round_trips(seconds in 1..=MAX_SECONDS) {
            let d = AccessDuration::from_seconds(seconds).unwrap();
            prop_assert_eq!(AccessDuration::parse(&d.to_string()).unwrap(), d);
            prop_assert_eq!(AccessDuration::parse(&d.human()).unwrap(), d);
        }

        #[test]
        fn capped_durations_never_exceed_the_maximum(max in 1..=MAX_SECONDS, asked in proptest::option::of(1..=MAX_SECONDS)) {
            let max = AccessDuration::from_seconds(max).unwrap();
            let asked = asked.and_then(AccessDuration::from_seconds);
            prop_assert!(effective_duration(asked, max, None).duration <= max);
        }
    }
}
