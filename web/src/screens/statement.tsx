// The monthly statement: opening and closing balance and every movement, from the `statement` query;
// downloadable as CSV (amounts as exact rupee decimals) and printable (print stylesheet).
import { useEffect, useState } from 'preact/hooks';
import { client } from '../client';
import { describeError } from '../errors';
import { graphql, type ResultOf } from '../graphql';
import { formatRupees } from '../money';
import { Amount, Button, ErrorText, Page } from '../ui';
import { formatDateTime, kindWords } from '../words';
import { timeZone } from './insights';

const StatementQuery = graphql(`
  query Statement($month: String!, $timeZone: String!) {
    statement(month: $month, timeZone: $timeZone) {
      month from to openingBalance closingBalance moneyIn moneyOut entriesTruncated
      entries { at transactionId kind counterparty note moneyIn moneyOut balanceAfter }
    }
  }
`);
type Statement = ResultOf<typeof StatementQuery>['statement'];

/** "12050" -> "120.50": paise as a rupee decimal by string work. */
export function rupeeDecimal(paise: string): string {
  const digits = paise.padStart(3, '0');
  return `${digits.slice(0, -2)}.${digits.slice(-2)}`;
}

/** A CSV cell; text a spreadsheet would run as a formula is quoted as text. */
function cell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function statementCsv(statement: Statement): string {
  const rows = [
    ['Date', 'Description', 'Kind', 'Note', 'Money in (INR)', 'Money out (INR)', 'Balance (INR)', 'Reference'],
    ['', 'Opening balance', '', '', '', '', rupeeDecimal(statement.openingBalance), ''],
    ...statement.entries.map((entry) => [
      entry.at, entry.counterparty, entry.kind ? kindWords[entry.kind]! : 'Other', entry.note ?? '',
      entry.moneyIn === '0' ? '' : rupeeDecimal(entry.moneyIn), entry.moneyOut === '0' ? '' : rupeeDecimal(entry.moneyOut),
      rupeeDecimal(entry.balanceAfter), entry.transactionId ?? '',
    ]),
    ['', 'Closing balance', '', '', rupeeDecimal(statement.moneyIn), rupeeDecimal(statement.moneyOut), rupeeDecimal(statement.closingBalance), ''],
  ];
  return rows.map((row) => row.map(cell).join(',')).join('\r\n') + '\r\n';
}

const thisMonth = () => new Intl.DateTimeFormat('en-CA', { year: 'numeric', month: '2-digit' }).format(new Date()).slice(0, 7);

export function StatementScreen() {
  const [month, setMonth] = useState(thisMonth());
  const [statement, setStatement] = useState<Statement | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (!/^\d{4}-\d{2}$/.test(month)) return;
    setStatement(null);
    void client.query(StatementQuery, { month, timeZone: timeZone() }).toPromise().then((result) => {
      if (result.data) {
        setError(null);
        setStatement(result.data.statement);
      } else setError(describeError(result.error));
    });
  }, [month]);
  const download = () => {
    if (!statement) return;
    const url = URL.createObjectURL(new Blob([statementCsv(statement)], { type: 'text/csv;charset=utf-8' }));
    const link = document.createElement('a');
    link.href = url;
    link.download = `zenpay-statement-${statement.month}.csv`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  };
  return (
    <Page title="Statement" back="/insights">
      <div class="field no-print">
        <label for="month">Month</label>
        <input id="month" name="month" type="month" value={month} onInput={(e) => setMonth(e.currentTarget.value)} />
      </div>
      <ErrorText message={error} />
      {!statement ? !error && <p class="muted">Loading…</p> : (
        <>
          <div class="row no-print">
            <Button type="button" onClick={download}>Download CSV</Button>
            <Button type="button" variant="secondary" onClick={() => window.print()}>Print</Button>
          </div>
          <dl class="card review" data-testid="statement-summary">
            <dt>Opening balance</dt><dd><Amount paise={statement.openingBalance} /></dd>
            <dt>Money in</dt><dd><Amount paise={statement.moneyIn} class="credit" /></dd>
            <dt>Money out</dt><dd><Amount paise={statement.moneyOut} class="debit" /></dd>
            <dt>Closing balance</dt><dd><Amount paise={statement.closingBalance} /></dd>
          </dl>
          {statement.entriesTruncated && <p class="notice">This month has more movements than one statement shows; the totals cover all of them.</p>}
          <div class="table-scroll" tabIndex={0} role="region" aria-label="Movements">
            <table class="statement">
              <thead><tr><th scope="col">Date</th><th scope="col">Description</th><th scope="col">In</th><th scope="col">Out</th><th scope="col">Balance</th></tr></thead>
              <tbody>
                {statement.entries.map((entry, index) => (
                  <tr key={index}>
                    <td>{formatDateTime(entry.at)}</td>
                    <td>{entry.counterparty}{entry.note ? ` · ${entry.note}` : ''}</td>
                    <td>{entry.moneyIn === '0' ? '' : formatRupees(entry.moneyIn)}</td>
                    <td>{entry.moneyOut === '0' ? '' : formatRupees(entry.moneyOut)}</td>
                    <td>{formatRupees(entry.balanceAfter)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </Page>
  );
}
