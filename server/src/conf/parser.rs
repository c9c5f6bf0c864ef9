//! The structure of the NATS config format: statements, blocks, maps, arrays,
//! `include` and `$VAR` references, built on the scanner in `lexer.rs`.
//!
//! This is a recursive-descent parser written to accept what Go's `conf` package
//! accepts. Go's lexer has three statement contexts with slightly different rules, and
//! they are kept apart here because real configs depend on their quirks:
//! - top level: values end at a newline, `;`, `,`, `}` or a comment, and a `{ ... }`
//!   around everything (JSON style) is transparent;
//! - top-level `{ ... }` blocks: the same keys, but the block must be closed by `}`;
//! - map values `key { ... }`: newlines may separate a key from its value.
//!
//! Variables resolve against the maps currently being built, innermost first (arrays are
//! skipped), then against the environment, whose text is parsed as a value. A used
//! entry is marked so that `conf_apply` does not report it as an unknown key.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use super::lexer::{describe, is_blank, is_key_separator, is_newline, Cursor, Token};
use super::{canonical, ConfError, Entry, Map, Position, Spanned, Value};

/// How deep maps, arrays, blocks, includes and environment values may nest; deeper
/// input is rejected instead of exhausting the stack.
const MAX_DEPTH: usize = 100;

/// The key Go parses an environment variable's text under (`pk=<text>`).
const ENV_KEY: &str = "pk";

/// Parses a whole document. `include_chain` holds the canonical paths of the files
/// being parsed (outermost first), to detect include cycles.
pub(super) fn parse_document(
    text: &str,
    origin: &Path,
    include_chain: Vec<PathBuf>,
) -> Result<Map, ConfError> {
    Parser::new(text, origin, include_chain, 0).document()
}

/// How a top-level `{ ... }` block ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockExit {
    /// Its `}` was read.
    Closed,
    /// The input ended inside it, which Go accepts.
    Eof,
}

/// What comes after a statement inside a top-level block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AfterStatement {
    /// Another statement may follow.
    Continue,
    /// The block's `}` was read.
    Closed,
}

/// Parser state for one document (a file, an included file or an environment value).
struct Parser<'a> {
    /// The scanner over this document's text.
    cur: Cursor<'a>,
    /// Maps under construction, outermost (the document) first: the variable scopes.
    frames: Vec<Map>,
    /// Environment variables being expanded, to detect reference cycles.
    env_refs: HashSet<String>,
    /// Canonical paths of the files being parsed, to detect include cycles.
    include_chain: Vec<PathBuf>,
    /// Current nesting depth, bounded by `MAX_DEPTH`.
    depth: usize,
    /// Directory that `include` paths are joined to.
    base_dir: PathBuf,
}

impl<'a> Parser<'a> {
    /// A parser for `text` read from `origin`, starting at nesting `depth`.
    fn new(text: &'a str, origin: &Path, include_chain: Vec<PathBuf>, depth: usize) -> Self {
        Parser {
            cur: Cursor::new(text, Arc::new(origin.to_path_buf())),
            frames: Vec::new(),
            env_refs: HashSet::new(),
            include_chain,
            depth,
            base_dir: go_dir(origin),
        }
    }

    /// Parses the whole text into its top-level map.
    fn document(&mut self) -> Result<Map, ConfError> {
        self.frames.push(Map::new());
        let result = self.top_level();
        let map = self.frames.pop().unwrap_or_default();
        result.map(|()| map)
    }

    /// Counts one more level of nesting, failing past `MAX_DEPTH`.
    fn enter(&mut self) -> Result<(), ConfError> {
        if self.depth >= MAX_DEPTH {
            return Err(self.cur.error("config nesting is too deep"));
        }
        self.depth += 1;
        Ok(())
    }

    /// Stores a value in the innermost map being built.
    fn set(&mut self, key: String, key_pos: Position, value: Spanned) {
        if let Some(frame) = self.frames.last_mut() {
            frame.insert(Entry {
                key,
                key_pos,
                value,
                used_as_variable: false,
            });
        }
    }

