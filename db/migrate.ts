// Applies the SQL migrations in db/migrations with node-pg-migrate (locked, one transaction).
// Run as a script (`npm run migrate`) or call migrateDatabase() from a launcher.
import path from 'node:path';
import pg from 'pg';

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

/** The role the API and the worker connect as: it reads, and writes money only through zp_* functions. */
export const appRole = 'zenpay_app';

/**
 * Lets the application role log in with a password (migrations create it NOLOGIN, and no migration
 * may know a password), and returns the application's URL: the owner's URL with that role instead.
 */
export async function enableAppLogin(ownerUrl: string, password: string): Promise<string> {
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    await client.query(`ALTER ROLE ${appRole} WITH LOGIN PASSWORD ${client.escapeLiteral(password)}`);
  } finally {
    await client.end();
  }
  return appDatabaseUrl(ownerUrl, password);
}

export function appDatabaseUrl(ownerUrl: string, password: string): string {
  const url = new URL(ownerUrl);
  url.username = appRole;
  url.password = encodeURIComponent(password);
  return url.toString();
}

if (require.main === module) {
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    console.error('DATABASE_URL is required, e.g. postgres://postgres@127.0.0.1:5432/zenpay');
    process.exit(1);
  }
  const appPassword = process.env.ZENPAY_APP_DATABASE_PASSWORD;
  migrateDatabase(databaseUrl, () => {}).then(
    async (names) => {
      console.log(names.length ? `applied: ${names.join(', ')}` : 'database is up to date');
      // A deployment gives the application role its password here (migrations create it NOLOGIN).
      if (appPassword) {
        await enableAppLogin(databaseUrl, appPassword);
        console.log(`${appRole} may log in`);
      }
    },
    (error: unknown) => {
      console.error('migration failed:', error);
      process.exit(1);
    },
  );
}
