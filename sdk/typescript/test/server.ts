// Starts a real `spaces serve` on a fresh SPACES_HOME for the tests.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { connect, type ConnectOptions, type SpacesClient } from "../src/index.js";

/** The `spaces` binary: `$SPACES_BIN`, else `.build/debug/spaces` under the working folder. */
const binary = process.env.SPACES_BIN ?? resolve(process.cwd(), ".build/debug/spaces");

export class TestServer {
  private exited = false;
  private readonly exit: Promise<unknown>;

  private constructor(
    readonly home: string,
    private readonly child: ChildProcess,
  ) {
    this.exit = new Promise((resolve) => child.once("exit", resolve)).then(() => (this.exited = true));
  }

  /** Starts the server and waits (at most 20 s) until it answers on its socket. */
  static async start(): Promise<TestServer> {
    if (!existsSync(binary)) throw new Error(`no spaces binary at ${binary}: run swift build first`);
    const home = mkdtempSync(join(tmpdir(), "spaces-sdk-ts-"));
    const child = spawn(binary, ["serve"], { env: { ...process.env, SPACES_HOME: home }, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr?.on("data", (chunk) => (stderr += chunk.toString()));
    const server = new TestServer(home, child);
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (server.exited) throw new Error(`spaces serve exited with ${child.exitCode}: ${stderr}`);
      try {
        (await server.connect()).close();
        return server;
      } catch (error) {
        if (Date.now() > deadline) {
          await server.stop();
          throw new Error(`spaces serve did not answer within 20 s: ${error}; ${stderr}`);
        }
        await sleep(50);
      }
    }
  }

  /** Connects to this server. */
  connect(options: ConnectOptions = {}): Promise<SpacesClient> {
    return connect({ home: this.home, ...options });
  }

  /** The supervisor token. */
  get token(): string {
    return readFileSync(join(this.home, "supervisor.token"), "utf8").trim();
  }

  /** Kills the server at once (no clean shutdown). */
  kill(): void {
    this.child.kill("SIGKILL");
  }

  /** Stops the server and removes its home. */
  async stop(): Promise<void> {
    if (!this.exited) this.child.kill("SIGTERM");
    await this.exit;
    rmSync(this.home, { recursive: true, force: true });
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Rejects when `promise` takes longer than `ms`. */
export function within<T>(ms: number, promise: PromiseLike<T>, what = "the call"): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms);
    Promise.resolve(promise).then(
      (value) => (clearTimeout(timer), resolve(value)),
      (error) => (clearTimeout(timer), reject(error)),
    );
  });
}
