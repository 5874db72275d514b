// The API's metrics and traces: Yoga plugins that count GraphQL operations and errors by endpoint and
// operation name (@graphql-yoga/plugin-prometheus; the operator endpoint counts through it too), run each
// operation in a correlation of its own (its transaction id reaches log lines and spans once known), and,
// when tracing is on, make one span per operation (@envelop/opentelemetry). Also the metrics overview page.
import { useOpenTelemetry } from '@envelop/opentelemetry';
import { trace } from '@opentelemetry/api';
import { usePrometheus, type FillLabelsFnParams } from '@graphql-yoga/plugin-prometheus';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Plugin } from 'graphql-yoga';
import { Counter, Histogram } from 'prom-client';
import { AppError, errorCodes } from '../common/errors';
import { withCorrelation } from '../common/correlation';
import { registry, useMetrics } from '../common/metrics';
import { tracingEnabled } from '../common/tracing';

/** Operation names are the client's to choose: past this many distinct ones, the rest count as `other`. */
const operationNamesMax = 200;
const operationNameLengthMax = 64;
const knownCodes = new Set<string>([...errorCodes, 'INTERNAL_SERVER_ERROR']);

function operationLabel(seen: Set<string>, name: string | undefined): string {
  if (!name) return 'anonymous';
  const label = name.slice(0, operationNameLengthMax);
  if (seen.has(label)) return label;
  if (seen.size >= operationNamesMax) return 'other';
  seen.add(label);
  return label;
}

/** Every operation runs in its own correlation (common/correlation.ts), subscriptions included. */
const useCorrelation: Plugin = {
  onExecute({ executeFn, setExecuteFn }) {
    setExecuteFn((args) => withCorrelation({}, () => executeFn(args)));
  },
  onSubscribe({ subscribeFn, setSubscribeFn }) {
    setSubscribeFn((args) => withCorrelation({}, () => subscribeFn(args)));
  },
};

/** Which GraphQL endpoint of the API process served an operation: the users' or the operators'. */
export type GraphQLEndpoint = 'public' | 'operator';

// One set per process, shared by both endpoints (a registry holds one metric per name), which an
// `endpoint` label tells apart.
const graphqlLabelNames = ['endpoint', 'operationName', 'operationType'] as const;
const graphqlRequests = new Counter({
  name: 'zenpay_graphql_requests_total',
  help: 'GraphQL operations executed, by endpoint (public, operator), operation name and type',
  labelNames: graphqlLabelNames,
  registers: [],
});
const graphqlErrors = new Counter({
  name: 'zenpay_graphql_errors_total',
  help: 'Errors in GraphQL results, by endpoint, operation, phase (parse, validate, context, execute, subscribe) and contract code',
  labelNames: [...graphqlLabelNames, 'phase', 'code'] as const,
  registers: [],
});
const graphqlDurations = new Histogram({
  name: 'zenpay_graphql_request_duration_seconds',
  help: 'GraphQL operation durations (parse to result), by endpoint, operation name and type',
  labelNames: graphqlLabelNames,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [],
});

/** Prometheus metrics of one GraphQL endpoint: requests, errors and durations by operation. */
export function useGraphQLMetrics(endpoint: GraphQLEndpoint): Plugin {
  useMetrics(graphqlRequests, graphqlErrors, graphqlDurations);
  const seen = new Set<string>();
  const operationLabels = (params: FillLabelsFnParams) => ({
    endpoint,
    operationName: operationLabel(seen, params.operationName),
    operationType: params.operationType ?? 'unknown',
  });
  return usePrometheus({
    registry,
    endpoint: false,
    skipIntrospection: true,
    metrics: {
      graphql_envelop_request: { counter: graphqlRequests, fillLabelsFn: operationLabels },
      graphql_envelop_error_result: {
        counter: graphqlErrors,
        fillLabelsFn: (params) => {
          // A resolver's AppError gets its code from maskError only after this count: read it from the error itself.
          const original = params.error?.originalError;
          const code = original instanceof AppError ? original.code : params.error?.extensions?.code;
          return {
            ...operationLabels(params),
            phase: params.errorPhase ?? 'execute',
            code: typeof code === 'string' && knownCodes.has(code) ? code : params.errorPhase === 'execute' ? 'INTERNAL_SERVER_ERROR' : 'BAD_USER_INPUT',
          };
        },
      },
      graphql_envelop_request_duration: { histogram: graphqlDurations, fillLabelsFn: operationLabels },
      graphql_envelop_request_time_summary: false,
      graphql_envelop_phase_parse: false,
      graphql_envelop_phase_validate: false,
      graphql_envelop_phase_context: false,
      graphql_envelop_phase_execute: false,
      graphql_envelop_phase_subscribe: false,
      graphql_envelop_execute_resolver: false,
      graphql_envelop_deprecated_field: false,
      graphql_envelop_schema_change: false,
      graphql_yoga_http_duration: false,
    },
  });
}

/**
 * The user API's observability plugins. Order matters: the correlation wraps execution first, so
 * the operation's span (made inside it) and everything below it see the same correlation.
 */
export function observabilityPlugins(): Plugin[] {
  const tracing = tracingEnabled()
    ? [
        useOpenTelemetry(
          // Neither variables nor results nor documents: they hold phones, amounts and tokens.
          { resolvers: false, variables: false, result: false, document: false },
          trace.getTracerProvider() as Parameters<typeof useOpenTelemetry>[1],
          undefined,
          undefined,
          'zenpay-api',
          'graphql.',
        ) as Plugin,
      ]
    : [];
  return [useCorrelation, useGraphQLMetrics('public'), ...tracing];
}

/** Serves a page with the figures a person looks at first, from this process's registry (no Prometheus needed). */
export async function metricsOverview(_request: IncomingMessage, response: ServerResponse): Promise<void> {
  const metrics = await registry.getMetricsAsJSON();
  const rows: string[] = [];
  for (const metric of metrics) {
    if (!metric.name.startsWith('zenpay_')) continue;
    for (const value of metric.values as Array<{ labels: Record<string, string | number>; value: number; metricName?: string }>) {
      const name = value.metricName ?? metric.name;
      if (name.endsWith('_bucket')) continue;
      const labels = Object.entries(value.labels).map(([key, label]) => `${key}=${label}`).join(', ');
      rows.push(`<tr><td>${escapeHtml(name)}</td><td>${escapeHtml(labels)}</td><td>${escapeHtml(String(value.value))}</td></tr>`);
    }
  }
  response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'" });
  response.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>ZenPAY API metrics</title>
<style>body{font:14px system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td{border-bottom:1px solid #ddd;padding:.2em 1em .2em 0}</style></head>
<body><h1>ZenPAY API metrics</h1><p>Every ZenPAY metric of this API process (<a href="/metrics">/metrics</a> has them all, histogram buckets and Node.js's own included).</p>
<table><thead><tr><th>metric</th><th>labels</th><th>value</th></tr></thead><tbody>${rows.join('\n')}</tbody></table></body></html>`);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}
