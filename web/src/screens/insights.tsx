// Insights: money in and out per day, week or month over a chosen period, by kind, by counterparty and
// the payees paid most: the `analytics` query, computed by the server from the ledger. The chart
// library (uPlot) is loaded only on this screen.
import { useEffect, useRef, useState } from 'preact/hooks';
import { client } from '../client';
import { describeError } from '../errors';
import { graphql, type ResultOf } from '../graphql';
import { formatRupees } from '../money';
import { Amount, ErrorText, Page, Select } from '../ui';
import { kindWords } from '../words';

const AnalyticsQuery = graphql(`
  query Analytics($from: DateTime!, $to: DateTime!, $granularity: AnalyticsGranularity!, $timeZone: String!) {
    analytics(from: $from, to: $to, granularity: $granularity, timeZone: $timeZone) {
      totals { moneyIn moneyOut count }
      series { start flow { moneyIn moneyOut count } }
      byKind { kind flow { moneyIn moneyOut count } }
      byCounterparty { counterparty flow { moneyIn moneyOut count } }
      topPayees { name phone amount count }
    }
  }
`);
type Analytics = ResultOf<typeof AnalyticsQuery>['analytics'];

const periods: Record<string, { label: string; days: number; granularity: 'DAY' | 'WEEK' | 'MONTH' }> = {
  '7d': { label: 'Last 7 days', days: 7, granularity: 'DAY' },
  '30d': { label: 'Last 30 days', days: 30, granularity: 'DAY' },
  '12w': { label: 'Last 12 weeks', days: 84, granularity: 'WEEK' },
  '12m': { label: 'Last 12 months', days: 365, granularity: 'MONTH' },
};
export const timeZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || 'Asia/Kolkata';

/** Paise to rupees for the chart's scale only: figures shown as text are always exact strings. */
const chartRupees = (paise: string) => Number(BigInt(paise) / 100n) + Number(BigInt(paise) % 100n) / 100;

function Chart(props: { analytics: Analytics; granularity: string }) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    let plot: { destroy(): void } | null = null;
    let cancelled = false;
    void Promise.all([import('uplot'), import('uplot/dist/uPlot.min.css')]).then(([{ default: uPlot }]) => {
      if (cancelled || !box.current) return;
      const series = props.analytics.series;
      const width = box.current.clientWidth || 320;
      const bars = uPlot.paths.bars!({ size: [0.6, 40] });
      const styles = getComputedStyle(document.documentElement);
      plot = new uPlot({
        width,
        height: 220,
        series: [
          {},
          { label: 'Money in (₹)', stroke: styles.getPropertyValue('--credit').trim(), fill: styles.getPropertyValue('--credit').trim(), paths: bars },
          { label: 'Money out (₹)', stroke: styles.getPropertyValue('--debit').trim(), fill: styles.getPropertyValue('--debit').trim(), paths: bars },
        ],
        axes: [{ stroke: styles.getPropertyValue('--text').trim() }, { stroke: styles.getPropertyValue('--text').trim(), size: 60 }],
        scales: { x: { time: true } },
        legend: { show: true },
      }, [
        series.map((bucket) => Date.parse(bucket.start) / 1000),
        series.map((bucket) => chartRupees(bucket.flow.moneyIn)),
        series.map((bucket) => chartRupees(bucket.flow.moneyOut)),
      ], box.current);
    });
    return () => {
      cancelled = true;
      plot?.destroy();
    };
  }, [props.analytics]);
  return <div ref={box} class="chart" role="img" aria-label={`Chart of money in and out per ${props.granularity.toLowerCase()}; the same figures are in the tables below.`} />;
}

export function InsightsScreen() {
  const [period, setPeriod] = useState('30d');
  const [analytics, setAnalytics] = useState<Analytics | null>(null);
  const [error, setError] = useState<string | null>(null);
  const chosen = periods[period]!;
  useEffect(() => {
    const to = new Date();
    const from = new Date(to.getTime() - chosen.days * 86_400_000);
    setAnalytics(null);
    void client.query(AnalyticsQuery, { from: from.toISOString(), to: to.toISOString(), granularity: chosen.granularity, timeZone: timeZone() }).toPromise().then((result) => {
      if (result.data) setAnalytics(result.data.analytics);
      else setError(describeError(result.error));
    });
  }, [period]);
  const dateFormat = new Intl.DateTimeFormat('en-IN', chosen.granularity === 'MONTH' ? { month: 'short', year: 'numeric' } : { day: 'numeric', month: 'short' });
  return (
    <Page title="Insights">
      <Select label="Period" name="period" value={period} onChange={setPeriod} options={Object.entries(periods).map(([key, value]) => [key, value.label])} />
      <p><a href="/statement">Monthly statement →</a></p>
      <ErrorText message={error} />
      {!analytics ? !error && <p class="muted">Loading…</p> : (
        <>
          <div class="totals" data-testid="totals">
            <div class="card"><p class="label">Money in</p><p class="big"><Amount paise={analytics.totals.moneyIn} class="credit" /></p></div>
            <div class="card"><p class="label">Money out</p><p class="big"><Amount paise={analytics.totals.moneyOut} class="debit" /></p></div>
          </div>
          <Chart analytics={analytics} granularity={chosen.granularity} />
          <h2>Per {chosen.granularity === 'DAY' ? 'day' : chosen.granularity === 'WEEK' ? 'week' : 'month'}</h2>
          <div class="table-scroll" tabIndex={0} role="region" aria-label="Money per period">
            <table>
              <thead><tr><th scope="col">{chosen.granularity === 'WEEK' ? 'Week of' : 'Date'}</th><th scope="col">In</th><th scope="col">Out</th></tr></thead>
              <tbody>
                {analytics.series.filter((bucket) => bucket.flow.count > 0).map((bucket) => (
                  <tr key={bucket.start}><td>{dateFormat.format(new Date(bucket.start))}</td><td>{formatRupees(bucket.flow.moneyIn)}</td><td>{formatRupees(bucket.flow.moneyOut)}</td></tr>
                ))}
              </tbody>
            </table>
          </div>
          <h2>By kind</h2>
          <table>
            <thead><tr><th scope="col">Kind</th><th scope="col">In</th><th scope="col">Out</th></tr></thead>
            <tbody>{analytics.byKind.map((row) => <tr key={row.kind ?? 'other'}><td>{row.kind ? kindWords[row.kind] : 'Other'}</td><td>{formatRupees(row.flow.moneyIn)}</td><td>{formatRupees(row.flow.moneyOut)}</td></tr>)}</tbody>
          </table>
          <h2>By counterparty</h2>
          <table>
            <thead><tr><th scope="col">Who</th><th scope="col">In</th><th scope="col">Out</th></tr></thead>
            <tbody>{analytics.byCounterparty.map((row) => <tr key={row.counterparty}><td>{row.counterparty}</td><td>{formatRupees(row.flow.moneyIn)}</td><td>{formatRupees(row.flow.moneyOut)}</td></tr>)}</tbody>
          </table>
          <h2>Top payees</h2>
          {analytics.topPayees.length === 0 ? <p class="muted">No payments to people in this period.</p> : (
            <ol class="payees" data-testid="top-payees">
              {analytics.topPayees.map((payee) => <li key={payee.phone}><span>{payee.name}</span> <Amount paise={payee.amount} /> <span class="muted">({payee.count})</span></li>)}
            </ol>
          )}
        </>
      )}
    </Page>
  );
}
