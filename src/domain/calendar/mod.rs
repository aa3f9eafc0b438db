//! The working-day calendar of mainland China (SPEC §5, calendar.md).
//!
//! Which days are working days is data, not code: the State Council schedules
//! ship in `cn-holidays.toml` and later years are loaded from a file of the same
//! shape. Everything here counts in Beijing dates; instants are converted at
//! the edges with [`beijing_date`] and [`end_of_day`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{
    DateTime, Datelike, Days, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Utc, Weekday,
};
use serde::Deserialize;

/// The schedules the gateway ships with (2025 and 2026).
const SHIPPED: &str = include_str!("cn-holidays.toml");

/// Beijing time: +08:00 all year (no daylight saving since 1991). The one
/// place the offset is written.
pub const BEIJING: FixedOffset = match FixedOffset::east_opt(8 * 3600) {
    Some(offset) => offset,
    None => panic!("+08:00 is a valid offset"),
};

/// The Beijing calendar date of an instant.
pub fn beijing_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&BEIJING).date_naive()
}

/// The Beijing wall-clock time of an instant, as a bulletin prints it.
pub fn beijing_time(at: DateTime<Utc>) -> NaiveDateTime {
    at.with_timezone(&BEIJING).naive_local()
}

/// 24:00 Beijing time at the end of `day`, i.e. the first instant of the next day.
pub fn end_of_day(day: NaiveDate) -> DateTime<Utc> {
    start_of_day(day + Days::new(1))
}

/// 00:00 Beijing time at the start of `day`.
pub fn start_of_day(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(NaiveTime::MIN)
        .and_local_timezone(BEIJING)
        .single()
        .expect("a fixed offset has exactly one local time")
        .with_timezone(&Utc)
}

/// One year's schedule: the days off and the make-up working days.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Year {
    off: BTreeSet<NaiveDate>,
    work: BTreeSet<NaiveDate>,
}

/// Working days for the years whose schedule is known, Monday–Friday beyond them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    years: BTreeMap<i32, Year>,
}

/// What is wrong with a calendar file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarError(pub String);

impl fmt::Display for CalendarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CalendarError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    years: Vec<YearEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct YearEntry {
    year: i32,
    #[serde(default)]
    #[allow(dead_code)] // documents the source in the file; not used for counting
    notice: Option<String>,
    holidays: Vec<Holiday>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Holiday {
    name: String,
    from: NaiveDate,
    to: NaiveDate,
    #[serde(default)]
    work: Vec<NaiveDate>,
}

/// One counted day: `provisional` when its year's schedule is not known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted {
    pub day: NaiveDate,
    pub provisional: bool,
}

impl Calendar {
    /// The shipped schedules.
    pub fn shipped() -> Calendar {
        Calendar::parse(SHIPPED).expect("the shipped calendar is valid (tested)")
    }

    /// Reads a calendar file (the shape of `cn-holidays.toml`).
    pub fn parse(text: &str) -> Result<Calendar, CalendarError> {
        let file: File = toml::from_str(text).map_err(|e| CalendarError(e.to_string()))?;
        let mut years = BTreeMap::new();
        for entry in file.years {
            let mut year = Year::default();
            for holiday in entry.holidays {
                let named =
                    |why: &str| CalendarError(format!("{} ({}): {why}", holiday.name, entry.year));
                if holiday.from > holiday.to {
                    return Err(named("`from` is after `to`"));
                }
                if holiday.from.year() != entry.year && holiday.to.year() != entry.year {
                    return Err(named("the days off are not in this year"));
                }
                let mut day = holiday.from;
                while day <= holiday.to {
                    year.off.insert(day);
                    day = day + Days::new(1);
                }
                for work in &holiday.work {
                    if year.off.contains(work) {
                        return Err(named(&format!("{work} is both off and a working day")));
                    }
                    year.work.insert(*work);
                }
            }
            if years.insert(entry.year, year).is_some() {
                return Err(CalendarError(format!("{} is listed twice", entry.year)));
            }
        }
        Ok(Calendar { years })
    }

    /// Adds the years of `other`; a year it also has is replaced by its version.
    pub fn extend(&mut self, other: Calendar) {
        self.years.extend(other.years);
    }

    /// The years whose schedule is known.
    pub fn known_years(&self) -> impl Iterator<Item = i32> + '_ {
        self.years.keys().copied()
    }

    pub fn knows(&self, year: i32) -> bool {
        self.years.contains_key(&year)
    }

    /// Whether `day` is a working day; Monday–Friday in a year not known.
    pub fn is_working_day(&self, day: NaiveDate) -> bool {
        let weekday = !matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
        // A schedule lists the days around its holidays, which may spill into
        // the neighbouring year (a Spring Festival make-up day in late January
        // of the same year, a New Year holiday starting on 12-31).
        let listed = |set: fn(&Year) -> &BTreeSet<NaiveDate>| {
            self.years.values().any(|year| set(year).contains(&day))
        };
        if listed(|y| &y.work) {
            return true;
        }
        if listed(|y| &y.off) {
            return false;
        }
        weekday
    }

    /// The time between two instants that lies on working days (Beijing
    /// dates), in seconds: how long a handler took, counted as SPEC §5 counts.
    pub fn working_seconds_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
        if to <= from {
            return 0;
        }
        let mut total = 0;
        let mut day = beijing_date(from);
        let last = beijing_date(to);
        while day <= last {
            if self.is_working_day(day) {
                let start = start_of_day(day).max(from);
                let end = end_of_day(day).min(to);
                total += (end - start).num_seconds().max(0);
            }
            day = day + Days::new(1);
        }
        total
    }

    /// The `n`th working day after `from` (n ≥ 1), and whether any day counted
    /// lies in a year whose schedule is not known.
    pub fn add_working_days(&self, from: NaiveDate, n: u32) -> Counted {
        let mut day = from;
        let mut counted = 0;
        let mut provisional = false;
        while counted < n {
            day = day + Days::new(1);
            provisional |= !self.knows(day.year());
            if self.is_working_day(day) {
                counted += 1;
            }
        }
        Counted { day, provisional }
    }
}

#[cfg(test)]
mod tests;
