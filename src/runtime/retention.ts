// Finished predictions kept for polling (`GET /predictions/{id}`): each one's final JSON text by id,
// oldest first, evicted by count, by age and by total size on insert and on lookup (no timer per
// prediction). The runtime (runtime.ts) hands every prediction here as it finishes.
import { KeyedTable, keyHash } from './keyed-table.js';

export interface RetentionLimits {
  /** Most finished predictions kept (`COG_PREDICTION_RETENTION`); 0 keeps none. */
  count: number;
  /** Seconds a finished prediction is kept (`COG_PREDICTION_RETENTION_SECONDS`). */
  seconds: number;
  /** Most characters of JSON kept in all (default RETAINED_JSON_MAX); one larger alone is not kept. */
  maxChars?: number;
}

/**
 * The JSON kept in all, in characters (bytes, for the one-byte strings JSON of ASCII is): 1000
 * predictions with a 1 MB data-URI image each would otherwise hold a gigabyte for 10 minutes.
 */
export const RETAINED_JSON_MAX = 128 * 1024 * 1024;

interface Retained {
  readonly id: string;
  /** The id's `keyHash`, for its eviction. */
  readonly hash: number;
  /** The prediction object as JSON text, written once by its own writer when it finished. */
  readonly json: string;
  /** When it was kept (`clock()` ms): `#order` is in this order, oldest first. */
  readonly at: number;
  /** Dropped (its id kept again, newer): passed over where it still sits in `#order`. */
  gone: boolean;
}

/**
 * Finished predictions by id, in the order they finished. Keeping the final JSON text rather than
 * the `Prediction` costs ~7× less memory for an echo prediction (about 540 B against 3.9 KB of
 * heap: benches/retention) and drops the prediction's listeners and event history with it.
 * Memory stays bounded by `count` and by `maxChars`; an entry older than `seconds` is gone from
 * the next insert or lookup on.
 */
export class RetentionStore {
  readonly #count: number;
  readonly #maxAgeMs: number;
  readonly #maxChars: number;
  readonly #clock: () => number;
  /** By id: a `KeyedTable`, whose churn does not keep every entry reachable from old space as a Map's does. */
  readonly #entries = new KeyedTable<string, Retained>();
  /**
   * The entries in the order they were kept, oldest at `#head`, so eviction looks at the front
   * without iterating the Map (an iterator and an entry array per step: ~3% of the server's
   * thread per echo request, one eviction per insert once full).
   */
  #order: (Retained | undefined)[] = [];
  #head = 0;
  /** Characters of JSON held now. */
  #chars = 0;

  constructor(limits: RetentionLimits, clock: () => number = () => performance.now()) {
    this.#count = Math.max(0, Math.floor(limits.count));
    this.#maxAgeMs = Math.max(0, limits.seconds) * 1000;
    this.#maxChars = limits.maxChars ?? RETAINED_JSON_MAX;
    this.#clock = clock;
  }

  /** False when retention is off (count or seconds 0): then nothing is asked for its JSON. */
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
  keep(prediction: { readonly id: string; readonly finalJson: string | undefined }, hash = keyHash(prediction.id)): void {
    if (!this.enabled) return;
    const json = prediction.finalJson;
    if (json === undefined) return;
    const now = this.#clock();
    // Too large to keep at all: polling it answers 404, as for one evicted (an older one under
    // its id is dropped all the same).
    if (json.length <= this.#maxChars) {
      const entry: Retained = { id: prediction.id, hash, json, at: now, gone: false };
      // The one kept under this id before, if any, is replaced in the same probe (a new id, nearly
      // every prediction, was looked up and then inserted: two hashes of it).
      const before = this.#entries.exchange(prediction.id, entry, hash);
      if (before !== undefined) this.#gone(before);
      this.#order.push(entry);
      this.#chars += json.length;
    } else {
      this.#drop(prediction.id, hash);
    }
    this.#evict(now);
  }

  /** The JSON text of a finished prediction still kept; undefined when unknown or evicted. */
  get(id: string): string | undefined {
    if (this.#entries.size === 0) return undefined;
    this.#evict(this.#clock());
    return this.#entries.get(id)?.json;
  }

  #drop(id: string, hash: number): void {
    const entry = this.#entries.get(id, hash);
    if (entry === undefined) return;
    this.#entries.delete(id, hash);
    this.#gone(entry);
  }

  /** An entry no longer under its id (dropped, or replaced by a newer one): passed over in `#order`. */
  #gone(entry: Retained): void {
    entry.gone = true;
    this.#chars -= entry.json.length;
  }

  /** Drops the oldest entries while past the count, the size or the age (all at the front). */
  #evict(now: number): void {
    const entries = this.#entries;
    const order = this.#order;
    const oldestKept = now - this.#maxAgeMs;
    while (this.#head < order.length) {
      const entry = order[this.#head];
      if (entry !== undefined && !entry.gone) {
        if (entries.size <= this.#count && this.#chars <= this.#maxChars && entry.at > oldestKept) break;
        entries.delete(entry.id, entry.hash);
        this.#chars -= entry.json.length;
      }
      // Let go now: the slot is dropped from the array later, at the next splice.
      order[this.#head] = undefined;
      this.#head += 1;
    }
    // The front's slots are let go in one splice once they are half the array (amortised O(1)); so
    // are the ids kept again while nothing was evicted, once they outnumber the live entries.
    if (this.#head > 1024 && this.#head * 2 > order.length) {
      this.#order = order.slice(this.#head);
      this.#head = 0;
    } else if (order.length - this.#head > 2 * entries.size + 1024) {
      this.#order = order.slice(this.#head).filter((entry) => entry !== undefined && !entry.gone);
      this.#head = 0;
    }
  }
}
