/**
 * Chaos: activity arriving at the very moment of an idle stop. A real agent and proxy on Docker
 * with a sub-second idle timeout; each round starts the codespace, lets it fall idle, and sends a
 * request through the proxy at a moment swept across the idle deadline. Either the stop wins
 * cleanly (container exited, route gone from the KV, the proxy answers its not-found page, the
 * heartbeat says Idle) or the activity does (running, live route) — never a stopped container
 * behind a live route or a running container without one. Checked continuously, not only at the end.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routeIn } from '../../src/node-agent/local-kv-format.js';
import { requireDockerAndImage } from '../integration/node-agent-support.js';
import { startBeatingNode, waitFor, type BeatingNode } from './support/heartbeat-node-harness.js';
import { SamplingLoop } from './support/sampling-loop.js';

requireDockerAndImage();

/** The smallest timeout a spec may carry; the node shrinks its seconds (below). */
const idleTimeoutSeconds = 300;
/** 300 "seconds" × 3 ms = an idle timeout of 900 ms. */
const idleMsPerSecond = 3;
/** Starts of one round that may be idle-stopped before their first request (a loaded machine). */
const startAttemptsMax = 5;
const idleTimeoutMs = idleTimeoutSeconds * idleMsPerSecond;
const idleCheckIntervalMs = 50;
const activityReportIntervalMs = 100;
/** Where, relative to the idle deadline, each round's request is sent: swept across the race window. */
const raceOffsetsMs = [-150, -100, -60, -30, 0, 20, 40, 60, 90, 120, 160, 220];
/** Between a container's exit and the proxy seeing the KV change: the stop itself, one KV write, one reader poll. */
const inconsistencyGraceMs = 2_500;
const sampleIntervalMs = 150;
const roundSettleTimeoutMs = 30_000;
const convergenceBoundMs = 30_000;

const codespace = 'race';
const uid = `race-${process.pid}`;

type Violation = string;

/** Samples Docker, the KV and nothing else, so it can run beside the race without disturbing it. */
class RouteConsistencyMonitor {
  readonly violations: Violation[] = [];
  checks = 0;
  private inconsistentSinceMs: number | undefined;
  private readonly loop = new SamplingLoop({ intervalMs: sampleIntervalMs, sample: () => this.sampleOnce() });

  constructor(private readonly node: BeatingNode) {}

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  private async sampleOnce(): Promise<void> {
    const containers = (await this.node.dockerView()).filter((c) => c.uid === uid);
    const route = routeIn(this.node.readKv(), codespace);
    this.checks += 1;
    const running = containers.filter((c) => c.state === 'running');
    if (running.length > 1) this.violations.push(`${running.length} running containers for ${uid}`);
    const containerRunning = running.length === 1;
    const routeLive = route?.state === 'running';
    if (containerRunning === routeLive || (route?.state === 'creating' && !containerRunning)) {
      this.inconsistentSinceMs = undefined;
      return;
    }
    const nowMs = Date.now();
    this.inconsistentSinceMs ??= nowMs;
    if (nowMs - this.inconsistentSinceMs > inconsistencyGraceMs) {
      this.violations.push(
        containerRunning
          ? `container running without a route (KV says ${route?.state ?? 'nothing'}) for ${nowMs - this.inconsistentSinceMs} ms`
          : `live route to port ${route?.hostPort} while the container is ${containers[0]?.state ?? 'gone'} for ${nowMs - this.inconsistentSinceMs} ms`,
      );
      this.inconsistentSinceMs = nowMs;
    }
  }
}

let node: BeatingNode;
beforeAll(async () => {
  node = await startBeatingNode({
    label: 'idlerace',
    portRange: { start: 18_100, end: 18_109 },
    maxContainers: 4,
    idleMsPerSecond,
    idleCheckIntervalMs,
    heartbeatIntervalMs: 1_000,
    withProxy: true,
    activityReportIntervalMs,
  });
});
afterAll(() => node?.close());

