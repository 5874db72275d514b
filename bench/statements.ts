// SQL round trips per operation, from PostgreSQL's pg_stat_statements (the embedded server preloads it,
// see system/postgres.ts): reset before a phase's load, read after it, divided by the operations sent. Statements inside the ledger's SQL functions are not counted (track=top): each row here is a
// round trip a process made.
import type { Pool } from '../db/pool';

export interface StatementFigure {
  query: string;
  calls: number;
  callsPerOperation: number;
  meanMs: number;
  /** Execution time inside PostgreSQL per operation. */
  msPerOperation: number;
}

export interface StatementProfile {
  roundTripsPerOperation: number;
  executionMsPerOperation: number;
  top: StatementFigure[];
}

const topMax = 12;
const ownQueries = /pg_stat_statements|pg_stat_database|pg_stat_clear_snapshot|pg_backend_pid|pg_stat_activity/;

/** Makes the statistics readable and empty; false when this database cannot (no extension, no right). */
export async function resetStatements(pool: Pool): Promise<boolean> {
  try {
    await pool.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    await pool.query('SELECT pg_stat_statements_reset()');
    return true;
  } catch {
    return false;
  }
}

export async function readStatements(pool: Pool, operations: number): Promise<StatementProfile | null> {
  if (operations <= 0) return null;
  try {
    const { rows } = await pool.query<{ query: string; calls: string; total_exec_time: number }>(
      `SELECT query, calls::text, total_exec_time FROM pg_stat_statements
       WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );
    const figures = rows
      .filter((row) => !ownQueries.test(row.query))
      .map((row) => {
        const calls = Number(row.calls);
        return {
          query: row.query.replace(/\s+/g, ' ').trim(),
          calls,
          callsPerOperation: calls / operations,
          meanMs: calls > 0 ? row.total_exec_time / calls : 0,
          msPerOperation: row.total_exec_time / operations,
        };
      })
      .sort((a, b) => b.msPerOperation - a.msPerOperation);
    return {
      roundTripsPerOperation: figures.reduce((sum, figure) => sum + figure.callsPerOperation, 0),
      executionMsPerOperation: figures.reduce((sum, figure) => sum + figure.msPerOperation, 0),
      top: figures.slice(0, topMax),
    };
  } catch {
    return null;
  }
}
