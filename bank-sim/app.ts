// createBankSimulator: wires store, journal, bank, webhooks and control into one instance with no global state.
// The caller listens with `app` and calls `close()` when done; main.ts does that for the real process.
import type { Express } from 'express';
import { z } from 'zod';
import { createLogger, type Logger } from '../common/log';
import { Bank } from './bank';
import {
  defaultDeliveryTimeoutMs,
  defaultWebhookRetryScheduleMs,
  deliveryTimeoutMsMax,
  httpUrlSchema,
  retryScheduleMsSchema,
  webhookSecretSchema,
  webhookSecretsMax,
} from './config';
import { controlSettingsSchema, defaultControlSettings, type ControlSettings, type ControlUpdate } from './control';
import { Journal } from './journal';
import { SeededRandom, seedMax } from './random';
import type { JournalRecord } from './records';
import { createHttpApp } from './routes';
import { BankStore } from './store';
import { WebhookDispatcher } from './webhooks';

export { knownBanks } from './model';

export interface BankSimulatorOptions {
  /** Base of the `redirectUrl`s, e.g. http://127.0.0.1:4100 (no trailing slash needed). */
  publicUrl: string;
  webhookUrl: string;
  /** Every attempt is signed with each of these; several allow rotation on the receiving side. */
  webhookSecrets: readonly string[];
  webhookRetryScheduleMs?: readonly number[];
  /** The journal; null or absent keeps everything in memory only. */
  stateFile?: string | null;
  seed?: number | null;
  deliveryTimeoutMs?: number;
  logger?: Logger;
}

const optionsSchema = z.object({
  publicUrl: httpUrlSchema,
  webhookUrl: httpUrlSchema,
  webhookSecrets: z.array(webhookSecretSchema).min(1).max(webhookSecretsMax),
  webhookRetryScheduleMs: retryScheduleMsSchema.optional(),
  stateFile: z.string().min(1).nullable().optional(),
  seed: z.int().min(0).max(seedMax).nullable().optional(),
  deliveryTimeoutMs: z.int().min(1).max(deliveryTimeoutMsMax).optional(),
});

/** The control settings, changed by POST /v1/_control; the seed also reseeds the generator. */
export class ControlPanel {
  private current: ControlSettings;

  constructor(
    private readonly defaults: ControlSettings,
    private readonly random: SeededRandom,
  ) {
    this.current = defaults;
  }

  get settings(): ControlSettings {
    return this.current;
  }

  update(update: ControlUpdate): ControlSettings {
    this.current = controlSettingsSchema.parse({ ...this.current, ...update });
    if (update.seed !== undefined) this.random.reseed(update.seed);
    return this.current;
  }

  reset(): ControlSettings {
    this.current = this.defaults;
    this.random.reseed(this.defaults.seed);
    return this.current;
  }
}

export interface BankSimulator {
  app: Express;
  bank: Bank;
  store: BankStore;
  control: ControlPanel;
  dispatcher: WebhookDispatcher;
  journal: Journal | null;
  close(): Promise<void>;
}

export function createBankSimulator(options: BankSimulatorOptions): BankSimulator {
  const checked = optionsSchema.parse(options);
  const logger = options.logger ?? createLogger('bank-sim');
  const publicUrl = checked.publicUrl.replace(/\/+$/, '');
  const seed = checked.seed ?? null;
  const random = new SeededRandom(seed);
  const control = new ControlPanel(
    defaultControlSettings({
      webhookRetryScheduleMs: checked.webhookRetryScheduleMs ?? defaultWebhookRetryScheduleMs,
      webhookUrl: checked.webhookUrl,
      seed,
    }),
    random,
  );
  const store = new BankStore();
  const stateFile = checked.stateFile ?? null;
  const journal = stateFile === null ? null : Journal.open(stateFile, (record) => store.apply(record), logger);
  // Start from a compact journal: replay cost stays proportional to the state, not to its history.
  journal?.compact(store.snapshot());

  const commit = (records: JournalRecord[]): void => {
    journal?.append(records);
    for (const record of records) store.apply(record);
    if (journal?.shouldCompact()) journal.compact(store.snapshot());
  };
  const settings = () => control.settings;
  const dispatcher = new WebhookDispatcher({
    store,
    commit,
    control: settings,
    random,
    webhookSecrets: checked.webhookSecrets,
    deliveryTimeoutMs: checked.deliveryTimeoutMs ?? defaultDeliveryTimeoutMs,
    logger,
  });
  const bank = new Bank({ store, commit, control: settings, random, dispatcher, logger });
  bank.resume();
  if (journal !== null) {
    logger.info(
      {
        stateFile,
        payments: store.payments.size,
        payouts: store.payouts.size,
        refunds: store.refunds.size,
        pendingDeliveries: store.pendingDeliveryIds.size,
      },
      'bank state restored',
    );
  }

  const app = createHttpApp({ bank, store, control, dispatcher, random, publicUrl, logger, journal });
  let closed = false;
  return {
    app,
    bank,
    store,
    control,
    dispatcher,
    journal,
    async close() {
      if (closed) return;
      closed = true;
      bank.close();
      await dispatcher.close();
      journal?.close();
    },
  };
}
