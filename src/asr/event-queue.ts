/** A push/pull queue that turns callback-driven results into one async iterator. */
export class EventQueue<T> {
  #items: T[] = [];
  #wake: (() => void) | undefined;
  #error: unknown;
  #failed = false;
  #done = false;

  /** Adds an item unless the queue already ended. */
  push(item: T): void {
    if (this.#done) return;
    this.#items.push(item);
    this.#notify();
  }

  /** Ends the queue after the items already in it. */
  end(): void {
    this.#done = true;
    this.#notify();
  }

  /** Ends the queue with an error, thrown after the items already in it. */
  fail(error: unknown): void {
    if (this.#done) return;
    this.#failed = true;
    this.#error = error;
    this.#done = true;
    this.#notify();
  }

  get ended(): boolean {
    return this.#done;
  }

  /** Yields every item until the queue ends; throws the failure, if any. */
  async *drain(): AsyncGenerator<T> {
    for (;;) {
      const item = this.#items.shift();
      if (item !== undefined) {
        yield item;
        continue;
      }
      if (this.#done) {
        if (this.#failed) throw this.#error;
        return;
      }
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
