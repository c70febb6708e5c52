//! N-API glue for the core's `OutputChannel`: a predictor's streamed output, from its one
//! producer to its consumers, with backpressure from the consumers that must see every item.
//!
//! Items cross N-API as lines: one string holds one or more items separated by `\n`. JSON text
//! as `JSON.stringify` writes it never contains a raw newline, so a batch costs one string
//! conversion each way instead of one per item (measured about 2.5x cheaper per item than an
//! array of strings). Both ends have a synchronous fast path (`trySend`, `tryNext`); a promise
//! is only made when one side really has to wait.

use std::collections::VecDeque;

use cog_node_core::{
    ChannelOptions, Consumer, Delivery, Item, OutputChannel as CoreChannel, SendError, Start,
    TryRecv,
};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::cancel::CancelToken;

/// Bounds of an output channel's buffer.
#[napi(object)]
pub struct OutputChannelOptions {
    /// Most items held at once (a whole number >= 1); default 1024, as Cog's
    /// `COG_STREAM_HISTORY_CAPACITY`.
    pub capacity: Option<f64>,
    /// Most bytes (UTF-8) held at once (a whole number >= 1); default 16 MiB. A single larger
    /// item is still accepted into an empty buffer.
    pub max_bytes: Option<f64>,
}

/// How a consumer reads an output channel.
#[napi(object)]
pub struct SubscribeOptions {
    /// True for a consumer that must see every item (the SSE response of the request that
    /// created the prediction, an embedding caller's iterator): while it lags, `trySend`
    /// takes nothing and `send` waits. False (the default) for one that must never slow the
    /// producer: it skips items evicted before it read them, counting them in `missed`.
    pub lossless: Option<bool>,
    /// Start with the oldest item still held (Cog's SSE replay) instead of the next one sent;
    /// items already gone count in `missed` from the start.
    pub replay: Option<bool>,
}

fn whole_number(value: Option<f64>, field: &str, default: usize) -> Result<usize> {
    let Some(value) = value else {
        return Ok(default);
    };
    if value.fract() != 0.0 || !(1.0..=f64::from(u32::MAX)).contains(&value) {
        return Err(Error::new(
            Status::InvalidArg,
            format!(
                "OutputChannel option `{field}` must be a whole number from 1 to 4294967295, got {value}"
            ),
        ));
    }
    Ok(value as usize)
}

fn send_error(error: SendError) -> Error {
    let status = match error {
        SendError::Canceled => Status::Cancelled,
        SendError::Closed => Status::Closing,
    };
    Error::new(status, error.to_string())
}

/// Splits `text` into items, one per line; an empty line is refused because it would make
/// a batch ambiguous (and is never JSON text).
fn lines(text: &str) -> Result<VecDeque<Item>> {
    text.split('\n')
        .enumerate()
        .map(|(index, line)| {
            if line.is_empty() {
                Err(Error::new(
                    Status::InvalidArg,
                    format!(
                        "OutputChannel items must be non-empty lines (JSON text); line {} of the text sent is empty",
                        index + 1
                    ),
                ))
            } else {
                Ok(Item::from(line))
            }
        })
        .collect()
}

fn joined(items: &[Item]) -> String {
    let mut text = String::with_capacity(items.iter().map(|item| item.len() + 1).sum());
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            text.push('\n');
        }
        text.push_str(item);
    }
    text
}

fn count(value: usize) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

/// A prediction's streamed output. The producer (the runner, for each value the generator
/// yields) sends JSON text; consumers subscribe. Memory stays bounded by `capacity` items and
/// `maxBytes` bytes.
///
/// Text sent is one item per line (`\n`-separated; no empty lines), so `trySend(json)` sends
/// one item and `trySend(batch.join('\n'))` sends a batch in one call.
///
/// Producer fast path: `if (channel.trySend(json) === 0) await channel.send(json)` makes no
/// promise while there is room. Await each `send` before sending again so order is kept.
/// Sends throw (or reject) once the channel is closed (error code `Closing`, message "output
/// channel is closed") or its cancel token is cancelled (code `Cancelled`, message "prediction
/// was canceled"); a waiting `send` is woken by either.
#[napi]
pub struct OutputChannel {
    channel: CoreChannel,
}

#[napi]
impl OutputChannel {
    /// A channel; when `cancelToken` is given, cancelling it stops sends and wakes a waiting one.
    #[napi(constructor)]
    pub fn new(
        options: Option<OutputChannelOptions>,
        cancel_token: Option<&CancelToken>,
    ) -> Result<Self> {
        let defaults = ChannelOptions::default();
        let options = match options {
            Some(options) => ChannelOptions {
                capacity: whole_number(options.capacity, "capacity", defaults.capacity)?,
                max_bytes: whole_number(options.max_bytes, "maxBytes", defaults.max_bytes)?,
            },
            None => defaults,
        };
        Ok(Self {
            channel: CoreChannel::new(options, cancel_token.map(|token| token.core().clone())),
        })
    }

    /// Sends, from the front, as many of the items in `lines` as fit now; returns how many
    /// (0 when a lagging lossless consumer holds the producer back: then `await send(...)` the
    /// rest).
    #[napi]
    pub fn try_send(&self, lines: String) -> Result<u32> {
        let mut items = self::lines(&lines)?;
        self.channel
            .try_send_many(&mut items)
            .map(count)
            .map_err(send_error)
    }