    /// Statements at the top level of the document.
    fn top_level(&mut self) -> Result<(), ConfError> {
        loop {
            self.cur.skip_whitespace();
            if self.cur.at_comment() {
                self.cur.skip_comment();
                continue;
            }
            match self.cur.peek() {
                None => return Ok(()),
                Some('{') => {
                    self.cur.bump();
                    if self.top_block()? == BlockExit::Eof {
                        return Ok(());
                    }
                }
                Some('/') => return Err(self.cur.error(LONE_SLASH)),
                Some(_) => {
                    if !self.statement()? {
                        return Ok(());
                    }
                    self.top_value_end()?;
                }
            }
        }
    }

    /// After a top-level value: blanks, then a newline, `;`, `,`, `}`, a comment or
    /// the end of input. (A lone `/` is skipped, as Go does.)
    fn top_value_end(&mut self) -> Result<(), ConfError> {
        loop {
            if self.cur.at_comment() {
                self.cur.skip_comment();
                return Ok(());
            }
            match self.cur.peek() {
                None => return Ok(()),
                Some(c) if is_blank(c) || c == '/' => {
                    self.cur.bump();
                }
                Some(c) if is_newline(c) || matches!(c, ';' | ',' | '}') => {
                    self.cur.bump();
                    return Ok(());
                }
                c => {
                    return Err(self.cur.error(format!(
                        "Expected a top-level value to end with a new line, comment or EOF, \
                         but got {} instead.",
                        describe(c)
                    )))
                }
            }
        }
    }

    /// One `key [sep] value` statement at top or block level, or an `include`.
    /// Returns false when the input ended after a bare `}` key, which Go ignores so
    /// that JSON-style files may end in extra braces.
    fn statement(&mut self) -> Result<bool, ConfError> {
        let key_pos = self.cur.pos();
        let key = match self.cur.peek() {
            Some(c) if is_key_separator(c) => {
                return Err(self.cur.error(format!("Unexpected key separator '{c}'")))
            }
            Some('"' | '\'') => self.cur.quoted_key("Unexpected EOF.")?,
            _ => {
                let start = self.cur.offset();
                self.cur.bump();
                let key = self.cur.bare_key_rest(start);
                if self.at_include_keyword(&key) {
                    self.include(&key_pos)?;
                    return Ok(true);
                }
                key
            }
        };
        self.cur.skip_whitespace();
        match self.cur.peek() {
            None if key == "}" => return Ok(false),
            None => {
                return Err(ConfError::at(
                    &key_pos,
                    format!("config is invalid: key '{key}' has no value"),
                ))
            }
            Some(c) if is_key_separator(c) => {
                self.cur.bump();
            }
            Some(_) => {}
        }
        let value = self.value(false)?;
        self.set(key, key_pos, value);
        Ok(true)
    }

    /// True when an unquoted key just read is the `include` keyword: it must be
    /// followed by whitespace (`include: x` is an ordinary key).
    fn at_include_keyword(&self, key: &str) -> bool {
        key.to_lowercase() == "include" && self.cur.peek().is_some_and(char::is_whitespace)
    }

    /// A top-level `{ ... }` block, after its `{`.
    fn top_block(&mut self) -> Result<BlockExit, ConfError> {
        self.enter()?;
        let result = self.top_block_body();
        self.depth -= 1;
        result
    }

    /// Statements and nested blocks up to the closing `}`.
    fn top_block_body(&mut self) -> Result<BlockExit, ConfError> {
        loop {
            self.cur.skip_whitespace();
            if self.cur.at_comment() {
                self.cur.skip_comment();
                continue;
            }
            let next = match self.cur.peek() {
                None => return Ok(BlockExit::Eof),
                Some('}') => {
                    self.cur.bump();
                    return Ok(BlockExit::Closed);
                }
                Some('{') => {
                    self.cur.bump();
                    if self.top_block()? == BlockExit::Eof {
                        return Ok(BlockExit::Eof);
                    }
                    self.block_end()?
                }
                Some('/') => return Err(self.cur.error(LONE_SLASH)),
                Some(_) => {
                    if !self.statement()? {
                        return Ok(BlockExit::Eof);
                    }
                    self.block_value_end()?
                }
            };
            if next == AfterStatement::Closed {
                return Ok(BlockExit::Closed);
            }
        }
    }

