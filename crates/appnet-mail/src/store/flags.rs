//! Message flags as IMAP sees them (RFC 3501 §2.3.2) and as Maildir stores them: the letters
//! after `:2,` in a file's name (D draft, F flagged, P passed, R replied, S seen, T trashed),
//! and keywords as the lower-case letters `a`–`z`, each standing for a name listed in the
//! mailbox's `dovecot-keywords` file — the convention Dovecot reads, so both servers agree.

use std::collections::BTreeSet;

/// The system flags and keywords of one message. `\Recent` is not here: it belongs to the
/// session that first sees a message, not to the message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Flags {
    pub seen: bool,
    pub answered: bool,
    pub flagged: bool,
    pub deleted: bool,
    pub draft: bool,
    /// Maildir's P (passed): forwarded. IMAP has no system flag for it; shown as `$Forwarded`.
    pub forwarded: bool,
    /// Keywords, as the client named them (case preserved, compared without case).
    pub keywords: BTreeSet<String>,
}

/// A flag as it appears in IMAP commands and responses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flag {
    Seen,
    Answered,
    Flagged,
    Deleted,
    Draft,
    Keyword(String),
}

impl Flag {
    /// `\Seen` and the other system flags (case-insensitive), or a keyword atom.
    pub fn parse(text: &str) -> Option<Flag> {
        let flag = match text.to_ascii_lowercase().as_str() {
            "\\seen" => Flag::Seen,
            "\\answered" => Flag::Answered,
            "\\flagged" => Flag::Flagged,
            "\\deleted" => Flag::Deleted,
            "\\draft" => Flag::Draft,
            _ if text.starts_with('\\') || text.is_empty() => return None,
            _ => Flag::Keyword(text.to_string()),
        };
        Some(flag)
    }
}

impl Flags {
    pub fn contains(&self, flag: &Flag) -> bool {
        match flag {
            Flag::Seen => self.seen,
            Flag::Answered => self.answered,
            Flag::Flagged => self.flagged,
            Flag::Deleted => self.deleted,
            Flag::Draft => self.draft,
            Flag::Keyword(word) => self.has_keyword(word),
        }
    }

    pub fn has_keyword(&self, word: &str) -> bool {
        (word.eq_ignore_ascii_case("$Forwarded") && self.forwarded)
            || self.keywords.iter().any(|k| k.eq_ignore_ascii_case(word))
    }

    pub fn set(&mut self, flag: &Flag, on: bool) {
        match flag {
            Flag::Seen => self.seen = on,
            Flag::Answered => self.answered = on,
            Flag::Flagged => self.flagged = on,
            Flag::Deleted => self.deleted = on,
            Flag::Draft => self.draft = on,
            Flag::Keyword(word) if word.eq_ignore_ascii_case("$Forwarded") => self.forwarded = on,
            Flag::Keyword(word) => {
                self.keywords.retain(|k| !k.eq_ignore_ascii_case(word));
                if on {
                    self.keywords.insert(word.clone());
                }
            }
        }
    }

    /// The flags in IMAP's order, e.g. `["\\Seen", "\\Flagged", "$Forwarded"]`.
    pub fn to_imap(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (on, name) in [
            (self.seen, "\\Seen"),
            (self.answered, "\\Answered"),
            (self.flagged, "\\Flagged"),
            (self.deleted, "\\Deleted"),
            (self.draft, "\\Draft"),
            (self.forwarded, "$Forwarded"),
        ] {
            if on {
                out.push(name.to_string());
            }
        }
        out.extend(self.keywords.iter().cloned());
        out
    }

    /// The info part of a Maildir file name (`2,FS`), letters in ASCII order as maildir(5) asks;
    /// `letter_of` gives each keyword's letter.
    pub fn to_maildir_info(&self, letter_of: impl Fn(&str) -> Option<char>) -> String {
        let mut letters: Vec<char> = Vec::new();
        for (on, letter) in [
            (self.draft, 'D'),
            (self.flagged, 'F'),
            (self.forwarded, 'P'),
            (self.answered, 'R'),
            (self.seen, 'S'),
            (self.deleted, 'T'),
        ] {
            if on {
                letters.push(letter);
            }
        }
        letters.extend(self.keywords.iter().filter_map(|k| letter_of(k)));
        letters.sort_unstable();
        letters.dedup();
        format!("2,{}", letters.into_iter().collect::<String>())
    }

    /// Flags from a Maildir info part (`2,FS`, or nothing for a message still in `new/`);
    /// `keyword_of` names each keyword letter. Unknown letters are ignored.
    pub fn from_maildir_info(info: &str, keyword_of: impl Fn(char) -> Option<String>) -> Flags {
        let mut flags = Flags::default();
        let Some(letters) = info.strip_prefix("2,") else {
            return flags;
        };
        for letter in letters.chars() {
            match letter {
                'D' => flags.draft = true,
                'F' => flags.flagged = true,
                'P' => flags.forwarded = true,
                'R' => flags.answered = true,
                'S' => flags.seen = true,
                'T' => flags.deleted = true,
                'a'..='z' => {
                    if let Some(word) = keyword_of(letter) {
                        flags.keywords.insert(word);
                    }
                }
                _ => {}
            }
        }
        flags
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maildir_info_round_trips_with_keywords() {
        let mut flags = Flags::default();
        flags.set(&Flag::Seen, true);
        flags.set(&Flag::Deleted, true);
        flags.set(&Flag::Keyword("$Forwarded".into()), true);
        flags.set(&Flag::Keyword("Work".into()), true);
        let letter = |k: &str| (k == "Work").then_some('a');
        let info = flags.to_maildir_info(letter);
        assert_eq!(info, "2,PSTa");
        let back = Flags::from_maildir_info(&info, |c| (c == 'a').then(|| "Work".to_string()));
        assert_eq!(back, flags);
        assert_eq!(
            back.to_imap(),
            vec!["\\Seen", "\\Deleted", "$Forwarded", "Work"]
        );
    }

    #[test]
    fn parses_system_flags_without_case_and_refuses_unknown_ones() {
        assert_eq!(Flag::parse("\\SEEN"), Some(Flag::Seen));
        assert_eq!(Flag::parse("\\Recent"), None);
        assert_eq!(Flag::parse("\\Bogus"), None);
        assert_eq!(Flag::parse("Junk"), Some(Flag::Keyword("Junk".into())));
        let mut flags = Flags::default();
        flags.set(&Flag::Keyword("junk".into()), true);
        assert!(flags.contains(&Flag::Keyword("JUNK".into())));
        flags.set(&Flag::Keyword("JUNK".into()), false);
        assert!(flags.keywords.is_empty());
    }
}
