// The control settings that make the simulated bank misbehave (bank.md, "Control"), their zod schema and defaults.
// Settings live in memory only: a restarted simulator starts from its defaults, as if freshly configured.
import { z } from 'zod';
import { delayMsMax, httpUrlSchema, retryScheduleMsSchema } from './config';
import { seedMax } from './random';

export const failFirstDeliveriesMax = 100;

const rateSchema = z.number().min(0).max(1);

export const controlSettingsSchema = z.strictObject({
  autoApprovePaymentsMs: z.int().min(0).max(delayMsMax).nullable(),
  payoutSettleMs: z.int().min(0).max(delayMsMax),
  declineRate: rateSchema,
  duplicateRate: rateSchema,
  dropRate: rateSchema,
  webhookDelayMs: z.int().min(0).max(delayMsMax),
  failFirstDeliveries: z.int().min(0).max(failFirstDeliveriesMax),
  apiErrorRate: rateSchema,
  // Extensions beyond bank.md.
  webhookRetryScheduleMs: retryScheduleMsSchema,
  webhookUrl: httpUrlSchema,
  seed: z.int().min(0).max(seedMax).nullable(),
});

/** A partial update: unknown fields and bad values are rejected, never ignored. */
export const controlUpdateSchema = controlSettingsSchema.partial();

export type ControlSettings = z.infer<typeof controlSettingsSchema>;
export type ControlUpdate = z.infer<typeof controlUpdateSchema>;

export function defaultControlSettings(base: {
  webhookRetryScheduleMs: readonly number[];
  webhookUrl: string;
  seed: number | null;
}): ControlSettings {
  return controlSettingsSchema.parse({
    autoApprovePaymentsMs: null,
    payoutSettleMs: 1_000,
    declineRate: 0,
    duplicateRate: 0,
    dropRate: 0,
    webhookDelayMs: 0,
    failFirstDeliveries: 0,
    apiErrorRate: 0,
    webhookRetryScheduleMs: [...base.webhookRetryScheduleMs],
    webhookUrl: base.webhookUrl,
    seed: base.seed,
  });
}
