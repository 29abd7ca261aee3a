/**
 * Runs `sample` again and again, `intervalMs` apart (after each sample finishes, so samples never
 * overlap), until stopped. `stop()` waits for the sample in flight, so a monitor's verdict is read
 * only after its last check.
 */
export class SamplingLoop {
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly options: { readonly intervalMs: number; readonly sample: () => Promise<void> },
  ) {}

  start(): void {
    this.loop = (async () => {
      while (!this.stopped) {
        await this.options.sample();
        await new Promise((resolve) => setTimeout(resolve, this.options.intervalMs));
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}
