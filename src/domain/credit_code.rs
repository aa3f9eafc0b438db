//! The unified social credit code (统一社会信用代码, GB 32100-2015).
//!
//! Only the GB 32100 check character is verified. Positions 9–17 embed an
//! organisation code (GB 11714) with its own check digit, but the national
//! registry issues codes whose inner digit does not verify, so checking it
//! would refuse real merchants.

use std::fmt;
use std::str::FromStr;

const LEN: usize = 18;

/// The code alphabet: digits and capitals without I, O, Z, S, V, which are
/// too easily confused with 1, 0, 2, 5, U.
const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// Weight of positions 1..=17 (3^(i-1) mod 31).
const WEIGHTS: [u32; LEN - 1] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// A credit code known to be well formed, so routing can compare codes as
/// plain strings.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CreditCode(String);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreditCodeError {
    Length,
    /// `position` is 1-based, as people count characters on a licence.
    Character {
        position: usize,
        found: char,
    },
    CheckCharacter {
        expected: char,
        found: char,
    },
}

impl fmt::Display for CreditCodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CreditCodeError::Length => f.write_str("must be 18 characters"),
            CreditCodeError::Character { position, found } => {
                write!(
                    f,
                    "character {found:?} at position {position} is not allowed"
                )
            }
            CreditCodeError::CheckCharacter { expected, found } => {
                write!(f, "check character should be {expected:?}, found {found:?}")
            }
        }
    }
}

impl std::error::Error for CreditCodeError {}

fn value(c: char) -> Option<u32> {
    ALPHABET
        .iter()
        .position(|&b| char::from(b) == c)
        .and_then(|i| u32::try_from(i).ok())
}

