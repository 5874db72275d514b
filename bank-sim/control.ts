// The control settings that make the simulated bank misbehave (bank.md, "Control"), their zod schema and defaults.
// Settings live in memory only: a restarted simulator starts from its defaults, as if freshly configured.
import { z } from 'zod';
import { delayMsMax, httpUrlSchema, retryScheduleMsSchema } from './config';
import { seedMax } from './random';

export const failFirstDeliveriesMax = 100;

const rateSchema = z.number().min(0).max(1);

/** The answers apiFaults can force, in the order one random draw picks among them. */
export const apiFaultStatuses = ['408', '429', '404'] as const;
export type ApiFaultStatus = (typeof apiFaultStatuses)[number];
// Rates are floats (0.1 + 0.2 + 0.7 > 1 by a hair); a sum this close to 1 counts as 1.
const rateSumToleranceMax = 1e-9;

/** A share (0..1) of Bank API calls for each fault; one omitted from an update is 0. */
const apiFaultsSchema = z
  .strictObject({ '408': rateSchema.default(0), '429': rateSchema.default(0), '404': rateSchema.default(0) })
  .refine((faults) => faults['408'] + faults['429'] + faults['404'] <= 1 + rateSumToleranceMax, {
    message: 'the rates must add up to at most 1',
  });

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
  refundSettleMs: z.int().min(0).max(delayMsMax),
  apiFaults: apiFaultsSchema,
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
    refundSettleMs: 1_000,
    apiFaults: { '408': 0, '429': 0, '404': 0 },
    webhookRetryScheduleMs: [...base.webhookRetryScheduleMs],
    webhookUrl: base.webhookUrl,
    seed: base.seed,
  });
}
