//! A stream's consumers: creating, restoring, listing and deleting them, and what
//! the consumers need from their stream (reads, start positions, retention).
//!
//! Included by `stream.rs` as a child module, so it works on the stream's fields
//! directly; everything here runs on the stream's core.

use std::rc::Rc;

use bytes::Bytes;
use jetcore_storage::{StoreState, StoredMessage, SubjectState};

use super::super::consumer::{self, Consumer, ConsumerMeta};
use super::super::consumer_config::{self as ccfg, ConsumerConfig, DeliverPolicy};
use super::super::errors::ApiError;
use super::super::gotime::GoTime;
use super::super::runtime::JsConfig;
use super::super::stream_config::RetentionPolicy;
use super::Stream;

impl Stream {
    /// The shard the stream lives on.
    pub fn shard(&self) -> &Rc<crate::shard::Shard> {
        &self.shard
    }

    /// The store's counters.
    pub fn store_state(&self) -> StoreState {
        self.store.state()
    }

    /// See [`jetcore_storage::StreamStore::filtered_state`].
    pub fn filtered_state(&self, filter: &[u8], start: u64) -> SubjectState {
        self.store.filtered_state(filter, start)
    }

    /// The message at `seq`, if it is still there.
    pub async fn load(&self, seq: u64) -> Option<StoredMessage> {
        self.store.load(seq).await.ok()
    }

    /// The first message at or after `from` matching any of `filters` (none = all).
    pub async fn load_next_matching(&self, filters: &[Bytes], from: u64) -> Option<StoredMessage> {
        if filters.is_empty() {
            return self.store.load_next(b">", from).await.ok().flatten();
        }
        let mut best: Option<StoredMessage> = None;
        for f in filters {
            // Every filter may find a different first message; the earliest wins.
            let until = best.as_ref().map_or(u64::MAX, |b| b.seq);
            if let Ok(Some(m)) = self.store.load_next(f, from).await {
                if m.seq < until {
                    best = Some(m);
                }
            }
        }
        best
    }

    /// Where a new consumer starts (Go's `selectStartingSeqNo`): the first
    /// sequence to scan from, and for `last_per_subject` the sequences to deliver
    /// before that.
    pub async fn start_position(&self, cfg: &ConsumerConfig, filters: &[Bytes]) -> (u64, Vec<u64>) {
        let st = self.store.state();
        let all: Vec<Bytes> = if filters.is_empty() {
            vec![Bytes::from_static(b">")]
        } else {
            filters.to_vec()
        };
        match cfg.deliver_policy {
            DeliverPolicy::Last => {
                let mut last = 0;
                for f in &all {
                    if let Ok(m) = self.store.load_last(f).await {
                        last = last.max(m.seq);
                    }
                }
                let start = if last == 0 { st.last_seq + 1 } else { last };
                (start, Vec::new())
            }
            DeliverPolicy::LastPerSubject => {
                let mut seqs: Vec<u64> = Vec::new();
                for f in &all {
                    seqs.extend(self.store.subjects_state(f).values().map(|s| s.last_seq));
                }
                seqs.sort_unstable();
                seqs.dedup();
                (st.last_seq + 1, seqs)
            }
            DeliverPolicy::ByStartTime => {
                let nanos = cfg
                    .opt_start_time
                    .map_or(0, |t| t.unix_nanos().clamp(0, i128::from(i64::MAX)) as i64);
                let start = self.seq_from_time(nanos).await.unwrap_or(st.last_seq + 1);
                (start, Vec::new())
            }
            other => (
                consumer::start_for(other, st.first_seq, st.last_seq, cfg.opt_start_seq),
                Vec::new(),
            ),
        }
    }

    /// A consumer of this stream.
    pub fn consumer(&self, name: &str) -> Option<Rc<Consumer>> {
        self.consumers.borrow().get(name).cloned()
    }

    /// Its consumers' names, sorted.
    pub fn consumer_names(&self) -> Vec<String> {
        self.consumers.borrow().keys().cloned().collect()
    }

    /// Its consumers, sorted by name.
    pub fn consumer_list(&self) -> Vec<Rc<Consumer>> {
        self.consumers.borrow().values().cloned().collect()
    }

    /// How many consumers it has.
    pub fn consumer_count(&self) -> usize {
        self.consumers.borrow().len()
    }

