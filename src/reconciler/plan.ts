// The reconcile planner lives in ./plan/ (one file per step); this path stays the public entry.
export * from './plan/index.js';
