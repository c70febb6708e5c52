// What `cog-node predict` shows while it waits, on stderr and only on a terminal: a spinner with
// the elapsed time during setup, and the bytes of URL input downloads. Off a terminal nothing is
// written, so logs piped to a file hold no control characters.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { downloadProgress, type DownloadProgress } from '../runtime/download-progress.js';
import { onEcho, outsideCapture } from '../runtime/log-capture.js';
import { currentSettings } from '../load/settings.js';

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/** One status line at the bottom of a terminal, redrawn in place; a no-op elsewhere. */
export class StatusLine {
  readonly #stream: NodeJS.WriteStream;
  readonly #enabled: boolean;
  #timer: NodeJS.Timeout | undefined;
  #frame = 0;
  #text: () => string = () => '';

  constructor(stream: NodeJS.WriteStream = process.stderr) {
    this.#stream = stream;
    this.#enabled = stream.isTTY === true && !currentSettings().dumbTerminal;
  }

  get enabled(): boolean {
    return this.#enabled;
  }

  /** Shows `text()` (re-read on each frame, ten a second) until `clear()`. */
  show(text: () => string): void {
    if (!this.#enabled) return;
    this.#text = text;
    this.#draw();
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.#draw(), 100).unref();
    // A log line from the predictor erases the status line first; the next frame redraws it below.
    onEcho(() => this.#write('\r\x1b[K'));
  }

  clear(): void {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    onEcho(undefined);
    this.#write('\r\x1b[K');
  }

  /** Past any log capture: a download's progress arrives inside its prediction, and is no log of it. */
  #write(text: string): void {
    outsideCapture(() => this.#stream.write(text));
  }

  #draw(): void {
    this.#frame = (this.#frame + 1) % FRAMES.length;
    this.#write(`\r\x1b[K${FRAMES[this.#frame]} ${this.#text()}`);
  }
}

/** A setup spinner with the elapsed time; returns the function that stops it. */
export function showSetup(line: StatusLine): () => void {
  const started = performance.now();
  line.show(() => `Running setup... ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return () => line.clear();
}

/** Shows URL input downloads as they go; returns the function that stops watching. */
export function showDownloads(line: StatusLine): () => void {
  // Off a terminal, no subscriber: the downloads do not even publish their progress.
  if (!line.enabled) return () => undefined;
  const downloads = new Map<string, DownloadProgress>();
  const onMessage = (message: unknown) => {
    const progress = message as DownloadProgress;
    if (progress.done) downloads.delete(progress.url);
    else downloads.set(progress.url, progress);
    if (downloads.size === 0) return line.clear();
    line.show(() =>
      [...downloads.values()]
        .map(
          ({ url, received, total }) =>
            `Downloading ${url.split('/').pop() || url} ${megabytes(received)}${total ? ` / ${megabytes(total)} (${Math.floor((received / total) * 100)}%)` : ''}`,
        )
        .join(', '),
    );
  };
  subscribe(downloadProgress.name, onMessage);
  return () => {
    unsubscribe(downloadProgress.name, onMessage);
    line.clear();
  };
}
