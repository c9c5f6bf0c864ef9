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
    /// Lame duck mode: set only in the async INFO sent when the server enters it
    /// (SIGUSR2), so clients reconnect elsewhere before they are closed.
    #[serde(rename = "ldm", skip_serializing_if = "std::ops::Not::not")]
    pub lame_duck_mode: bool,
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
    /// This INFO for one client: its id and address, and the `max_payload` in force
    /// now (a reload may have changed it since start).
    fn for_client(&self, client_id: u64, client_ip: &str, max_payload: u32) -> ServerInfo {
        let mut info = self.clone();
        info.client_id = client_id;
        info.client_ip = client_ip.to_string();
        info.max_payload = max_payload;
        info
    }

    /// The `INFO {...} \r\n` line for one client. The space before CRLF is what Go sends.
    pub fn line_for(&self, client_id: u64, client_ip: &str, max_payload: u32) -> Vec<u8> {
        self.for_client(client_id, client_ip, max_payload).to_line()
    }

    /// The async INFO sent after a protocol-1 client's first PONG.
    pub fn connect_info_line(
        &self,
        client_id: u64,
        client_ip: &str,
        account: &str,
        max_payload: u32,
    ) -> Vec<u8> {
        let mut info = self.for_client(client_id, client_ip, max_payload);
        info.connect_info = Some(true);
        info.remote_account = Some(account.to_string());
        info.to_line()
    }

    /// The async INFO that tells a protocol-1 client the server entered lame duck mode
    /// (Go's `sendLDMToClients`: the regular INFO plus `"ldm":true`).
    pub fn lame_duck_line(&self, client_id: u64, client_ip: &str, max_payload: u32) -> Vec<u8> {
        let mut info = self.for_client(client_id, client_ip, max_payload);
        info.lame_duck_mode = true;
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

    fn sample() -> ServerInfo {
        ServerInfo {
            server_id: "NID".into(),
            server_name: "n".into(),
            version: "2.10.0".into(),
            proto: 1,
            go: "jetcore".into(),
            host: "127.0.0.1".into(),
            port: 4222,
            headers: true,
            max_payload: 1024,
            jetstream: false,
            client_id: 0,
            client_ip: String::new(),
            domain: Some("d".into()),
            lame_duck_mode: false,
            connect_info: None,
            remote_account: None,
            api_lvl: 1,
        }
    }

    #[test]
    fn ldm_is_sent_only_in_the_lame_duck_info_in_go_order() {
        let info = sample();
        let normal = String::from_utf8(info.line_for(5, "1.2.3.4", 2048)).unwrap();
        assert!(!normal.contains("ldm"), "{normal}");
        assert!(normal.contains(r#""max_payload":2048"#), "{normal}");
        let ldm = String::from_utf8(info.lame_duck_line(5, "1.2.3.4", 2048)).unwrap();
        assert!(
            ldm.contains(r#""client_ip":"1.2.3.4","domain":"d","ldm":true,"api_lvl":1"#),
            "{ldm}"
        );
        assert!(ldm.ends_with(" \r\n"));
    }
}
