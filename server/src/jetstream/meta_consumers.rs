//! The consumer half of the JetStream API, answered by the meta layer on core 0.
//!
//! Consumers live on their stream's core, so every handler here is a request
//! checked for shape on core 0 and then run on the stream's core with
//! [`Meta::on_stream`] (which also turns a missing stream into Go's 10059).
//! `MSG.NEXT` is not here: each consumer subscribes its own pull subject.

use super::super::api::{self, Response};
use super::super::consumer_api::{self as capi};
use super::super::consumer_config::{self as ccfg, ConsumerCreateSubject, CreateConsumerRequest};
use super::super::errors::ApiError;
use super::super::runtime;
use super::Meta;

impl Meta {
    /// `CONSUMER.CREATE` in all its forms (Go's `jsConsumerCreateRequest`): the
    /// subject-versus-body checks here, the config checks on the stream's core.
    pub(super) async fn consumer_create(
        &self,
        subject: ConsumerCreateSubject,
        body: &[u8],
    ) -> Response {
        let fail = |e: ApiError| Response::error(api::CONSUMER_CREATE, e);
        let req = match CreateConsumerRequest::parse(body) {
            Ok(r) => r,
            Err(e) => return fail(e),
        };
        let resolved = match ccfg::resolve_create(&req, &subject) {
            Ok(r) => r,
            Err(e) => return fail(e),
        };
        let Some(entry) = self.entry(&subject.stream) else {
            return fail(ApiError::stream_not_found());
        };
        let version = crate::server::GO_COMPAT_VERSION;
        let domain = self.config.domain.clone();
        let result = self
            .on_stream(&subject.stream, entry.core, move |shard, s| async move {
                let js = runtime::of(&shard)?;
                let (c, created) = s.add_consumer(&js.config, resolved).await?;
                if created {
                    capi::publish_consumer_action(
                        &shard,
                        &s.name,
                        &c.name,
                        capi::ConsumerAction::Created,
                        &domain,
                    );
                    // Go announces a consumer created paused.
                    let until = c.config().pause_until;
                    let now = i128::from(jetcore_storage::now_nanos());
                    if until.is_some_and(|t| t.unix_nanos() > now) {
                        capi::publish_pause_advisory(&shard, &s.name, &c.name, until, &domain);
                    }
                }
                let mut info = c.info(&s);
                info.config = info.config.with_dynamic_metadata(version);
                Ok(info)
            })
            .await;
        match result {
            Ok(info) => Response::ok(&capi::ConsumerCreateResponse::new(info)),
            Err(e) => fail(e),
        }
    }

    /// `CONSUMER.INFO`.
    pub(super) async fn consumer_info(&self, stream: &str, name: &str, body: &[u8]) -> Response {
        let fail = |e: ApiError| Response::error(api::CONSUMER_INFO, e);
        if !super::super::api_types::is_empty_request(body) {
            return fail(ApiError::not_empty_request());
        }
        let Some(entry) = self.entry(stream) else {
            return fail(ApiError::stream_not_found());
        };
        let name = name.to_string();
        let version = crate::server::GO_COMPAT_VERSION;
        let result = self
            .on_stream(stream, entry.core, move |_, s| async move {
                let c = s.consumer(&name).ok_or_else(ApiError::consumer_not_found)?;
                let mut info = c.info(&s);
                info.config = info.config.with_dynamic_metadata(version);
                Ok(info)
            })
            .await;
        match result {
            Ok(info) => Response::ok(&capi::ConsumerInfoResponse::new(info)),
            Err(e) => fail(e),
        }
    }

    /// `CONSUMER.NAMES`.
    pub(super) async fn consumer_names(&self, stream: &str, body: &[u8]) -> Response {
        let fail = |e: ApiError| Response::err(&capi::ConsumerNamesResponse::error(e));
        let offset = match capi::ConsumersRequest::parse(body) {
            Ok(r) => r.offset,
            Err(e) => return fail(e),
        };
        let Some(entry) = self.entry(stream) else {
            return fail(ApiError::stream_not_found());
        };
        let result = self
            .on_stream(
                stream,
                entry.core,
                |_, s| async move { Ok(s.consumer_names()) },
            )
            .await;
        match result {
            Ok(names) => Response::ok(&capi::ConsumerNamesResponse::page(names, offset)),
            Err(e) => fail(e),
        }
    }

