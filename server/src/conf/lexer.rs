//! Character-level scanning for the NATS config format.
//!
//! The format is context-sensitive (what ends a token depends on whether it is a key,
//! a top-level value, an array item...), so there is no separate token stream: the
//! parser drives a [`Cursor`] and asks it for the next scalar when it expects a value.
//! The rules for scalars mirror Go's `conf/lex.go`: which characters end an unquoted
//! string, when a digit run is an integer, a float, an IP address, a datetime or just
//! the start of a string, and which escapes double-quoted strings allow.

use std::path::PathBuf;
use std::sync::Arc;

use super::{ConfError, Position};

/// A read position in config text that tracks line and column.
pub(crate) struct Cursor<'a> {
    /// The whole text.
    text: &'a str,
    /// Byte offset of the next character.
    offset: usize,
    /// 1-based line of the next character.
    line: usize,
    /// 1-based column (in characters) of the next character.
    col: usize,
    /// File named in positions.
    file: Arc<PathBuf>,
}

/// A scalar value as scanned, before numbers are converted and variables resolved.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Token {
    /// Any kind of string, escapes resolved.
    Str(String),
    /// Integer text, possibly with a size suffix (`-12`, `64MiB`).
    Int(String),
    /// Float text (`1.5`, `-0.25`).
    Float(String),
    /// An unquoted boolean word.
    Bool(bool),
    /// `YYYY-MM-DDTHH:MM:SSZ`, shape checked but not yet the ranges.
    DateTime(String),
    /// `$name`, without the `$`.
    Variable(String),
}

/// Characters that, after a number, make it an integer rather than part of a string
/// (Go's terminators for numbers). Inside arrays `]` also ends a number (see mod.rs).
fn ends_number(c: Option<char>, in_array: bool) -> bool {
    match c {
        None => true,
        Some(c) => {
            is_newline(c) || is_blank(c) || matches!(c, '}' | ';' | ',') || (in_array && c == ']')
        }
    }
}

/// Go's `isNL`: both `\n` and `\r` end lines for the lexer.
pub(crate) fn is_newline(c: char) -> bool {
    c == '\n' || c == '\r'
}

/// Go's `isWhitespace`: only space and tab (newlines are handled separately).
pub(crate) fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// `=` and `:` separate a key from its value.
pub(crate) fn is_key_separator(c: char) -> bool {
    c == '=' || c == ':'
}

/// Size suffix letters that may follow an integer (`k`, `m`, `g`, `t`, `p`, `e`).
fn is_size_suffix(c: char) -> bool {
    matches!(c.to_ascii_lowercase(), 'k' | 'm' | 'g' | 't' | 'p' | 'e')
}

