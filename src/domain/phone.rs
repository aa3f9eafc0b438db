//! A consumer's mainland China phone number, as typed into a complaint form.
//!
//! Spaces and hyphens are only grouping, because the digits are what gets
//! dialled; the one exception is a trailing hyphen group after a complete
//! landline, which is read as an extension (`0728-6221234-8`).

use std::fmt;
use std::str::FromStr;

/// Normalised: a mobile or 400/800 number as bare digits, a landline as
/// `AREA-LOCAL` or `AREA-LOCAL-EXT`, so equal numbers compare equal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhoneError {
    Empty,
    /// `position` is 1-based within the trimmed input.
    Character {
        position: usize,
        found: char,
    },
    CountryCode,
    Extension,
    Format,
}

impl fmt::Display for PhoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PhoneError::Empty => f.write_str("must not be empty"),
            PhoneError::Character { position, found } => {
                write!(
                    f,
                    "character {found:?} at position {position} is not allowed"
                )
            }
            PhoneError::CountryCode => {
                f.write_str("only +86 is accepted, and only before an 11-digit mobile")
            }
            PhoneError::Extension => {
                f.write_str("an extension must be 1–6 digits after a landline number")
            }
            PhoneError::Format => f.write_str(
                "must be a mainland mobile (11 digits starting 13–19), \
                 a landline with area code, or a 400/800 number",
            ),
        }
    }
}

impl std::error::Error for PhoneError {}

const MAX_EXTENSION: usize = 6;

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_mobile(d: &str) -> bool {
    matches!(d.as_bytes(), [b'1', b'3'..=b'9', ..]) && d.len() == 11 && all_digits(d)
}

fn is_service(d: &str) -> bool {
    (d.starts_with("400") || d.starts_with("800")) && d.len() == 10 && all_digits(d)
}

fn is_extension(d: &str) -> bool {
    d.len() <= MAX_EXTENSION && all_digits(d)
}

/// Splits bare digits into area code and local number. The area code's
/// length follows from its digits (010 and 02X are the only three-digit
/// codes), which is what lets a number typed without a hyphen be split.
fn split_landline(d: &str) -> Option<(&str, &str)> {
    if !all_digits(d) {
        return None;
    }
    let area_len = match d.as_bytes() {
        [b'0', b'1', b'0', ..] | [b'0', b'2', ..] => 3,
        [b'0', b'3'..=b'9', _, ..] => 4,
        _ => return None,
    };
    let (area, local) = d.split_at_checked(area_len)?;
    // A local number starting with 0 means the area code was doubled or
    // mistyped; no subscriber number starts with the trunk prefix.
    ((7..=8).contains(&local.len()) && !local.starts_with('0')).then_some((area, local))
}

fn without_hyphens(s: &str) -> String {
    s.chars().filter(|&c| c != '-').collect()
}

fn landline(digits: &str, extension: Option<&str>) -> Option<Phone> {
    let (area, local) = split_landline(digits)?;
    Some(Phone(match extension {
        Some(ext) => format!("{area}-{local}-{ext}"),
        None => format!("{area}-{local}"),
    }))
}

enum Kind {
    Mobile,
    Landline,
    Service,
}

impl Phone {
    pub fn parse(input: &str) -> Result<Phone, PhoneError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(PhoneError::Empty);
        }
        for (i, c) in trimmed.chars().enumerate() {
            let allowed = c.is_ascii_digit()
                || c == '-'
                || c == '转'
                || c.is_whitespace()
                || (c == '+' && i == 0);
            if !allowed {
                return Err(PhoneError::Character {
                    position: i + 1,
                    found: c,
                });
            }
        }
        let compact: String = trimmed.chars().filter(|c| !c.is_whitespace()).collect();

        if let Some(rest) = compact.strip_prefix('+') {
            let national = rest
                .strip_prefix("86")
                .map(without_hyphens)
                .ok_or(PhoneError::CountryCode)?;
            return if is_mobile(&national) {
                Ok(Phone(national))
            } else {
                Err(PhoneError::CountryCode)
            };
        }

        if let Some((number, ext)) = compact.split_once('转') {
            if !is_extension(ext) {
                return Err(PhoneError::Extension);
            }
            return landline(&without_hyphens(number), Some(ext)).ok_or(PhoneError::Extension);
        }

        let digits = without_hyphens(&compact);
        if is_mobile(&digits) || is_service(&digits) {
            return Ok(Phone(digits));
        }
        if let Some(mobile) = digits.strip_prefix("86").filter(|m| is_mobile(m)) {
            return Ok(Phone(mobile.to_string()));
        }
        if let Some((head, tail)) = compact.rsplit_once('-')
            && !tail.is_empty()
        {
            let head = without_hyphens(head);
            if split_landline(&head).is_some() {
                if is_extension(tail) {
                    return landline(&head, Some(tail)).ok_or(PhoneError::Format);
                }
                if split_landline(&digits).is_none() {
                    return Err(PhoneError::Extension);
                }
            }
        }
        landline(&digits, None).ok_or(PhoneError::Format)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn kind(&self) -> Kind {
        if self.0.contains('-') {
            Kind::Landline
        } else if self.0.len() == 11 {
            Kind::Mobile
        } else {
            Kind::Service
        }
    }

    /// What staff and logs see before a consumer has agreed to share the
    /// number: enough to recognise it, not enough to dial it.
    pub fn masked(&self) -> String {
        let s = self.0.as_str();
        match self.kind() {
            Kind::Mobile => {
                let (head, tail) = (&s[..3], &s[s.len() - 4..]);
                format!("{head}****{tail}")
            }
            Kind::Service => {
                let (head, tail) = (&s[..3], &s[s.len() - 2..]);
                format!("{head}{}{tail}", "*".repeat(s.len() - 5))
            }
            Kind::Landline => {
                let mut parts = s.split('-');
                let area = parts.next().unwrap_or_default();
                let local = parts.next().unwrap_or_default();
                let (hidden, shown) = local.split_at(local.len().saturating_sub(2));
                format!("{area}-{}{shown}", "*".repeat(hidden.len()))
            }
        }
    }
}

