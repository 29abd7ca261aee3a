/** A request must arrive in full within this time (slowloris); watch streams are responses, not requests. */
export const requestTimeoutMs = 30_000;
export const headersTimeoutMs = 10_000;
/** Longer than a typical load balancer's idle timeout would be wrong; shorter wastes reconnects. */
export const keepAliveTimeoutMs = 65_000;
