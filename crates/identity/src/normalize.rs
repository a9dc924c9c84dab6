//! Username and email normalisation: one account per name however it is typed.
//!
//! `admin`, `Admin` and `ＡＤＭＩＮ` (fullwidth) are one account: the key is the NFKC form,
//! lower-cased (full Unicode case mapping), and NFKC again. Invisible and direction-changing
//! characters (zero-width, bidi controls, soft hyphen, BOM) are rejected outright, and so are
//! names that mix scripts in a way used for spoofing (e.g. Latin with Cyrillic look-alikes), per
//! Unicode TR39's single-script and "highly restrictive" profile.

use unicode_normalization::UnicodeNormalization;
use unicode_security::RestrictionLevelDetection;

/// Longest username, in bytes of its normalised form.
pub const MAX_USERNAME_BYTES: usize = 64;
/// Longest email, in bytes.
pub const MAX_EMAIL_BYTES: usize = 254;

/// Why a name was refused (the message is shown to the client with the field name).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Empty after trimming.
    #[error("must not be empty")]
    Empty,
    /// Too long.
    #[error("must be at most {0} bytes")]
    TooLong(usize),
    /// Too short.
    #[error("must be at least {0} characters")]
    TooShort(usize),
    /// Contains an invisible or bidi control character.
    #[error("contains an invisible or text-direction character (U+{0:04X})")]
    Invisible(u32),
    /// Contains a character not allowed in this field.
    #[error("contains '{0}'; use letters, digits, '.', '_' or '-'")]
    Character(char),
    /// Mixes scripts in a confusable way.
    #[error("mixes scripts (e.g. Latin and Cyrillic letters); use one script")]
    MixedScript,
    /// Not an email address.
    #[error("is not an email address (expected local@domain)")]
    NotEmail,
}

/// A username as typed (trimmed, NFKC) and its unique key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Normalized {
    /// What to display: NFKC of the input, case kept.
    pub display: String,
    /// What makes it unique: NFKC + lower case + NFKC.
    pub key: String,
}

fn check_invisible(value: &str) -> Result<(), Refusal> {
    for c in value.chars() {
        let code = c as u32;
        let invisible = matches!(code,
            0x00AD | 0x034F | 0x061C | 0x115F | 0x1160 | 0x17B4 | 0x17B5 | 0x180B..=0x180F
            | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F | 0x3164 | 0xFE00..=0xFE0F
            | 0xFEFF | 0xFFA0 | 0xFFF0..=0xFFF8 | 0xE0000..=0xE0FFF)
            || c.is_control();
        if invisible {
            return Err(Refusal::Invisible(code));
        }
    }
    Ok(())
}

fn key_of(display: &str) -> String {
    display.to_lowercase().nfkc().collect()
}

/// The key `input` would have as a username or email, without checking that it is one: for
/// comparing filter values with stored keys (`ＡＤＭＩＮ` → `admin`, and substrings alike).
pub fn search_key(input: &str) -> String {
    let display: String = input.trim().nfkc().collect();
    key_of(&display)
}

/// Normalises a username: 3..=64 bytes of letters, digits, `.`, `_`, `-`, in one script.
pub fn username(input: &str) -> Result<Normalized, Refusal> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(Refusal::Empty);
    }
    check_invisible(trimmed)?;
    let display: String = trimmed.nfkc().collect();
    let key = key_of(&display);
    if key.len() > MAX_USERNAME_BYTES {
        return Err(Refusal::TooLong(MAX_USERNAME_BYTES));
    }
    if key.chars().count() < 3 {
        return Err(Refusal::TooShort(3));
    }
    if let Some(bad) = key
        .chars()
        .find(|c| !(c.is_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(Refusal::Character(bad));
    }
    if !is_single_script_enough(&key) {
        return Err(Refusal::MixedScript);
    }
    Ok(Normalized { display, key })
}

