//! The client protocol: parsing what clients send, and writing what the server sends.
//!
//! - [`parser`]: an incremental, zero-copy parser of client operations.
//! - [`info`]: the `INFO` the server sends and the `CONNECT` a client sends.
//! - [`write`]: encoding of `MSG`/`HMSG` frames and status headers.

pub mod info;
pub mod parser;
pub mod write;
