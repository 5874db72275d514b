// Restarts services that die on their own (after a pause that grows while they keep dying), as a
// process manager would in production. Deliberate stops and kills do not count.
import type { ManagedProcess } from './process';

export interface SupervisionOptions {
  say: (message: string) => void;
  /** While this returns true (shutting down), nothing is restarted. */
  stopping: () => boolean;
  restartDelayMsMax?: number;
}

export function superviseRestarts(parts: readonly ManagedProcess[], options: SupervisionOptions): () => void {
  const delayMsMax = options.restartDelayMsMax ?? 30_000;
  const offs = parts.map((part) => {
    let delayMs = 1_000;
    return part.onUnexpectedExit((code, signal) => {
      if (options.stopping()) return;
      options.say(`${part.spec.name} exited unexpectedly (code ${code}, signal ${signal}); restarting in ${delayMs / 1000} s`);
      setTimeout(() => {
        if (options.stopping() || part.running) return;
        part.start().then(
          () => options.say(`${part.spec.name} is back`),
          (error: unknown) => options.say(`${part.spec.name} did not come back: ${String(error)}`),
        );
      }, delayMs);
      delayMs = Math.min(delayMs * 2, delayMsMax);
    });
  });
  return () => offs.forEach((off) => off());
}
