/**
 * Launches and terminates nodes. Two implementations: `AwsAsgProvider` (an EC2 Auto Scaling
 * Group) and `LocalFleetProvider` (node processes on this machine). The reconciler fences a
 * silent node through `terminate` and moves its codespaces only once `describe` confirms the
 * instance is gone; the autoscaler changes `desiredCapacity`.
 */
export interface FleetProvider {
  readonly fleet: string;
  describe(): Promise<FleetDescription>;
  /** Asks for this many nodes in total (clamped by the provider to its min and max). */
  setDesiredCapacity(desired: number): Promise<void>;
  /**
   * Terminates one specific node and lowers the desired capacity by one when
   * `decrementDesiredCapacity`. Idempotent: terminating a node that is already going or gone succeeds.
   */
  terminate(nodeName: string, options: { decrementDesiredCapacity: boolean }): Promise<void>;
  /** Stops background work (pollers, child processes are left to `shutdown`). */
  close(): Promise<void>;
}

export type InstanceLifecycle = 'Pending' | 'InService' | 'Terminating' | 'Terminated';

export interface FleetInstance {
  /** Equals the node name the instance's agent reports in heartbeats. */
  readonly nodeName: string;
  readonly lifecycle: InstanceLifecycle;
  /** True while a termination lifecycle hook waits for the node to drain. */
  readonly terminationHookPending?: boolean;
}

export interface FleetDescription {
  readonly fleet: string;
  readonly minSize: number;
  readonly maxSize: number;
  readonly desiredCapacity: number;
  readonly instances: readonly FleetInstance[];
}

/** A node is fenced once its instance is confirmed gone: no process of it can still serve. */
export function isConfirmedTerminated(description: FleetDescription, nodeName: string): boolean {
  const instance = description.instances.find((i) => i.nodeName === nodeName);
  return instance === undefined || instance.lifecycle === 'Terminated';
}

/**
 * What a lifecycle call found. `expired`: the hook is no longer waiting (it timed out, or was
 * completed before) — the instance is going regardless, so the caller stops waiting.
 */
export type LifecycleActionStatus = 'active' | 'completed' | 'expired';

/**
 * The termination lifecycle hook, as a provider plays it: the instance waits in
 * `Terminating:Wait` until the orchestrator has drained the node and completes the action (or
 * the hook times out). `AwsAsgProvider` maps these to the Auto Scaling API, `LocalFleetProvider`
 * to its own wait before it signals the node's processes.
 */
export interface TerminationLifecycle {
  /** Keeps the hook from timing out while a long drain is in progress. */
  recordLifecycleActionHeartbeat(nodeName: string): Promise<LifecycleActionStatus>;
  /** `CONTINUE` lets the termination proceed; `ABANDON` also terminates on AWS (the hook cannot veto). */
  completeLifecycleAction(nodeName: string, result: 'CONTINUE' | 'ABANDON'): Promise<LifecycleActionStatus>;
}

/**
 * Scale-in protection: an instance holding running codespaces must not be the one the group
 * picks when its desired capacity drops. The orchestrator sets it on nodes with codespaces and
 * clears it on empty ones; an explicit `terminate` still works on a protected instance.
 */
export interface ScaleInProtection {
  setScaleInProtection(nodeNames: readonly string[], protectedFromScaleIn: boolean): Promise<void>;
}