    /// Sends every item in `lines`, in order, resolving once the last is in the buffer: at once
    /// when there is room, else as the slowest lossless consumer reads (or one unsubscribes).
    /// On cancel or close it rejects; items before that point were sent.
    #[napi]
    pub async fn send(&self, lines: String) -> Result<()> {
        for item in self::lines(&lines)? {
            self.channel.send(item).await.map_err(send_error)?;
        }
        Ok(())
    }

    /// Closes the channel with the prediction's final state (JSON text, optional). Consumers
    /// read what is left, then `next` gives null. True for the call that actually closed it.
    #[napi]
    pub fn close(&self, final_state: Option<String>) -> bool {
        self.channel.close(final_state.map(Item::from))
    }

    /// A new consumer; see `SubscribeOptions`. Unsubscribe when done: a lossless consumer left
    /// to the garbage collector holds the producer back until it is collected.
    #[napi]
    pub fn subscribe(&self, options: Option<SubscribeOptions>) -> OutputConsumer {
        let lossless = options.as_ref().and_then(|o| o.lossless).unwrap_or(false);
        let replay = options.as_ref().and_then(|o| o.replay).unwrap_or(false);
        OutputConsumer {
            consumer: self.channel.subscribe(
                if lossless {
                    Delivery::Lossless
                } else {
                    Delivery::Lossy
                },
                if replay { Start::Replay } else { Start::Now },
            ),
        }
    }

    /// Items held in the buffer now (never more than `capacity`).
    #[napi(getter)]
    pub fn queued(&self) -> u32 {
        count(self.channel.queued())
    }

    /// Bytes (UTF-8) held in the buffer now.
    #[napi(getter)]
    pub fn queued_bytes(&self) -> f64 {
        self.channel.queued_bytes() as f64
    }

    #[napi(getter)]
    pub fn capacity(&self) -> u32 {
        count(self.channel.options().capacity)
    }

    #[napi(getter)]
    pub fn max_bytes(&self) -> f64 {
        self.channel.options().max_bytes as f64
    }

    /// Items sent so far, which is also the index the next item gets.
    #[napi(getter)]
    pub fn sent(&self) -> f64 {
        self.channel.sent() as f64
    }

    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.channel.is_closed()
    }

    /// The final state given to `close`, or null.
    #[napi(getter)]
    pub fn final_state(&self) -> Option<String> {
        self.channel.final_state().map(|state| state.to_string())
    }

    /// Consumers subscribed now.
    #[napi(getter)]
    pub fn consumers(&self) -> u32 {
        count(self.channel.consumers())
    }
}

/// A producer that is garbage-collected without closing (a runner bug, an embedding caller's
/// abandoned stream) must not leave consumers waiting forever.
impl Drop for OutputChannel {
    fn drop(&mut self) {
        self.channel.close(None);
    }
}

/// One consumer of an output channel. Reads return a batch of up to `max` items (default
/// 1024) as lines: `batch.split('\n')` gives the items.
#[napi]
pub struct OutputConsumer {
    consumer: Consumer,
}

const DEFAULT_BATCH: u32 = 1024;

#[napi]
impl OutputConsumer {
    /// The items available now, up to `max`, one per line: `''` when none are yet, null once
    /// the channel is closed and everything was read (or after `unsubscribe`).
    #[napi]
    pub fn try_next(&self, max: Option<u32>) -> Option<String> {
        match self
            .consumer
            .try_recv_many(max.unwrap_or(DEFAULT_BATCH) as usize)
        {
            TryRecv::Items(items) => Some(joined(&items)),
            TryRecv::Empty => Some(String::new()),
            TryRecv::Ended => None,
        }
    }

    /// Waits for at least one item and resolves with those available, up to `max`, one per
    /// line; null once the channel is closed and everything was read (or after `unsubscribe`).
    #[napi]
    pub async fn next(&self, max: Option<u32>) -> Option<String> {
        self.consumer
            .recv_many(max.unwrap_or(DEFAULT_BATCH) as usize)
            .await
            .map(|items| joined(&items))
    }

    /// Stops reading and stops holding the producer back; a waiting `next` resolves null.
    #[napi]
    pub fn unsubscribe(&self) {
        self.consumer.unsubscribe();
    }

    /// Items this consumer will never see: evicted before a lossy consumer read them (Cog's
    /// "SSE stream lagged", `skipped`), or gone before a replaying one subscribed ("replay
    /// truncated"). Read it after each batch: a gap lies just before the batch that grew it.
    #[napi(getter)]
    pub fn missed(&self) -> f64 {
        self.consumer.missed() as f64
    }

    /// Items sent that this consumer has not read yet.
    #[napi(getter)]
    pub fn pending(&self) -> f64 {
        self.consumer.pending() as f64
    }

    /// The index of the next item this consumer reads, so a batch of `n` items just read
    /// started at `position - n` (Cog's SSE `output` event `index`).
    #[napi(getter)]
    pub fn position(&self) -> f64 {
        self.consumer.position() as f64
    }

    #[napi(getter)]
    pub fn lossless(&self) -> bool {
        self.consumer.is_lossless()
    }

    /// The final state given to the channel's `close`, or null.
    #[napi(getter)]
    pub fn final_state(&self) -> Option<String> {
        self.consumer.final_state().map(|state| state.to_string())
    }
}