describe('chaos: activity racing an idle stop', () => {
  it(
    'ends every round either stopped cleanly with reason Idle or running behind a live route',
    { timeout: 300_000 },
    async () => {
      const monitor = new RouteConsistencyMonitor(node);
      monitor.start();
      const outcomes: Record<string, number> = {};
      let worstConvergedInMs = 0;
      try {
        let generation = 0;
        for (const [round, offsetMs] of raceOffsetsMs.entries()) {
          let cookie: string | undefined;
          // A loaded machine may take longer than the idle timeout to serve the first request: the
          // node then stops it before anyone used it (correct). Start it again, a newer generation.
          for (let attempt = 1; cookie === undefined; attempt += 1) {
            generation += 1;
            const started = await node.command('PUT', `/v1/codespaces/${uid}`, {
              body: node.ensureBody(codespace, generation, idleTimeoutSeconds),
            });
            expect(started.status, JSON.stringify(started.body)).toBe(200);
            const session = await node.openSession(codespace);
            // The last request before the race: the idle clock runs from here (proxy time).
            const served = await waitFor(
              async () => {
                const answer = await node.proxyGet(codespace, '/healthz', session);
                if (answer.status === 200) return 'served';
                const entry = Object.values(node.readKv()?.codespaces ?? {}).find((e) => e.uid === uid);
                return entry?.state === 'exited' ? 'stopped-before-use' : undefined;
              },
              {
                timeoutMs: roundSettleTimeoutMs,
                message: `round ${round}: codespace never served through the proxy`,
              },
            );
            if (served === 'served') cookie = session;
            else if (attempt >= startAttemptsMax)
              throw new Error(`round ${round}: idle-stopped before its first request ${attempt} times`);
          }
          await sleep(Math.max(0, idleTimeoutMs + offsetMs));
          const raced = await node.proxyGet(codespace, '/healthz', cookie!);
          const raceEndedMs = Date.now();
          // 404: the route was already gone; 503: the KV still listed it, not serving; 502: the
          // request crossed the stop in flight (the container went away under it).
          const outcome = {
            200: 'activity-first',
            404: 'stop-first',
            503: 'stop-first',
            502: 'crossed-in-flight',
          }[raced.status as 200 | 404 | 503 | 502];
          expect(
            outcome,
            `round ${round}: unexpected proxy answer ${raced.status} ${raced.body}`,
          ).toBeDefined();
          outcomes[outcome!] = (outcomes[outcome!] ?? 0) + 1;

          // With no more activity the stop must come, and be clean, whichever side won the race.
          await waitFor(
            async () => {
              const container = (await node.dockerView()).find((c) => c.uid === uid);
              const route = routeIn(node.readKv(), codespace);
              return container?.state === 'exited' && route === undefined;
            },
            {
              timeoutMs: roundSettleTimeoutMs,
              message: `round ${round}: codespace never stopped cleanly`,
              details: async () =>
                `docker: ${JSON.stringify(await node.dockerView())}\nkv: ${JSON.stringify(node.readKv()?.codespaces)}\nagent: ${node.agent.output()}`,
            },
          );
          worstConvergedInMs = Math.max(worstConvergedInMs, Date.now() - raceEndedMs);
          // A stopped codespace has no route: the proxy ends on its not-found page and never forwards
          // (until it reloads the KV it may still answer its own not-serving page, 503).
          const page = await waitFor(
            async () => {
              const answer = await node.proxyGet(codespace, '/healthz', cookie!);
              expect([404, 503], `round ${round}: proxy forwarded to a stopped codespace`).toContain(
                answer.status,
              );
              return answer.status === 404 ? answer : undefined;
            },
            { timeoutMs: roundSettleTimeoutMs, message: `round ${round}: proxy never dropped the route` },
          );
          expect(page.body).toContain('CODESPACE_NOT_FOUND');
          const reported = await waitFor(
            () =>
              node
                .beats()
                .at(-1)
                ?.containers.find((c) => c.uid === uid && c.state === 'exited'),
            { timeoutMs: roundSettleTimeoutMs, message: `round ${round}: heartbeat never reported the stop` },
          );
          expect(reported).toMatchObject({ stopReason: 'Idle', ready: false, generation });
          expect(monitor.violations, monitor.violations.join('\n')).toEqual([]);
        }
      } finally {
        await monitor.stop();
      }
      expect(monitor.violations, monitor.violations.join('\n')).toEqual([]);
      expect(worstConvergedInMs).toBeLessThanOrEqual(convergenceBoundMs);
      console.info(
        `chaos-result idle-race converged-in-ms=${worstConvergedInMs} checks=${monitor.checks} ` +
          `rounds=${raceOffsetsMs.length} ${Object.entries(outcomes)
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')}`,
      );
    },
  );
});
