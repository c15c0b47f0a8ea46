import type { DecidedBy, ErrorCode, OperationResult } from "./types.js";

/** A JSON-RPC error's name, as `rpcErrors` in `schema/protocol.schema.json` (-32000 is an OperationError). */
export type RpcErrorName = "parseError" | "invalidRequest" | "methodNotFound" | "invalidParams" | "forbidden";

/**
 * Every `code` an SDK error has: a failure's stable code (`failed` when the server gave none), a
 * JSON-RPC error's name, `denied`, or `requestError` for a JSON-RPC code the schema does not name.
 */
export type SpacesErrorCode = ErrorCode | RpcErrorName | "denied" | "failed" | "requestError";

/** The base of every error this SDK throws. `code` is a stable, machine-readable string. */
export class SpacesError extends Error {
  constructor(
    message: string,
    /** A stable code: an operation's error code, a JSON-RPC error's name, or `disconnected`. */
    readonly code: SpacesErrorCode,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/**
 * An operation or method ran and failed (`notFound`, `editNoMatch`, `spaceNotFound`,
 * `approvalClosed`, `busy`, …). `result` is the operation's result when there is one.
 */
export class OperationError extends SpacesError {
  constructor(
    /** The failure's stable code (`failed` when the server gave none). */
    code: ErrorCode | "failed",
    message: string,
    /** The operation's result (status `failed`), when an operation failed. */
    readonly result?: OperationResult,
  ) {
    super(message, code);
  }
}

/** The policy, a person, or the approval timeout denied the operation. */
export class DeniedError extends SpacesError {
  constructor(
    /** Why: the policy's reason, or the person's feedback. */
    readonly reason: string,
    /** Who decided: `policy`, `person` or `timeout`. */
    readonly decidedBy: DecidedBy,
    /** The operation's result (status `denied`). */
    readonly result: OperationResult,
  ) {
    super(`denied by ${decidedBy}: ${reason}`, "denied");
  }
}

/**
 * The server refused the request itself: invalid params, an unknown method, a forbidden call for
 * this role, a malformed request. `rpcCode` is the JSON-RPC code; `code` names it.
 */
export class RequestError extends SpacesError {
  constructor(
    /** The JSON-RPC error code (-32602 invalid params, -32003 forbidden, …). */
    readonly rpcCode: number,
    message: string,
  ) {
    super(message, rpcCodeNames[rpcCode] ?? "requestError");
  }
}

/** The connection is gone (or could not be made): every pending call and iterator gets this. */
export class ConnectionLostError extends SpacesError {
  constructor(message = "the connection to the spaces server closed; connect again when it is running") {
    super(message, "disconnected");
  }
}

/** The JSON-RPC codes by name (the schema's `rpcErrors`; -32000 is an OperationError). */
export const rpcCodeNames: Record<number, RpcErrorName> = {
  [-32700]: "parseError",
  [-32600]: "invalidRequest",
  [-32601]: "methodNotFound",
  [-32602]: "invalidParams",
  [-32003]: "forbidden",
};

/** The error a JSON-RPC error object stands for. */
export function errorFromRpc(error: { code: number; message: string; data?: { code?: ErrorCode } }): SpacesError {
  if (error.code === -32000) return new OperationError(error.data?.code ?? "failed", error.message);
  return new RequestError(error.code, error.message);
}

/** Turns a `failed` or `denied` result into its error; a completed result gives `undefined`. */
export function errorFromResult(result: OperationResult): SpacesError | undefined {
  if (result.status === "denied") {
    return new DeniedError(result.reason ?? "", result.decidedBy ?? "policy", result);
  }
  if (result.status === "failed") {
    return new OperationError(result.error?.code ?? "failed", result.error?.message ?? "the operation failed", result);
  }
  return undefined;
}
