//! The monitoring port (`-m`): every endpoint's JSON against the Go server's.
//!
//! Differential tests start both servers (jetcore and the Go reference), do the same
//! things on each, fetch the same endpoint and compare the documents' shape: the same
//! keys, each with a value of the same JSON type ([`common::shape_diff`]). Values that
//! must agree (counts, names, settings) are compared too. Run under
//! `JETCORE_TEST_SERVER=go` the comparison is Go against Go, which shows the test
//! itself is sound.
//!
//! Modules: `common` (both servers, shape comparison), `http` (the server: paths,
//! status codes, headers, keep-alive, bad requests), `varz`, `connz` (+ `/subsz`,
//! `/accountz`, `/accstatz`), `jsz` (+ `/healthz`).

mod common;
mod connz;
mod http;
mod jsz;
mod varz;
