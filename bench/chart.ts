// One chart image per scenario: throughput over time, latency p50/p99 over time, the latency
// percentiles of each target, and (soak) each process's memory over time. Vega-Lite draws SVG
// without a browser; resvg (a prebuilt binary shipped as an npm package) turns it into a PNG.
import { targetLabel } from './report';
import type { PhaseResult, ScenarioResult } from './run';

const panelWidth = 720;
const panelHeight = 200;
/** The chart's font, found among the system's fonts: DejaVu is on the project's machines (fonts-dejavu-core). */
const fontFamily = 'DejaVu Sans';

const targetOrder = ['direct-sql', 'api-direct', 'noop-workflow', 'ZenPAY', 'noop-workflow · cluster', 'ZenPAY · cluster'];
const targetColors = ['#e45756', '#f58518', '#54a24b', '#4c78a8', '#b279a2', '#72b7b2'];
const finite = (value: number) => (Number.isFinite(value) ? Math.round(value * 10) / 10 : null);

function chartSpec(result: ScenarioResult): Record<string, unknown> {
  const timeline = result.phases.flatMap((phase) =>
    phase.timeline.map((point) => ({ target: targetLabel(phase), second: point.second, completed: point.completed, p50: finite(point.p50Ms), p99: finite(point.p99Ms) })),
  );
  const latencyOverTime = timeline.flatMap((point) => [
    { target: point.target, second: point.second, percentile: 'p50', ms: point.p50 },
    { target: point.target, second: point.second, percentile: 'p99', ms: point.p99 },
  ]).filter((point) => point.ms !== null && point.ms > 0);
  const percentiles = result.phases.flatMap((phase) =>
    (['p50', 'p90', 'p99', 'max'] as const).map((name) => ({ target: targetLabel(phase), percentile: name, ms: finite(phase.latencyMs[name]) })),
  ).filter((point) => point.ms !== null && point.ms > 0);
  const second = { field: 'second', type: 'quantitative', title: 'second of the measured window' };
  // The same colour for a target in every panel and every chart.
  const color = { field: 'target', type: 'nominal', title: 'target', scale: { domain: targetOrder, range: targetColors } };
  const panels: Record<string, unknown>[] = [
    {
      title: 'Completed per second',
      data: { values: timeline },
      mark: { type: 'line' },
      // Baselines may be tens of times faster: symlog keeps the slow line readable.
      encoding: { x: second, y: { field: 'completed', type: 'quantitative', title: 'completed / s (symlog)', scale: { type: 'symlog' } }, color },
    },
    {
      title: 'Latency over time (solid p50, dashed p99)',
      data: { values: latencyOverTime },
      mark: { type: 'line' },
      encoding: {
        x: second,
        y: { field: 'ms', type: 'quantitative', title: 'ms (log)', scale: { type: 'log' } },
        color,
        strokeDash: { field: 'percentile', type: 'nominal', legend: null },
      },
    },
    {
      title: 'Latency percentiles',
      data: { values: percentiles },
      mark: { type: 'bar' },
      encoding: {
        x: { field: 'percentile', type: 'nominal', sort: ['p50', 'p90', 'p99', 'max'], title: null, axis: { labelAngle: 0 } },
        xOffset: { field: 'target', type: 'nominal', sort: targetOrder },
        // Bars need a zero, which a log scale lacks: symlog is linear near zero and logarithmic above.
        y: { field: 'ms', type: 'quantitative', title: 'ms (symlog)', scale: { type: 'symlog' } },
        color,
      },
    },
  ];
  const zenpay = result.phases.find((phase) => phase.target === 'zenpay');
  if (result.scenario === 'soak' && zenpay) panels.push(memoryPanel(zenpay));
  const load = result.rate === 'max' ? `max, ${result.concurrency} clients` : `${result.rate}/s offered`;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: `ZenPAY bench: ${result.scenario} (${load}, ${result.users} users, ${result.durationSeconds} s)`, fontSize: 16 },
    background: 'white',
    config: { font: fontFamily, view: { continuousWidth: panelWidth, continuousHeight: panelHeight } },
    vconcat: panels.map((panel) => ({ width: panelWidth, height: panelHeight, ...panel })),
    resolve: { scale: { color: 'independent' } },
  };
}

/** A soak's memory of each process over the ZenPAY phase: a leak shows as a line that keeps rising. */
function memoryPanel(phase: PhaseResult): Record<string, unknown> {
  const memory = phase.processes.flatMap((metrics) =>
    metrics.samples.map((sample) => ({
      process: metrics.name,
      second: Math.round(sample.atMs / 1000),
      mib: Math.round((metrics.name === 'postgres' ? sample.pssBytes : sample.rssBytes) / 1048576),
    })),
  );
  return {
    title: 'ZenPAY phase: memory of each process (PostgreSQL: PSS of all its processes)',
    data: { values: memory },
    mark: { type: 'line' },
    encoding: {
      x: { field: 'second', type: 'quantitative', title: 'second of the measured window' },
      y: { field: 'mib', type: 'quantitative', title: 'MiB' },
      color: { field: 'process', type: 'nominal' },
    },
  };
}

/** The scenario's chart as PNG bytes. */
export async function renderChart(result: ScenarioResult): Promise<Buffer> {
  // Vega and Vega-Lite are ECMAScript modules only: loaded with import(), which CommonJS allows.
  const [vega, vegaLite, { Resvg }] = await Promise.all([import('vega'), import('vega-lite'), import('@resvg/resvg-js')]);
  const compiled = vegaLite.compile(chartSpec(result) as unknown as Parameters<typeof vegaLite.compile>[0]).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    const resvg = new Resvg(svg, { font: { loadSystemFonts: true, defaultFontFamily: fontFamily }, background: 'white' });
    return resvg.render().asPng();
  } finally {
    view.finalize();
  }
}