    /// After a value inside a top-level block: a newline, `;`, `,`, comment or `}`.
    fn block_value_end(&mut self) -> Result<AfterStatement, ConfError> {
        loop {
            if self.cur.at_comment() {
                self.cur.skip_comment();
                continue;
            }
            match self.cur.peek() {
                Some(c) if is_blank(c) || c == '/' => {
                    self.cur.bump();
                }
                Some(c) if is_newline(c) || matches!(c, ';' | ',') => {
                    self.cur.bump();
                    return Ok(AfterStatement::Continue);
                }
                Some('}') => return self.block_end(),
                c => {
                    return Err(self.cur.error(format!(
                        "Expected a block-level value to end with a new line, comment or EOF, \
                         but got {} instead.",
                        describe(c)
                    )))
                }
            }
        }
    }

    /// After a nested block or at a `}`: whitespace, then `}` closes the block while
    /// `;`, `,` or a comment lets more statements follow.
    fn block_end(&mut self) -> Result<AfterStatement, ConfError> {
        loop {
            if self.cur.at_comment() {
                self.cur.skip_comment();
                return Ok(AfterStatement::Continue);
            }
            match self.cur.peek() {
                Some(c) if is_blank(c) || is_newline(c) || c == '/' => {
                    self.cur.bump();
                }
                Some(';' | ',') => {
                    self.cur.bump();
                    return Ok(AfterStatement::Continue);
                }
                Some('}') => {
                    self.cur.bump();
                    return Ok(AfterStatement::Closed);
                }
                c => {
                    return Err(self.cur.error(format!(
                        "Expected a block-level to end with a '}}', but got {} instead.",
                        describe(c)
                    )))
                }
            }
        }
    }

    /// Any value, after optional blanks (but not newlines).
    fn value(&mut self, in_array: bool) -> Result<Spanned, ConfError> {
        self.cur.skip_blanks();
        let pos = self.cur.pos();
        match self.cur.peek() {
            Some('[') => {
                self.cur.bump();
                self.array(pos)
            }
            Some('{') => {
                self.cur.bump();
                self.map(pos)
            }
            Some(c) if is_newline(c) => Err(self.cur.error("Expected value but found new line")),
            Some('.') => Err(self.cur.error("Floats must start with a digit")),
            _ => {
                let token = self.cur.scalar(in_array)?;
                self.token_value(token, pos)
            }
        }
    }

    /// Converts a scanned scalar into a value, resolving variables.
    fn token_value(&mut self, token: Token, pos: Position) -> Result<Spanned, ConfError> {
        let value = match token {
            Token::Str(s) => Value::String(s),
            Token::Bool(b) => Value::Bool(b),
            Token::Int(text) => {
                Value::Integer(parse_integer(&text).map_err(|m| ConfError::at(&pos, m))?)
            }
            Token::Float(text) => {
                Value::Float(parse_float(&text).map_err(|m| ConfError::at(&pos, m))?)
            }
            Token::DateTime(text) => {
                if !is_valid_datetime(&text) {
                    return Err(ConfError::at(
                        &pos,
                        format!("expected Zulu formatted DateTime, but got '{text}'"),
                    ));
                }
                Value::DateTime(text)
            }
            Token::Variable(name) => return self.variable(&name, pos),
        };
        Ok(Spanned { value, pos })
    }

