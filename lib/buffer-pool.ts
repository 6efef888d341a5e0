/**
 * A pool that reads land in, as Node's own socket reads do: a short read
 * costs a view of the pool, not an ArrayBuffer of its own. A slice keeps
 * its pool alive; a pool too full for the next read is left to the slices
 * still using it, and a new one is started.
 */
export class BufferPool {
  #pool: Buffer;
  #offset = 0;

  constructor(private readonly size: number) {
    this.#pool = Buffer.allocUnsafeSlow(size);
  }

  /**
   * The pool and offset where up to `n` bytes may be written now (a new
   * pool when this one has no room). `n` must not exceed the pool's size.
   */
  room(n: number): Buffer {
    if (this.size - this.#offset < n) {
      this.#pool = Buffer.allocUnsafeSlow(this.size);
      this.#offset = 0;
    }
    return this.#pool;
  }

  get offset(): number {
    return this.#offset;
  }

  /** The `got` bytes just written at the offset, as a view; the offset moves on, 8-byte aligned. */
  take(got: number): Buffer {
    const start = this.#offset;
    this.#offset = (start + got + 7) & ~7;
    return this.#pool.subarray(start, start + got);
  }
}
