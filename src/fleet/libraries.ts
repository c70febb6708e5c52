// BullMQ and ioredis, loaded at first use: importing them cost ~350 ms of CPU (benches/startup),
// which every `import 'cog-node'` paid though only fleet code uses them. Both are CommonJS (bullmq
// has no `exports` map), so `require` here and `import` in worker.ts give the same instances.
import { createRequire } from 'node:module';
import type * as BullMQ from 'bullmq';
import type * as IORedis from 'ioredis';

const require = createRequire(import.meta.url);
let bullmq: typeof BullMQ | undefined;
let ioredis: typeof IORedis | undefined;

export function bullmqLibrary(): typeof BullMQ {
  return (bullmq ??= require('bullmq') as typeof BullMQ);
}

export function ioredisLibrary(): typeof IORedis {
  return (ioredis ??= require('ioredis') as typeof IORedis);
}
