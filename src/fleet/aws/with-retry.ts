import { isRetryable } from './aws-errors.js';

export interface RetryOptions {
  /** Attempts in all, the first included. */
  readonly maxAttempts: number;
  /** First back-off; doubles each attempt (full jitter), capped by `maxDelayMs`. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly sleep: (ms: number) => Promise<void>;
  /** 0 ≤ x < 1; injected so tests are deterministic. */
  readonly random: () => number;
}

export const retryDefaults = {
  maxAttempts: 6,
  baseDelayMs: 200,
  maxDelayMs: 5_000,
} as const;

/**
 * A bounded retry loop for throttling and contention. Our own rather than the SDK's so the
 * bound and the back-off are visible here and testable with a mocked client (mocks bypass the
 * SDK middleware). Anything not retryable is thrown at once.
 */
export async function withRetry<T>(operation: () => Promise<T>, options: RetryOptions): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await operation();
    } catch (error) {
      if (!isRetryable(error) || attempt >= options.maxAttempts) throw error;
      const ceilingMs = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (attempt - 1));
      await options.sleep(Math.floor(options.random() * ceilingMs));
    }
  }
}
