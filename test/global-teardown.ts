// Jest global teardown: stops the Temporal dev server and the embedded PostgreSQL of the run.
import type { RunningPostgres } from '../system/postgres';
import type { ManagedProcess } from '../system/process';

export default async function globalTeardown(): Promise<void> {
  const services = (globalThis as { zenpayTestServices?: { temporal: ManagedProcess; postgres: RunningPostgres | null } })
    .zenpayTestServices;
  if (!services) return;
  await services.temporal.close();
  await services.postgres?.stop();
}
