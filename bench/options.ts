// The command line of `npm run bench`: parsed with node:util parseArgs, checked with zod, every
// number bounded, and every address required to be on this machine (loopback only).
import { parseArgs } from 'node:util';
import path from 'node:path';
import { z } from 'zod';
import { defaults } from '../common/config';

export const scenarioNames = ['uniform', 'hot-account', 'on-ramp', 'soak'] as const;
export type ScenarioName = (typeof scenarioNames)[number];
export const baselineNames = ['direct-sql', 'api-direct', 'noop-workflow'] as const;
export type BaselineName = (typeof baselineNames)[number];
export type TargetName = BaselineName | 'zenpay';
/** dev: `npm start`'s system (Temporal's dev server on SQLite); cluster: `npm start -- --cluster`'s (Temporal on PostgreSQL). */
export const profileNames = ['dev', 'cluster'] as const;
export type ProfileName = (typeof profileNames)[number];
/** What the scaling series varies on the cluster profile, one at a time, the others at the profile's own. */
export const scalingDimensions = ['workers', 'apis', 'shards'] as const;
export type ScalingDimension = (typeof scalingDimensions)[number];
/** The cluster profile as `npm start -- --cluster` runs it. */
export const clusterProfileShape = { apis: 2, workers: 2 } as const;
export const scalePointMax = 16;

export const durationSecondsMax = 6 * 3600;
export const warmupSecondsMax = 600;
export const rateMax = 5_000;
export const concurrencyMax = 1_000;
export const usersMax = 20_000;
export const completionTimeoutMsMax = 300_000;
export const approveDelayMsMax = 60_000;

/** What each scenario runs when the command line does not say. */
export const scenarioDefaults: Record<ScenarioName, { durationSeconds: number; rate: number | 'max' }> = {
  uniform: { durationSeconds: 60, rate: 'max' },
  'hot-account': { durationSeconds: 30, rate: 'max' },
  'on-ramp': { durationSeconds: 30, rate: 'max' },
  soak: { durationSeconds: 600, rate: 25 },
};

export const usage = `Usage: npm run bench -- [options]

  --scenario LIST        uniform, hot-account, on-ramp, soak (comma-separated) or all  (uniform)
  --duration SECONDS     measured time per target (uniform 60, hot-account 30, on-ramp 30, soak 600)
  --rate N|max           offered transfers per second (open loop), or max (closed loop)  (soak 25, else max)
  --concurrency N        in-flight operations at most (closed loop: exactly)    (64)
  --users N              simulated users                                         (1000)
  --warmup SECONDS       unmeasured load before each measurement                 (5)
  --baselines LIST       any of direct-sql, api-direct, noop-workflow, or none  (all three)
  --completion-timeout MS  an operation without its final event after this is a timeout (30000)
  --approve-ms MS        on-ramp: the bank simulator approves each payment after MS  (0)
  --out DIR              where the JSON, the chart and the table go              (bench/results)
  --profile LIST         dev, cluster or dev,cluster: the system(s) the bench starts and measures one
                         after the other, reported side by side                  (dev)
  --shards N             the cluster profile's history shards (a fresh cluster)  (512, as npm start -- --cluster)
  --scaling LIST         with the cluster profile: ZenPAY's uniform transfers again with 1, 2, 4 of each of
                         workers, apis, shards (comma-separated or all), the others at the profile's own
                         (2 APIs, 2 workers, --shards); shards each on a fresh cluster  (none)
  --scale-points LIST    the counts the scaling series measures                  (1,2,4)
  --quiet                no progress bar

  Against an already running system (else the bench starts its own):
  --url URL              its GraphQL endpoint, e.g. http://127.0.0.1:4000/graphql
  --database-url URL     its PostgreSQL (funding, direct-sql)   ($DATABASE_URL or ${defaults.databaseUrl})
  --temporal-address A   its Temporal, for the api-direct API   ($TEMPORAL_ADDRESS or ${defaults.temporalAddress})
  --task-queue NAME      its task queue                         ($TEMPORAL_TASK_QUEUE or ${defaults.taskQueue})
  --bank-url URL         its bank simulator, for on-ramp        (${defaults.bankApiUrl})
  --sms-url URL          its SMS simulator, for sign-up codes   (http://127.0.0.1:4300; start that system with
                         generous per-address limits, see README "Identity and access")
  --pids LIST            process ids to measure, e.g. worker=123,api=456 (else found by port and name)
`;

const loopbackHosts = /^(localhost|127(\.\d{1,3}){3}|\[::1\]|::1)$/;

/** Load is only ever sent to this machine. */
function loopbackUrl(label: string) {
  return z.string().refine((value) => {
    try {
      return loopbackHosts.test(new URL(value).hostname);
    } catch {
      return false;
    }
  }, `${label} must be a URL on this machine (127.0.0.1, localhost or [::1])`);
}

const count = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const processNames = ['api', 'worker', 'temporal', 'postgres', 'bank-sim'] as const;

