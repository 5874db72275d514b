// The API process's HTTP server: GraphQL over HTTP and graphql-ws on /graphql (one port), the bank
// webhook receiver, and /healthz. Subscriptions reuse Yoga's execution (its graphql-ws recipe).
import express from 'express';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { GraphQLError, NoSchemaIntrospectionCustomRule, validate as validateWith, type DocumentNode } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import { bearerToken, resolveSession, type Session } from './auth';
import { clientInfo, type ClientInfo } from './client-address';
import type { ApiDependencies } from './context';
import { isSameOrigin, serveWebApp } from './web';
import { createGraphQLServer, withContractCode } from './yoga';
import { createOperatorGraphQLServer, operatorEndpoint } from './operator-api';

const webSocketPayloadBytesMax = 64 * 1024;
const graphqlBodyBytesMax = 64 * 1024;
const keepAliveIntervalMs = 12_000;
const sessionCheckIntervalMs = 5_000;
const sessionRecheckBatchMax = 1_000;
/** Too many sockets for one user, or subscriptions on one socket (graphql-ws's code for "too many"). */
export const tooManyCloseCode = 4429;

export interface ApiServer {
  server: Server;
  url: string;
  close(): Promise<void>;
}

interface SocketState {
  session: Session | null;
  client: ClientInfo;
  controller: AbortController;
  alive: boolean;
}

export function createApp(deps: ApiDependencies, extraRoutes?: (app: express.Express) => void): {
  app: express.Express;
  yoga: ReturnType<typeof createGraphQLServer>;
} {
  const yoga = createGraphQLServer(deps);
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', async (_request, response) => {
    const checks = await Promise.allSettled([
      deps.pool.query('SELECT 1'),
      deps.temporal.workflowService.getSystemInfo({}),
    ]);
    const [database, temporal] = checks.map((check) => (check.status === 'fulfilled' ? 'ok' : 'unreachable'));
    const healthy = database === 'ok' && temporal === 'ok' && deps.hub.listening;
    response.status(healthy ? 200 : 503).json({ status: healthy ? 'ok' : 'unavailable', database, temporal, events: deps.hub.listening ? 'ok' : 'reconnecting' });
  });
  extraRoutes?.(app);
  // The operator API (its own schema and sessions; no WebSocket), before the users' endpoint.
  const operatorYoga = createOperatorGraphQLServer(deps);
  app.use(operatorEndpoint, express.json({ limit: graphqlBodyBytesMax }), (request, response) => void operatorYoga(request, response));
  // A bounded JSON body, parsed here (Yoga uses an already-parsed body); anything else goes to Yoga as is.
  app.use(yoga.graphqlEndpoint, express.json({ limit: graphqlBodyBytesMax }), (request, response) => void yoga(request, response));
  // The web app at / (api/web.ts): static files with a strict Content-Security-Policy.
  serveWebApp(app);
  app.use(((error, _request, response, _next) => {
    const status = typeof error?.status === 'number' && error.status >= 400 && error.status < 500 ? error.status : 400;
    const message = status === 413 ? `The request body is larger than ${graphqlBodyBytesMax} bytes` : 'The request body is not valid JSON';
    response.status(status).json({ errors: [{ message, extensions: { code: 'BAD_USER_INPUT' } }] });
  }) as express.ErrorRequestHandler);
  return { app, yoga };
}

function originAllowed(origin: string | undefined, allowed: readonly string[], host: string | undefined): boolean {
  // Non-browser clients send no Origin; browsers always do, and must be on the list or be the web app
  // this API serves itself (the page's origin is the host the upgrade request went to).
  return origin === undefined || allowed.includes(origin) || isSameOrigin(origin, host);
}

