//! The password rule for staff and admin accounts, in one place: the API and
//! the command line both make a [`Password`] before an account is created.

use std::fmt;

/// A password long enough to be accepted. Its text is never shown: `Debug`
/// prints a placeholder.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

/// Why a password was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooShort;

impl Password {
    pub const MIN_CHARS: usize = 10;

    pub fn parse(text: &str) -> Result<Password, TooShort> {
        if text.chars().count() < Self::MIN_CHARS {
            return Err(TooShort);
        }
        Ok(Password(text.to_string()))
    }

    /// The text, for hashing.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(…)")
    }
}

impl fmt::Display for TooShort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "must be at least {} characters", Password::MIN_CHARS)
    }
}

impl std::error::Error for TooShort {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_characters_are_enough_counted_as_characters() {
        assert_eq!(Password::parse("short"), Err(TooShort));
        assert_eq!(Password::parse("123456789"), Err(TooShort));
        assert_eq!(
            Password::parse("1234567890").unwrap().as_str(),
            "1234567890"
        );
        // Characters, not bytes: ten CJK characters are enough, nine are not.
        assert!(Password::parse("十个汉字的密码刚好够").is_ok());
        assert_eq!(Password::parse("九个汉字的密码不够"), Err(TooShort));
        assert_eq!(TooShort.to_string(), "must be at least 10 characters");
    }

    #[test]
    fn the_text_never_reaches_a_log() {
        let password = Password::parse("secret-enough").unwrap();
        assert_eq!(format!("{password:?}"), "Password(…)");
    }
}
