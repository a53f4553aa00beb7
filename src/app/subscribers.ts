// The list behind the app's event buses (finished runs, ingested batches): registration in order, and the
// function that takes a registration back.
export class Subscribers<T> {
  private readonly items: T[] = [];

  /** Registers `item`; returns the function that removes it. */
  add(item: T): () => void {
    this.items.push(item);
    return () => {
      const at = this.items.indexOf(item);
      if (at >= 0) this.items.splice(at, 1);
    };
  }

  /** A copy, so one that unsubscribes while being told does not skip the next. */
  all(): readonly T[] {
    return [...this.items];
  }
}