    /// `CONSUMER.LIST`.
    pub(super) async fn consumer_list(&self, stream: &str, body: &[u8]) -> Response {
        let fail = |e: ApiError| Response::err(&capi::ConsumerListResponse::error(e));
        let offset = match capi::ConsumersRequest::parse(body) {
            Ok(r) => r.offset,
            Err(e) => return fail(e),
        };
        let Some(entry) = self.entry(stream) else {
            return fail(ApiError::stream_not_found());
        };
        let result = self
            .on_stream(stream, entry.core, move |_, s| async move {
                let all = s.consumer_list();
                let total = all.len();
                let infos: Vec<capi::ConsumerInfo> = all
                    .iter()
                    .skip(offset)
                    .take(capi::CONSUMER_LIST_LIMIT)
                    .map(|c| c.info(&s))
                    .collect();
                Ok((infos, total))
            })
            .await;
        match result {
            Ok((infos, total)) => {
                Response::ok(&capi::ConsumerListResponse::page(infos, total, offset))
            }
            Err(e) => fail(e),
        }
    }

    /// `CONSUMER.DELETE`.
    pub(super) async fn consumer_delete(&self, stream: &str, name: &str, body: &[u8]) -> Response {
        let fail = |e: ApiError| Response::error(api::CONSUMER_DELETE, e);
        if !super::super::api_types::is_empty_request(body) {
            return fail(ApiError::not_empty_request());
        }
        let Some(entry) = self.entry(stream) else {
            return fail(ApiError::stream_not_found());
        };
        let name = name.to_string();
        let result = self
            .on_stream(stream, entry.core, move |_, s| async move {
                if s.delete_consumer(&name).await {
                    Ok(())
                } else {
                    Err(ApiError::consumer_not_found())
                }
            })
            .await;
        match result {
            Ok(()) => Response::ok(&capi::ConsumerDeleteResponse::success()),
            Err(e) => fail(e),
        }
    }

    /// `CONSUMER.PAUSE`.
    pub(super) async fn consumer_pause(&self, stream: &str, name: &str, body: &[u8]) -> Response {
        let fail = |e: ApiError| Response::error(api::CONSUMER_PAUSE, e);
        let req = match capi::ConsumerPauseRequest::parse(body) {
            Ok(r) => r,
            Err(e) => return fail(e),
        };
        let Some(entry) = self.entry(stream) else {
            return fail(ApiError::stream_not_found());
        };
        let name = name.to_string();
        let domain = self.config.domain.clone();
        let result = self
            .on_stream(stream, entry.core, move |shard, s| async move {
                let c = s.consumer(&name).ok_or_else(ApiError::consumer_not_found)?;
                let cfg = c.pause(req.pause_until).await?;
                capi::publish_pause_advisory(&shard, &s.name, &name, cfg.pause_until, &domain);
                Ok(cfg.pause_until)
            })
            .await;
        match result {
            Ok(until) => Response::ok(&capi::ConsumerPauseResponse::new(until)),
            Err(e) => fail(e),
        }
    }

    /// `CONSUMER.UNPIN`: `{"group":"G"}` drops the consumer's pin. Go checks the
    /// request before looking for the stream; any configured group will do (there
    /// is one pin per consumer), on any policy.
    pub(super) async fn consumer_unpin(&self, stream: &str, name: &str, body: &[u8]) -> Response {
        let fail = |e: ApiError| Response::error(api::CONSUMER_UNPIN, e);
        let group = match capi::ConsumerUnpinRequest::parse(body) {
            Ok(r) => r.group,
            Err(e) => return fail(e),
        };
        let Some(entry) = self.entry(stream) else {
            return fail(ApiError::stream_not_found());
        };
        let name = name.to_string();
        let result = self
            .on_stream(stream, entry.core, move |_shard, s| async move {
                let c = s.consumer(&name).ok_or_else(ApiError::consumer_not_found)?;
                if !c.config().priority_groups.contains(&group) {
                    return Err(ApiError::consumer_invalid_priority_group());
                }
                c.unpin(&group);
                Ok(())
            })
            .await;
        match result {
            Ok(()) => Response::ok(&capi::ConsumerUnpinResponse::success()),
            Err(e) => fail(e),
        }
    }
}
