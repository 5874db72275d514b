// The short failure drill, on every change: its own whole system (embedded PostgreSQL, a Temporal
// dev server on a SQLite file, bank simulator, worker and API processes), a mixed workload through the
// public API with a misbehaving bank, and every kind of fault; then all seven invariants must hold.
import { runDrill } from './run';

test('drill | a short run with every kind of fault | all invariants hold', async () => {
  const lines: string[] = [];
  const report = await runDrill({
    seed: 7,
    durationMs: 45_000,
    users: 8,
    thinkTimeMs: 600,
    faults: { 'worker-kill': 2, 'api-kill': 1, 'temporal-restart': 1, 'postgres-restart': 1, 'bank-down': 1 },
    log: (line) => lines.push(line),
  });
  const evidence = report.results.flatMap((result) => result.violations.map((violation) => `${result.name}: ${violation}`));
  expect({ summary: report.summary, evidence }).toEqual({ summary: expect.stringMatching(/invariants=7\/7 ok$/), evidence: [] });
  expect(report.transactions).toBeGreaterThan(50);
  expect(report.faults).toHaveLength(6);
  console.log(report.summary);
}, 420_000);