/// For log lines, where the text may not be a valid number at all: only the
/// last two digits of something unparseable survive.
pub fn mask_phone(raw: &str) -> String {
    if let Ok(phone) = Phone::parse(raw) {
        return phone.masked();
    }
    let total = raw.chars().filter(|c| c.is_numeric()).count();
    let mut seen = 0;
    raw.chars()
        .map(|c| {
            if !c.is_numeric() {
                return c;
            }
            seen += 1;
            if seen + 2 > total { c } else { '*' }
        })
        .collect()
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

    fn normalised(raw: &str) -> String {
        match Phone::parse(raw) {
            Ok(p) => p.as_str().to_string(),
            Err(e) => panic!("{raw:?} refused: {e}"),
        }
    }

    fn refused(raw: &str) -> PhoneError {
        match Phone::parse(raw) {
            Ok(p) => panic!("{raw:?} accepted as {p}"),
            Err(e) => e,
        }
    }

    #[test]
    fn mobiles_are_bare_digits() {
        for raw in [
            "13800138000",
            " 13800138000\t",
            "\u{3000}13800138000\u{3000}",
            "138 0013 8000",
            "138-0013-8000",
            "+8613800138000",
            "+86 138 0013 8000",
            "+86-138-0013-8000",
            "8613800138000",
            "86 138 0013 8000",
        ] {
            assert_eq!(normalised(raw), "13800138000", "{raw:?}");
        }
        for prefix in 3..=9 {
            let raw = format!("1{prefix}912345678");
            assert_eq!(normalised(&raw), raw);
        }
    }

    #[test]
    fn malformed_mobiles_are_refused() {
        for raw in [
            "12800138000",
            "10800138000",
            "11800138000",
            "1380013800",
            "138001380000",
            "23800138000",
            "8612800138000",
            "86138001380",
            "13800138000-1",
        ] {
            assert_eq!(refused(raw), PhoneError::Format, "{raw:?}");
        }
    }

    #[test]
    fn country_code_only_before_a_mobile() {
        for raw in [
            "+85213800138000",
            "+1 13800138000",
            "+86",
            "+86 027-87654321",
            "+86 27 87654321",
            "+86 4008001234",
            "+86 12800138000",
            "+8613800138000转1",
        ] {
            assert_eq!(refused(raw), PhoneError::CountryCode, "{raw:?}");
        }
        assert_eq!(refused("86 027 87654321"), PhoneError::Format);
        assert_eq!(refused("0086 13800138000"), PhoneError::Format);
    }

    #[test]
    fn landlines_are_split_at_the_area_code() {
        for (raw, want) in [
            ("027-87654321", "027-87654321"),
            ("02787654321", "027-87654321"),
            ("027 8765 4321", "027-87654321"),
            ("010-8765-4321", "010-87654321"),
            ("01087654321", "010-87654321"),
            ("020-38888888", "020-38888888"),
            ("0728-6221234", "0728-6221234"),
            ("07286221234", "0728-6221234"),
            ("0728 622 1234", "0728-6221234"),
            ("0728-62212345", "0728-62212345"),
            ("0371-6555555", "0371-6555555"),
            ("0991-2345678", "0991-2345678"),
            // The digits decide, not where the hyphen was put.
            ("072-86221234", "0728-6221234"),
            ("027--87654321-", "027-87654321"),
        ] {
            assert_eq!(normalised(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn landline_extensions_are_kept() {
        for (raw, want) in [
            ("0728-6221234-801", "0728-6221234-801"),
            ("0728-6221234-8", "0728-6221234-8"),
            ("027-87654321-123456", "027-87654321-123456"),
            ("02787654321-801", "027-87654321-801"),
            ("0728-6221234转801", "0728-6221234-801"),
            ("0728-6221234 转 801", "0728-6221234-801"),
            ("07286221234转1", "0728-6221234-1"),
            ("027 8765 4321 - 801", "027-87654321-801"),
        ] {
            assert_eq!(normalised(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn malformed_landlines_are_refused() {
        for raw in [
            "6221234",
            "87654321",
            "0728-0221234",
            "0728-62212",
            "0728-622123",
            "0728-622123456",
            "027-876543210",
            "0128-6221234",
            "011-87654321",
            "0028-6221234",
            "0-",
            "---",
        ] {
            assert_eq!(refused(raw), PhoneError::Format, "{raw:?}");
        }
    }

    #[test]
    fn malformed_extensions_are_refused() {
        for raw in [
            "0728-6221234-1234567",
            "0728-6221234转",
            "0728-6221234转1234567",
            "0728-6221234转80转1",
            "0728-6221234转-801",
            "13800138000转801",
            "4008001234转1",
            "0728-62212转801",
        ] {
            assert_eq!(refused(raw), PhoneError::Extension, "{raw:?}");
        }
    }

    #[test]
    fn service_numbers_are_bare_digits() {
        for (raw, want) in [
            ("4008001234", "4008001234"),
            ("400-800-1234", "4008001234"),
            ("800 820 8820", "8008208820"),
        ] {
            assert_eq!(normalised(raw), want, "{raw:?}");
        }
        for raw in ["400800123", "40080012345", "5008001234", "4018001234"] {
            assert_eq!(refused(raw), PhoneError::Format, "{raw:?}");
        }
    }

    #[test]
    fn stray_characters_are_named() {
        assert_eq!(refused(""), PhoneError::Empty);
        assert_eq!(refused(" \t "), PhoneError::Empty);
        for (raw, position, found) in [
            ("tel 13800138000", 1, 't'),
            ("(027)87654321", 1, '('),
            ("138+00138000", 4, '+'),
            ("0728-6221234ext801", 13, 'e'),
            ("１３８00138000", 1, '１'),
            ("027.8765.4321", 4, '.'),
        ] {
            assert_eq!(
                refused(raw),
                PhoneError::Character { position, found },
                "{raw:?}"
            );
        }
    }

    #[test]
    fn messages_read_well_in_an_api_error() {
        assert_eq!(
            PhoneError::Format.to_string(),
            "must be a mainland mobile (11 digits starting 13–19), \
             a landline with area code, or a 400/800 number"
        );
        assert_eq!(
            refused("tel 13800138000").to_string(),
            "character 't' at position 1 is not allowed"
        );
        assert_eq!(PhoneError::Empty.to_string(), "must not be empty");
        assert_eq!(
            PhoneError::CountryCode.to_string(),
            "only +86 is accepted, and only before an 11-digit mobile"
        );
        assert_eq!(
            PhoneError::Extension.to_string(),
            "an extension must be 1–6 digits after a landline number"
        );
        let err: Box<dyn std::error::Error> = Box::new(PhoneError::Format);
        assert!(err.to_string().starts_with("must be"));
    }

    #[test]
    fn views_agree() {
        let phone = Phone::parse("0728 622 1234 转 8").unwrap();
        assert_eq!(phone.as_str(), "0728-6221234-8");
        assert_eq!(phone.to_string(), "0728-6221234-8");
        assert_eq!("0728-6221234-8".parse::<Phone>(), Ok(phone));
    }

    #[test]
    fn masking_keeps_only_what_identifies() {
        for (raw, want) in [
            ("13800138000", "138****8000"),
            ("+86 199 1234 5678", "199****5678"),
            ("0728-6221234", "0728-*****34"),
            ("0728-6221234-801", "0728-*****34"),
            ("0728-6221234转8", "0728-*****34"),
            ("027-87654321", "027-******21"),
            ("4008001234", "400*****34"),
            ("800-820-8820", "800*****20"),
        ] {
            assert_eq!(Phone::parse(raw).unwrap().masked(), want, "{raw:?}");
            assert_eq!(mask_phone(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn unparseable_text_is_masked_digit_by_digit() {
        for (raw, want) in [
            ("tel 12345", "tel ***45"),
            ("1380013800", "********00"),
            ("0728-6221234-1234567", "****-*******-*****67"),
            ("+1 (555) 010-9999", "+* (***) ***-**99"),
            ("１３８00138000", "*********00"),
            ("12", "12"),
            ("7", "7"),
            ("", ""),
            ("no digits", "no digits"),
        ] {
            assert_eq!(mask_phone(raw), want, "{raw:?}");
        }
    }
}
