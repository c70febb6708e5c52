// The native admission line and batch former as the runtime calls them (the real addon): slots
// handed to waiters first in first out, leaving the line, the refusal's numbers, batches.
import { describe, expect, it } from 'vitest';
import { PredictionAdmission, PredictionBatches, PredictionSlot, WaitingTicket } from '../src/native/addon.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('PredictionAdmission', () => {
  it('hands freed slots to waiters in arrival order, and refuses past the line', async () => {
    const admission = new PredictionAdmission(1, 2);
    const first = admission.admit('a');
    expect(first).toBeInstanceOf(PredictionSlot);
    const b = admission.admit('b');
    const c = admission.admit('c');
    expect(b).toBeInstanceOf(WaitingTicket);
    expect(c).toBeInstanceOf(WaitingTicket);
    expect([admission.positionOf('b'), admission.positionOf('c'), admission.positionOf('a')]).toEqual([0, 1, null]);
    expect(admission.admit('d')).toEqual({ waiting: 2, max: 2, retryAfter: 1 });
    const order: string[] = [];
    const bSlot = (b as WaitingTicket).wait().then((slot) => (order.push('b'), slot));
    const cSlot = (c as WaitingTicket).wait().then((slot) => (order.push('c'), slot));
    (first as PredictionSlot).release();
    (await bSlot)?.release();
    (await cSlot)?.release();
    expect(order).toEqual(['b', 'c']);
    expect([admission.inUse, admission.waiting]).toEqual([0, 0]);
  });

  it('admitNow gives a free slot as a number only while nobody waits; releaseHandle frees it once', async () => {
    const admission = new PredictionAdmission(2, 4);
    const first = admission.admitNow();
    const second = admission.admitNow();
    expect(typeof first).toBe('number');
    expect(second).not.toBe(first);
    expect([admission.inUse, admission.full]).toEqual([2, true]);
    // Full: null, and nothing joins the line (admit does that).
    expect(admission.admitNow()).toBeNull();
    expect(admission.waiting).toBe(0);
    const waiter = admission.admit('w') as WaitingTicket;
    expect(admission.releaseHandle(first!)).toBe(true);
    expect(admission.releaseHandle(first!)).toBe(false);
    // The freed slot goes to the waiter, first in line, not to a newcomer.
    expect(admission.admitNow()).toBeNull();
    const slot = await waiter.wait();
    expect(slot).toBeInstanceOf(PredictionSlot);
    slot!.release();
    expect(admission.releaseHandle(second!)).toBe(true);
    expect([admission.inUse, admission.waiting]).toEqual([0, 0]);
    expect(typeof admission.admitNow()).toBe('number');
  });

  it('a cancelled or departed waiter resolves null and its turn passes on', async () => {
    const admission = new PredictionAdmission(1, 4);
    const held = admission.admit('a') as PredictionSlot;
    const b = admission.admit('b') as WaitingTicket;
    const c = admission.admit('c') as WaitingTicket;
    const d = admission.admit('d') as WaitingTicket;
    expect(admission.cancel('b')).toBe(true);
    expect(admission.cancel('b')).toBe(false);
    c.leave();
    expect(await b.wait()).toBeNull();
    expect(await c.wait()).toBeNull();
    held.release();
    const slot = await d.wait();
    expect(slot).toBeInstanceOf(PredictionSlot);
    expect(admission.full).toBe(true);
    slot?.release();
    expect(admission.full).toBe(false);
  });

  it('answers Cog-style at capacity with no line, and estimates Retry-After from measured runs', () => {
    const admission = new PredictionAdmission(2, 0);
    const slots = [admission.admit('a'), admission.admit('b')];
    expect(slots.every((slot) => slot instanceof PredictionSlot)).toBe(true);
    expect(admission.admit('c')).toEqual({ waiting: 0, max: 0, retryAfter: 1 });
    const queued = new PredictionAdmission(2, 10);
    queued.admit('a');
    queued.admit('b');
    for (let i = 0; i < 4; i++) expect(queued.admit(`w${i}`)).toBeInstanceOf(WaitingTicket);
    queued.recordRun(3);
    // 4 wait, 2 slots, 3 s a run: a newcomer starts after 5 runs, 2 at a time: ceil(5 × 3 / 2).
    expect(queued.retryAfter).toBe(8);
  });

  it('lets no one past a waiter: tryAcquire answers null while anyone waits', () => {
    const admission = new PredictionAdmission(1, 1);
    const held = admission.tryAcquire();
    expect(held).toBeInstanceOf(PredictionSlot);
    const waiter = admission.admit('w') as WaitingTicket;
    held?.release();
    expect(admission.tryAcquire()).toBeNull();
    waiter.leave();
    expect(admission.tryAcquire()).toBeInstanceOf(PredictionSlot);
  });
});

describe('PredictionBatches', () => {
  it('forms a batch when full, or when the oldest item has waited max delay', async () => {
    const batches = new PredictionBatches(3, 30);
    batches.push(1);
    batches.push(2);
    expect(batches.takeReady()).toBeNull();
    const wait = batches.msUntilDeadline();
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(30);
    batches.push(3);
    batches.push(4);
    expect(batches.takeReady()).toEqual([1, 2, 3]);
    expect(batches.length).toBe(1);
    await sleep(40);
    expect(batches.msUntilDeadline()).toBe(0);
    expect(batches.takeReady()).toEqual([4]);
    expect(batches.msUntilDeadline()).toBeNull();
  });

  it('leaves removed items out, and flushes what waits', () => {
    const batches = new PredictionBatches(4, 1000);
    for (const key of [7, 8, 9]) batches.push(key);
    expect(batches.remove(8)).toBe(true);
    expect(batches.remove(8)).toBe(false);
    expect(batches.flush()).toEqual([7, 9]);
    expect(batches.flush()).toBeNull();
  });
});