    /// `[ ... ]`, after its `[`.
    fn array(&mut self, pos: Position) -> Result<Spanned, ConfError> {
        self.enter()?;
        let items = self.array_items();
        self.depth -= 1;
        Ok(Spanned {
            value: Value::Array(items?),
            pos,
        })
    }

    /// Array items separated by commas and/or newlines; a trailing comma is allowed.
    fn array_items(&mut self) -> Result<Vec<Spanned>, ConfError> {
        let mut items = Vec::new();
        loop {
            self.cur.skip_whitespace();
            if self.cur.at_comment() {
                self.cur.skip_comment();
                continue;
            }
            match self.cur.peek() {
                Some(']') => {
                    self.cur.bump();
                    return Ok(items);
                }
                Some(',') => return Err(self.cur.error("Unexpected array value terminator ','.")),
                Some('/') => return Err(self.cur.error(LONE_SLASH)),
                _ => {}
            }
            items.push(self.value(true)?);
            if self.array_value_end()? {
                return Ok(items);
            }
        }
    }

    /// After an array item: returns true at `]`, false at a separator.
    fn array_value_end(&mut self) -> Result<bool, ConfError> {
        loop {
            if self.cur.at_comment() {
                self.cur.skip_comment();
                continue;
            }
            match self.cur.peek() {
                Some(c) if is_blank(c) => {
                    self.cur.bump();
                }
                // Go treats a lone '/' here like a separator.
                Some(c) if is_newline(c) || matches!(c, ',' | '/') => {
                    self.cur.bump();
                    return Ok(false);
                }
                Some(']') => {
                    self.cur.bump();
                    return Ok(true);
                }
                c => {
                    return Err(self.cur.error(format!(
                        "Expected an array value terminator \",\" or an array terminator \"]\", \
                         but got {} instead.",
                        describe(c)
                    )))
                }
            }
        }
    }

    /// `{ ... }`, after its `{`. While it is built the map is a variable scope.
    fn map(&mut self, pos: Position) -> Result<Spanned, ConfError> {
        self.enter()?;
        self.frames.push(Map::new());
        let result = self.map_entries();
        let map = self.frames.pop().unwrap_or_default();
        self.depth -= 1;
        result?;
        Ok(Spanned {
            value: Value::Map(map),
            pos,
        })
    }

    /// Map entries up to the closing `}`.
    fn map_entries(&mut self) -> Result<(), ConfError> {
        loop {
            self.cur.skip_whitespace();
            if self.cur.at_comment() {
                self.cur.skip_comment();
                continue;
            }
            let key_pos = self.cur.pos();
            let key = match self.cur.peek() {
                None => return Err(self.cur.error("Unexpected EOF processing map.")),
                Some('}') => {
                    self.cur.bump();
                    return Ok(());
                }
                Some(c) if is_key_separator(c) => {
                    return Err(self.cur.error(format!("Unexpected key separator '{c}'.")))
                }
                Some(']') => {
                    return Err(self.cur.error("Unexpected array end ']' processing map."))
                }
                Some('\'') => self
                    .cur
                    .quoted_key("Unexpected EOF processing quoted map key.")?,
                Some('"') => self
                    .cur
                    .quoted_key("Unexpected EOF processing double quoted map key.")?,
                Some(_) => match self.bare_map_key(&key_pos)? {
                    Some(key) => key,
                    None => {
                        // An include: its keys are in this map already.
                        if self.map_value_end()? {
                            return Ok(());
                        }
                        continue;
                    }
                },
            };
            self.map_value(key, key_pos)?;
            if self.map_value_end()? {
                return Ok(());
            }
        }
    }

    /// An unquoted map key, or `None` after handling an `include`.
    fn bare_map_key(&mut self, key_pos: &Position) -> Result<Option<String>, ConfError> {
        // Go drops a lone '/' and starts the key after it.
        if self.cur.peek() == Some('/') {
            self.cur.bump();
        }
        let start = self.cur.offset();
        if self.cur.bump().is_none() {
            return Err(self.cur.error("Unexpected EOF processing map key."));
        }
        let key = self.cur.bare_key_rest(start);
        if self.cur.peek().is_none() {
            return Err(self.cur.error("Unexpected EOF processing map key."));
        }
        if self.at_include_keyword(&key) {
            self.include(key_pos)?;
            return Ok(None);
        }
        Ok(Some(key))
    }

