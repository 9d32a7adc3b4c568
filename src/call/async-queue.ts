/** A consumer that takes a queue's items synchronously as they are pushed. */
export interface QueueListener<T> {
  frame(item: T): void;
  end(): void;
}

/**
 * A single-consumer push queue exposed as an async iterable: producers `push()` from event
 * handlers, one consumer `for await`s, or subscribes and is handed each item as it is pushed (no
 * promise per item). Bounded: past `limit` items the oldest are dropped and counted, so a stalled
 * iterating consumer cannot grow memory without end.
 */
export class AsyncQueue<T> implements AsyncIterable<T> {
  readonly #items: T[] = [];
  readonly #limit: number;
  #waiter: ((result: IteratorResult<T>) => void) | undefined;
  #listener: QueueListener<T> | undefined;
  #ended = false;
  #dropped = 0;

  constructor(limit = Number.POSITIVE_INFINITY) {
    this.#limit = limit;
  }

  /** Items dropped because the queue was full. */
  get dropped(): number {
    return this.#dropped;
  }

  get ended(): boolean {
    return this.#ended;
  }

  push(item: T): void {
    if (this.#ended) return;
    const listener = this.#listener;
    if (listener !== undefined) {
      listener.frame(item);
      return;
    }
    const waiter = this.#waiter;
    if (waiter !== undefined) {
      this.#waiter = undefined;
      waiter({ value: item, done: false });
      return;
    }
    if (this.#items.length >= this.#limit) {
      this.#items.shift();
      this.#dropped++;
    }
    this.#items.push(item);
  }

  /** Ends the stream after the items already queued. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.({ value: undefined, done: true });
    const listener = this.#listener;
    this.#listener = undefined;
    listener?.end();
  }

  /**
   * Hands the queued items, then each pushed one, to `listener` as they come, and the end once;
   * the returned function stops that (the queue then ends, as when an iterating consumer stops).
   */
  subscribe(listener: QueueListener<T>): () => void {
    if (this.#listener !== undefined || this.#waiter !== undefined) throw new Error('the queue already has a consumer');
    const queued = this.#items.splice(0);
    this.#listener = listener;
    for (const item of queued) {
      if (this.#listener !== listener) break;
      listener.frame(item);
    }
    if (this.#ended && this.#listener === listener) {
      this.#listener = undefined;
      listener.end();
    }
    return () => {
      if (this.#listener !== listener) return;
      this.#listener = undefined;
      this.end();
    };
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        const item = this.#items.shift();
        if (item !== undefined) return Promise.resolve({ value: item, done: false });
        if (this.#ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          this.#waiter = resolve;
        });
      },
      return: () => {
        this.end();
        this.#items.length = 0;
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
