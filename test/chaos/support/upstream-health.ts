/**
 * What a load balancer's health checks give it: an upstream that just failed (refused, timed out
 * — killed or frozen) is tried last for a while, so one frozen replica does not make every
 * request wait for its timeout first.
 */
export const upstreamSuspectMs = 5_000;

export class UpstreamHealth {
  private readonly suspectUntilMs = new Map<string, number>();

  /** The upstreams, healthy ones first (stable order otherwise). */
  order(upstreams: readonly string[]): string[] {
    const nowMs = Date.now();
    const suspect = (url: string) => (this.suspectUntilMs.get(url) ?? 0) > nowMs;
    return [...upstreams.filter((u) => !suspect(u)), ...upstreams.filter(suspect)];
  }

  failed(url: string): void {
    this.suspectUntilMs.set(url, Date.now() + upstreamSuspectMs);
  }

  succeeded(url: string): void {
    this.suspectUntilMs.delete(url);
  }
}
