// Preloaded (`--require`, which also runs in every worker thread) by memory.ts: on SIGUSR2 the
// main thread broadcasts, and each thread writes its V8 heap spaces to $HEAP_PROBE_DIR/<threadId>.json.
'use strict';
const { BroadcastChannel, isMainThread, threadId } = require('node:worker_threads');
const { getHeapSpaceStatistics } = require('node:v8');
const { writeFileSync } = require('node:fs');

const dir = process.env.HEAP_PROBE_DIR;
const channel = new BroadcastChannel('cog-node-heap-probe');
channel.unref();
const write = () => {
  const spaces = getHeapSpaceStatistics().map((s) => ({
    name: s.space_name,
    size: s.space_size,
    physical: s.physical_space_size,
    used: s.space_used_size,
  }));
  writeFileSync(`${dir}/${threadId}.json`, JSON.stringify({ thread: isMainThread ? 'main' : `worker ${threadId}`, spaces }));
};
channel.onmessage = write;
if (isMainThread) {
  process.on('SIGUSR2', () => {
    const sender = new BroadcastChannel('cog-node-heap-probe');
    sender.postMessage('write');
    sender.close();
    write();
  });
}
