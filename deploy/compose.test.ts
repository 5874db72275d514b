// docker-compose.yml cannot run on the development machines (no Docker engine), so this keeps it
// consistent with the code instead: every setting it passes exists and parses, every command names an
// entry point that exists, and the Temporal setup registers exactly the search attributes the code uses.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { readEnvironment } from '../bank-sim/config';
import { apiConfigSchema, developmentTwoFactorEncryptionKey, workerConfigSchema } from '../common/config';
import { developmentWebhookSecret } from '../common/development';
import { searchAttributes } from '../common/transactions';
import { defaultHistoryShards, dynamicConfigSource } from '../system/temporal-cluster';

const root = path.join(__dirname, '..');
const compose = parse(readFileSync(path.join(root, 'docker-compose.yml'), 'utf8'), { merge: true });
/** What an operator sets before `docker compose up` (compose refuses to start without each). */
const operatorSettings: Record<string, string> = {
  POSTGRES_PASSWORD: 'compose-test-owner-password',
  ZENPAY_APP_DATABASE_PASSWORD: 'compose-test-app-password',
  PHONE_CODE_SECRET: 'compose-test-phone-code-key-of-32-characters-or-more',
  TWO_FACTOR_ENCRYPTION_KEY: Buffer.from('compose-test-two-factor-key-32-b').toString('base64'),
  BANK_WEBHOOK_SECRETS: 'whsec_' + Buffer.from('compose-test-bank-webhook-secret-0123456789').toString('base64'),
};
const substitute = (value: string): string =>
  value.replace(/\$\{([A-Z_]+)(:-|:\?)([^}]*)\}/g, (_, name: string, kind: string, fallback: string) => {
    if (kind === ':-') return fallback;
    if (!(name in operatorSettings)) throw new Error(`compose requires ${name}, which the test does not set`);
    return operatorSettings[name]!;
  });
const environment = (service: string): Record<string, string> =>
  Object.fromEntries(Object.entries(compose.services[service].environment).map(([key, value]) => [key, substitute(String(value))]));

test('compose | every role of the system | is a service', () => {
  expect(Object.keys(compose.services)).toEqual(
    expect.arrayContaining(['postgres', 'temporal', 'temporal-ui', 'temporal-schema', 'temporal-setup', 'migrate', 'api', 'worker', 'bank-sim', 'sms-sim']),
  );
  expect(compose.services.temporal.image).toMatch(/^temporalio\/server:/);
  expect(JSON.stringify(compose)).not.toContain('auto-setup');
});

test('compose | topology | as the cluster profile: two API and two worker replicas, the default shard count, the same dynamic config', () => {
  expect([compose.services.api.deploy?.replicas, compose.services.worker.deploy?.replicas]).toEqual([2, 2]);
  expect(Number(environment('temporal').NUM_HISTORY_SHARDS)).toBe(defaultHistoryShards);
  // The file the cluster profile writes into its server config is the one compose mounts.
  const mounted = (compose.services.temporal.volumes as string[]).find((volume) => volume.endsWith(`:${environment('temporal').DYNAMIC_CONFIG_FILE_PATH}:ro`))!;
  expect(path.resolve(root, mounted.split(':')[0]!)).toBe(dynamicConfigSource);
  expect(Object.keys(parse(readFileSync(dynamicConfigSource, 'utf8')))).toContain('frontend.namespaceRPS.visibility');
});

test('compose | api and worker settings | are all known to the config schema and valid', () => {
  for (const [service, schema] of [['api', apiConfigSchema], ['worker', workerConfigSchema]] as const) {
    const env = environment(service);
    const known = Object.keys('shape' in schema ? schema.shape : schema.in.shape);
    for (const key of Object.keys(env)) expect([service, key, known.includes(key)]).toEqual([service, key, true]);
    // The image sets NODE_ENV=production, so every production refusal applies.
    const parsed = schema.safeParse({ ...env, NODE_ENV: 'production' });
    expect([service, parsed.error?.issues ?? []]).toEqual([service, []]);
  }
  expect(environment('api').BANK_WEBHOOK_SECRETS).toBe(environment('bank-sim').BANK_SIM_WEBHOOK_SECRETS);
});

test('compose | secrets and passwords | must be set by the operator: no development value, no default', () => {
  const text = readFileSync(path.join(root, 'docker-compose.yml'), 'utf8');
  expect(text).not.toContain(developmentWebhookSecret);
  for (const name of Object.keys(operatorSettings)) expect(text).toContain(`\${${name}:?`);
  expect(text).not.toMatch(/PASSWORD: [a-z]/i);
});