/// Quotes a character for an error message; `EOF` at the end of input.
pub(crate) fn describe(c: Option<char>) -> String {
    match c {
        None => "EOF".to_string(),
        Some('\n') => "'\\n'".to_string(),
        Some('\r') => "'\\r'".to_string(),
        Some(c) => format!("'{c}'"),
    }
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `text`; a leading byte order mark is skipped.
    pub(crate) fn new(text: &'a str, file: Arc<PathBuf>) -> Self {
        let offset = if text.starts_with('\u{feff}') { 3 } else { 0 };
        Cursor {
            text,
            offset,
            line: 1,
            col: 1,
            file,
        }
    }

    /// The next character, not consumed.
    pub(crate) fn peek(&self) -> Option<char> {
        self.text[self.offset..].chars().next()
    }

    /// The character after the next one, not consumed.
    pub(crate) fn peek_second(&self) -> Option<char> {
        self.text[self.offset..].chars().nth(1)
    }

    /// Consumes and returns the next character.
    pub(crate) fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.offset += c.len_utf8();
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    /// The position of the next character.
    pub(crate) fn pos(&self) -> Position {
        Position {
            file: self.file.clone(),
            line: self.line,
            col: self.col,
        }
    }

    /// An error at the next character.
    pub(crate) fn error(&self, message: impl Into<String>) -> ConfError {
        ConfError::at(&self.pos(), message)
    }

    /// The text consumed since byte offset `start`.
    fn since(&self, start: usize) -> &'a str {
        &self.text[start..self.offset]
    }

    /// Skips spaces and tabs.
    pub(crate) fn skip_blanks(&mut self) {
        while self.peek().is_some_and(is_blank) {
            self.bump();
        }
    }

    /// Skips all Unicode whitespace, newlines included.
    pub(crate) fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    /// True when a `#` or `//` comment starts here.
    pub(crate) fn at_comment(&self) -> bool {
        match self.peek() {
            Some('#') => true,
            Some('/') => self.peek_second() == Some('/'),
            _ => false,
        }
    }

    /// Consumes a comment up to, not including, the end of its line.
    pub(crate) fn skip_comment(&mut self) {
        while self.peek().is_some_and(|c| !is_newline(c)) {
            self.bump();
        }
    }

    /// Scans a quoted key; the cursor is on the opening quote. Keys have no escapes.
    pub(crate) fn quoted_key(&mut self, eof_message: &str) -> Result<String, ConfError> {
        let quote = self.bump();
        let start = self.offset;
        loop {
            match self.peek() {
                None => return Err(self.error(eof_message)),
                c if c == quote => break,
                _ => {
                    self.bump();
                }
            }
        }
        let key = self.since(start).to_string();
        self.bump();
        Ok(key)
    }

    /// Scans the rest of an unquoted key whose first character is already consumed
    /// (from byte `start`): up to whitespace, a separator or the end of input.
    pub(crate) fn bare_key_rest(&mut self, start: usize) -> String {
        while self
            .peek()
            .is_some_and(|c| !c.is_whitespace() && !is_key_separator(c))
        {
            self.bump();
        }
        self.since(start).to_string()
    }

    /// Scans an unquoted `include` path: up to a newline, blank, `;`, `}` or the end
    /// of input (not consumed), or a single quote (consumed), as Go does.
    pub(crate) fn bare_include(&mut self) -> String {
        let start = self.offset;
        while self
            .peek()
            .is_some_and(|c| !(is_newline(c) || is_blank(c) || matches!(c, ';' | '}' | '\'')))
        {
            self.bump();
        }
        let path = self.since(start).to_string();
        if self.peek() == Some('\'') {
            self.bump();
        }
        path
    }

    /// Byte offset of the next character, to mark where a token starts.
    pub(crate) fn offset(&self) -> usize {
        self.offset
    }

    /// Scans a scalar value starting at the next character (blanks already skipped;
    /// the parser handles `[`, `{` and the errors for a newline or a leading `.`).
    pub(crate) fn scalar(&mut self, in_array: bool) -> Result<Token, ConfError> {
        match self.peek() {
            Some('\'') => self.single_quoted(),
            Some('"') => self.double_quoted(),
            Some('-') => self.negative_number(in_array),
            Some('(') => self.block_string(),
            Some(c) if c.is_ascii_digit() => self.number(in_array),
            _ => self.unquoted(self.offset),
        }
    }

    /// `'...'`: everything up to the next single quote, taken literally.
    fn single_quoted(&mut self) -> Result<Token, ConfError> {
        self.bump();
        let start = self.offset;
        loop {
            match self.peek() {
                None => return Err(self.error("Unexpected EOF.")),
                Some('\'') => break,
                Some(_) => {
                    self.bump();
                }
            }
        }
        let text = self.since(start).to_string();
        self.bump();
        Ok(Token::Str(text))
    }

    /// `"..."`: may span lines; backslash escapes `\xHH \t \n \r \" \\`.
    fn double_quoted(&mut self) -> Result<Token, ConfError> {
        self.bump();
        let mut bytes = Vec::new();
        loop {
            match self.bump() {
                None => return Err(self.error("Unexpected EOF.")),
                Some('"') => break,
                Some('\\') => self.escape(&mut bytes)?,
                Some(c) => push_char(&mut bytes, c),
            }
        }
        Ok(Token::Str(String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// Resolves one escape; the backslash is consumed. `\x` may produce any byte, so
    /// strings are built as bytes (Go strings are bytes too).
    fn escape(&mut self, out: &mut Vec<u8>) -> Result<(), ConfError> {
        let pos = self.pos();
        match self.bump() {
            Some('x') => out.push(self.hex_byte()?),
            Some('t') => out.push(b'\t'),
            Some('n') => out.push(b'\n'),
            Some('r') => out.push(b'\r'),
            Some('"') => out.push(b'"'),
            Some('\\') => out.push(b'\\'),
            other => {
                let shown = other.map_or("EOF".to_string(), |c| c.to_string());
                return Err(ConfError::at(
                    &pos,
                    format!(
                        "Invalid escape character '{shown}'. Only the following escape \
                         characters are allowed: \\xXX, \\t, \\n, \\r, \\\", \\\\."
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The two hex digits after `\x`.
    fn hex_byte(&mut self) -> Result<u8, ConfError> {
        let start = self.pos();
        let mut digits = String::new();
        for _ in 0..2 {
            let pos = self.pos();
            match self.bump() {
                Some(c) if is_newline(c) => {
                    return Err(ConfError::at(
                        &pos,
                        "Expected two hexadecimal digits after '\\x', but hit end of line",
                    ))
                }
                Some(c) => digits.push(c),
                None => break,
            }
        }
        if digits.len() == 2 && digits.chars().all(|c| c.is_ascii_hexdigit()) {
            if let Ok(b) = u8::from_str_radix(&digits, 16) {
                return Ok(b);
            }
        }
        Err(ConfError::at(
            &start,
            format!("Expected two hexadecimal digits after '\\x', but got '{digits}'"),
        ))
    }

    /// An unquoted string whose text starts at byte `start` (a number that turned out
    /// to be a string has already consumed some of it). It ends at a newline, blank,
    /// `;`, `,`, `]`, `}` or end of input (not consumed), or at a single quote
    /// (consumed). Unescaped words may be booleans or `$variables`.
    fn unquoted(&mut self, start: usize) -> Result<Token, ConfError> {
        let mut bytes = self.since(start).as_bytes().to_vec();
        let mut escaped = false;
        loop {
            match self.peek() {
                None => break,
                Some(c) if is_newline(c) || is_blank(c) || matches!(c, ';' | ',' | ']' | '}') => {
                    break
                }
                Some('\'') => {
                    self.bump();
                    return Ok(Token::Str(String::from_utf8_lossy(&bytes).into_owned()));
                }
                Some('\\') => {
                    self.bump();
                    self.escape(&mut bytes)?;
                    escaped = true;
                }
                Some(c) => {
                    self.bump();
                    push_char(&mut bytes, c);
                }
            }
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        Ok(classify_word(text, escaped))
    }

    /// A value starting with a digit: an integer (maybe with a size suffix), a float,
    /// an IP-like string (`127.0.0.1:4222`), a datetime, or a string such as `4abc`.
    fn number(&mut self, in_array: bool) -> Result<Token, ConfError> {
        let start = self.offset;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
        }
        match self.peek() {
            Some('-') if self.offset - start == 4 => {
                self.bump();
                self.datetime_rest(start)
            }
            Some('-') => Err(self.error("All ISO8601 dates must be in full Zulu form.")),
            Some('.') => self.fraction(start),
            Some(c) if is_size_suffix(c) => self.size_suffix(start, in_array),
            c if ends_number(c, in_array) => Ok(Token::Int(self.since(start).to_string())),
            _ => {
                // Go consumes this character without looking at it (so a backslash
                // here is not an escape) and carries on as an unquoted string.
                self.bump();
                self.unquoted(start)
            }
        }
    }

    /// A value starting with `-`: a negative integer or float. Unlike positive numbers
    /// these never turn into strings.
    fn negative_number(&mut self, in_array: bool) -> Result<Token, ConfError> {
        let start = self.offset;
        self.bump();
        match self.peek() {
            Some(c) if c.is_ascii_digit() => {}
            Some('.') => return Err(self.error("Floats must start with a digit, not '.'.")),
            c => {
                return Err(self.error(format!("Expected a digit but got {}.", describe(c))));
            }
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
        }
        match self.peek() {
            Some('.') => self.fraction(start),
            Some(c) if is_size_suffix(c) => self.size_suffix(start, in_array),
            _ => Ok(Token::Int(self.since(start).to_string())),
        }
    }

    /// After the digits of a number, at a `.`: a float, or with a second `.` an
    /// IP-like string of digits, dots, colons and dashes.
    fn fraction(&mut self, start: usize) -> Result<Token, ConfError> {
        self.bump();
        match self.peek() {
            Some(c) if c.is_ascii_digit() => {}
            c => {
                return Err(self.error(format!(
                    "Floats must have a digit after the '.', but got {} instead.",
                    describe(c)
                )))
            }
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
        }
        if self.peek() != Some('.') {
            return Ok(Token::Float(self.since(start).to_string()));
        }
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_digit() || matches!(c, '.' | ':' | '-'))
        {
            self.bump();
        }
        Ok(Token::Str(self.since(start).to_string()))
    }

    /// After the digits of a number, at a size letter: the letter and any `b`/`i`
    /// letters after it. Followed by a value end it is an integer (the parser checks
    /// the suffix); followed by anything else the whole word is a string (`1kx`, and,
    /// as in current Go, `1k5`).
    fn size_suffix(&mut self, start: usize, in_array: bool) -> Result<Token, ConfError> {
        self.bump();
        while self
            .peek()
            .is_some_and(|c| matches!(c, 'b' | 'B' | 'i' | 'I'))
        {
            self.bump();
        }
        if ends_number(self.peek(), in_array) {
            Ok(Token::Int(self.since(start).to_string()))
        } else {
            self.unquoted(start)
        }
    }

    /// The rest of `YYYY-MM-DDTHH:MM:SSZ` after `YYYY-`.
    fn datetime_rest(&mut self, start: usize) -> Result<Token, ConfError> {
        for expected in "00-00T00:00:00Z".chars() {
            let c = self.peek();
            let ok = match expected {
                '0' => c.is_some_and(|c| c.is_ascii_digit()),
                e => c == Some(e),
            };
            if !ok {
                let wanted = if expected == '0' {
                    "digit".to_string()
                } else {
                    format!("'{expected}'")
                };
                return Err(self.error(format!(
                    "Expected {wanted} in ISO8601 datetime, but found {} instead.",
                    describe(c)
                )));
            }
            self.bump();
        }
        Ok(Token::DateTime(self.since(start).to_string()))
    }

    /// `( ... )`: raw text up to a line holding only `)`. As in Go the text keeps the
    /// newline after `(` and the one before `)`.
    fn block_string(&mut self) -> Result<Token, ConfError> {
        self.bump();
        let start = self.offset;
        loop {
            match self.peek() {
                None => return Err(self.error("Unexpected EOF processing block.")),
                Some(')') if self.closes_block(start) => break,
                Some(_) => {
                    self.bump();
                }
            }
        }
        let text = self.since(start).to_string();
        self.bump();
        Ok(Token::Str(text))
    }

    /// True when the `)` at the cursor sits alone: right after a `\n` and followed by a
    /// `\n` or the end of input.
    fn closes_block(&self, start: usize) -> bool {
        let before = &self.text[start..self.offset];
        let after = &self.text[self.offset + 1..];
        before.ends_with('\n') && (after.is_empty() || after.starts_with('\n'))
    }
}

/// Appends `c` as UTF-8.
fn push_char(bytes: &mut Vec<u8>, c: char) {
    let mut buf = [0u8; 4];
    bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

/// What an unquoted word means: a string when it had escapes, else a boolean word, a
/// `$variable`, or a plain string.
fn classify_word(text: String, escaped: bool) -> Token {
    if escaped {
        return Token::Str(text);
    }
    match text.to_lowercase().as_str() {
        "true" | "yes" | "on" => return Token::Bool(true),
        "false" | "no" | "off" => return Token::Bool(false),
        _ => {}
    }
    match text.strip_prefix('$') {
        Some(name) => Token::Variable(name.to_string()),
        None => Token::Str(text),
    }
}
