// Finished predictions kept for polling (`GET /predictions/{id}`): each one's final JSON text by id,
// oldest first, evicted by count and by age on insert and on lookup (no timer per prediction).
// The runtime (runtime.ts) hands every prediction here as it finishes.

export interface RetentionLimits {
  /** Most finished predictions kept (`COG_PREDICTION_RETENTION`); 0 keeps none. */
  count: number;
  /** Seconds a finished prediction is kept (`COG_PREDICTION_RETENTION_SECONDS`). */
  seconds: number;
}

interface Retained {
  /** The prediction object as JSON text, written once by its own writer when it finished. */
  readonly json: string;
  /** When it was kept (`clock()` ms): the map is in this order, oldest first. */
  readonly at: number;
}

/**
 * Finished predictions by id, in the order they finished. Keeping the final JSON text rather than
 * the `Prediction` costs ~7× less memory for an echo prediction (about 540 B against 3.9 KB of
 * heap: benches/retention) and drops the prediction's listeners and event history with it.
 * Memory stays bounded by `count`; an entry older than `seconds` is gone from the next insert or
 * lookup on.
 */
export class RetentionStore {
  readonly #count: number;
  readonly #maxAgeMs: number;
  readonly #clock: () => number;
  /** Insertion order is finish order: the first entry is always the oldest. */
  readonly #entries = new Map<string, Retained>();

  constructor(limits: RetentionLimits, clock: () => number = () => performance.now()) {
    this.#count = Math.max(0, Math.floor(limits.count));
    this.#maxAgeMs = Math.max(0, limits.seconds) * 1000;
    this.#clock = clock;
  }

  /** False when retention is off (count 0): then there is nothing to write. */
  get enabled(): boolean {
    return this.#count > 0 && this.#maxAgeMs > 0;
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * Keeps a finished prediction's JSON (its one terminal text, which the sync answer and the
   * webhook share: read only when retention is on); an id kept already moves to the newest place.
   */
  keep(prediction: { readonly id: string; readonly finalJson: string | undefined }): void {
    if (!this.enabled) return;
    const json = prediction.finalJson;
    if (json === undefined) return;
    const now = this.#clock();
    this.#entries.delete(prediction.id);
    this.#entries.set(prediction.id, { json, at: now });
    this.#evict(now);
  }

  /** The JSON text of a finished prediction still kept; undefined when unknown or evicted. */
  get(id: string): string | undefined {
    if (this.#entries.size === 0) return undefined;
    this.#evict(this.#clock());
    return this.#entries.get(id)?.json;
  }

  /** Drops the oldest entries past the count, then those past the age (all at the front). */
  #evict(now: number): void {
    const entries = this.#entries;
    const oldestKept = now - this.#maxAgeMs;
    for (const [id, entry] of entries) {
      if (entries.size <= this.#count && entry.at > oldestKept) return;
      entries.delete(id);
    }
  }
}
