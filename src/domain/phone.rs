//! Mainland China phone numbers: mobiles, landlines with area code, 400/800.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneError;

impl fmt::Display for PhoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "must be a mainland mobile (11 digits starting 13–19) or a landline with area code",
        )
    }
}

impl std::error::Error for PhoneError {}

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn mobile(s: &str) -> bool {
    s.len() == 11
        && digits(s)
        && s.as_bytes()[0] == b'1'
        && (b'3'..=b'9').contains(&s.as_bytes()[1])
}

impl Phone {
    pub fn parse(input: &str) -> Result<Phone, PhoneError> {
        let compact: String = input.trim().chars().filter(|c| *c != ' ').collect();
        let bare: String = compact.chars().filter(|c| *c != '-').collect();
        let without_country = bare
            .strip_prefix("+86")
            .or_else(|| bare.strip_prefix("86").filter(|rest| mobile(rest)))
            .unwrap_or(&bare);
        if mobile(without_country) {
            return Ok(Phone(without_country.to_string()));
        }
        if (bare.starts_with("400") || bare.starts_with("800")) && bare.len() == 10 && digits(&bare)
        {
            return Ok(Phone(bare));
        }
        Self::landline(&compact).map(Phone).ok_or(PhoneError)
    }

    /// `0AA[A]-LLLLLLL[L]` with an optional `-EXT` or `转EXT`.
    fn landline(compact: &str) -> Option<String> {
        let (number, ext) = match compact.split_once('转') {
            Some((n, e)) => (n.to_string(), Some(e.to_string())),
            None => {
                let parts: Vec<&str> = compact.split('-').collect();
                match parts.as_slice() {
                    [a, l, e] => (format!("{a}-{l}"), Some(e.to_string())),
                    _ => (compact.to_string(), None),
                }
            }
        };
        if let Some(e) = &ext
            && !(digits(e) && e.len() <= 6)
        {
            return None;
        }
        let plain: String = number.chars().filter(|c| *c != '-').collect();
        if !digits(&plain) || !plain.starts_with('0') || plain.starts_with("00") {
            return None;
        }
        let split = match number.split_once('-') {
            Some((area, local)) => (area.to_string(), local.to_string()),
            None => {
                // Without a hyphen: three-digit area codes are 010 and 02X.
                let area_len = if plain.starts_with("010") || plain.starts_with("02") {
                    3
                } else {
                    4
                };
                (
                    plain[..area_len.min(plain.len())].to_string(),
                    plain[area_len.min(plain.len())..].to_string(),
                )
            }
        };
        let (area, local) = split;
        let area_ok = (3..=4).contains(&area.len()) && digits(&area);
        let local_ok = (7..=8).contains(&local.len()) && digits(&local) && !local.starts_with('0');
        if !(area_ok && local_ok) {
            return None;
        }
        Some(match ext {
            Some(e) => format!("{area}-{local}-{e}"),
            None => format!("{area}-{local}"),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// For logs and partial displays: `138****8000`, `0728-*****34`.
    pub fn masked(&self) -> String {
        let s = &self.0;
        if let Some((area, rest)) = s.split_once('-') {
            let local = rest.split('-').next().unwrap_or(rest);
            let keep = local.len().saturating_sub(2);
            return format!("{area}-{}{}", "*".repeat(keep), &local[keep..]);
        }
        if s.len() == 11 {
            return format!("{}****{}", &s[..3], &s[7..]);
        }
        format!(
            "{}{}{}",
            &s[..3],
            "*".repeat(s.len().saturating_sub(5)),
            &s[s.len() - 2..]
        )
    }
}

/// Masks any string best-effort, for log lines.
pub fn mask_phone(raw: &str) -> String {
    match Phone::parse(raw) {
        Ok(p) => p.masked(),
        Err(_) => {
            let total = raw.chars().filter(char::is_ascii_digit).count();
            let mut seen = 0;
            raw.chars()
                .map(|c| {
                    if c.is_ascii_digit() {
                        seen += 1;
                        if seen + 2 <= total { '*' } else { c }
                    } else {
                        c
                    }
                })
                .collect()
        }
    }
}

impl FromStr for Phone {
    type Err = PhoneError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Phone::parse(s)
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mobiles_are_normalised() {
        for raw in [
            "13800138000",
            "+8613800138000",
            "8613800138000",
            "138 0013 8000",
            "138-0013-8000",
        ] {
            assert_eq!(Phone::parse(raw).unwrap().as_str(), "13800138000", "{raw}");
        }
        for bad in ["12800138000", "1380013800", "138001380000", "abc", ""] {
            assert!(Phone::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn landlines_need_an_area_code() {
        assert_eq!(
            Phone::parse("027-87654321").unwrap().as_str(),
            "027-87654321"
        );
        assert_eq!(
            Phone::parse("0728-6221234").unwrap().as_str(),
            "0728-6221234"
        );
        assert_eq!(
            Phone::parse("01087654321").unwrap().as_str(),
            "010-87654321"
        );
        assert_eq!(
            Phone::parse("0728-6221234-801").unwrap().as_str(),
            "0728-6221234-801"
        );
        assert_eq!(
            Phone::parse("0728-6221234转801").unwrap().as_str(),
            "0728-6221234-801"
        );
        assert_eq!(Phone::parse("4008001234").unwrap().as_str(), "4008001234");
        for bad in [
            "6221234",
            "0728-0221234",
            "0728-62212",
            "0728-6221234-1234567",
        ] {
            assert!(Phone::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn masking_hides_the_middle() {
        assert_eq!(Phone::parse("13800138000").unwrap().masked(), "138****8000");
        assert_eq!(
            Phone::parse("0728-6221234-8").unwrap().masked(),
            "0728-*****34"
        );
        assert_eq!(mask_phone("13800138000"), "138****8000");
        assert_eq!(mask_phone("tel 12345"), "tel ***45");
    }
}
