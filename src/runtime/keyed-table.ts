// KeyedTable: values by key for entries that come and go by the thousand a second (the predictions
// in flight, their executions on the worker's host side, the retained predictions), kept where
// V8's scavenger lets them die young: a dictionary-mode object, not a Map.

/**
 * A table of values by string or number key, in insertion order, with the part of Map's API its
 * owners use. Why not a Map: once a Map's hash table is in old space, V8 allocates each table
 * that replaces it (every few dozen inserts and deletes, as the table compacts or resizes) in old
 * space too, and keeps each obsolete table, entries and all, linked to its successor until the
 * next full collection. So every entry ever added stays reachable from old space: each
 * prediction's whole object graph survived the young collections and was promoted. Measured on
 * the server's thread under wrk c=16 (benches/README.md "HTTP server", 2026-12-01 night): 2.1 MB
 * surviving each scavenge, 3-6 ms a pause, against ~10 KB and ~0.5 ms with this table.
 * A dictionary-mode object (`Object.create(null)` is one) has no such chain.
 */
export class KeyedTable<K extends string | number, V> {
  #entries: Record<string | number, V> = Object.create(null) as Record<string | number, V>;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  get(key: K): V | undefined {
    return this.#entries[slot(key)];
  }

  has(key: K): boolean {
    return this.#entries[slot(key)] !== undefined;
  }

  /** Sets `key` (an undefined value is not a value here: `delete` instead). */
  set(key: K, value: V): void {
    const at = slot(key);
    if (this.#entries[at] === undefined) this.#size += 1;
    this.#entries[at] = value;
  }

  delete(key: K): boolean {
    const at = slot(key);
    if (this.#entries[at] === undefined) return false;
    delete this.#entries[at];
    this.#size -= 1;
    return true;
  }

  /** The values, oldest first (a copy: the table may change while they are used). */
  values(): V[] {
    const values: V[] = [];
    for (const at in this.#entries) values.push(this.#entries[at]!);
    return values;
  }
}

const NUL = 0;

/**
 * Where `key` sits. A string that starts with a digit could be an array index, which an object
 * enumerates before its other keys in numeric order; such keys (and those starting with NUL, so
 * that no two keys meet) get a NUL in front, which keeps every string key in insertion order.
 * Number keys (token ids: integers that only grow) enumerate in numeric order, their insertion order.
 */
function slot(key: string | number): string | number {
  if (typeof key === 'number') return key;
  const first = key.charCodeAt(0);
  return (first >= 48 && first <= 57) || first === NUL ? `\u0000${key}` : key;
}
