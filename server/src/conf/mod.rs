//! The NATS configuration file format: a parser producing a tree of positioned values.
//!
//! jetcore is a drop-in for the Go nats-server, so it must read the same config files.
//! This module follows the semantics of Go's `conf/lex.go` and `conf/parse.go`:
//! `key: value`, `key = value` and `key value`; maps `{}` and arrays `[]`; `#` and `//`
//! comments; quoted and unquoted strings; integers with size suffixes (`1k` = 1000,
//! `1kb` = `1ki` = `1kib` = 1024, up to `e`/`eib`); floats; booleans
//! (`true/false/yes/no/on/off`); Zulu datetimes; `( ... )` block strings; `include`;
//! and `$VAR` references resolved in block scope, then from the environment.
//!
//! Unlike Go's untyped `map[string]any`, every value here carries the position it came
//! from, so that `conf_apply.rs` can report `file:line:col: message` like Go does.
//! Columns are 1-based on every line (Go's are 0-based on line 1 only).
//!
//! Deliberate, documented departures from Go (all in cases where Go either rejects a
//! sensible config or silently loses data):
//! - inside an array, `]` ends a number, so `[1, 2]` is accepted (Go lexes `2]` as a
//!   string and then fails);
//! - an unknown size suffix (`1kbb`) is an error (Go drops the key silently);
//! - a map key without a value (`{ a: }`) is an error (Go assigns the map to `a`);
//! - an unterminated quoted string is always an error, and a `( ... )` block string
//!   closed on the last line does not keep its `)`;
//! - a leading UTF-8 byte order mark is skipped;
//! - include cycles and very deep nesting are errors instead of a stack overflow.

mod digest;
mod duration;
mod lexer;
mod parser;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use digest::config_digest;
pub use duration::{format_duration, parse_duration};

/// Where a value, key or error sits in a config file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Position {
    /// The file (or, for text parsed from memory, the origin name given by the caller).
    pub file: Arc<PathBuf>,
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub col: usize,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
    }
}

/// A parsed config value. Integers carry their size suffix already applied.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A quoted, unquoted or block (`( ... )`) string, escapes resolved.
    String(String),
    /// A 64-bit integer, e.g. `4222`, `-1`, `64MiB`.
    Integer(i64),
    /// A float such as `1.5`.
    Float(f64),
    /// `true/false/yes/no/on/off`, any case, unquoted.
    Bool(bool),
    /// A Zulu datetime, kept as written (`2024-01-31T12:00:00Z`); already validated.
    DateTime(String),
    /// `[ ... ]`.
    Array(Vec<Spanned>),
    /// `{ ... }`.
    Map(Map),
}

impl Value {
    /// The name of this value's type, as used in error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::String(_) => "string",
            Value::Integer(_) => "integer",
            Value::Float(_) => "float",
            Value::Bool(_) => "boolean",
            Value::DateTime(_) => "datetime",
            Value::Array(_) => "array",
            Value::Map(_) => "map",
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is one.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Integer(n) => Some(*n),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The map, if this is one.
    pub fn as_map(&self) -> Option<&Map> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The array items, if this is an array.
    pub fn as_array(&self) -> Option<&[Spanned]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }
}

/// A value together with the position where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Spanned {
    /// The value itself.
    pub value: Value,
    /// Where the value starts (for a `$VAR` reference: where the reference is).
    pub pos: Position,
}

/// One `key: value` pair of a [`Map`].
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The key as written (Go keeps the case; lookups by `Map::get` ignore it).
    pub key: String,
    /// Where the key starts; Go reports errors about a key here.
    pub key_pos: Position,
    /// The value.
    pub value: Spanned,
    /// Set when a `$key` reference used this entry as a variable. Go exempts such
    /// entries from its "unknown field" check, so variables can be defined at top level.
    pub used_as_variable: bool,
}

