// What the bench shows while it runs: a progress bar per step on a terminal (cli-progress), plain
// lines elsewhere (CI logs, the smoke test), nothing but errors with --quiet.
import cliProgress from 'cli-progress';

export interface StepProgress {
  update(value: number, fields?: Record<string, string | number>): void;
  finish(summary: string): void;
}

export interface ProgressDisplay {
  log(message: string): void;
  /** A bar from 0 to total; `fields` name what the format shows besides the bar. */
  step(label: string, total: number, format: 'count' | 'load'): StepProgress;
}

const formats = {
  count: '[bench] {label} [{bar}] {value}/{total}',
  load: '[bench] {label} [{bar}] {value}/{total} s | completed {completed} | {recent}/s now | in flight {inFlight} | errors {errors}',
};

export function createProgressDisplay(quiet: boolean, stream: NodeJS.WriteStream = process.stdout): ProgressDisplay {
  const interactive = !quiet && stream.isTTY === true;
  return {
    log(message) {
      if (!quiet) console.log(`[bench] ${message}`);
    },
    step(label, total, format) {
      if (!interactive) {
        if (!quiet) console.log(`[bench] ${label}`);
        return {
          update() {},
          finish(summary) {
            if (!quiet) console.log(`[bench] ${label}: ${summary}`);
          },
        };
      }
      const bar = new cliProgress.SingleBar(
        { format: formats[format], barsize: 24, hideCursor: true, stream, fps: 5, clearOnComplete: true },
        cliProgress.Presets.shades_classic,
      );
      bar.start(total, 0, { label, completed: 0, recent: 0, inFlight: 0, errors: 0 });
      return {
        update(value, fields) {
          bar.update(Math.min(total, value), fields);
        },
        finish(summary) {
          bar.stop();
          console.log(`[bench] ${label}: ${summary}`);
        },
      };
    },
  };
}
