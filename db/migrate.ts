// Applies the SQL migrations in db/migrations with node-pg-migrate (locked, one transaction).
// Run as a script (`npm run migrate`) or call migrateDatabase() from a launcher.
import path from 'node:path';

export const migrationsDir = path.join(__dirname, 'migrations');

export async function migrateDatabase(databaseUrl: string, log: (message: string) => void = () => {}): Promise<string[]> {
  // node-pg-migrate is published as ECMAScript modules only; a dynamic import loads it from CommonJS.
  const { runner } = await import('node-pg-migrate');
  const applied = await runner({
    databaseUrl,
    dir: migrationsDir,
    direction: 'up',
    migrationsTable: 'pgmigrations',
    singleTransaction: true,
    checkOrder: true,
    verbose: false,
    log,
  });
  return applied.map((migration) => migration.name);
}

if (require.main === module) {
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    console.error('DATABASE_URL is required, e.g. postgres://postgres@127.0.0.1:5432/zenpay');
    process.exit(1);
  }
  migrateDatabase(databaseUrl, () => {}).then(
    (names) => console.log(names.length ? `applied: ${names.join(', ')}` : 'database is up to date'),
    (error: unknown) => {
      console.error('migration failed:', error);
      process.exit(1);
    },
  );
}
