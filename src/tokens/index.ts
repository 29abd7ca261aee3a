export * from './token-kinds.js';
export * from './signing-keys.js';
export * from './issue-token.js';
export * from './verify-token.js';
export * from './cached-key-set.js';
