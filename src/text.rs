//! The one rule for a line of free text that one person types and others read later: key
//! names, token notes, a robot's description and region, an admin's reason. Such a line may not
//! hold control characters (line breaks, tabs, terminal escapes), line or paragraph separators,
//! nor the invisible marks that reorder text (Unicode bidi controls), which can make a name read
//! as something else ("exe.txt" shown for "txt.exe"). Right-to-left scripts themselves are fine.

/// What a refusal under this rule says about the characters, to end a sentence with.
pub const FORBIDDEN: &str = "control characters (such as tabs, line breaks or text-direction \
     marks)";

/// Whether `c` may not appear in a one-line text field.
pub fn is_forbidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            // Arabic letter mark, left-to-right and right-to-left marks
            '\u{061c}' | '\u{200e}' | '\u{200f}'
            // line and paragraph separators
            | '\u{2028}' | '\u{2029}'
            // embeddings, overrides and isolates
            | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// Whether `text` holds any character [`is_forbidden`] refuses.
pub fn has_forbidden(text: &str) -> bool {
    text.chars().any(is_forbidden)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_controls_separators_and_direction_marks_only() {
        for bad in [
            "a\nb",
            "a\tb",
            "a\u{1b}[31m",
            "a\u{85}b",
            "a\u{202e}b",
            "a\u{2066}b",
            "a\u{2069}",
            "\u{200f}",
            "\u{061c}x",
            "a\u{2028}b",
            "a\u{2029}b",
            "\u{202a}",
        ] {
            assert!(has_forbidden(bad), "{bad:?}");
        }
        for good in [
            "lab laptop",
            "Zoë's arm",
            "מעבדה 4",
            "مختبر",
            "ロボット",
            "a–b “c”",
            "",
        ] {
            assert!(!has_forbidden(good), "{good:?}");
        }
    }
}
