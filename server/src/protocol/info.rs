//! `INFO` (server → client) and `CONNECT` (client → server) JSON bodies.
//!
//! Field names, presence and defaults follow the Go server: INFO omits unset optional
//! fields, and CONNECT's `verbose`, `pedantic` and `echo` default to **true** when a
//! client leaves them out (Go's `client.go` initialises them before unmarshalling).

use serde::{Deserialize, Serialize};

/// The INFO a client receives on connect. Per-connection fields (`client_id`,
/// `client_ip`) are filled in for each client.
#[derive(Debug, Clone, Serialize)]
pub struct ServerInfo {
    /// Unique id of this server process (an nkey-like 56-char string starting with N).
    pub server_id: String,
    /// Configured name, or the id.
    pub server_name: String,
    /// The Go server version whose client-visible behaviour we implement.
    pub version: String,
    /// Protocol version: 1 = the client may receive async INFO.
    pub proto: i32,
    /// Go reports its toolchain here; we report ours, so nobody mistakes us for Go.
    pub go: String,
    /// The interface we listen on.
    pub host: String,
    /// The client port.
    pub port: u16,
    /// Whether HPUB/HMSG are supported.
    pub headers: bool,
    /// Largest payload a client may publish.
    pub max_payload: u32,
    /// JetStream is enabled (Go omits the field otherwise).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub jetstream: bool,
    /// This connection's id, unique across the whole server.
    pub client_id: u64,
    /// The client's address as seen by the server.
    pub client_ip: String,
    /// The JetStream domain, when one is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Set only in the INFO that follows a protocol-1 client's first PONG (Go 2.12+):
    /// it tells the client which account it ended up in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_info: Option<bool>,
    /// The client's account, in that same INFO.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_account: Option<String>,
    /// The JetStream API level this server implements (Go sends it always, with
    /// or without JetStream).
    pub api_lvl: u32,
}

/// Options a client sends in CONNECT. Unknown fields are ignored, as Go does.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ConnectOptions {
    /// `+OK` after each accepted operation.
    pub verbose: bool,
    /// Strict subject checking (`-ERR 'Invalid Publish Subject'`).
    pub pedantic: bool,
    /// Deliver this client's own publishes to its own subscriptions.
    pub echo: bool,
    /// The client understands HPUB/HMSG.
    pub headers: bool,
    /// The client wants a 503 status when a request has no responders.
    pub no_responders: bool,
    /// 0 or 1; 1 means the client handles async INFO.
    pub protocol: i32,
    /// Client name, for monitoring.
    pub name: Option<String>,
    /// Client library language, for monitoring.
    pub lang: Option<String>,
    /// Client library version, for monitoring.
    pub version: Option<String>,
    /// The client requires TLS.
    pub tls_required: bool,
    /// Credentials (auth arrives in a later issue; parsed now so they are not rejected).
    pub user: Option<String>,
    /// Password for `user`.
    pub pass: Option<String>,
    /// Token auth.
    pub auth_token: Option<String>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            verbose: true,
            pedantic: true,
            echo: true,
            headers: false,
            no_responders: false,
            protocol: 0,
            name: None,
            lang: None,
            version: None,
            tls_required: false,
            user: None,
            pass: None,
            auth_token: None,
        }
    }
}

impl ServerInfo {
    /// The `INFO {...} \r\n` line for one client. The space before CRLF is what Go sends.
    pub fn line_for(&self, client_id: u64, client_ip: &str) -> Vec<u8> {
        let mut info = self.clone();
        info.client_id = client_id;
        info.client_ip = client_ip.to_string();
        info.to_line()
    }

    /// The async INFO sent after a protocol-1 client's first PONG.
    pub fn connect_info_line(&self, client_id: u64, client_ip: &str, account: &str) -> Vec<u8> {
        let mut info = self.clone();
        info.client_id = client_id;
        info.client_ip = client_ip.to_string();
        info.connect_info = Some(true);
        info.remote_account = Some(account.to_string());
        info.to_line()
    }

    fn to_line(&self) -> Vec<u8> {
        let info = self;
        let json = serde_json::to_string(&info).unwrap_or_else(|_| "{}".to_string());
        format!("INFO {json} \r\n").into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_defaults_match_go() {
        let c: ConnectOptions = serde_json::from_str("{}").unwrap();
        assert!(c.verbose && c.pedantic && c.echo);
        assert!(!c.headers && !c.no_responders);
        let c: ConnectOptions =
            serde_json::from_str(r#"{"verbose":false,"echo":false,"headers":true,"x":1}"#).unwrap();
        assert!(!c.verbose && c.pedantic && !c.echo && c.headers);
    }
}