const optionsSchema = z.object({
  scenarios: z.array(z.enum(scenarioNames)).min(1),
  durationSeconds: count(1, durationSecondsMax).optional(),
  rate: z.union([z.literal('max'), z.coerce.number().positive().max(rateMax)]).optional(),
  concurrency: count(1, concurrencyMax),
  users: count(2, usersMax),
  warmupSeconds: count(0, warmupSecondsMax),
  baselines: z.array(z.enum(baselineNames)),
  completionTimeoutMs: count(100, completionTimeoutMsMax),
  approveDelayMs: count(0, approveDelayMsMax),
  outDir: z.string().min(1),
  quiet: z.boolean(),
  url: loopbackUrl('--url').optional(),
  databaseUrl: loopbackUrl('--database-url'),
  temporalAddress: z.string().regex(/^(localhost|127(\.\d{1,3}){3}):\d{1,5}$/, '--temporal-address must be 127.x.x.x:PORT or localhost:PORT'),
  taskQueue: z.string().min(1),
  bankUrl: loopbackUrl('--bank-url'),
  smsUrl: loopbackUrl('--sms-url'),
  pids: z.partialRecord(z.enum(processNames), z.coerce.number().int().positive()),
  profiles: z.array(z.enum(profileNames)).min(1),
  shards: count(1, 16_384),
  scaling: z.array(z.enum(scalingDimensions)),
  scalePoints: z.array(count(1, scalePointMax)).min(1),
})
  .refine((options) => options.url === undefined || (options.profiles.length === 1 && options.profiles[0] === 'dev' && options.scaling.length === 0), {
    message: '--profile and --scaling need a system the bench starts itself: leave out --url',
    path: ['profile'],
  })
  .refine((options) => options.scaling.length === 0 || options.profiles.includes('cluster'), {
    message: '--scaling measures the cluster profile: add --profile cluster (or dev,cluster)',
    path: ['scaling'],
  });

export type BenchOptions = z.infer<typeof optionsSchema>;
export type ProcessName = (typeof processNames)[number];

function list(value: string | undefined): string[] {
  return (value ?? '').split(',').map((item) => item.trim()).filter(Boolean);
}

/** Parses argv (without node and the script); throws an Error whose message is fit for the user. */
export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      scenario: { type: 'string', default: 'uniform' },
      duration: { type: 'string' },
      rate: { type: 'string' },
      concurrency: { type: 'string', default: '64' },
      users: { type: 'string', default: '1000' },
      warmup: { type: 'string', default: '5' },
      baselines: { type: 'string', default: baselineNames.join(',') },
      'completion-timeout': { type: 'string', default: '30000' },
      'approve-ms': { type: 'string', default: '0' },
      out: { type: 'string', default: path.join('bench', 'results') },
      quiet: { type: 'boolean', default: false },
      url: { type: 'string' },
      'database-url': { type: 'string' },
      'temporal-address': { type: 'string' },
      'task-queue': { type: 'string' },
      'bank-url': { type: 'string', default: defaults.bankApiUrl },
      'sms-url': { type: 'string', default: 'http://127.0.0.1:4300' },
      pids: { type: 'string' },
      profile: { type: 'string', default: 'dev' },
      shards: { type: 'string', default: '512' },
      scaling: { type: 'string', default: '' },
      'scale-points': { type: 'string', default: '1,2,4' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return 'help';
  const baselines = values.baselines === 'none' ? [] : list(values.baselines);
  const scenarios = values.scenario === 'all' ? [...scenarioNames] : list(values.scenario);
  const pids = Object.fromEntries(list(values.pids).map((pair) => pair.split('=', 2) as [string, string]));
  const parsed = optionsSchema.safeParse({
    scenarios,
    durationSeconds: values.duration,
    rate: values.rate,
    concurrency: values.concurrency,
    users: values.users,
    warmupSeconds: values.warmup,
    baselines: [...new Set(baselines)],
    completionTimeoutMs: values['completion-timeout'],
    approveDelayMs: values['approve-ms'],
    outDir: values.out,
    quiet: values.quiet,
    url: values.url,
    databaseUrl: values['database-url'] ?? env.DATABASE_URL ?? defaults.databaseUrl,
    temporalAddress: values['temporal-address'] ?? env.TEMPORAL_ADDRESS ?? defaults.temporalAddress,
    taskQueue: values['task-queue'] ?? env.TEMPORAL_TASK_QUEUE ?? defaults.taskQueue,
    bankUrl: values['bank-url'],
    smsUrl: values['sms-url'],
    pids,
    profiles: [...new Set(list(values.profile))],
    shards: values.shards,
    scaling: values.scaling === 'all' ? [...scalingDimensions] : [...new Set(list(values.scaling))],
    scalePoints: [...new Set(list(values['scale-points']))],
  });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `  ${issue.path.join('.') || 'options'}: ${issue.message}`);
    throw new Error(`invalid options:\n${problems.join('\n')}\n\n${usage}`);
  }
  return parsed.data;
}

/** The duration and rate one scenario runs with: the command line's, else the scenario's own. */
export function scenarioSettings(options: BenchOptions, scenario: ScenarioName): { durationSeconds: number; rate: number | 'max' } {
  return {
    durationSeconds: options.durationSeconds ?? scenarioDefaults[scenario].durationSeconds,
    rate: options.rate ?? scenarioDefaults[scenario].rate,
  };
}
