// A simulator's Prometheus metrics, started after its ready line: common/metrics.ts (prom-client) is
// imported only then, so that loading it never slows a simulator's restart down.
import type { Server } from 'node:http';
import type { Logger } from './log';

/**
 * Serves the metrics (on METRICS_PORT, else the simulator's default port) and announces their address on
 * `announcer` as "<label> metrics listening"; a simulator that cannot serve them exits.
 */
export function serveSimulatorMetricsLater(server: Server, simulator: 'bankSim' | 'smsSim', label: string, announcer: Logger, logger: Logger): void {
  void import('./metrics.js')
    .then((metrics) => metrics.serveSimulatorMetrics(server, metrics.defaultMetricsPorts[simulator]))
    .then(
      (metricsUrl) => announcer.info({ metricsUrl }, `${label} metrics listening`),
      (error: unknown) => {
        logger.fatal({ err: error }, `${label} cannot serve metrics`);
        process.exit(1);
      },
    );
}
