export * from './channels.js';
export * from './codes.js';
export * from './documents.js';
export * from './envelope.js';
export * from './frames.js';
export * from './http.js';
export * from './json-limits.js';
