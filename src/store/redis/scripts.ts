import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

/**
 * The store's Lua scripts, one file each under `scripts/`, named `<what-it-does>-<numkeys>.lua`
 * (BullMQ style). They are registered with ioredis `defineCommand`, which sends EVALSHA and falls
 * back to EVAL on NOSCRIPT: a restarted Redis (empty script cache) needs nothing from us.
 */
export const scriptFiles = {
  createCodespace: 'create-codespace-5.lua',
  updateCodespace: 'update-codespace-4.lua',
  removeCodespace: 'remove-codespace-6.lua',
  applyHeartbeat: 'apply-heartbeat-2.lua',
  setNodeUnschedulable: 'set-node-unschedulable-1.lua',
  deleteNode: 'delete-node-2.lua',
  acquireLeadership: 'acquire-leadership-2.lua',
  renewLeadership: 'renew-leadership-2.lua',
  releaseLeadership: 'release-leadership-1.lua',
  raiseEpoch: 'raise-epoch-1.lua',
} as const;

export type ScriptName = keyof typeof scriptFiles;
export type ScriptArgument = string | number;

interface LoadedScript {
  readonly numberOfKeys: number;
  readonly lua: string;
}

const numberOfKeysPattern = /-(\d+)\.lua$/;

function loadScript(file: string): LoadedScript {
  const match = numberOfKeysPattern.exec(file);
  if (match === null) {
    throw new Error(`script file ${file} does not end in -<numkeys>.lua`);
  }
  return {
    numberOfKeys: Number(match[1]),
    lua: readFileSync(new URL(`./scripts/${file}`, import.meta.url), 'utf8'),
  };
}

const loaded = Object.fromEntries(
  Object.entries(scriptFiles).map(([name, file]) => [name, loadScript(file)]),
) as Record<ScriptName, LoadedScript>;

/** Registers every script on a connection (done once per connection). */
export function defineScripts(redis: Redis): void {
  for (const [name, script] of Object.entries(loaded)) {
    redis.defineCommand(name, { numberOfKeys: script.numberOfKeys, lua: script.lua });
  }
}

/** Runs a registered script; the key count is checked against the file's declared arity. */
export function runScript(
  redis: Redis,
  name: ScriptName,
  keys: readonly string[],
  args: readonly ScriptArgument[],
): Promise<unknown> {
  const script = loaded[name];
  if (keys.length !== script.numberOfKeys) {
    throw new Error(`script ${name} takes ${script.numberOfKeys} keys, got ${keys.length}`);
  }
  const command = (redis as unknown as Record<ScriptName, (...parts: ScriptArgument[]) => Promise<unknown>>)[
    name
  ];
  return command.call(redis, ...keys, ...args);
}
