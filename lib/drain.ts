/**
 * What drain() needs (BaseServer.drain(), with the mix-ins' in-flight
 * requests): a set of requests in flight that can be waited on until it is
 * empty, and the check of its timeout.
 */
import { invalidArgType, outOfRange } from './errors.js';

/** What drain() resolves with. */
export interface DrainResult {
  /** Requests in flight (or already taken from the kernel) when it began that completed. */
  finished: number;
  /** Requests still running when the timeout expired: closed. */
  aborted: number;
}

/** Requests in flight, and a wait for the moment there are none. */
export class InFlight<T> {
  readonly #items = new Set<T>();
  #idle: Array<() => void> = [];

  get size(): number {
    return this.#items.size;
  }

  add(item: T): void {
    this.#items.add(item);
  }

  delete(item: T): void {
    if (!this.#items.delete(item) || this.#items.size > 0) return;
    const waiters = this.#idle;
    this.#idle = [];
    for (const wake of waiters) wake();
  }

  values(): IterableIterator<T> {
    return this.#items.values();
  }

  /** Resolves once none is in flight (at once if none is). */
  idle(): Promise<void> {
    if (this.#items.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.#idle.push(resolve));
  }
}

/** drain()'s timeout, checked: seconds >= 0, or null for none. */
export function checkDrainTimeout(timeout: unknown): number | null {
  if (timeout === null) return null;
  if (typeof timeout !== 'number') throw invalidArgType(`drain(timeout): timeout must be a number of seconds or null, got ${typeof timeout}`);
  if (!(timeout >= 0)) throw outOfRange(`drain(timeout): timeout must be >= 0, got ${timeout}`);
  return timeout;
}

/** Resolves true after `seconds` (never, for null); cancel() clears its timer. */
export function deadline(seconds: number | null): { expired: Promise<true>; cancel(): void } {
  if (seconds === null) return { expired: new Promise<true>(() => {}), cancel() {} };
  let timer: NodeJS.Timeout | undefined;
  // setTimeout's range ends at ~24.8 days: beyond it, never.
  const expired = new Promise<true>((resolve) => {
    if (seconds * 1000 < 2 ** 31 - 1) timer = setTimeout(() => resolve(true), seconds * 1000);
  });
  return { expired, cancel: () => clearTimeout(timer) };
}
