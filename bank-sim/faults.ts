// Faults injected into the Bank API on purpose (control: apiErrorRate, apiFaults), each as real banks show them:
// 503 and 429 before doing anything, 408 after the request was carried out (the answer was lost on the way back),
// 404 from a read replica that lags behind. The page, a person's clicks and the control endpoints never fail.
import type { Request, RequestHandler, Response } from 'express';
import { apiFaultStatuses, type ApiFaultStatus, type ControlSettings } from './control';
import { BankError } from './model';
import type { SeededRandom } from './random';

/** The retry-after header of a 429, in seconds. */
export const rateLimitRetryAfterSeconds = 1;

// apiErrorRate: every call the engine makes, lookups by reference included.
const apiErrorPathPattern = /^\/v1\/(?:(?:payments|payouts|refunds)(?:\/[^/]+)?|payments\/[^/]+\/cancel)\/?$/;
// apiFaults: creates and reads by id only. Lookups by reference stay reliable: they are how a caller finds out
// what a 408 or a 404 hid.
const createPathPattern = /^\/v1\/(?:payments|payouts|refunds)\/?$/;
const readByIdPathPattern = /^\/v1\/(?:payments|payouts|refunds)\/[^/]+\/?$/;

type FaultableCall = 'create' | 'read-by-id';

export interface BankApiFaults {
  middleware: RequestHandler;
  counters: { apiErrorsInjected: number; apiFaultsInjected: Record<ApiFaultStatus, number> };
}

export function createBankApiFaults(control: () => ControlSettings, random: SeededRandom): BankApiFaults {
  const counters = { apiErrorsInjected: 0, apiFaultsInjected: { '408': 0, '429': 0, '404': 0 } };
  const middleware: RequestHandler = (request, response, next) => {
    const settings = control();
    if (apiErrorPathPattern.test(request.path) && random.chance(settings.apiErrorRate)) {
      counters.apiErrorsInjected += 1;
      sendFault(response, new BankError(503, 'BANK_UNAVAILABLE', 'the bank is unavailable (apiErrorRate); retry'));
      return;
    }
    const call = faultableCall(request);
    const fault = call === null ? null : drawFault(settings.apiFaults, random, call);
    if (fault !== null) counters.apiFaultsInjected[fault] += 1;
    if (fault === '429') {
      response.set('retry-after', String(rateLimitRetryAfterSeconds));
      sendFault(response, new BankError(429, 'RATE_LIMITED', 'too many requests (apiFaults); nothing was done, retry later'));
      return;
    }
    if (fault === '404') {
      // A lagging replica answers exactly as for an id that does not exist.
      sendFault(response, new BankError(404, 'NOT_FOUND', 'no object with this id'));
      return;
    }
    if (fault === '408') loseTheAnswer(response);
    next();
  };
  return { middleware, counters };
}

function faultableCall(request: Request): FaultableCall | null {
  if (request.method === 'POST' && createPathPattern.test(request.path)) return 'create';
  if (request.method === 'GET' && readByIdPathPattern.test(request.path)) return 'read-by-id';
  return null;
}

/**
 * One draw picks at most one fault: 408 on [0, r408), 429 on the next r429, 404 on the next r404. The 404 share of
 * a create is no fault (only reads lag). No rates, no draw: runs without faults keep the generator's sequence.
 */
function drawFault(rates: ControlSettings['apiFaults'], random: SeededRandom, call: FaultableCall): ApiFaultStatus | null {
  if (apiFaultStatuses.every((status) => rates[status] === 0)) return null;
  const draw = random.next();
  let bound = 0;
  for (const status of apiFaultStatuses) {
    bound += rates[status];
    if (draw < bound) return status === '404' && call !== 'read-by-id' ? null : status;
  }
  return null;
}

// The request goes on and is carried out (a payout is made, a refund is taken); only its answer, whatever it is,
// is replaced by a 408. The caller must not conclude that nothing happened.
function loseTheAnswer(response: Response): void {
  const sendJson = response.json.bind(response);
  const message = 'the answer timed out (apiFaults); the request may have been carried out';
  const timeout = new BankError(408, 'REQUEST_TIMEOUT', message);
  response.json = () => {
    response.status(timeout.httpStatus);
    return sendJson(timeout.body());
  };
}

function sendFault(response: Response, error: BankError): void {
  response.status(error.httpStatus).json(error.body());
}
