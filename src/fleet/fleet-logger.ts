/** The slice of a pino logger the fleet code uses; pino's `Logger` fits, tests pass a recorder. */
export interface FleetLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

export const silentFleetLogger: FleetLogger = { info: () => undefined, warn: () => undefined };
