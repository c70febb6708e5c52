// The table the runtime keeps its predictions in flight in (and the worker's host its executions,
// retention its predictions): Map's behaviour for the keys a prediction id can be.
import { describe, expect, it } from 'vitest';
import { KeyedTable } from '../src/runtime/keyed-table.js';

describe('KeyedTable', () => {
  it('agrees with a Map through a long churn of inserts, replacements and deletes (compactions and growth)', () => {
    const table = new KeyedTable<string, number>();
    const model = new Map<string, number>();
    let seed = 12345;
    const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    for (let step = 0; step < 20000; step++) {
      // Up to ~40 keys live at once, then (past step 10000) up to ~400: the table compacts, then grows.
      const key = `pred_${Math.floor(random() * (step < 10000 ? 40 : 400)).toString(16)}`;
      if (random() < 0.5) {
        table.set(key, step);
        model.set(key, step);
      } else {
        expect(table.delete(key)).toBe(model.delete(key));
      }
      expect(table.size).toBe(model.size);
    }
    for (const [key, value] of model) expect(table.get(key)).toBe(value);
    expect(table.values()).toEqual([...model.values()]);
    expect(table.get('pred_absent')).toBeUndefined();
  });

  it('keeps string keys in insertion order, array-index-like and NUL-leading ones included', () => {
    const table = new KeyedTable<string, number>();
    const keys = ['b', '10', '2', '\u00001', '1', '\u0000\u0000x', '__proto__', 'constructor', '', 'a'];
    keys.forEach((key, index) => table.set(key, index));
    expect(table.size).toBe(keys.length);
    expect(table.values()).toEqual(keys.map((_, index) => index));
    // '1' and '\u00001' (and the others) are different keys.
    keys.forEach((key, index) => expect(table.get(key)).toBe(index));
    expect(table.get('hasOwnProperty')).toBeUndefined();
    expect(table.has('toString')).toBe(false);
  });

  it('set on a key it has replaces the value in place; delete says whether there was one', () => {
    const table = new KeyedTable<string, string>();
    table.set('x', 'one');
    table.set('7', 'seven');
    table.set('x', 'two');
    expect(table.size).toBe(2);
    expect(table.values()).toEqual(['two', 'seven']);
    expect(table.delete('7')).toBe(true);
    expect(table.delete('7')).toBe(false);
    expect(table.size).toBe(1);
    table.set('7', 'again');
    expect(table.values()).toEqual(['two', 'again']);
  });

  it('number keys (token ids, which only grow) come back in that order', () => {
    const table = new KeyedTable<number, string>();
    for (const id of [3, 4, 2 ** 33, 2 ** 40 + 1]) table.set(id, `v${id}`);
    expect(table.values()).toEqual(['v3', 'v4', `v${2 ** 33}`, `v${2 ** 40 + 1}`]);
    expect(table.has(4)).toBe(true);
    table.delete(4);
    expect(table.has(4)).toBe(false);
    expect(table.size).toBe(3);
  });

  it('exchange sets and gives back the value it replaced; deleteIf deletes a key only while it holds that value', () => {
    const table = new KeyedTable<string, object>();
    const one = { n: 1 };
    const two = { n: 2 };
    expect(table.exchange('a', one)).toBeUndefined();
    expect(table.exchange('a', two)).toBe(one);
    expect(table.size).toBe(1);
    expect(table.deleteIf('a', one)).toBe(false);
    expect(table.get('a')).toBe(two);
    expect(table.deleteIf('a', two)).toBe(true);
    expect(table.deleteIf('a', two)).toBe(false);
    expect(table.size).toBe(0);
    expect(table.has('a')).toBe(false);
  });

  it('agrees with a Map when entries come and go a few at a time, as predictions in flight do', () => {
    // A handful live at once, deleted mostly in the order they came: deleted slots become empty
    // again, and every lookup still finds what probing passed over.
    const table = new KeyedTable<string, number>();
    const model = new Map<string, number>();
    let seed = 777;
    const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    let next = 0;
    for (let step = 0; step < 20000; step++) {
      if (model.size < 16 && random() < 0.6) {
        const key = `pred_${(next++).toString(16)}`;
        table.set(key, step);
        model.set(key, step);
      } else if (model.size > 0) {
        const keys = [...model.keys()];
        const key = keys[random() < 0.8 ? 0 : Math.floor(random() * keys.length)]!;
        expect(table.delete(key)).toBe(true);
        model.delete(key);
      }
      expect(table.size).toBe(model.size);
      if (step % 97 === 0) for (const [key, value] of model) expect(table.get(key)).toBe(value);
    }
    expect(table.values()).toEqual([...model.values()]);
  });

  it('values() is a copy: the table may change while they are used', () => {
    const table = new KeyedTable<string, number>();
    table.set('a', 1);
    table.set('b', 2);
    for (const value of table.values()) table.delete(value === 1 ? 'a' : 'b');
    expect(table.size).toBe(0);
    expect(table.values()).toEqual([]);
  });
});
