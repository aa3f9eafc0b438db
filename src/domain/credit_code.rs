//! The unified social credit code (统一社会信用代码, GB 32100-2015).

use std::fmt;
use std::str::FromStr;

const ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// An 18-character code whose check character is right.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CreditCode(String);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreditCodeError {
    Length,
    Character { position: usize, found: char },
    CheckCharacter { expected: char, found: char },
}

impl fmt::Display for CreditCodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CreditCodeError::Length => f.write_str("must be 18 characters"),
            CreditCodeError::Character { position, found } => {
                write!(
                    f,
                    "character '{found}' at position {position} is not allowed"
                )
            }
            CreditCodeError::CheckCharacter { expected, found } => {
                write!(f, "check character should be '{expected}', found '{found}'")
            }
        }
    }
}

impl std::error::Error for CreditCodeError {}

fn value(c: char) -> Option<u32> {
    ALPHABET.find(c).map(|i| i as u32)
}

impl CreditCode {
    pub fn parse(input: &str) -> Result<CreditCode, CreditCodeError> {
        let code = input.trim().to_ascii_uppercase();
        let chars: Vec<char> = code.chars().collect();
        if chars.len() != 18 {
            return Err(CreditCodeError::Length);
        }
        let mut sum = 0;
        for (i, c) in chars.iter().enumerate() {
            let v = value(*c).ok_or(CreditCodeError::Character {
                position: i + 1,
                found: *c,
            })?;
            if i < 17 {
                sum += v * WEIGHTS[i];
            }
        }
        let check = (31 - sum % 31) % 31;
        let expected = ALPHABET.chars().nth(check as usize).unwrap_or('0');
        if chars[17] != expected {
            return Err(CreditCodeError::CheckCharacter {
                expected,
                found: chars[17],
            });
        }
        Ok(CreditCode(code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for CreditCode {
    type Err = CreditCodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CreditCode::parse(s)
    }
}

impl fmt::Display for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for CreditCode {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes_are_valid() {
        for code in [
            "91420000177570439L",
            "91350100M000100Y43",
            "91110000802100433B",
        ] {
            assert!(CreditCode::parse(code).is_ok(), "{code}");
        }
        assert_eq!(
            CreditCode::parse(" 91350100m000100y43 ").unwrap().as_str(),
            "91350100M000100Y43"
        );
    }

    #[test]
    fn exactly_one_check_character_fits() {
        let body = "91420000177570439";
        let fits: Vec<char> = ALPHABET
            .chars()
            .filter(|c| CreditCode::parse(&format!("{body}{c}")).is_ok())
            .collect();
        assert_eq!(fits, vec!['L']);
        assert_eq!(
            CreditCode::parse("91420000177570439X"),
            Err(CreditCodeError::CheckCharacter {
                expected: 'L',
                found: 'X'
            })
        );
    }

    #[test]
    fn bad_shapes_are_named() {
        assert_eq!(CreditCode::parse("9142"), Err(CreditCodeError::Length));
        assert_eq!(
            CreditCode::parse("9142I000177570439L"),
            Err(CreditCodeError::Character {
                position: 5,
                found: 'I'
            })
        );
        for bad in ['O', 'Z', 'S', 'V'] {
            assert!(CreditCode::parse(&format!("9142{bad}000177570439L")).is_err());
        }
    }
}
