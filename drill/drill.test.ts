// The short failure drill, on every change: `npm run drill`'s own program in a child process (it
// starts its own whole system: embedded PostgreSQL, a Temporal dev server on a SQLite file, bank
// simulator, worker and API processes), with every kind of fault; it must end with all seven
// invariants holding and exit 0.
import { spawn } from 'node:child_process';
import path from 'node:path';

const root = path.join(__dirname, '..');

test('drill | a short run with every kind of fault | all invariants hold', async () => {
  const args = ['--seed', '7', '--duration', '45', '--users', '8', '--think-ms', '600', '--worker-kills', '2', '--api-kills', '1', '--temporal-restarts', '1', '--postgres-restarts', '1', '--bank-downs', '1'];
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'drill', 'main.ts'), ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  const summary = output.trim().split('\n').at(-1) ?? '';
  // On failure the whole output (faults, the evidence of each violated invariant) is the message.
  expect({ code, summary, output: code === 0 ? '' : output }).toEqual({
    code: 0,
    summary: expect.stringMatching(/^drill: seed=7 txns=\d+ faults=6 lost=0 duplicated=0 created=0 invariants=7\/7 ok$/),
    output: '',
  });
  expect(Number(/txns=(\d+)/.exec(summary)![1])).toBeGreaterThan(50);
  console.log(summary);
}, 420_000);