/// Normalises an email: one `@`, a non-empty local part and a dotted domain; the whole address is
/// case-folded for uniqueness (mailbox local parts are case-insensitive in practice).
pub fn email(input: &str) -> Result<Normalized, Refusal> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(Refusal::Empty);
    }
    check_invisible(trimmed)?;
    let display: String = trimmed.nfkc().collect();
    if display.len() > MAX_EMAIL_BYTES {
        return Err(Refusal::TooLong(MAX_EMAIL_BYTES));
    }
    let (local, domain) = display.rsplit_once('@').ok_or(Refusal::NotEmail)?;
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-'));
    if local.is_empty()
        || local.contains('@')
        || local.chars().any(char::is_whitespace)
        || !domain_ok
    {
        return Err(Refusal::NotEmail);
    }
    let key = key_of(&display);
    if !is_single_script_enough(&key) {
        return Err(Refusal::MixedScript);
    }
    Ok(Normalized { display, key })
}

fn is_single_script_enough(value: &str) -> bool {
    use unicode_security::RestrictionLevel;
    // Punctuation (`@`, `.`) is outside TR39's identifier profile; judge the letters and digits.
    let letters: String = value.chars().filter(|c| c.is_alphanumeric()).collect();
    letters.detect_restriction_level() <= RestrictionLevel::HighlyRestrictive
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_and_width_variants_are_one_account() {
        let keys: Vec<String> = ["admin", "Admin", "ＡＤＭＩＮ", " ADMIN "]
            .iter()
            .map(|name| username(name).expect("valid").key)
            .collect();
        assert!(keys.iter().all(|key| key == "admin"), "{keys:?}");
        assert_eq!(username("Admin").expect("valid").display, "Admin");
    }

    #[test]
    fn invisible_and_bidi_characters_are_refused() {
        assert_eq!(username("ad\u{200B}min"), Err(Refusal::Invisible(0x200B)));
        assert_eq!(username("admin\u{202E}"), Err(Refusal::Invisible(0x202E)));
        assert_eq!(username("\u{FEFF}admin"), Err(Refusal::Invisible(0xFEFF)));
        assert!(matches!(
            username("ad\u{00AD}min"),
            Err(Refusal::Invisible(_))
        ));
    }

    #[test]
    fn confusable_mixed_scripts_are_refused_single_scripts_allowed() {
        // "аdmin" with a Cyrillic а (U+0430).
        assert_eq!(username("\u{0430}dmin"), Err(Refusal::MixedScript));
        assert!(username("пользователь").is_ok(), "all-Cyrillic is fine");
        assert!(username("ユーザー名").is_ok(), "Japanese is fine");
        assert!(username("user_42.x-y").is_ok());
    }

    #[test]
    fn shape_rules_name_the_problem() {
        assert_eq!(username("   "), Err(Refusal::Empty));
        assert_eq!(username("ab"), Err(Refusal::TooShort(3)));
        assert_eq!(username(&"a".repeat(65)), Err(Refusal::TooLong(64)));
        assert_eq!(username("a b c"), Err(Refusal::Character(' ')));
        assert_eq!(username("al@ice"), Err(Refusal::Character('@')));
    }

    #[test]
    fn search_keys_fold_like_stored_keys() {
        assert_eq!(search_key(" ＡＤＭＩＮ "), "admin");
        assert_eq!(search_key("Example.ORG"), "example.org");
        assert_eq!(
            search_key("ＡＤ"),
            "ad",
            "no shape rules: substrings fold too"
        );
    }

    #[test]
    fn emails_are_case_folded_and_checked() {
        assert_eq!(
            email("Alice@Example.ORG").expect("valid").key,
            "alice@example.org"
        );
        assert_eq!(email("alice"), Err(Refusal::NotEmail));
        assert_eq!(email("alice@localhost"), Err(Refusal::NotEmail));
        assert_eq!(email("@example.org"), Err(Refusal::NotEmail));
    }
}