test('bank simulator | NODE_ENV=production | refuses the public development secret, accepts one of its own', () => {
  expect(() => readEnvironment({ NODE_ENV: 'production' })).toThrow(/BANK_SIM_WEBHOOK_SECRETS/);
  expect(() => readEnvironment({ NODE_ENV: 'production', BANK_SIM_WEBHOOK_SECRETS: developmentWebhookSecret })).toThrow(/BANK_SIM_WEBHOOK_SECRETS/);
  expect(readEnvironment({ NODE_ENV: 'production', BANK_SIM_WEBHOOK_SECRETS: operatorSettings.BANK_WEBHOOK_SECRETS }).webhookSecrets).toHaveLength(1);
  expect(readEnvironment({}).webhookSecrets).toEqual([developmentWebhookSecret]);
});

test('config | NODE_ENV=production | refuses the development webhook secret, known database passwords and introspection', () => {
  const production = { NODE_ENV: 'production', DATABASE_URL: 'postgres://zenpay_app:a-real-password@db:5432/zenpay' };
  const refused = (schema: typeof apiConfigSchema | typeof workerConfigSchema, env: Record<string, string>) =>
    (schema.safeParse(env).error?.issues ?? []).map((issue) => issue.path.join('.')).sort();
  const apiProduction = {
    ...production,
    BANK_WEBHOOK_SECRETS: operatorSettings.BANK_WEBHOOK_SECRETS!,
    PHONE_CODE_SECRET: 'a-production-phone-code-key-of-32-characters-or-more',
    TWO_FACTOR_ENCRYPTION_KEY: Buffer.from('a-production-two-factor-key-32-b').toString('base64'),
  };
  expect(refused(apiConfigSchema, apiProduction)).toEqual([]);
  expect(refused(apiConfigSchema, { ...apiProduction, BANK_WEBHOOK_SECRETS: developmentWebhookSecret })).toEqual(['BANK_WEBHOOK_SECRETS']);
  expect(refused(apiConfigSchema, { NODE_ENV: 'production', PHONE_CODE_SECRET: apiProduction.PHONE_CODE_SECRET, TWO_FACTOR_ENCRYPTION_KEY: apiProduction.TWO_FACTOR_ENCRYPTION_KEY })).toEqual(['BANK_WEBHOOK_SECRETS', 'DATABASE_URL']);
  const { TWO_FACTOR_ENCRYPTION_KEY: _, ...withoutTwoFactorKey } = apiProduction;
  expect(refused(apiConfigSchema, withoutTwoFactorKey)).toEqual(['TWO_FACTOR_ENCRYPTION_KEY']);
  expect(refused(apiConfigSchema, { ...apiProduction, TWO_FACTOR_ENCRYPTION_KEY: developmentTwoFactorEncryptionKey })).toEqual(['TWO_FACTOR_ENCRYPTION_KEY']);
  expect(refused(apiConfigSchema, { ...apiProduction, TWO_FACTOR_ENCRYPTION_KEY: Buffer.alloc(16, 7).toString('base64') })).toEqual(['TWO_FACTOR_ENCRYPTION_KEY']);
  expect(refused(apiConfigSchema, { ...apiProduction, GRAPHQL_INTROSPECTION: 'true' })).toEqual(['GRAPHQL_INTROSPECTION']);
  expect(apiConfigSchema.parse(apiProduction).GRAPHQL_INTROSPECTION).toBe(false);
  expect(apiConfigSchema.parse({}).GRAPHQL_INTROSPECTION).toBe(true);
  expect(refused(workerConfigSchema, production)).toEqual([]);
  for (const url of ['postgres://postgres:secret@db/zenpay', 'postgres://zenpay_app:zenpay@db/zenpay', 'postgres://zenpay_app:zenpay-app-development@db/zenpay']) {
    expect(refused(workerConfigSchema, { ...production, DATABASE_URL: url })).toEqual(['DATABASE_URL']);
  }
});

test('compose | commands | name entry points that the build produces', () => {
  for (const service of ['migrate', 'api', 'worker', 'bank-sim', 'sms-sim']) {
    const entry = (compose.services[service].command as string[]).find((part) => part.startsWith('dist/'))!;
    expect(existsSync(path.join(root, entry.replace(/^dist\//, '').replace(/\.js$/, '.ts')))).toBe(true);
  }
});

test('compose | Temporal namespace setup | registers the search attributes the workflows use', () => {
  const script = readFileSync(path.join(root, 'deploy', 'temporal', 'setup-namespace.sh'), 'utf8');
  const registered = /for name in ([A-Za-z ]+); do/.exec(script)![1]!.trim().split(/\s+/).sort();
  expect(registered).toEqual(Object.values(searchAttributes).map((key) => key.name).sort());
});
