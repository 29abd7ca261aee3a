export * from './codespace-types.js';
export * from './codespace-timing.js';
export * from './codespace-failures.js';
export * from './codespace.js';
export * from './codespace-step.js';
export * from './node.js';
export * from './node-step.js';
