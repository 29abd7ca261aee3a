/**
 * What the local Docker engine holds for an end-to-end test: codeyard containers and volumes,
 * read through their labels (the same labels the node agent trusts), and a cleanup that removes
 * everything a test created — by the node-name prefix of its fleet and by the uids it saw — even
 * when the test failed half-way.
 */
import Docker from 'dockerode';
import { containerNameFor, volumeNameFor } from '../../src/model/codespace.js';
import { labelKeys } from '../../src/node-agent/runtime/labels.js';

export interface E2eContainer {
  readonly id: string;
  readonly uid: string;
  readonly name: string;
  readonly node: string;
  /** Docker's state: `running`, `exited`, `created`, … */
  readonly state: string;
}

export class E2eDocker {
  readonly docker = new Docker();

  /** Fails loudly (no skip) when the engine is not reachable. */
  async assertAvailable(image: string): Promise<void> {
    await this.docker.ping();
    await this.docker.getImage(image).inspect();
  }

  /** Every codeyard container of nodes whose name starts with `nodePrefix`, running or not. */
  async containers(nodePrefix: string): Promise<E2eContainer[]> {
    const listed = await this.docker.listContainers({
      all: true,
      filters: { label: [`${labelKeys.managed}=true`] },
    });
    return listed
      .map((c) => ({
        id: c.Id,
        uid: c.Labels[labelKeys.uid] ?? '',
        name: c.Labels[labelKeys.name] ?? '',
        node: c.Labels[labelKeys.node] ?? '',
        state: c.State,
      }))
      .filter((c) => c.node.startsWith(nodePrefix));
  }

  /** The container of a codespace uid, if any (whatever node made it). */
  async containerOf(uid: string): Promise<E2eContainer | undefined> {
    try {
      const info = await this.docker.getContainer(containerNameFor(uid)).inspect();
      return {
        id: info.Id,
        uid,
        name: info.Config.Labels[labelKeys.name] ?? '',
        node: info.Config.Labels[labelKeys.node] ?? '',
        state: info.State.Status,
      };
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  async volumeExists(uid: string): Promise<boolean> {
    try {
      await this.docker.getVolume(volumeNameFor(uid)).inspect();
      return true;
    } catch (error) {
      if (statusOf(error) === 404) return false;
      throw error;
    }
  }

  /** Removes the containers of the fleet's nodes and the containers and volumes of these uids. */
  async removeAll(options: { nodePrefix: string; uids: Iterable<string> }): Promise<void> {
    const uids = new Set(options.uids);
    for (const container of await this.containers(options.nodePrefix)) uids.add(container.uid);
    const volumes = await this.docker.listVolumes({ filters: { label: [`${labelKeys.managed}=true`] } });
    for (const volume of volumes.Volumes ?? []) {
      const node = volume.Labels?.[labelKeys.node] ?? '';
      const uid = volume.Labels?.[labelKeys.uid];
      if (uid && node.startsWith(options.nodePrefix)) uids.add(uid);
    }
    for (const uid of uids) {
      await ignoreMissing(this.docker.getContainer(containerNameFor(uid)).remove({ force: true }));
    }
    for (const uid of uids) {
      await ignoreMissing(this.docker.getVolume(volumeNameFor(uid)).remove({ force: true }));
    }
  }
}

function statusOf(error: unknown): number | undefined {
  return typeof error === 'object' && error !== null && 'statusCode' in error
    ? Number((error as { statusCode: unknown }).statusCode)
    : undefined;
}

async function ignoreMissing(work: Promise<unknown>): Promise<void> {
  try {
    await work;
  } catch (error) {
    // 404: already gone; 409: removal already in progress (Docker finishes it).
    const status = statusOf(error);
    if (status !== 404 && status !== 409) throw error;
  }
}
