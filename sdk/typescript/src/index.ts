/**
 * The TypeScript SDK of Agent Spaces: a client for `spaces serve` (see the protocol section of the README).
 * @module
 */
export { connect, defaultHome, Operation, Space, SpacesClient, Subscription } from "./client.js";
export type { ConnectOptions, ShellOptions, SubmitOptions } from "./client.js";
export { ConnectionLostError, DeniedError, OperationError, RequestError, SpacesError } from "./errors.js";
export * from "./types.js";