    /// The separator and value of a map entry; unlike at top level, newlines may come
    /// before the value.
    fn map_value(&mut self, key: String, key_pos: Position) -> Result<(), ConfError> {
        self.cur.skip_whitespace();
        if self.cur.peek().is_some_and(is_key_separator) {
            self.cur.bump();
        }
        self.cur.skip_whitespace();
        match self.cur.peek() {
            Some(',') => return Err(self.cur.error("Unexpected map value terminator ','.")),
            // Go would silently move this map to the key `key`; refuse instead.
            Some('}') => {
                return Err(ConfError::at(
                    &key_pos,
                    format!("Expected a value for key '{key}'"),
                ))
            }
            _ => {}
        }
        let value = self.value(false)?;
        self.set(key, key_pos, value);
        Ok(())
    }

    /// After a map value: returns true at `}`, false at a separator.
    fn map_value_end(&mut self) -> Result<bool, ConfError> {
        loop {
            if self.cur.at_comment() {
                self.cur.skip_comment();
                continue;
            }
            match self.cur.peek() {
                Some(c) if is_blank(c) => {
                    self.cur.bump();
                }
                // Go treats a lone '/' here like a separator.
                Some(c) if is_newline(c) || matches!(c, ';' | ',' | '/') => {
                    self.cur.bump();
                    return Ok(false);
                }
                Some('}') => {
                    self.cur.bump();
                    return Ok(true);
                }
                c => {
                    return Err(self.cur.error(format!(
                        "Expected a map value terminator \",\" or a map terminator \"}}\", \
                         but got {} instead.",
                        describe(c)
                    )))
                }
            }
        }
    }

    /// `include <path>`, after the keyword: parses the file and adds its keys to the
    /// current map. The path is joined to this file's directory even when absolute,
    /// exactly like Go's `filepath.Join`.
    fn include(&mut self, pos: &Position) -> Result<(), ConfError> {
        self.cur.skip_blanks();
        let rel = self.include_path()?;
        let path = go_join(&self.base_dir, &rel);
        let key = canonical(&path);
        if self.include_chain.contains(&key) {
            return Err(ConfError::at(
                pos,
                format!(
                    "include cycle: '{}' is already being parsed",
                    path.display()
                ),
            ));
        }
        self.enter()?;
        let result = self.parse_included(pos, &rel, &path, key);
        self.depth -= 1;
        for entry in result?.entries {
            if let Some(frame) = self.frames.last_mut() {
                frame.insert(entry);
            }
        }
        Ok(())
    }

    /// Reads and parses an included file with its own variable scope, as Go does.
    fn parse_included(
        &self,
        pos: &Position,
        rel: &str,
        path: &Path,
        key: PathBuf,
    ) -> Result<Map, ConfError> {
        let bytes = std::fs::read(path).map_err(|e| {
            ConfError::at(
                pos,
                format!(
                    "error parsing include file '{rel}', open {}: {e}",
                    path.display()
                ),
            )
        })?;
        let text = String::from_utf8_lossy(&bytes);
        let mut chain = self.include_chain.clone();
        chain.push(key);
        Parser::new(&text, path, chain, self.depth).document()
    }

