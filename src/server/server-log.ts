// The server's own log lines on stderr, and `detached()`: work started from a prediction's event
// (webhooks, uploads, messages) runs outside that prediction's log capture.
import { AsyncResource } from 'node:async_hooks';

/**
 * Runs `fn` outside any prediction's log capture. Bound here, at module load, where no capture is
 * active: webhook deliveries, uploads and the server's own messages started from a prediction's
 * event (which fires inside that prediction's async context) must not land in its `logs`.
 */
export const detached: <T>(fn: () => T) => T = AsyncResource.bind(<T>(fn: () => T): T => fn());

/** One line of the server's own log on stderr, never in a prediction's logs. */
export function serverLog(message: string): void {
  detached(() => process.stderr.write(`cog-node: ${message}\n`));
}
