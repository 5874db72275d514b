// The GraphQL context, built in one place for HTTP requests and WebSocket subscriptions alike.
import type { Client } from '@temporalio/client';
import DataLoader from 'dataloader';
import type { ApiConfig } from '../common/config';
import type { Logger } from '../common/log';
import type { Pool } from '../db/pool';
import { findUsersByIds, resolveSession, type Session, type User } from './auth';
import type { ClientInfo } from './client-address';
import type { EventHub } from './event-hub';
import type { RateLimits } from './rate-limits';
import type { SmsSender } from './sms';

export interface ApiDependencies {
  config: ApiConfig;
  pool: Pool;
  temporal: Client;
  hub: EventHub;
  log: Logger;
  limits: RateLimits;
  sms: SmsSender;
}

export interface ApiContext {
  deps: ApiDependencies;
  session: Session | null;
  users: DataLoader<string, User | null>;
  /** Who is asking: address and user agent, for limits, sessions and the security event log. */
  client: ClientInfo;
}

export function createUserLoader(pool: Pool): DataLoader<string, User | null> {
  return new DataLoader(async (ids: readonly string[]) => {
    const users = await findUsersByIds(pool, ids);
    const byId = new Map(users.map((user) => [user.id, user]));
    return ids.map((id) => byId.get(id) ?? null);
  });
}

export async function buildContext(deps: ApiDependencies, token: string | null, client: ClientInfo): Promise<ApiContext> {
  const session = token ? await resolveSession(deps.pool, token) : null;
  return { deps, session, users: createUserLoader(deps.pool), client };
}
