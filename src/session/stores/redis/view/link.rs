//! The local view's invalidation connection: one RESP3 connection per instance, named, subscribed
//! to the invalidation channel and to the instance's heartbeat channel, made again whenever it
//! drops, hangs or misses its heartbeats.

use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use ::redis::aio::MultiplexedConnection;
use ::redis::{AsyncConnectionConfig, Client, ProtocolVersion, PushInfo, PushKind, Script, Value};

use super::super::con::Target;
use super::super::topology::epoch_start;
use super::super::{Inner, RedisStore};
use super::View;

/// Publishes `<h> <epoch>` on the instance's heartbeat channel: the epoch of slot 0, which
/// stands for the node's data (it starts it when missing: the node lost its data).
/// KEYS: 1 slot 0's epoch. ARGV: 1 the channel, 2 `h`, 3 the epoch a slot would start now.
const HEARTBEAT: &str = r#"
local e = redis.call('SET', KEYS[1], ARGV[3], 'NX', 'GET')
if not e then e = ARGV[3] end
redis.call('PUBLISH', ARGV[1], ARGV[2] .. ' ' .. e)
return 1
"#;

const MIN_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

impl RedisStore {
    /// Starts the view's connection task once, inside the caller's runtime.
    pub(super) fn start_view(&self, view: &View) {
        if !view.running.load(Ordering::Acquire) && !view.running.swap(true, Ordering::AcqRel) {
            tokio::spawn(supervise(Arc::downgrade(&self.inner)));
        }
    }

    /// Makes the invalidation connection of `generation` and subscribes it.
    async fn link(
        &self,
        view: &Arc<View>,
        generation: u64,
    ) -> ::redis::RedisResult<MultiplexedConnection> {
        let Target::Single(node) = &self.inner.target else {
            return Err(::redis::RedisError::from((
                ::redis::ErrorKind::InvalidClientConfig,
                "the local view runs on one node",
            )));
        };
        let info = node.get_connection_info().clone();
        let settings = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        let client = Client::open(info.set_redis_settings(settings))?;
        let weak = Arc::downgrade(view);
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.inner.timeout))
            .set_response_timeout(Some(self.inner.timeout))
            .set_push_sender(move |push: PushInfo| {
                if let Some(view) = weak.upgrade() {
                    on_push(&view, generation, push);
                }
                Ok::<(), Infallible>(())
            });
        let mut con = client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        ::redis::cmd("CLIENT")
            .arg("SETNAME")
            .arg(&view.name)
            .exec_async(&mut con)
            .await?;
        con.subscribe(&[view.inv_channel.as_str(), view.hb_channel.as_str()])
            .await?;
        view.linked(generation);
        Ok(con)
    }
}

fn on_push(view: &View, generation: u64, push: PushInfo) {
    match push.kind {
        PushKind::Disconnection => view.unlink(generation),
        PushKind::Message => {
            if let [Value::BulkString(channel), Value::BulkString(payload)] = push.data.as_slice() {
                view.on_message(generation, channel, payload);
            }
        }
        _ => {}
    }
}

/// Keeps the invalidation connection up, and sends the heartbeats, until the store is dropped.
async fn supervise(store: Weak<Inner>) {
    let heartbeat = Script::new(HEARTBEAT);
    let mut backoff = MIN_BACKOFF;
    let mut generation = 0u64;
    loop {
        let Some(inner) = store.upgrade() else {
            return;
        };
        let store_now = RedisStore { inner };
        let Some(view) = store_now.inner.view.clone() else {
            return;
        };
        generation += 1;
        let linked = tokio::time::timeout(
            store_now.inner.timeout.saturating_mul(2),
            store_now.link(&view, generation),
        )
        .await;
        let epoch_key = store_now.epoch_key(0);
        let clock = store_now.inner.clock.clone();
        let timeout = store_now.inner.timeout;
        drop(store_now);
        let Ok(Ok(mut con)) = linked else {
            view.unlink(generation);
            tokio::time::sleep(backoff).await;
            backoff = backoff.saturating_mul(2).min(MAX_BACKOFF);
            continue;
        };
        backoff = MIN_BACKOFF;
        let lease = view.settings.lease;
        let interval = (lease / 4).max(Duration::from_millis(1));
        let linked_at = view.mono_ms();
        loop {
            if store.strong_count() == 0 {
                return;
            }
            if !view.is_linked(generation) {
                break;
            }
            let sent = view.mono_ms();
            let beat = tokio::time::timeout(
                timeout,
                heartbeat
                    .key(&epoch_key)
                    .arg(&view.hb_channel)
                    .arg(sent)
                    .arg(epoch_start(clock.now_millis()))
                    .invoke_async::<i64>(&mut con),
            )
            .await;
            if !matches!(beat, Ok(Ok(_))) {
                break;
            }
            // A connection that answers but whose heartbeats stop arriving is made again.
            let newest = view.cert.load(Ordering::Acquire).checked_sub(1);
            if sent.saturating_sub(newest.unwrap_or(linked_at)) > 4 * super::millis(lease) {
                break;
            }
            tokio::time::sleep(interval).await;
        }
        view.unlink(generation);
    }
}