    /// The path after `include`: quoted, or unquoted up to the end of the statement.
    fn include_path(&mut self) -> Result<String, ConfError> {
        let refuse = |what: &str| format!("Expected include value but found {what}");
        match self.cur.peek() {
            Some('\'') => self.cur.quoted_key("Unexpected EOF in quoted include"),
            Some('"') => self
                .cur
                .quoted_key("Unexpected EOF in double quoted include"),
            Some('[') => Err(self.cur.error(refuse("start of an array"))),
            Some('{') => Err(self.cur.error(refuse("start of a map"))),
            Some('(') => Err(self.cur.error(refuse("start of a block"))),
            Some('\\') => Err(self.cur.error(refuse("escape sequence"))),
            Some(c) if c.is_ascii_digit() || c == '-' => {
                Err(self.cur.error(refuse("start of a number")))
            }
            Some(c) if is_newline(c) => Err(self.cur.error(refuse("new line"))),
            _ => Ok(self.cur.bare_include()),
        }
    }

    /// Resolves `$name`: a bcrypt hash (`$2a$...`) is a plain string; otherwise the
    /// innermost map being built that has the key, then the environment.
    fn variable(&mut self, name: &str, pos: Position) -> Result<Spanned, ConfError> {
        if name.starts_with("2a$") {
            return Ok(Spanned {
                value: Value::String(format!("${name}")),
                pos,
            });
        }
        for frame in self.frames.iter_mut().rev() {
            if let Some(entry) = frame.exact_entry_mut(name) {
                entry.used_as_variable = true;
                return Ok(Spanned {
                    value: entry.value.value.clone(),
                    pos,
                });
            }
        }
        self.env_variable(name, pos)
    }

    /// Resolves `$name` from the environment; the text is parsed as a config value,
    /// so `PORT=4222` gives an integer.
    fn env_variable(&mut self, name: &str, pos: Position) -> Result<Spanned, ConfError> {
        let unparsable = |why: String| {
            ConfError::at(
                &pos,
                format!("variable reference for '{name}' could not be parsed: {why}"),
            )
        };
        if self.env_refs.contains(name) {
            return Err(unparsable(format!("variable reference cycle for '{name}'")));
        }
        let not_found = || {
            ConfError::at(
                &pos,
                format!("variable reference for '{name}' can not be found"),
            )
        };
        let raw = lookup_env(name).ok_or_else(not_found)?;
        self.env_refs.insert(name.to_string());
        let parsed = self.parse_env_text(&raw, &pos);
        self.env_refs.remove(name);
        match parsed {
            Ok(Some(value)) => Ok(value),
            Ok(None) => Err(not_found()),
            Err(e) => Err(unparsable(error_text(&e))),
        }
    }

    /// Parses an environment value as Go does: as the document `pk=<text>`, sharing
    /// the set of variables being expanded. The result takes the reference's position.
    fn parse_env_text(&mut self, raw: &str, pos: &Position) -> Result<Option<Spanned>, ConfError> {
        let text = format!("{ENV_KEY}={raw}");
        let mut sub = Parser::new(&text, &pos.file, self.include_chain.clone(), self.depth);
        // Go parses environment text as if it came from no file: includes in it would
        // be relative to the current directory.
        sub.base_dir = PathBuf::from(".");
        sub.enter()?;
        sub.env_refs = std::mem::take(&mut self.env_refs);
        let result = sub.document();
        self.env_refs = std::mem::take(&mut sub.env_refs);
        let mut map = result?;
        Ok(map.exact_entry_mut(ENV_KEY).map(|entry| {
            let mut value = entry.value.clone();
            relocate(&mut value, pos);
            value
        }))
    }
}

/// Message for a `/` that does not start a `//` comment where a key is expected.
const LONE_SLASH: &str = "Unexpected '/': comments start with '//' or '#'";