export async function startApiServer(
  deps: ApiDependencies,
  extraRoutes?: (app: express.Express) => void,
): Promise<ApiServer> {
  const { app, yoga } = createApp(deps, extraRoutes);
  const server = createServer(app);
  const sockets = new Map<WebSocket, SocketState>();
  const allowedOrigins = deps.config.GRAPHQL_ALLOWED_ORIGINS;
  const wsServer = new WebSocketServer({
    server,
    path: yoga.graphqlEndpoint,
    maxPayload: webSocketPayloadBytesMax,
    verifyClient: ({ origin, req }: { origin?: string; req: import('node:http').IncomingMessage }) => originAllowed(origin, allowedOrigins, req.headers.host),
  });

  const stateOf = (socket: WebSocket): SocketState => {
    let state = sockets.get(socket);
    if (!state) {
      state = { session: null, client: { address: null, userAgent: null }, controller: new AbortController(), alive: true };
      sockets.set(socket, state);
      socket.on('pong', () => (state!.alive = true));
      socket.on('close', () => {
        state!.controller.abort();
        sockets.delete(socket);
      });
    }
    return state;
  };

  const wsCleanup = useServer(
    {
      execute: (args: any) => args.rootValue.execute(args),
      subscribe: (args: any) => args.rootValue.subscribe(args),
      onConnect: async (ctx) => {
        const state = stateOf(ctx.extra.socket);
        state.client = clientInfo(ctx.extra.request, deps.config.TRUSTED_PROXY_HOPS);
        const header = ctx.connectionParams?.authorization;
        const token = typeof header === 'string' ? bearerToken(header) : null;
        const session = token ? await resolveSession(deps.pool, token) : null;
        // false closes the socket with 4403 Forbidden: no anonymous subscriptions.
        if (!session) return false;
        let userSockets = 1;
        for (const other of sockets.values()) if (other.session?.user.id === session.user.id) userSockets += 1;
        if (userSockets > deps.config.WS_SOCKETS_PER_USER_MAX) {
          ctx.extra.socket.close(tooManyCloseCode, `Too many sockets for this user (at most ${deps.config.WS_SOCKETS_PER_USER_MAX})`);
          return false;
        }
        state.session = session;
        return true;
      },
      onSubscribe: async (ctx, _id, payload) => {
        const state = stateOf(ctx.extra.socket);
        // ctx.subscriptions already holds this one.
        if (Object.keys(ctx.subscriptions).length > deps.config.WS_SUBSCRIPTIONS_PER_SOCKET_MAX) {
          ctx.extra.socket.close(tooManyCloseCode, `Too many subscriptions on this socket (at most ${deps.config.WS_SUBSCRIPTIONS_PER_SOCKET_MAX})`);
          return [new GraphQLError('Too many subscriptions on this socket', { extensions: { code: 'BAD_USER_INPUT' } })];
        }
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params: payload,
          connectionToken: null,
          connectionClient: state.client,
          signal: state.controller.signal,
        });
        // A syntax error or a breached limit (tokens are counted while parsing) fails this operation only.
        let document: DocumentNode;
        try {
          document = parse(payload.query);
        } catch (error) {
          const graphqlError = error instanceof GraphQLError ? error : new GraphQLError('The query cannot be parsed');
          return [withContractCode(new GraphQLError(graphqlError.message, { extensions: { ...graphqlError.extensions, code: graphqlError.extensions?.code ?? 'BAD_USER_INPUT' } }))];
        }
        const errors = [
          ...validate(schema, document),
          // Yoga's introspection switch works per HTTP request; over a socket it is applied here.
          ...(deps.config.GRAPHQL_INTROSPECTION ? [] : validateWith(schema, document, [NoSchemaIntrospectionCustomRule])),
        ];
        if (errors.length) return errors.map((error) => withContractCode(error));
        return {
          schema,
          operationName: payload.operationName,
          document,
          variableValues: payload.variables,
          contextValue: { ...(await contextFactory()), session: state.session },
          rootValue: { execute, subscribe },
        };
      },
    },
    wsServer,
  );

  // Pings find dead peers; the session check closes sockets whose session expired.
  const keepAlive = setInterval(() => {
    for (const [socket, state] of sockets) {
      if (!state.alive) {
        socket.terminate();
        continue;
      }
      state.alive = false;
      socket.ping();
    }
  }, keepAliveIntervalMs);
  const sessionCheck = setInterval(() => {
    const now = Date.now();
    for (const [socket, state] of sockets) {
      if (state.session && state.session.expiresAt.getTime() <= now) socket.close(4401, 'Session expired');
    }
  }, sessionCheckIntervalMs);
  const unlistenRevocations = deps.hub.onSessionRevoked((tokenHashHex) => {
    for (const [socket, state] of sockets) {
      if (state.session?.tokenHash.toString('hex') === tokenHashHex) socket.close(4401, 'Signed out');
    }
  });
  // A revocation announced while this instance's LISTEN was down never arrives: every session-bound
  // socket is checked against the database after each reconnect, and at least every recheck interval.
  const recheck = () =>
    recheckSessions(deps, sockets).catch((error: unknown) => deps.log.warn({ err: error }, 'session re-check failed; retrying at the next'));
  const sessionRecheck = setInterval(recheck, deps.config.SESSION_RECHECK_INTERVAL_MS);
  const unlistenReconnects = deps.hub.onReconnected(() => void recheck());

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: deps.config.API_PORT, host: deps.config.API_HOST, reusePort: deps.config.API_REUSE_PORT }, () => resolve());
  });
  const instanceListener = deps.config.API_INSTANCE_PORT === undefined ? null : await listenOnInstancePort(server, deps.config.API_INSTANCE_PORT, deps.config.API_HOST);
  const address = server.address() as AddressInfo;
  const url = `http://${deps.config.API_HOST}:${address.port}`;

  return {
    server,
    url,
    async close() {
      clearInterval(keepAlive);
      clearInterval(sessionCheck);
      clearInterval(sessionRecheck);
      unlistenRevocations();
      unlistenReconnects();
      for (const socket of sockets.keys()) socket.close(1001, 'Server shutting down');
      await wsCleanup.dispose();
      await new Promise<void>((resolve) => wsServer.close(() => resolve()));
      instanceListener?.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await yoga.dispose();
    },
  };
}

/** The same HTTP server (WebSockets included) on a port of this process alone: connections are handed over. */
async function listenOnInstancePort(server: Server, port: number, host: string): Promise<NetServer> {
  const listener = createNetServer((socket) => server.emit('connection', socket));
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(port, host, () => resolve());
  });
  return listener;
}

/** Closes (4401) every socket whose session was revoked or expired, asking the database in batches. */
async function recheckSessions(deps: ApiDependencies, sockets: Map<WebSocket, SocketState>): Promise<void> {
  const byHash = new Map<string, WebSocket[]>();
  for (const [socket, state] of sockets) {
    if (!state.session) continue;
    const hex = state.session.tokenHash.toString('hex');
    byHash.set(hex, [...(byHash.get(hex) ?? []), socket]);
  }
  const hashes = [...byHash.keys()];
  for (let start = 0; start < hashes.length; start += sessionRecheckBatchMax) {
    const batch = hashes.slice(start, start + sessionRecheckBatchMax);
    const { rows } = await deps.pool.query<{ hash: string }>(
      `SELECT encode(token_hash, 'hex') AS hash FROM sessions
       WHERE token_hash = ANY($1::bytea[]) AND revoked_at IS NULL AND expires_at > now()`,
      [batch.map((hex) => Buffer.from(hex, 'hex'))],
    );
    const live = new Set(rows.map((row) => row.hash));
    for (const hex of batch) {
      if (live.has(hex)) continue;
      for (const socket of byHash.get(hex) ?? []) socket.close(4401, 'Signed out');
    }
  }
}
