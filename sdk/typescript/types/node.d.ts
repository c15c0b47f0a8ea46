// The few Node.js APIs this package and its tests use. Debian ships no @types/node, so these
// stand in for it; with @types/node installed, drop this file from tsconfig.json's "include".

declare module "node:net" {
  interface Socket {
    setEncoding(encoding: "utf8"): this;
    write(data: string): boolean;
    end(): this;
    destroy(): this;
    on(event: "data", listener: (chunk: string) => void): this;
    on(event: "close", listener: () => void): this;
    on(event: "error", listener: (error: Error) => void): this;
    once(event: "connect", listener: () => void): this;
    once(event: "error", listener: (error: Error) => void): this;
    off(event: "error", listener: (error: Error) => void): this;
  }
  function createConnection(options: { path: string } | { host: string; port: number }): Socket;
  interface Server {
    listen(path: string, listener: () => void): this;
    close(): this;
  }
  function createServer(listener: (socket: Socket) => void): Server;
}

declare module "node:fs" {
  function readFileSync(path: string, encoding: "utf8"): string;
  function writeFileSync(path: string, data: string): void;
  function existsSync(path: string): boolean;
  function mkdtempSync(prefix: string): string;
  function rmSync(path: string, options?: { recursive?: boolean; force?: boolean }): void;
}

declare module "node:os" {
  function homedir(): string;
  function tmpdir(): string;
}

declare module "node:path" {
  function join(...parts: string[]): string;
  function resolve(...parts: string[]): string;
}

declare module "node:child_process" {
  interface ChildProcess {
    pid?: number;
    exitCode: number | null;
    kill(signal?: string): boolean;
    once(event: "exit", listener: (code: number | null) => void): this;
    stderr: { on(event: "data", listener: (chunk: { toString(): string }) => void): void } | null;
  }
  function spawn(
    command: string,
    args: string[],
    options: { env?: Record<string, string | undefined>; stdio?: ("ignore" | "pipe" | "inherit")[] },
  ): ChildProcess;
}

declare module "node:test" {
  type Fn = () => void | Promise<void>;
  export function test(name: string, fn: Fn): Promise<void>;
  export function describe(name: string, fn: () => void): void;
  export function before(fn: Fn): void;
  export function after(fn: Fn): void;
}

declare module "node:assert/strict" {
  interface Assert {
    (value: unknown, message?: string): asserts value;
    equal<T>(actual: unknown, expected: T, message?: string): asserts actual is T;
    notEqual(actual: unknown, expected: unknown, message?: string): void;
    deepEqual(actual: unknown, expected: unknown, message?: string): void;
    match(value: string, pattern: RegExp, message?: string): void;
    ok(value: unknown, message?: string): asserts value;
    rejects(promise: PromiseLike<unknown> | (() => PromiseLike<unknown>), error?: unknown): Promise<void>;
    fail(message?: string): never;
  }
  const assert: Assert;
  export default assert;
}

declare const process: {
  env: Record<string, string | undefined>;
  cwd(): string;
};
declare function setTimeout(callback: () => void, ms: number): unknown;
declare function clearTimeout(handle: unknown): void;
declare function queueMicrotask(callback: () => void): void;

// Globals of Node.js (and browsers) that es2022's lib doesn't declare.
declare class TextEncoder {
  encode(input?: string): Uint8Array;
}
declare class TextDecoder {
  decode(input?: Uint8Array): string;
}
