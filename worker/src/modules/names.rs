//! Look-alike names: the folded form reserved words are matched on, and the one-script-per-
//! word rule. Pure functions, no tables beyond the small ones here (no dependency: the
//! letters that can spell a Latin reserved word are few, and the fold only has to catch
//! those; it is not a general Unicode confusable skeleton).
//!
//! [`fold`] maps a name to what it looks like: full-width forms (U+FF01..U+FF5E), the
//! mathematical alphanumerics, circled letters and Roman numerals to ASCII as NFKC does,
//! then Greek, Cyrillic and a few Latin-extended letters that look like a Latin letter to
//! that letter, then lower case. `Αdmin` (Greek Alpha), `ѕystem` (Cyrillic dze), `ＧＭ`
//! and `Lukѕeun` fold to `admin`, `system`, `gm` and `lukseun`.
//!
//! [`mixed_script_word`] finds a word (a run between non-alphanumeric characters such as
//! `_`) holding letters of two scripts, e.g. Latin and Cyrillic. Han, kana, bopomofo and
//! Hangul may join one other script (`小明abc` is a name Chinese players write), as
//! Unicode's "highly restrictive" profile allows; digits belong to no script.

/// What a name looks like: [`fold_char`] of each character, lower-cased.
pub fn fold(name: &str) -> String {
    name.chars()
        .map(fold_char)
        .flat_map(char::to_lowercase)
        .collect()
}

/// One character to the ASCII letter or digit it looks like, or itself.
pub fn fold_char(c: char) -> char {
    let width = width_fold(c);
    if width != c {
        return width;
    }
    CONFUSABLES
        .iter()
        .find(|(from, _)| *from == c)
        .map_or(c, |(_, to)| *to)
}

/// The compatibility forms NFKC maps to one ASCII character.
fn width_fold(c: char) -> char {
    let n = c as u32;
    let ascii = |v: u32| char::from_u32(v).unwrap_or(c);
    match n {
        // Full-width ASCII: ！ .. ～.
        0xFF01..=0xFF5E => ascii(n - 0xFEE0),
        // Mathematical alphanumerics: 13 alphabets of A-Z a-z in a row (the holes are
        // unassigned), then digits in runs of ten.
        0x1D400..=0x1D6A3 => {
            let i = (n - 0x1D400) % 52;
            ascii(if i < 26 {
                'A' as u32 + i
            } else {
                'a' as u32 + i - 26
            })
        }
        0x1D7CE..=0x1D7FF => ascii('0' as u32 + (n - 0x1D7CE) % 10),
        // Circled Ⓐ..Ⓩ and ⓐ..ⓩ.
        0x24B6..=0x24CF => ascii('A' as u32 + n - 0x24B6),
        0x24D0..=0x24E9 => ascii('a' as u32 + n - 0x24D0),
        _ => c,
    }
}

/// Letters of other scripts (and Latin-extended and letterlike forms) that look like one
/// Latin letter. Upper and lower case both: `Н` looks like H, its lower case `н` does not.
const CONFUSABLES: &[(char, char)] = &[
    // Greek.
    ('Α', 'a'),
    ('Β', 'b'),
    ('Ε', 'e'),
    ('Ζ', 'z'),
    ('Η', 'h'),
    ('Ι', 'i'),
    ('Κ', 'k'),
    ('Μ', 'm'),
    ('Ν', 'n'),
    ('Ο', 'o'),
    ('Ρ', 'p'),
    ('Τ', 't'),
    ('Υ', 'y'),
    ('Χ', 'x'),
    ('Ϲ', 'c'),
    ('Ϳ', 'j'),
    ('α', 'a'),
    ('β', 'b'),
    ('γ', 'y'),
    ('ε', 'e'),
    ('η', 'n'),
    ('ι', 'i'),
    ('κ', 'k'),
    ('ν', 'v'),
    ('ο', 'o'),
    ('ρ', 'p'),
    ('τ', 't'),
    ('υ', 'u'),
    ('χ', 'x'),
    ('ω', 'w'),
    ('ς', 's'),
    ('ϲ', 'c'),
    ('ϳ', 'j'),
    // Cyrillic.
    ('А', 'a'),
    ('В', 'b'),
    ('Е', 'e'),
    ('Ѕ', 's'),
    ('І', 'i'),
    ('Ј', 'j'),
    ('К', 'k'),
    ('М', 'm'),
    ('Н', 'h'),
    ('О', 'o'),
    ('Р', 'p'),
    ('С', 'c'),
    ('Т', 't'),
    ('Х', 'x'),
    ('У', 'y'),
    ('Ү', 'y'),
    ('Ԁ', 'd'),
    ('Ԛ', 'q'),
    ('Ԝ', 'w'),
    ('Һ', 'h'),
    ('Ӏ', 'l'),
    ('а', 'a'),
    ('в', 'b'),
    ('е', 'e'),
    ('ѕ', 's'),
    ('і', 'i'),
    ('ј', 'j'),
    ('к', 'k'),
    ('м', 'm'),
    ('н', 'h'),
    ('о', 'o'),
    ('р', 'p'),
    ('с', 'c'),
    ('т', 't'),
    ('х', 'x'),
    ('у', 'y'),
    ('ү', 'y'),
    ('ԁ', 'd'),
    ('ԛ', 'q'),
    ('ԝ', 'w'),
    ('һ', 'h'),
    ('ӏ', 'l'),
    ('ѵ', 'v'),
    ('ɡ', 'g'),
    // Latin extended and letterlike.
    ('ı', 'i'),
    ('ɑ', 'a'),
    ('ɩ', 'i'),
    ('ℓ', 'l'),
    ('ℎ', 'h'),
    ('ℯ', 'e'),
    ('ℴ', 'o'),
    ('ℹ', 'i'),
    ('\u{212A}', 'k'),
    ('ℳ', 'm'),
    ('ᴀ', 'a'),
    ('ᴍ', 'm'),
    ('ꜱ', 's'),
    ('ɢ', 'g'),
    // Roman numerals (NFKC: letters).
    ('Ⅰ', 'i'),
    ('Ⅴ', 'v'),
    ('Ⅹ', 'x'),
    ('Ⅼ', 'l'),
    ('Ⅽ', 'c'),
    ('Ⅾ', 'd'),
    ('Ⅿ', 'm'),
    ('ⅰ', 'i'),
    ('ⅴ', 'v'),
    ('ⅹ', 'x'),
    ('ⅼ', 'l'),
    ('ⅽ', 'c'),
    ('ⅾ', 'd'),
    ('ⅿ', 'm'),
];