    /// Create or update a consumer (Go's `addConsumerWithAssignment`): the config
    /// checks against this stream and its other consumers ([`ccfg::prepare`]), then
    /// the new consumer or the changed config. Returns the consumer and whether it
    /// was created.
    pub async fn add_consumer(
        self: &Rc<Self>,
        js: &JsConfig,
        resolved: ccfg::ResolvedCreate,
    ) -> Result<(Rc<Consumer>, bool), ApiError> {
        let stream_cfg = self.config();
        let existing = (!resolved.name.is_empty())
            .then(|| self.consumer(&resolved.name))
            .flatten();
        let configs: Vec<ConsumerConfig> = self
            .consumers
            .borrow()
            .values()
            .map(|c| c.config())
            .collect();
        let refs: Vec<&ConsumerConfig> = configs.iter().collect();
        let ctx = ccfg::StreamContext {
            config: &stream_cfg,
            limits: ccfg::ConsumerLimits::default(),
            consumers: &refs,
            deliver_subject_has_interest: existing.as_ref().is_some_and(|c| c.push_bound()),
        };
        match ccfg::prepare(&ctx, resolved.config, resolved.action, resolved.pedantic)? {
            ccfg::Prepared::Update(cfg) => {
                let c = existing.ok_or_else(ApiError::consumer_does_not_exist)?;
                if c.config() != cfg {
                    c.update(cfg).await?;
                }
                Ok((c, false))
            }
            ccfg::Prepared::Create(cfg) => {
                // A legacy ephemeral create names no consumer: the server picks the
                // name, which Go does not write into the config.
                let name = match cfg.consumer_name() {
                    "" => ccfg::ephemeral_name(),
                    n => n.to_string(),
                };
                let meta = ConsumerMeta {
                    name: name.clone(),
                    config: cfg,
                    created: GoTime::now(),
                };
                let c = Consumer::open(self, js, meta, self.dir.as_deref(), true).await?;
                // Created over the files of one that could not be restored: its
                // directory is whole again, and what the hold kept may go.
                let hold_lifted = self.unrestored_consumers.borrow_mut().remove(&name);
                self.consumers.borrow_mut().insert(name, c.clone());
                if hold_lifted {
                    self.drop_uninterested().await;
                }
                Ok((c, true))
            }
        }
    }

    /// Delete a consumer: stop it, remove its files, forget it. Interest streams
    /// then drop what only it was keeping. False when there is no such consumer.
    pub async fn delete_consumer(&self, name: &str) -> bool {
        let removed = self.consumers.borrow_mut().remove(name);
        let Some(c) = removed else {
            return false;
        };
        c.close(true, true).await;
        super::super::consumer_api::publish_consumer_action(
            &self.shard,
            &self.name,
            name,
            super::super::consumer_api::ConsumerAction::Deleted,
            &self.domain,
        );
        self.drop_uninterested().await;
        true
    }