impl CreditCode {
    /// Lowercase and surrounding whitespace are forgiven because codes are
    /// often copied from web pages or typed from paper licences.
    pub fn parse(input: &str) -> Result<CreditCode, CreditCodeError> {
        let code = input.trim().to_ascii_uppercase();
        let chars: Vec<char> = code.chars().collect();
        if chars.len() != LEN {
            return Err(CreditCodeError::Length);
        }
        let [body @ .., found] = chars.as_slice() else {
            return Err(CreditCodeError::Length);
        };
        let mut sum = 0;
        for (i, (&c, weight)) in body.iter().zip(WEIGHTS).enumerate() {
            let v = value(c).ok_or(CreditCodeError::Character {
                position: i + 1,
                found: c,
            })?;
            sum += v * weight;
        }
        if value(*found).is_none() {
            return Err(CreditCodeError::Character {
                position: LEN,
                found: *found,
            });
        }
        let expected = char::from(ALPHABET[((31 - sum % 31) % 31) as usize]);
        if *found != expected {
            return Err(CreditCodeError::CheckCharacter {
                expected,
                found: *found,
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

    const KNOWN: [&str; 4] = [
        "91420000177570439L",
        "91350100M000100Y43",
        "91110000802100433B",
        "91310000775785552L",
    ];

    /// Deliberately not sharing the module's tables: the alphabet is spelled
    /// out and the weights are derived as powers of 3.
    const CHARS: [char; 31] = [
        '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H',
        'J', 'K', 'L', 'M', 'N', 'P', 'Q', 'R', 'T', 'U', 'W', 'X', 'Y',
    ];

    fn check_char(body: &str) -> char {
        assert_eq!(body.chars().count(), 17, "{body}");
        let mut weight = 1;
        let mut sum = 0;
        for c in body.chars() {
            let v = CHARS.iter().position(|&x| x == c).unwrap();
            sum += v * weight;
            weight = weight * 3 % 31;
        }
        CHARS[(31 - sum % 31) % 31]
    }

    fn valid(body: &str) -> String {
        format!("{body}{}", check_char(body))
    }

    fn bodies() -> Vec<String> {
        let mut all: Vec<String> = KNOWN.iter().map(|c| c[..17].to_string()).collect();
        all.extend(
            [
                "91429005MA4900001",
                "92429005MA4900003",
                "11100000000013127",
                "52420000MJH123456",
                "00000000000000000",
                "YYYYYYYYYYYYYYYYY",
            ]
            .map(String::from),
        );
        all
    }

    #[test]
    fn known_codes_are_accepted() {
        for code in KNOWN {
            assert_eq!(CreditCode::parse(code).unwrap().as_str(), code);
        }
    }

    #[test]
    fn helper_agrees_with_known_codes() {
        for code in KNOWN {
            assert_eq!(valid(&code[..17]), code);
        }
    }

    #[test]
    fn weights_are_powers_of_three() {
        let mut w = 1;
        for expected in WEIGHTS {
            assert_eq!(w, expected);
            w = w * 3 % 31;
        }
    }

    #[test]
    fn built_codes_are_accepted() {
        for body in bodies() {
            let code = valid(&body);
            assert_eq!(CreditCode::parse(&code).unwrap().as_str(), code);
        }
    }

    #[test]
    fn lowercase_and_surrounding_whitespace_are_forgiven() {
        for raw in [
            "91350100m000100y43",
            "  91350100M000100Y43 ",
            "\t91350100m000100Y43\n",
            "\u{3000}91350100M000100Y43\u{3000}",
        ] {
            assert_eq!(
                CreditCode::parse(raw).unwrap().as_str(),
                "91350100M000100Y43",
                "{raw:?}"
            );
        }
    }

    #[test]
    fn wrong_length_is_refused() {
        for raw in [
            "",
            "   ",
            "9",
            "91420000177570439",
            "91420000177570439LL",
            "9142 0000177570439L",
            "914200001775704391234",
        ] {
            assert_eq!(
                CreditCode::parse(raw),
                Err(CreditCodeError::Length),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn non_ascii_counts_as_one_character() {
        assert_eq!(
            CreditCode::parse("91420000177570439码"),
            Err(CreditCodeError::Character {
                position: 18,
                found: '码'
            })
        );
    }

    #[test]
    fn forbidden_letters_are_named_with_position() {
        for bad in ['I', 'O', 'Z', 'S', 'V'] {
            for position in [1, 5, 9, 17, 18] {
                let mut chars: Vec<char> = KNOWN[0].chars().collect();
                chars[position - 1] = bad;
                let raw: String = chars.iter().collect();
                assert_eq!(
                    CreditCode::parse(&raw),
                    Err(CreditCodeError::Character {
                        position,
                        found: bad
                    }),
                    "{raw}"
                );
                assert_eq!(
                    CreditCode::parse(&raw.to_lowercase()),
                    Err(CreditCodeError::Character {
                        position,
                        found: bad
                    }),
                    "{raw}"
                );
            }
        }
        assert_eq!(
            CreditCode::parse("9142-000177570439L"),
            Err(CreditCodeError::Character {
                position: 5,
                found: '-'
            })
        );
    }

    #[test]
    fn every_wrong_check_character_is_refused() {
        for body in bodies() {
            let expected = check_char(&body);
            for found in CHARS.into_iter().filter(|&c| c != expected) {
                assert_eq!(
                    CreditCode::parse(&format!("{body}{found}")),
                    Err(CreditCodeError::CheckCharacter { expected, found }),
                    "{body}{found}"
                );
            }
        }
    }

    #[test]
    fn exactly_one_check_character_fits_each_body() {
        for body in bodies() {
            let fits: Vec<char> = CHARS
                .into_iter()
                .filter(|c| CreditCode::parse(&format!("{body}{c}")).is_ok())
                .collect();
            assert_eq!(fits, vec![check_char(&body)], "{body}");
        }
    }

    #[test]
    fn every_single_substitution_in_the_body_is_caught() {
        for code in KNOWN {
            for position in 0..17 {
                for c in CHARS {
                    let mut chars: Vec<char> = code.chars().collect();
                    if chars[position] == c {
                        continue;
                    }
                    chars[position] = c;
                    let raw: String = chars.iter().collect();
                    assert!(
                        matches!(
                            CreditCode::parse(&raw),
                            Err(CreditCodeError::CheckCharacter { .. })
                        ),
                        "{raw}"
                    );
                }
            }
        }
    }

    #[test]
    fn messages_read_well_in_an_api_error() {
        assert_eq!(CreditCodeError::Length.to_string(), "must be 18 characters");
        assert_eq!(
            CreditCode::parse("9142I000177570439L")
                .unwrap_err()
                .to_string(),
            "character 'I' at position 5 is not allowed"
        );
        assert_eq!(
            CreditCode::parse("91420000177570439X")
                .unwrap_err()
                .to_string(),
            "check character should be 'L', found 'X'"
        );
        let err: Box<dyn std::error::Error> = Box::new(CreditCodeError::Length);
        assert_eq!(err.to_string(), "must be 18 characters");
    }

    #[test]
    fn views_agree() {
        let code = CreditCode::parse("91110000802100433b").unwrap();
        assert_eq!(code.as_str(), "91110000802100433B");
        assert_eq!(code.to_string(), "91110000802100433B");
        assert_eq!(code.as_ref(), "91110000802100433B");
        assert_eq!("91110000802100433B".parse::<CreditCode>(), Ok(code));
    }
}
