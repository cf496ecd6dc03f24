/**
 * The sfx protocol: control messages on stream 0 (declared in one registry),
 * file bytes on data streams tagged by PPID. Import this module (not the
 * files inside) to get every exchange message declared.
 *
 * @module
 */
export * from "./defaults.ts";
export * from "./data.ts";
export * from "./registry.ts";
export * from "./messages.ts";
export * as schema from "./schema.ts";
