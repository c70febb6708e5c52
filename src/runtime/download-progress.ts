// Progress of URL input downloads, for whoever shows it (`cog-node predict` on a terminal): the
// bytes of each download go by on a diagnostics channel, at no cost when nobody subscribes.
import { channel } from 'node:diagnostics_channel';
import { Transform } from 'node:stream';

export interface DownloadProgress {
  url: string;
  received: number;
  /** From Content-Length; undefined when the server does not say. */
  total: number | undefined;
  done: boolean;
}

export const downloadProgress = channel('cog-node:input-download');

/** A pass-through stream for a download's body that reports its bytes on `downloadProgress`. */
export function countDownload(url: string, contentLength: string | null): Transform {
  const total = contentLength !== null && /^\d+$/.test(contentLength) ? Number(contentLength) : undefined;
  let received = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      received += chunk.length;
      if (downloadProgress.hasSubscribers) downloadProgress.publish({ url, received, total, done: false } satisfies DownloadProgress);
      callback(null, chunk);
    },
    flush(callback) {
      if (downloadProgress.hasSubscribers) downloadProgress.publish({ url, received, total, done: true } satisfies DownloadProgress);
      callback();
    },
  });
}
