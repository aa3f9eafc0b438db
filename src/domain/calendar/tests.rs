use super::*;
use proptest::prelude::*;

fn date(s: &str) -> NaiveDate {
    s.parse().expect("test date")
}

/// The contract's calendar data (its `calendar.md`, beside SPEC.md), copied into the
/// repository so a clone on its own tests against it. `.ci/run` warns when the
/// copy and the contract differ (a new year's notice added there).
const CALENDAR_MD: &str = include_str!("calendar.md");

/// The days off and make-up days of one year as `calendar.md` states them,
/// read from its tables with their own notation ("01-28 … 02-04", "01-26 (Sun)").
fn from_markdown(year: i32) -> (BTreeSet<NaiveDate>, BTreeSet<NaiveDate>) {
    let section = CALENDAR_MD
        .split("\n## ")
        .find(|s| s.starts_with(&year.to_string()))
        .expect("a section for the year");
    let day = |md: &str| date(&format!("{year}-{}", &md.trim()[..5]));
    let (mut off, mut work) = (BTreeSet::new(), BTreeSet::new());
    for row in section.lines().filter(|l| l.starts_with('|')).skip(2) {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let (days_off, make_up) = (cells[2], cells[3]);
        let (first, last) = match days_off.split_once('…') {
            Some((a, b)) => (day(a), day(b)),
            None => (day(days_off), day(days_off)),
        };
        let mut d = first;
        while d <= last {
            off.insert(d);
            d = d + Days::new(1);
        }
        if make_up != "—" {
            work.extend(make_up.split(',').map(day));
        }
    }
    (off, work)
}

#[test]
fn every_day_of_2025_and_2026_is_classified_as_calendar_md_says() {
    let calendar = Calendar::shipped();
    for year in [2025, 2026] {
        let (off, work) = from_markdown(year);
        assert!(!off.is_empty() && !work.is_empty(), "{year} parsed");
        let mut day = date(&format!("{year}-01-01"));
        while day.year() == year {
            let expected = if work.contains(&day) {
                true
            } else if off.contains(&day) {
                false
            } else {
                !matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
            };
            assert_eq!(calendar.is_working_day(day), expected, "{day}");
            day = day + Days::new(1);
        }
    }
}

#[test]
fn the_worked_examples_of_calendar_md() {
    let calendar = Calendar::shipped();
    let tuesday = date("2026-09-29");
    let add = |from, n| calendar.add_working_days(from, n).day;
    assert_eq!(add(tuesday, 1), date("2026-09-30"));
    assert_eq!(add(tuesday, 2), date("2026-10-08"));
    assert_eq!(add(tuesday, 4), date("2026-10-10"), "the make-up Saturday");
    assert_eq!(add(tuesday, 7), date("2026-10-14"));
    assert_eq!(add(tuesday, 10), date("2026-10-19"));
    assert_eq!(add(date("2026-02-13"), 1), date("2026-02-14"));
    // Ten working days from the Friday before the Spring Festival.
    assert_eq!(add(date("2026-02-13"), 10), date("2026-03-05"));
    assert!(!calendar.add_working_days(tuesday, 10).provisional);
}

#[test]
fn a_deadline_ends_at_midnight_beijing_time() {
    let end = end_of_day(date("2026-09-30"));
    assert_eq!(end.to_rfc3339(), "2026-09-30T16:00:00+00:00");
    // 24:00 on 09-30 is 16:00 UTC, already 10-01 in Beijing; a second earlier is not.
    assert_eq!(beijing_date(end), date("2026-10-01"));
    assert_eq!(
        beijing_date(end - chrono::Duration::seconds(1)),
        date("2026-09-30")
    );
}

#[test]
fn a_year_not_known_counts_monday_to_friday_and_is_provisional() {
    let calendar = Calendar::shipped();
    // 2027-01-01 is a Friday; no 2027 schedule ships.
    let counted = calendar.add_working_days(date("2026-12-31"), 1);
    assert_eq!(counted.day, date("2027-01-01"));
    assert!(counted.provisional);
    let counted = calendar.add_working_days(date("2026-12-30"), 1);
    assert_eq!(counted.day, date("2026-12-31"));
    assert!(!counted.provisional);
}

#[test]
fn a_loaded_year_replaces_the_weekday_guess() {
    let mut calendar = Calendar::shipped();
    let file = r#"
        [[years]]
        year = 2027
        holidays = [{ name = "元旦", from = "2027-01-01", to = "2027-01-03" }]
    "#;
    calendar.extend(Calendar::parse(file).expect("parses"));
    let counted = calendar.add_working_days(date("2026-12-31"), 1);
    assert_eq!(counted.day, date("2027-01-04"));
    assert!(!counted.provisional);
}

#[test]
fn the_holidays_of_both_shipped_years_are_checked() {
    let off = days_off();
    assert!(off.contains(&date("2025-01-28")), "2025 Spring Festival");
    assert!(off.contains(&date("2026-10-01")), "2026 National Day");
}

