// A child process under supervision: started with its output kept in a log file, ready when a line
// or a probe says so, stopped gently (SIGTERM, then SIGKILL) or killed outright for failure drills.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';

export interface ProcessSpec {
  name: string;
  command: string;
  args: readonly string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Output is appended here (and the last lines kept in memory for error messages). */
  logFile?: string;
  /** Echo each output line to this function, e.g. a prefixed console printer. */
  echo?: (name: string, line: string) => void;
  /** Resolves when the process is ready; gets every output line as it comes. */
  readyLine?: RegExp;
  readyProbe?: () => Promise<boolean>;
  readyTimeoutMs?: number;
  /** Run as this user (this process must be root); absent: as this process's user. */
  user?: { uid: number; gid: number };
  /** What stop() sends first; SIGTERM unless said. */
  stopSignal?: NodeJS.Signals;
  /** How long stop() waits before SIGKILL. */
  stopTimeoutMs?: number;
}

const tailLinesMax = 60;
const stopTimeoutMs = 10_000;

export class ManagedProcess {
  private child: ChildProcess | null = null;
  private log: WriteStream | null = null;
  private readonly tail: string[] = [];
  private readonly lineListeners = new Set<(line: string) => void>();
  private readonly exitListeners = new Set<(code: number | null, signal: NodeJS.Signals | null) => void>();
  private stopping = false;
  private exitPromise: Promise<number | null> = Promise.resolve(null);

  constructor(readonly spec: ProcessSpec) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The last lines of output, for error messages. */
  recentOutput(): string {
    return this.tail.join('\n');
  }

  onLine(listener: (line: string) => void): () => void {
    this.lineListeners.add(listener);
    return () => this.lineListeners.delete(listener);
  }

  /** Called when the process exits without stop() or kill() having asked it to. */
  onUnexpectedExit(listener: (code: number | null, signal: NodeJS.Signals | null) => void): () => void {
    this.exitListeners.add(listener);
    return () => this.exitListeners.delete(listener);
  }

  async start(): Promise<void> {
    if (this.running) throw new Error(`${this.spec.name} is already running`);
    if (this.spec.logFile && !this.log) {
      mkdirSync(path.dirname(this.spec.logFile), { recursive: true });
      this.log = createWriteStream(this.spec.logFile, { flags: 'a' });
    }
    const child = spawn(this.spec.command, [...this.spec.args], {
      cwd: this.spec.cwd,
      env: this.spec.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...this.spec.user,
    });
    this.child = child;
    this.stopping = false;
    // Readiness is judged on this run's output only (a restart must not match the last run's line).
    this.tail.length = 0;
    this.exitPromise = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    child.once('exit', (code, signal) => {
      if (!this.stopping) for (const listener of this.exitListeners) listener(code, signal);
    });
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => this.handleLine(line));
    }
    const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
    await Promise.race([this.waitUntilReady(child), spawnError]);
  }

  private handleLine(line: string): void {
    this.log?.write(line + '\n');
    this.tail.push(line);
    if (this.tail.length > tailLinesMax) this.tail.shift();
    this.spec.echo?.(this.spec.name, line);
    for (const listener of this.lineListeners) listener(line);
  }

  private async waitUntilReady(child: ChildProcess): Promise<void> {
    const timeoutMs = this.spec.readyTimeoutMs ?? 60_000;
    const deadline = Date.now() + timeoutMs;
    const exited = this.exitPromise.then((code) => {
      throw new Error(`${this.spec.name} exited (code ${code}) before it was ready:\n${this.recentOutput()}`);
    });
    exited.catch(() => {});
    const ready = (async () => {
      if (this.spec.readyLine) {
        const pattern = this.spec.readyLine;
        if (!this.tail.some((line) => pattern.test(line))) {
          await new Promise<void>((resolve) => {
            const off = this.onLine((line) => {
              if (pattern.test(line)) {
                off();
                resolve();
              }
            });
          });
        }
      }
      if (this.spec.readyProbe) {
        while (!(await this.spec.readyProbe().catch(() => false))) {
          if (child.exitCode !== null || Date.now() > deadline) return;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    })();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${this.spec.name} not ready after ${timeoutMs} ms:\n${this.recentOutput()}`)),
        timeoutMs,
      );
    });
    try {
      await Promise.race([ready, exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
    if (child.exitCode !== null) await exited;
  }

  /** SIGTERM (or the spec's stopSignal), then SIGKILL if it has not exited in time. Resolves with the exit code. */
  async stop(timeoutMs = this.spec.stopTimeoutMs ?? stopTimeoutMs): Promise<number | null> {
    const child = this.child;
    if (!child || !this.running) return child?.exitCode ?? null;
    this.stopping = true;
    child.kill(this.spec.stopSignal ?? 'SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const code = await this.exitPromise;
    clearTimeout(timer);
    return code;
  }

  /** SIGKILL: the process gets no chance to clean up, as in a crash. */
  async kill(): Promise<void> {
    if (!this.child || !this.running) return;
    this.stopping = true;
    this.child.kill('SIGKILL');
    await this.exitPromise;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async close(): Promise<void> {
    await this.stop();
    await new Promise<void>((resolve) => (this.log ? this.log.end(resolve) : resolve()));
    this.log = null;
  }
}

/** How to run one of the project's TypeScript entry points as its own Node.js process. */
export function nodeEntry(entry: string): { command: string; args: string[] } {
  // `node --import tsx` keeps one process (the tsx CLI would add a parent), so SIGKILL hits the service itself.
  return { command: process.execPath, args: ['--enable-source-maps', '--import', 'tsx', entry] };
}
