/**
 * Lets I/O in between stretches of synchronous work. A resync over a calm cluster answers most
 * keys from the plan memo without a single real await, so the workers would run key after key in
 * microtasks and never give the event loop back: heartbeats, API calls and Redis replies wait
 * (a 40,000-key pass blocked the orchestrator for over a second, long enough for Redis command
 * timeouts and spurious 503s to heartbeats). Every worker asks after each key; once `budgetMs` of
 * work has passed since the last breath, all of them wait for one `setImmediate` together.
 */
export class EventLoopBreather {
  private sinceMs = performance.now();
  private breath: Promise<void> | undefined;

  constructor(private readonly budgetMs: number) {}

  /** A promise to await before the next key, or undefined while the budget lasts. */
  due(): Promise<void> | undefined {
    if (this.breath !== undefined) return this.breath;
    if (performance.now() - this.sinceMs < this.budgetMs) return undefined;
    this.breath = new Promise((resolve) =>
      setImmediate(() => {
        this.breath = undefined;
        this.sinceMs = performance.now();
        resolve();
      }),
    );
    return this.breath;
  }
}
