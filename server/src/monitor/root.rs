//! `/`: a page of links to the endpoints, like Go's, for people with a browser.

use super::{Monitor, Response};

/// The root page.
pub fn page(m: &Monitor) -> Response {
    let base = &m.base_path;
    let links: String = [
        "varz", "connz", "routez", "gatewayz", "leafz", "subsz", "accountz", "accstatz", "jsz",
        "healthz",
    ]
    .iter()
    .map(|p| format!("    <a href=\"{base}/{p}\">{p}</a>\n"))
    .collect();
    Response::html(format!(
        "<html lang=\"en\">\n  <head>\n    <title>jetcore monitoring</title>\n  </head>\n  <body>\n    \
         <h1>jetcore {} (NATS {})</h1>\n{links}    \
         <a href=\"https://docs.nats.io/running-a-nats-service/nats_admin/monitoring\">help</a>\n  \
         </body>\n</html>\n",
        crate::server::JETCORE_VERSION,
        crate::server::GO_COMPAT_VERSION,
    ))
}
