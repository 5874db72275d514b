// Operator accounts from the command line (never through an API):
//   npm run operator -- create <name>     password from stdin when piped, else a generated one printed once
//   npm run operator -- disable <name>    disables the account and ends its sessions
// Connects to DATABASE_URL (the API's; the embedded development database by default).
import { defaults } from '../common/config';
import { createPool } from '../db/pool';
import { createOperator, disableOperator, generateOperatorPassword } from '../api/operators';

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) return '';
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

async function main(): Promise<number> {
  const [command, name] = process.argv.slice(2);
  if ((command !== 'create' && command !== 'disable') || !name) {
    console.error('usage: npm run operator -- create <name>   (password from stdin, or a generated one is printed)\n       npm run operator -- disable <name>');
    return 2;
  }
  const pool = createPool({ connectionString: process.env.DATABASE_URL ?? defaults.databaseUrl, max: 1, applicationName: 'zenpay-operator-command' });
  try {
    if (command === 'disable') {
      const disabled = await disableOperator(pool, name);
      console.log(disabled ? `operator ${name} disabled; their sessions ended` : `no enabled operator ${name}`);
      return disabled ? 0 : 1;
    }
    const given = await readStdin();
    const password = given || generateOperatorPassword();
    const operator = await createOperator(pool, name, password);
    console.log(`operator ${operator.name} created`);
    if (!given) console.log(`password (shown once, not stored anywhere): ${password}`);
    return 0;
  } catch (error) {
    const { code, constraint, message } = error as { code?: string; constraint?: string; message: string };
    if (constraint === 'operators_name_key') console.error(`an operator named ${name} already exists`);
    else if (code === 'BAD_USER_INPUT' || (error as { name?: string }).name === 'AppError') console.error(message);
    else throw error;
    return 1;
  } finally {
    await pool.end();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error('operator command failed:', error);
    process.exit(1);
  },
);
