import { agentConfigFromProcess, ConfigError } from './config.js';
import { startAgent } from './start-agent.js';

/** Process entry: `tsx src/node-agent/main.ts`. Containers keep running when the agent stops. */
async function main(): Promise<void> {
  let config;
  try {
    config = agentConfigFromProcess();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`codeyard node agent: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const running = await startAgent(config);
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    running.app.log.info({ signal }, 'shutting down; workspaces keep running');
    void running.close().finally(() => process.exit(0));
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(
    `codeyard node agent failed to start: ${error instanceof Error ? error.stack : String(error)}\n`,
  );
  process.exit(1);
});
