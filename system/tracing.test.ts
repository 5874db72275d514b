// OpenTelemetry traces across processes: the real API and worker processes export OTLP/HTTP (JSON) to a
// small collector in this test, and one transfer must yield one trace from the GraphQL mutation through
// the workflow start, the workflow, its activity and its SQL, every worker span carrying the transaction id.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { context, propagation, trace } from '@opentelemetry/api';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { logCorrelation, tagTransaction, withCorrelation } from '../common/correlation';
import { fundWalletForTesting } from '../db/test-funding';
import { graphql, sendMoneyMutation, signUpUser } from '../test/client';
import { startTestSystem, type TestSystem } from '../test/system';
import { projectRoot } from './temporal';

interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  attributes: Record<string, unknown>;
}

type OtlpValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number };
type OtlpAttribute = { key: string; value: OtlpValue };
const attributeValue = (value: OtlpValue): unknown => value.stringValue ?? value.intValue ?? value.boolValue ?? value.doubleValue;
const attributesOf = (list: OtlpAttribute[] = []): Record<string, unknown> => Object.fromEntries(list.map(({ key, value }) => [key, attributeValue(value)]));

/** An OTLP/HTTP trace receiver (JSON encoding), keeping every span it gets. */
class Collector {
  readonly spans: ReceivedSpan[] = [];
  private server: Server | null = null;

  async start(): Promise<string> {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        if (request.url === '/v1/traces' && request.headers['content-type']?.startsWith('application/json')) this.take(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', () => resolve()));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private take(body: { resourceSpans?: Array<{ resource?: { attributes?: OtlpAttribute[] }; scopeSpans?: Array<{ spans?: any[] }> }> }): void {
    for (const resourceSpans of body.resourceSpans ?? []) {
      const service = String(attributesOf(resourceSpans.resource?.attributes)['service.name']);
      for (const scope of resourceSpans.scopeSpans ?? []) {
        for (const span of scope.spans ?? []) {
          this.spans.push({ service, traceId: span.traceId, spanId: span.spanId, parentSpanId: span.parentSpanId ?? '', name: span.name, attributes: attributesOf(span.attributes) });
        }
      }
    }
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

const collector = new Collector();
let system: TestSystem;
beforeAll(async () => {
  const endpoint = await collector.start();
  // The workflow code with Temporal's tracing interceptors, bundled once here rather than by the worker.
  const bundlePath = path.join(process.env.ZENPAY_TEST_RUN_DIR!, `workflow-tracing-bundle-${randomUUID()}.js`);
  await promisify(execFile)(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'scripts', 'bundle-workflows.ts'), bundlePath, '--tracing'], { cwd: projectRoot });
  system = await startTestSystem({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, WORKFLOW_TRACING_BUNDLE_PATH: bundlePath } });
}, 240_000);
afterAll(async () => {
  await system?.stop();
  await collector.stop();
});

async function spansUntil(accept: (spans: ReceivedSpan[]) => boolean, timeoutMs = 20_000): Promise<ReceivedSpan[]> {
  const deadline = Date.now() + timeoutMs;
  while (!accept(collector.spans) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
  return collector.spans;
}

describe('tracing on (OTEL_EXPORTER_OTLP_ENDPOINT set)', () => {
  test('one transfer | spans of the API and the worker share one trace, from the mutation to the SQL, with the transaction id', async () => {
    const asha = await signUpUser(system.graphqlUrl, 'Asha');
    const ravi = await signUpUser(system.graphqlUrl, 'Ravi');
    await fundWalletForTesting(system.pool, asha.id, 10_000n);
    const response = await graphql(system.graphqlUrl, sendMoneyMutation, { input: { toPhone: ravi.phone, amount: '1200', idempotencyKey: randomUUID() } }, asha.token);
    const transactionId: string = response.data.sendMoney.id;
    expect(response.data.sendMoney.status).toBe('COMPLETED');

    const tagged = (spans: ReceivedSpan[]) => spans.filter((span) => span.attributes['zenpay.transaction_id'] === transactionId);
    const spans = tagged(
      await spansUntil((all) => {
        const names = new Set(tagged(all).map((span) => `${span.service} ${span.name}`));
        return names.has('zenpay-worker RunActivity:postTransfer') && names.has('zenpay-worker RunWorkflow:transferWorkflow') && names.has('zenpay-api graphql.mutation.Send');
      }),
    );
    const names = spans.map((span) => `${span.service} ${span.name}`);
    expect(names).toEqual(
      expect.arrayContaining([
        'zenpay-api graphql.mutation.Send',
        'zenpay-api StartWorkflow:transferWorkflow',
        'zenpay-worker RunWorkflow:transferWorkflow',
        'zenpay-worker StartActivity:postTransfer',
        'zenpay-worker RunActivity:postTransfer',
      ]),
    );
    // SQL of both processes: the API's insert of the transaction, the worker's ledger step.
    expect(spans.some((span) => span.service === 'zenpay-worker' && /zp_post_transfer/.test(String(span.attributes['db.statement'])))).toBe(true);
    expect(spans.some((span) => span.service === 'zenpay-api' && typeof span.attributes['db.statement'] === 'string')).toBe(true);

    // One trace: the mutation's.
    const mutation = spans.find((span) => span.name === 'graphql.mutation.Send')!;
    expect(new Set(spans.map((span) => span.traceId))).toEqual(new Set([mutation.traceId]));
    // Every span of that trace in the worker carries the transaction id.
    const workerSpansOfTrace = collector.spans.filter((span) => span.traceId === mutation.traceId && span.service === 'zenpay-worker');
    expect(workerSpansOfTrace.length).toBeGreaterThanOrEqual(4);
    expect(workerSpansOfTrace.filter((span) => span.attributes['zenpay.transaction_id'] !== transactionId)).toEqual([]);
    // The workflow's span hangs under the API's StartWorkflow span: parents link across processes.
    const start = spans.find((span) => span.name === 'StartWorkflow:transferWorkflow')!;
    const run = spans.find((span) => span.name === 'RunWorkflow:transferWorkflow')!;
    expect(run.parentSpanId).toBe(start.spanId);
  });
});

describe('log correlation', () => {
  test('inside a transaction and a span | log fields carry the transaction id and the trace and span ids', async () => {
    const provider = new NodeTracerProvider();
    provider.register();
    try {
      const tracer = provider.getTracer('test');
      expect(logCorrelation()).toEqual({});
      withCorrelation({}, () => {
        tracer.startActiveSpan('work', (span) => {
          tagTransaction('0197a3c2-0000-7000-8000-000000000001');
          expect(logCorrelation()).toEqual({
            transactionId: '0197a3c2-0000-7000-8000-000000000001',
            traceId: span.spanContext().traceId,
            spanId: span.spanContext().spanId,
          });
          span.end();
        });
      });
    } finally {
      await provider.shutdown();
      context.disable();
      trace.disable();
      propagation.disable();
    }
  });
});