/// A map of keys to values in the order they were written.
///
/// Setting a key that already exists (same spelling) replaces it and moves it to the
/// end, so that iteration order reflects "later in the file wins".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Map {
    /// The entries, in file order.
    entries: Vec<Entry>,
}

impl Map {
    /// An empty map.
    pub fn new() -> Self {
        Map::default()
    }

    /// The value of `key`, compared case-insensitively like Go's option processing;
    /// when several spellings exist the last one written wins.
    pub fn get(&self, key: &str) -> Option<&Spanned> {
        self.get_entry(key).map(|e| &e.value)
    }

    /// The entry of `key`, compared case-insensitively (see [`Map::get`]).
    pub fn get_entry(&self, key: &str) -> Option<&Entry> {
        let wanted = key.to_lowercase();
        self.entries
            .iter()
            .rev()
            .find(|e| e.key.to_lowercase() == wanted)
    }

    /// The (key, value) pairs in file order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Spanned)> {
        self.entries.iter().map(|e| (e.key.as_str(), &e.value))
    }

    /// The entries with key positions and variable-use marks, in file order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the map has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Sets `entry.key`, replacing an entry of exactly the same spelling (Go's map
    /// assignment) and moving it to the end.
    pub fn insert(&mut self, entry: Entry) {
        self.entries.retain(|e| e.key != entry.key);
        self.entries.push(entry);
    }

    /// The entry spelled exactly `key`, for variable lookup (Go's variables are
    /// case-sensitive even though option keys are not).
    fn exact_entry_mut(&mut self, key: &str) -> Option<&mut Entry> {
        self.entries.iter_mut().find(|e| e.key == key)
    }
}

/// An error while reading, parsing or applying a config file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfError {
    /// A problem at a known place in a config file.
    #[error("{pos}: {message}")]
    At {
        /// Where the problem is.
        pos: Position,
        /// What is wrong, in Go's wording where there is one.
        message: String,
    },
    /// The top-level config file could not be read.
    #[error("error opening config file {}: {message}", path.display())]
    Open {
        /// The file that could not be read.
        path: PathBuf,
        /// The operating system's reason.
        message: String,
    },
    /// Several problems, reported together like Go's `processConfigErr`.
    #[error("{}", join_errors(.0))]
    Many(Vec<ConfError>),
}

impl ConfError {
    /// An error at `pos`.
    pub fn at(pos: &Position, message: impl Into<String>) -> Self {
        ConfError::At {
            pos: pos.clone(),
            message: message.into(),
        }
    }

    /// One error, or all of them as [`ConfError::Many`]; `None` when there are none.
    pub fn from_list(mut errors: Vec<ConfError>) -> Option<Self> {
        match errors.len() {
            0 => None,
            1 => errors.pop(),
            _ => Some(ConfError::Many(errors)),
        }
    }

    /// Where the (first) problem is, when known.
    pub fn pos(&self) -> Option<&Position> {
        match self {
            ConfError::At { pos, .. } => Some(pos),
            ConfError::Open { .. } => None,
            ConfError::Many(list) => list.first().and_then(ConfError::pos),
        }
    }
}

/// One error per line, like Go prints a list of config errors.
fn join_errors(list: &[ConfError]) -> String {
    list.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Parses the config file at `path`, following its `include`s (relative to the
/// including file's directory, as Go does).
pub fn parse_file(path: &Path) -> Result<Map, ConfError> {
    let bytes = std::fs::read(path).map_err(|e| ConfError::Open {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let text = String::from_utf8_lossy(&bytes);
    parser::parse_document(&text, path, vec![canonical(path)])
}

/// Parses config text held in memory. `origin` names it in positions and errors, and
/// its directory (the current directory when it has none) anchors `include`s, like
/// Go's `ProcessConfigString`.
pub fn parse_str(text: &str, origin: &Path) -> Result<Map, ConfError> {
    parser::parse_document(text, origin, Vec::new())
}

/// The absolute form of `path` used to detect include cycles; the path itself when it
/// cannot be resolved (the read that follows reports why).
fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}
