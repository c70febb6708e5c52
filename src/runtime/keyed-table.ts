// KeyedTable: values by key for entries that come and go by the thousand a second (the predictions
// in flight, their executions on the worker's host side, the retained predictions), kept where
// V8's scavenger lets them die young: a hash table of our own over arrays, not a Map.
import { randomBytes } from 'node:crypto';

/** A slot whose key was deleted: probing goes on past it; an insert may take it. */
const GONE: unique symbol = Symbol('gone');

/** Slots to begin with (a power of two); a table grows by doubling and never shrinks. */
const INITIAL_CAPACITY = 32;

/**
 * A table of values by string or number key, with the part of Map's API its owners use
 * (`values()` in insertion order). Why not a Map: once a Map's hash table is in old space, V8
 * allocates each table that replaces it (every few dozen inserts and deletes, as the table
 * compacts or resizes) in old space too, and keeps each obsolete table, entries and all, linked to
 * its successor until the next full collection. So every entry ever added stayed reachable from
 * old space: each prediction's whole object graph survived the young collections and was
 * promoted (benches/README.md "HTTP server", 2026-12-01 night: 2.0 MB surviving each scavenge of
 * the server's thread under wrk c=16 and 4.8 ms a pause, against 0.3 MB and 1.1 ms without a Map,
 * most of that retention's own JSON; 16 entries of ~2 KB live in a loop: 2.7 MB and 6.4 ms with a
 * Map, 40 KB and 0.2 ms with this). Nor a dictionary-mode object, which does as well for the GC
 * but internalizes every new id into V8's string table (~4% of the server's thread; set, get and
 * delete ~1.3 µs in a loop, this ~0.65, a Map ~0.3). Here the slots are plain arrays, cleared on
 * delete, compacted in place, and cleared before they are replaced, so nothing old keeps a
 * finished entry alive.
 */
export class KeyedTable<K extends string | number, V> {
  #keys: (K | typeof GONE | undefined)[] = [];
  #values: (V | undefined)[] = [];
  /** Each slot's insertion number: `values()` comes out in insertion order. */
  #order: number[] = [];
  #mask = 0;
  #size = 0;
  /** Slots holding a key or GONE: probing stops only at an empty one, so this is kept under half. */
  #used = 0;
  #inserted = 0;

  constructor() {
    this.#allocate(INITIAL_CAPACITY);
  }

  get size(): number {
    return this.#size;
  }

  // Each method takes the key's hash (`keyHash`) where its caller has it already: a prediction's id
  // is hashed once for its in-flight entry and its retention, not at every step (four times).

  get(key: K, hash = keyHash(key)): V | undefined {
    const at = this.#find(key, hash);
    return at < 0 ? undefined : this.#values[at];
  }

  has(key: K, hash = keyHash(key)): boolean {
    return this.#find(key, hash) >= 0;
  }

  set(key: K, value: V, hash = keyHash(key)): void {
    this.exchange(key, value, hash);
  }

