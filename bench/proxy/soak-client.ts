/**
 * The soak's client process: opens `idle` + `active` WebSockets through the proxy (in bounded
 * batches), then each active one sends a message every `activeIntervalMs` and expects its
 * echo. Reports counts over IPC; the soak kills this process mid-run to see the proxy cope.
 */
import { openWebSocket } from '../lib/ws-pingpong.js';

const [url, cookie, idleText, activeText] = process.argv.slice(2);
const idle = Number(idleText);
const active = Number(activeText);
const openBatch = 200;
const activeIntervalMs = 1_000;
const message = 'k'.repeat(64);

async function main(): Promise<void> {
  const total = idle + active;
  let opened = 0;
  let failed = 0;
  let echoes = 0;
  const sockets = [];
  for (let first = 0; first < total; first += openBatch) {
    const batch = await Promise.allSettled(
      Array.from({ length: Math.min(openBatch, total - first) }, () =>
        openWebSocket(url!, { cookie: cookie! }),
      ),
    );
    for (const outcome of batch) {
      if (outcome.status === 'fulfilled') {
        opened += 1;
        sockets.push(outcome.value);
        outcome.value.on('error', () => {});
      } else failed += 1;
    }
  }
  for (const socket of sockets.slice(0, active)) {
    socket.on('message', () => (echoes += 1));
    setInterval(() => socket.send(message), activeIntervalMs);
  }
  process.send?.({ kind: 'opened', opened, failed });
  setInterval(() => process.send?.({ kind: 'echoes', echoes }), 5_000);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
