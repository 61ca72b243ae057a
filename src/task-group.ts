// The pushes started by one listing, awaited together before its chunk counts as done. Only the ones still in flight
// are held: a settled push is dropped at once, so memory follows the concurrency, not the size of the window.
export class TaskGroup {
  private readonly pending = new Set<Promise<void>>();
  private failure: { error: unknown } | null = null;

  add(task: Promise<void>): void {
    this.pending.add(task);
    task.then(
      () => this.pending.delete(task),
      (error: unknown) => {
        this.pending.delete(task);
        this.failure ??= { error };
      },
    );
  }

  /** Resolves once every task added so far has settled; rejects with the first task's error, if any failed. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    if (this.failure) throw this.failure.error;
  }
}
