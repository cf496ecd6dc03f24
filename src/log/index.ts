/**
 * Server logging: LogTape, to `/var/log/stream_server.log` (or `--log-dir`,
 * or the user state directory when that is not writable), rotated by size.
 *
 * @module
 */
export { getLogger } from "@logtape/logtape";
export type { Logger, LogLevel } from "@logtape/logtape";
export { LOG_LEVELS, type Logging, type LoggingOptions, setupLogging } from "./setup.ts";
export { chooseLogDir, fallbackNotice, type LogDirChoice, probeWritable, userStateDir } from "./dirs.ts";
export { formatLogLine, formatValue } from "./format.ts";
export * from "./defaults.ts";