  /** `set`, returning the value `key` had (undefined if none): a replace in one probe, not a `get` and a `set`. */
  exchange(key: K, value: V, hash = keyHash(key)): V | undefined {
    const keys = this.#keys;
    const mask = this.#mask;
    let at = hash & mask;
    let free = -1;
    for (;;) {
      const held = keys[at];
      if (held === key) {
        const before = this.#values[at];
        this.#values[at] = value;
        return before;
      }
      if (held === undefined) break;
      if (held === GONE && free < 0) free = at;
      at = (at + 1) & mask;
    }
    if (free < 0) {
      // A new slot taken: past half full (deleted ones included), compact or grow first.
      if ((this.#used + 1) * 2 > keys.length) {
        this.#rebuild();
        return this.exchange(key, value, hash);
      }
      free = at;
      this.#used += 1;
    }
    keys[free] = key;
    this.#values[free] = value;
    this.#order[free] = this.#inserted++;
    this.#size += 1;
    return undefined;
  }

  delete(key: K, hash = keyHash(key)): boolean {
    const at = this.#find(key, hash);
    if (at < 0) return false;
    this.#deleteAt(at);
    return true;
  }

  /** Deletes `key` only while it holds `value` (one probe, not a `get` and a `delete`); says whether it did. */
  deleteIf(key: K, value: V, hash = keyHash(key)): boolean {
    const at = this.#find(key, hash);
    if (at < 0 || this.#values[at] !== value) return false;
    this.#deleteAt(at);
    return true;
  }

  #deleteAt(at: number): void {
    const keys = this.#keys;
    const mask = this.#mask;
    // Cleared: an old array must not keep a finished entry alive.
    this.#values[at] = undefined;
    this.#size -= 1;
    if (keys[(at + 1) & mask] !== undefined) {
      keys[at] = GONE;
      return;
    }
    // No probe goes on past an empty slot, so none needs this one (nor the deleted ones right
    // before it): they are empty again. Slots then come back as fast as entries go, and the
    // table is rebuilt only as its live entries fill it (an in-flight table of ~16 was rebuilt
    // every ~16 inserts, with an object per live entry).
    let back = at;
    do {
      keys[back] = undefined;
      this.#used -= 1;
      back = (back - 1) & mask;
    } while (keys[back] === GONE);
  }

  /** The values, oldest first (a copy: the table may change while they are used). */
  values(): V[] {
    const slots: number[] = [];
    for (let at = 0; at < this.#keys.length; at++) {
      const key = this.#keys[at];
      if (key !== undefined && key !== GONE) slots.push(at);
    }
    slots.sort((a, b) => this.#order[a]! - this.#order[b]!);
    return slots.map((at) => this.#values[at]!);
  }

  #find(key: K, hash: number): number {
    const keys = this.#keys;
    const mask = this.#mask;
    let at = hash & mask;
    for (;;) {
      const held = keys[at];
      if (held === key) return at;
      if (held === undefined) return -1;
      at = (at + 1) & mask;
    }
  }

  #allocate(capacity: number): void {
    this.#keys = new Array<K | typeof GONE | undefined>(capacity).fill(undefined);
    this.#values = new Array<V | undefined>(capacity).fill(undefined);
    this.#order = new Array<number>(capacity).fill(0);
    this.#mask = capacity - 1;
    this.#used = 0;
    this.#size = 0;
  }

  /** Puts the live entries back without the deleted slots: in the same arrays, or twice as many when a quarter full. */
  #rebuild(): void {
    const keys = this.#keys;
    const values = this.#values;
    const order = this.#order;
    const live: { key: K; value: V; order: number }[] = [];
    for (let at = 0; at < keys.length; at++) {
      const key = keys[at];
      if (key !== undefined && key !== GONE) live.push({ key, value: values[at]!, order: order[at]! });
    }
    if (live.length * 4 >= keys.length) {
      // Cleared before they are let go: if old, they would keep their entries alive until a full GC.
      keys.fill(undefined);
      values.fill(undefined);
      this.#allocate(keys.length * 2);
    } else {
      keys.fill(undefined);
      values.fill(undefined);
      this.#used = 0;
      this.#size = 0;
    }
    for (const entry of live) {
      const mask = this.#mask;
      let at = keyHash(entry.key) & mask;
      while (this.#keys[at] !== undefined) at = (at + 1) & mask;
      this.#keys[at] = entry.key;
      this.#values[at] = entry.value;
      this.#order[at] = entry.order;
      this.#used += 1;
      this.#size += 1;
    }
  }
}

/**
 * Where each process's hashes start: a client that knows the function cannot work out ahead of
 * time ids that land in one chain (V8 seeds its own string hashes per process for the same reason).
 */
const SEED = randomBytes(4).readUInt32LE(0);

/**
 * A key's hash (32 bits, FNV-1a from a random start): a number's two halves, a string's every
 * character. Only the last few characters of an id we make change, but an id may be the
 * client's: hashing less than all of it would let a client send ids that all land in one chain.
 */
export function keyHash(key: string | number): number {
  let hash = SEED;
  if (typeof key === 'number') {
    hash = Math.imul(hash ^ (key | 0), 0x01000193);
    return Math.imul(hash ^ ((key / 0x100000000) | 0), 0x01000193) >>> 0;
  }
  for (let index = 0; index < key.length; index++) hash = Math.imul(hash ^ key.charCodeAt(index), 0x01000193);
  return hash >>> 0;
}
