/** Bounds on user input. Every limit carries its unit in its name. */
export const codespaceNameMaxLength = 40;
export const imageReferenceMaxLength = 255;
export const idleTimeoutSecondsMin = 300;
export const idleTimeoutSecondsMax = 14_400;
export const idleTimeoutSecondsDefault = 900;
export const labelsMaxCount = 32;
export const envMaxCount = 64;
export const envValueMaxLength = 4096;

/** Resource bounds; the orchestrator config may narrow them further. */
export const resourceBounds = {
  cpuMin: 0.25,
  cpuMax: 16,
  memoryMiBMin: 256,
  memoryMiBMax: 65_536,
  diskGiBMin: 1,
  diskGiBMax: 500,
} as const;

export const resourceDefaults = { cpu: 1, memoryMiB: 2048, diskGiB: 10 } as const;

/** Containers per node: the seed's design point. */
export const maxContainersPerNodeDefault = 20;
