// docker-compose.yml cannot run on the development machines (no Docker engine), so this keeps it
// consistent with the code instead: every setting it passes exists and parses, every command names an
// entry point that exists, and the Temporal setup registers exactly the search attributes the code uses.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { apiConfigSchema, workerConfigSchema } from '../common/config';
import { developmentWebhookSecret } from '../common/development';
import { searchAttributes } from '../common/transactions';

const root = path.join(__dirname, '..');
const compose = parse(readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'), { merge: true });
const environment = (service: string): Record<string, string> =>
  Object.fromEntries(Object.entries(compose.services[service].environment).map(([key, value]) => [key, String(value).replace(/^\$\{[A-Z_]+:-(.*)\}$/, '$1')]));

test('compose | every role of the system | is a service', () => {
  expect(Object.keys(compose.services)).toEqual(
    expect.arrayContaining(['postgres', 'temporal', 'temporal-ui', 'temporal-schema', 'temporal-setup', 'migrate', 'api', 'worker', 'bank-sim']),
  );
  expect(compose.services.temporal.image).toMatch(/^temporalio\/server:/);
  expect(JSON.stringify(compose)).not.toContain('auto-setup');
});

test('compose | api and worker settings | are all known to the config schema and valid', () => {
  for (const [service, schema] of [['api', apiConfigSchema], ['worker', workerConfigSchema]] as const) {
    const env = environment(service);
    const known = Object.keys(schema.shape);
    for (const key of Object.keys(env)) expect([service, key, known.includes(key)]).toEqual([service, key, true]);
    expect(schema.safeParse(env).success).toBe(true);
  }
  expect(environment('api').BANK_WEBHOOK_SECRETS).toBe(developmentWebhookSecret);
  expect(environment('bank-sim').BANK_SIM_WEBHOOK_SECRETS).toBe(developmentWebhookSecret);
});

test('compose | commands | name entry points that the build produces', () => {
  for (const service of ['migrate', 'api', 'worker', 'bank-sim']) {
    const entry = (compose.services[service].command as string[]).find((part) => part.startsWith('dist/'))!;
    expect(existsSync(path.join(root, entry.replace(/^dist\//, '').replace(/\.js$/, '.ts')))).toBe(true);
  }
});

test('compose | Temporal namespace setup | registers the search attributes the workflows use', () => {
  const script = readFileSync(path.join(root, 'deploy', 'temporal', 'setup-namespace.sh'), 'utf8');
  const registered = /for name in ([A-Za-z ]+); do/.exec(script)![1]!.trim().split(/\s+/).sort();
  expect(registered).toEqual(Object.values(searchAttributes).map((key) => key.name).sort());
});
