// Redis connections of the fleet (ioredis, which BullMQ 6 drives when handed a client): made in one
// place, with the options BullMQ needs, so the worker, the queue client and the gateway agree.
import { Redis } from 'ioredis';

export type { Redis } from 'ioredis';

/**
 * A new connection to `url` (`redis://[user:password@]host:port[/db]`, `rediss://` for TLS).
 * `maxRetriesPerRequest: null` is what BullMQ requires of a Worker's connection (a blocking
 * command must wait through a reconnect instead of failing); the others use it too, so a
 * restarting Redis delays the fleet rather than failing its predictions.
 */
export function connectRedis(url: string, name?: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, connectionName: name, lazyConnect: false });
}
