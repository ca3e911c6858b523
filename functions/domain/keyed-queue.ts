/**
 * Runs tasks one at a time per key. Concurrent sends to one room from the
 * same process then take turns instead of racing for the same seq (each race
 * costs a failed conditional write and a re-read); across processes the
 * conditional write still decides.
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(task, task);
    const tail = result.catch(() => {});
    this.tails.set(key, tail);
    // Forget the key once nothing is queued behind this task (bounded memory).
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}
