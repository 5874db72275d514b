// The API's metrics and traces: Yoga plugins that count GraphQL operations and errors by operation name
// (@graphql-yoga/plugin-prometheus), run each operation in a correlation of its own (its transaction id
// reaches log lines and spans once known), and, when tracing is on, make one span per operation
// (@envelop/opentelemetry). Also the metrics server's overview page.
import { useOpenTelemetry } from '@envelop/opentelemetry';
import { trace } from '@opentelemetry/api';
import { createCounter, createHistogram, usePrometheus, type FillLabelsFnParams } from '@graphql-yoga/plugin-prometheus';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Plugin } from 'graphql-yoga';
import { errorCodes } from '../common/errors';
import { withCorrelation } from '../common/correlation';
import { registry } from '../common/metrics';
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

/** Prometheus metrics of one GraphQL endpoint: requests, errors and durations by operation. */
function useGraphQLMetrics(): Plugin {
  const seen = new Set<string>();
  const operationLabels = (params: FillLabelsFnParams) => ({
    operationName: operationLabel(seen, params.operationName),
    operationType: params.operationType ?? 'unknown',
  });
  // The registry keeps one metric per name: a GraphQL server made again in the same process (tests)
  // replaces the earlier one's metrics.
  for (const name of ['zenpay_graphql_requests_total', 'zenpay_graphql_errors_total', 'zenpay_graphql_request_duration_seconds']) {
    if (registry.getSingleMetric(name)) registry.removeSingleMetric(name);
  }
  return usePrometheus({
    registry,
    endpoint: false,
    skipIntrospection: true,
    metrics: {
      graphql_envelop_request: createCounter({
        registry,
        counter: { name: 'zenpay_graphql_requests_total', help: 'GraphQL operations executed, by operation name and type', labelNames: ['operationName', 'operationType'] },
        fillLabelsFn: operationLabels,
      }),
      graphql_envelop_error_result: createCounter({
        registry,
        counter: {
          name: 'zenpay_graphql_errors_total',
          help: 'Errors in GraphQL results, by operation, phase (parse, validate, context, execute, subscribe) and contract code',
          labelNames: ['operationName', 'operationType', 'phase', 'code'],
        },
        fillLabelsFn: (params) => {
          const code = params.error?.extensions?.code;
          return {
            ...operationLabels(params),
            phase: params.errorPhase ?? 'execute',
            code: typeof code === 'string' && knownCodes.has(code) ? code : params.errorPhase === 'execute' ? 'INTERNAL_SERVER_ERROR' : 'BAD_USER_INPUT',
          };
        },
      }),
      graphql_envelop_request_duration: createHistogram({
        registry,
        histogram: {
          name: 'zenpay_graphql_request_duration_seconds',
          help: 'GraphQL operation durations (parse to result), by operation name and type',
          labelNames: ['operationName', 'operationType'],
          buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        },
        fillLabelsFn: operationLabels,
      }),
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
  return [useCorrelation, useGraphQLMetrics(), ...tracing];
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