/// An error's message without its position (for nesting inside another message).
fn error_text(e: &ConfError) -> String {
    match e {
        ConfError::At { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// Reads an environment variable; names the OS cannot hold are simply not set.
fn lookup_env(name: &str) -> Option<String> {
    if name.is_empty() || name.contains(['=', '\0']) {
        return None;
    }
    std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
}

/// Gives a value taken from an environment variable, and everything inside it, the
/// position of the `$VAR` reference (its own positions are in throwaway text).
fn relocate(value: &mut Spanned, pos: &Position) {
    value.pos = pos.clone();
    match &mut value.value {
        Value::Array(items) => items.iter_mut().for_each(|item| relocate(item, pos)),
        Value::Map(map) => {
            for entry in &mut map.entries {
                entry.key_pos = pos.clone();
                relocate(&mut entry.value, pos);
            }
        }
        _ => {}
    }
}

/// Integer text with an optional size suffix: `k`=1000, `kb`/`ki`/`kib`=1024, and the
/// same for m, g, t, p, e (any case).
fn parse_integer(text: &str) -> Result<i64, String> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '-'))
        .unwrap_or(text.len());
    let (digits, suffix) = text.split_at(split);
    let out_of_range = || format!("integer '{text}' is out of the range");
    let number: i64 = digits.parse().map_err(|e: std::num::ParseIntError| {
        use std::num::IntErrorKind::{NegOverflow, PosOverflow};
        match e.kind() {
            PosOverflow | NegOverflow => out_of_range(),
            _ => format!("expected integer, but got '{text}'"),
        }
    })?;
    let multiplier = size_multiplier(&suffix.to_lowercase())
        .ok_or_else(|| format!("invalid integer suffix '{suffix}' in '{text}'"))?;
    number.checked_mul(multiplier).ok_or_else(out_of_range)
}

/// The multiplier of a lower-case size suffix; `None` for an unknown one.
fn size_multiplier(suffix: &str) -> Option<i64> {
    let (letter, rest) = match suffix.chars().next() {
        None => return Some(1),
        Some(c) => (c, &suffix[c.len_utf8()..]),
    };
    let power = match letter {
        'k' => 1,
        'm' => 2,
        'g' => 3,
        't' => 4,
        'p' => 5,
        'e' => 6,
        _ => return None,
    };
    let base: i64 = match rest {
        "" => 1000,
        "b" | "i" | "ib" => 1024,
        _ => return None,
    };
    Some(base.pow(power))
}

/// Float text; infinite results are out of range, as in Go.
fn parse_float(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(f) if f.is_finite() => Ok(f),
        Ok(_) => Err(format!("float '{text}' is out of the range")),
        Err(_) => Err(format!("expected float, but got '{text}'")),
    }
}

/// Checks the ranges of `YYYY-MM-DDTHH:MM:SSZ` (the shape is already checked).
fn is_valid_datetime(text: &str) -> bool {
    let field = |from: usize, to: usize| text.get(from..to).and_then(|s| s.parse::<u32>().ok());
    let (Some(year), Some(month), Some(day)) = (field(0, 4), field(5, 7), field(8, 10)) else {
        return false;
    };
    let (Some(hour), Some(minute), Some(second)) = (field(11, 13), field(14, 16), field(17, 19))
    else {
        return false;
    };
    (1..=12).contains(&month)
        && day >= 1
        && day <= days_in_month(year, month)
        && hour < 24
        && minute < 60
        && second < 60
}

/// Days in `month` (1-12) of `year`, leap years included.
fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Go's `filepath.Dir`: the directory part, `.` when there is none.
pub(super) fn go_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if p.as_os_str().is_empty() => PathBuf::from("."),
        Some(p) => p.to_path_buf(),
        None if path.has_root() => path.to_path_buf(),
        None => PathBuf::from("."),
    }
}

/// Go's `filepath.Join(dir, rel)`: joins even an absolute `rel` under `dir`, then
/// cleans the result lexically (`.` and `..` resolved without touching the disk).
pub(super) fn go_join(dir: &Path, rel: &str) -> PathBuf {
    let rooted = dir.has_root();
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    let rel = Path::new(rel);
    for component in dir.components().chain(rel.components()) {
        match component {
            Component::Normal(name) => parts.push(name),
            Component::ParentDir => match parts.last() {
                Some(last) if last.to_str() != Some("..") => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push("..".as_ref()),
            },
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    let mut out = if rooted {
        PathBuf::from("/")
    } else {
        PathBuf::new()
    };
    out.extend(parts);
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}