/// The script a letter is written in, as far as mixing goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Script {
    /// Digits, `_` and anything not a letter: joins any script.
    Common,
    Latin,
    Greek,
    Cyrillic,
    /// Han, kana, bopomofo, Hangul: may join one other script.
    Cjk,
    /// Any other script, told apart by its 256-code-point page (Arabic, Thai, Cherokee...).
    Other(u32),
}

fn script(c: char) -> Script {
    let c = width_fold(c);
    if !c.is_alphabetic() {
        return Script::Common;
    }
    let n = c as u32;
    match n {
        0x41..=0x5A | 0x61..=0x7A | 0xAA | 0xBA | 0xC0..=0x2AF | 0x1D00..=0x1DBF => Script::Latin,
        0x1E00..=0x1EFF | 0x2C60..=0x2C7F | 0xA720..=0xA7FF | 0xAB30..=0xAB6F => Script::Latin,
        0x2100..=0x214F | 0x2160..=0x2188 | 0x1D400..=0x1D7FF => Script::Latin,
        0x370..=0x3FF | 0x1F00..=0x1FFF => Script::Greek,
        0x400..=0x52F | 0x1C80..=0x1C8F | 0x2DE0..=0x2DFF | 0xA640..=0xA69F => Script::Cyrillic,
        0x1100..=0x11FF | 0x2E80..=0x2FDF | 0x3005..=0x3007 | 0x3021..=0x3029 => Script::Cjk,
        0x3031..=0x31FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xA960..=0xA97F => Script::Cjk,
        0xAC00..=0xD7FF | 0xF900..=0xFAFF | 0xFF66..=0xFFDC | 0x20000..=0x3FFFF => Script::Cjk,
        _ => Script::Other(n >> 8),
    }
}

/// The first word of `name` whose letters come from two scripts (besides the CJK group);
/// `None` when every word keeps to one.
pub fn mixed_script_word(name: &str) -> Option<&str> {
    name.split(|c: char| !c.is_alphanumeric()).find(|word| {
        let mut seen: Option<Script> = None;
        word.chars().map(script).any(|s| match s {
            Script::Common | Script::Cjk => false,
            s => *seen.get_or_insert(s) != s,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_alikes_fold_to_the_word_they_spell() {
        for (name, folded) in [
            ("Αdmin", "admin"),     // Greek capital Alpha
            ("ѕystem", "system"),   // Cyrillic dze
            ("ＧＭ", "gm"),         // full width
            ("Lukѕeun", "lukseun"), // Cyrillic dze inside
            ("АDМІN", "admin"),     // Cyrillic A, M, I
            ("ЅУЅТЕМ", "system"),   // all Cyrillic
            ("𝐀𝐝𝐦𝐢𝐧", "admin"),     // mathematical bold
            ("ⓖⓜ", "gm"),           // circled
            ("adⅿⅰn", "admin"),     // Roman numerals
            ("ＡＢＣ１２３", "abc123"),
            ("小明_abc", "小明_abc"),
            ("Иван", "иbah"), // Cyrillic that is no Latin word folds harmlessly
        ] {
            assert_eq!(fold(name), folded, "{name:?}");
        }
        assert_eq!(fold_char('Ａ'), 'A');
        assert_eq!(fold_char('ｚ'), 'z');
        assert_eq!(fold_char('～'), '~');
        assert_eq!(fold_char('\u{1D7CF}'), '1'); // mathematical bold digit one
        assert_eq!(fold_char('字'), '字');
    }

    #[test]
    fn a_word_keeps_to_one_script_but_cjk_may_join() {
        for mixed in ["Αdmin", "ѕystem", "Lukѕeun", "abc_Иван_xyz_Ꭺbc"] {
            assert!(mixed_script_word(mixed).is_some(), "{mixed:?}");
        }
        assert_eq!(mixed_script_word("ok_Lukѕeun_ok"), Some("Lukѕeun"));
        for fine in [
            "Player1",
            "小明abc",
            "小明",
            "игрок_7",
            "Ελένη",
            "さくら桜",
            "김철수abc",
            "ＧＭ",
            "abc_Иван",
            "Zoë",
            "Nguyễn",
            "مرحبا",
            "ไทย",
            "123",
            "_",
        ] {
            assert_eq!(mixed_script_word(fine), None, "{fine:?}");
        }
    }
}