#[test]
fn a_bad_calendar_file_says_what_is_wrong() {
    let reversed = r#"
        [[years]]
        year = 2027
        holidays = [{ name = "春节", from = "2027-02-10", to = "2027-02-05" }]
    "#;
    let err = Calendar::parse(reversed).unwrap_err().to_string();
    assert!(err.contains("春节") && err.contains("after"), "{err}");
    let both = r#"
        [[years]]
        year = 2027
        holidays = [{ name = "春节", from = "2027-02-05", to = "2027-02-10", work = ["2027-02-06"] }]
    "#;
    let err = Calendar::parse(both).unwrap_err().to_string();
    assert!(err.contains("both"), "{err}");
    let unknown = "[[years]]\nyear = 2027\nholidays = []\nextra = 1\n";
    assert!(Calendar::parse(unknown).is_err());
    assert!(Calendar::parse("years = 3").is_err());
}

/// The days off of both shipped years, as `calendar.md` states them (read once).
fn days_off() -> &'static BTreeSet<NaiveDate> {
    static OFF: std::sync::LazyLock<BTreeSet<NaiveDate>> = std::sync::LazyLock::new(|| {
        [2025, 2026]
            .into_iter()
            .flat_map(|year| from_markdown(year).0)
            .collect()
    });
    &OFF
}

fn any_day() -> impl Strategy<Value = NaiveDate> {
    // 2024-12-01 .. 2027-01-31: across both known years and into unknown ones.
    (0u64..792).prop_map(|n| date("2024-12-01") + Days::new(n))
}

proptest! {
    #[test]
    fn the_result_is_a_working_day_and_never_a_holiday(from in any_day(), n in 1u32..40) {
        let calendar = Calendar::shipped();
        let day = calendar.add_working_days(from, n).day;
        prop_assert!(calendar.is_working_day(day));
        prop_assert!(day > from);
        prop_assert!(!days_off().contains(&day));
    }

    #[test]
    fn adding_n_then_m_equals_adding_n_plus_m(from in any_day(), n in 1u32..30, m in 1u32..30) {
        let calendar = Calendar::shipped();
        let stepwise = calendar.add_working_days(calendar.add_working_days(from, n).day, m).day;
        prop_assert_eq!(stepwise, calendar.add_working_days(from, n + m).day);
    }

    #[test]
    fn a_later_start_never_gives_an_earlier_deadline(a in any_day(), b in any_day(), n in 1u32..30) {
        let calendar = Calendar::shipped();
        let (early, late) = if a <= b { (a, b) } else { (b, a) };
        prop_assert!(calendar.add_working_days(early, n).day <= calendar.add_working_days(late, n).day);
    }

    #[test]
    fn exactly_n_working_days_lie_between_start_and_result(from in any_day(), n in 1u32..40) {
        let calendar = Calendar::shipped();
        let end = calendar.add_working_days(from, n).day;
        let mut day = from + Days::new(1);
        let mut working = 0;
        while day <= end {
            working += u32::from(calendar.is_working_day(day));
            day = day + Days::new(1);
        }
        prop_assert_eq!(working, n);
    }
}

fn instant(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("test instant")
        .with_timezone(&Utc)
}

#[test]
fn working_time_skips_weekends_and_holidays_and_counts_make_up_days() {
    let calendar = Calendar::shipped();
    let hours = |a, b| calendar.working_seconds_between(instant(a), instant(b)) as f64 / 3600.0;
    // Within one working day.
    assert_eq!(
        hours("2026-09-29T10:00:00+08:00", "2026-09-29T16:30:00+08:00"),
        6.5
    );
    // Tuesday 10:00 to Thursday 10:00 across no rest day: 48 hours.
    assert_eq!(
        hours("2026-09-15T10:00:00+08:00", "2026-09-17T10:00:00+08:00"),
        48.0
    );
    // Friday 22:00 to Monday 02:00: 2 h of Friday, 2 h of Monday.
    assert_eq!(
        hours("2026-09-11T22:00:00+08:00", "2026-09-14T02:00:00+08:00"),
        4.0
    );
    // Across National Day: Sep 30 from 12:00 (12 h), Oct 1–7 off, Oct 8 until 12:00.
    assert_eq!(
        hours("2026-09-30T12:00:00+08:00", "2026-10-08T12:00:00+08:00"),
        24.0
    );
    // The make-up Saturday 2026-10-10 counts in full.
    assert_eq!(
        hours("2026-10-10T00:00:00+08:00", "2026-10-11T00:00:00+08:00"),
        24.0
    );
    // Backwards or empty spans are no time.
    assert_eq!(
        hours("2026-09-29T10:00:00+08:00", "2026-09-29T09:00:00+08:00"),
        0.0
    );
}