    /// Bring back the consumers persisted in the stream's directory.
    pub(super) async fn restore_consumers(self: &Rc<Self>, js: &JsConfig) {
        let Some(dir) = self.dir.clone() else {
            return;
        };
        let obs = dir.join(consumer::CONSUMERS_DIR);
        // A consumer deleted just before a crash may be left as a hidden
        // `.<name>.removed` directory: finish removing it, never restore it.
        if let Err(e) = jetcore_storage::remove_consumer_leftovers(&obs).await {
            tracing::error!("stream {}: cleaning {}: {e}", self.name, obs.display());
        }
        let Ok(entries) = std::fs::read_dir(&obs) else {
            return;
        };
        let mut dirs: Vec<std::path::PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .filter(|p| {
                // Hidden entries are the store's own (a removal in progress).
                !p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with('.'))
            })
            .collect();
        dirs.sort();
        for d in dirs {
            let dir_name = d
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if let Err(why) = self.restore_consumer(js, &d, &dir_name).await {
                tracing::error!(
                    "stream {}: consumer in {} not restored: {why}",
                    self.name,
                    d.display()
                );
                // A creation cut short before its metadata was in place was never
                // acknowledged: such a consumer cannot need anything.
                if holds_consumer_files(&d) {
                    self.unrestored_consumers.borrow_mut().insert(dir_name);
                }
            }
        }
        let missing = self.unrestored_consumers.borrow().clone();
        if !missing.is_empty() && self.config.borrow().retention != RetentionPolicy::Limits {
            tracing::warn!(
                "stream {}: {:?} retention removes nothing for lack of interest until consumer(s) {missing:?} are restored (repair their files and restart) or deleted from disk",
                self.name,
                self.config.borrow().retention
            );
        }
    }

    /// Open one persisted consumer; the reason when it cannot be restored.
    async fn restore_consumer(
        self: &Rc<Self>,
        js: &JsConfig,
        dir: &std::path::Path,
        dir_name: &str,
    ) -> Result<(), String> {
        let meta = consumer::read_consumer_meta(dir).map_err(|e| e.to_string())?;
        let name = meta.name.clone();
        // A damaged meta.json can still parse and name another consumer: opening it
        // would make a new, empty consumer under that name. Leave this one's files
        // alone instead (as for streams).
        if dir_name != name {
            return Err(format!(
                "its metadata names consumer '{name}' (damaged?); its files are left untouched"
            ));
        }
        // `open` takes the stream's directory and finds the consumer's in it.
        let c = Consumer::open(self, js, meta, self.dir.as_deref(), false)
            .await
            .map_err(|e| e.to_string())?;
        self.consumers.borrow_mut().insert(name, c);
        Ok(())
    }

    /// Whether retention may remove messages for lack of interest: not while a
    /// consumer on disk could not be restored (it may need them).
    fn interest_is_known(&self) -> bool {
        self.unrestored_consumers.borrow().is_empty()
    }

    /// Close every consumer (stream shutdown or delete).
    pub(super) async fn close_consumers(&self, remove: bool) {
        let all: Vec<Rc<Consumer>> = std::mem::take(&mut *self.consumers.borrow_mut())
            .into_values()
            .collect();
        for c in all {
            c.close(remove, remove).await;
        }
    }

    /// After an append: tell the consumers, and for interest retention drop a
    /// message no consumer wants.
    pub(super) fn after_store(&self, seq: u64, subject: &[u8]) {
        let consumers = self.consumers.borrow();
        for c in consumers.values() {
            c.on_stored(seq, subject);
        }
        if self.config.borrow().retention == RetentionPolicy::Interest
            && !consumers.values().any(|c| c.filter_matches(subject))
            && self.interest_is_known()
        {
            if let Err(e) = self.store.remove(seq, false) {
                tracing::warn!(
                    "stream {}: dropping an uninterested message failed: {e}",
                    self.name
                );
            }
        }
    }

    /// After messages left the stream other than by acks: consumers recount.
    pub(super) fn after_removal(&self) {
        for c in self.consumers.borrow().values() {
            c.on_removed(self);
        }
    }

    /// Consumers acked these stream sequences: work queues drop them, interest
    /// streams drop those nobody else still needs.
    pub fn on_acked(&self, seqs: &[u64]) {
        let retention = self.config.borrow().retention;
        if retention == RetentionPolicy::Limits {
            return;
        }
        let mut removed = false;
        for &seq in seqs {
            let drop = match retention {
                // Work-queue filters do not overlap: what one consumer acked no
                // other consumer, restored or not, can need.
                RetentionPolicy::WorkQueue => true,
                _ if !self.interest_is_known() => false,
                _ => {
                    let subject = self.store.subject_at(seq);
                    match subject {
                        Some(s) => !self.consumers.borrow().values().any(|c| c.needs(seq, &s)),
                        None => false,
                    }
                }
            };
            if drop {
                match self.store.remove(seq, false) {
                    Ok(r) => removed |= r,
                    Err(e) => tracing::warn!(
                        "stream {}: removing acked message {seq} failed: {e}",
                        self.name
                    ),
                }
            }
        }
        if removed {
            self.report_usage();
        }
    }

    /// Interest retention: drop every message that no consumer needs (after a
    /// consumer left or moved, or at start). Nothing for other retentions (Go
    /// cleans up this way on interest streams only: a work queue keeps its
    /// messages for the next consumer), nor while a consumer is missing.
    pub(crate) async fn drop_uninterested(&self) {
        if self.config.borrow().retention != RetentionPolicy::Interest || !self.interest_is_known()
        {
            return;
        }
        let st = self.store.state();
        let mut removed = false;
        for seq in st.first_seq..=st.last_seq {
            let Some(subject) = self.store.subject_at(seq) else {
                continue;
            };
            let needed = self
                .consumers
                .borrow()
                .values()
                .any(|c| c.needs(seq, &subject));
            if !needed {
                removed |= self.store.remove(seq, false).unwrap_or(false);
            }
            if seq % 4096 == 0 {
                jetcore_router::yield_if_needed().await;
            }
        }
        if removed {
            self.report_usage();
            self.after_removal();
        }
    }
}

/// Whether a consumer directory holds more than a creation cut short (nothing, or
/// only the temp file written before `meta.json` is renamed into place): metadata
/// or state files. Unreadable counts as yes.
fn holds_consumer_files(dir: &std::path::Path) -> bool {
    std::fs::read_dir(dir).map_or(true, |entries| {
        entries
            .flatten()
            .any(|e| !e.file_name().to_string_lossy().ends_with(".tmp"))
    })
}
