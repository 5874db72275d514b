// The bank simulator process: reads the environment, listens, and logs its URL for a parent process to find.
// SIGTERM or SIGINT stops accepting requests, flushes the journal and exits 0; a bad setting exits 1.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger, type Logger } from '../common/log';
import { serveSimulatorMetricsLater } from '../common/simulator-metrics';
import { createBankSimulator, type BankSimulator } from './app';
import { ConfigurationError, readEnvironment, type BankSimulatorEnvironment } from './config';

/** How long in-flight requests may take to finish after a stop signal before their connections are cut. */
const shutdownGraceMs = 2_000;

function main(): void {
  let environment: BankSimulatorEnvironment;
  try {
    environment = readEnvironment(process.env);
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    createLogger('bank-sim', 'info').fatal({ err: { message: error.message } }, error.message);
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
  const logger = createLogger('bank-sim', environment.logLevel);
  const server = createServer();
  server.on('error', (error) => {
    logger.fatal({ err: error, host: environment.host, port: environment.port }, 'bank simulator cannot listen');
    process.exit(1);
  });
  server.listen(environment.port, environment.host, () => {
    const url = listeningUrl(server);
    let simulator: BankSimulator;
    try {
      simulator = createBankSimulator({
        publicUrl: environment.publicUrl ?? url,
        webhookUrl: environment.webhookUrl,
        webhookSecrets: environment.webhookSecrets,
        webhookRetryScheduleMs: environment.webhookRetryScheduleMs,
        stateFile: environment.stateFile,
        seed: environment.seed,
        deliveryTimeoutMs: environment.deliveryTimeoutMs,
        logger,
      });
    } catch (error) {
      logger.fatal({ err: error }, 'bank simulator cannot start');
      process.exit(1);
    }
    // Attached in the same tick as the listen callback, before any request can be read.
    server.on('request', simulator.app);
    // Always written, whatever LOG_LEVEL says: a parent process finds the port through this line.
    const announcer = logger.isLevelEnabled('info') ? logger : logger.child({}, { level: 'info' });
    announcer.info(
      { url, publicUrl: environment.publicUrl ?? url, webhookUrl: environment.webhookUrl, stateFile: environment.stateFile },
      'bank simulator listening',
    );
    serveSimulatorMetricsLater(server, 'bankSim', 'bank simulator', announcer, logger);
    const stop = (signal: NodeJS.Signals) => void shutDown(server, simulator, logger, signal);
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}

/** The URL this process can be reached at; a wildcard address is reached through loopback. */
function listeningUrl(server: Server): string {
  const address = server.address() as AddressInfo;
  let host = address.address;
  if (host === '0.0.0.0') host = '127.0.0.1';
  if (host === '::') host = '::1';
  return `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
}

async function shutDown(server: Server, simulator: BankSimulator, logger: Logger, signal: NodeJS.Signals): Promise<void> {
  logger.info({ signal }, 'bank simulator stopping');
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const grace = setTimeout(() => server.closeAllConnections(), shutdownGraceMs);
  await closed;
  clearTimeout(grace);
  await simulator.close();
  logger.info('bank simulator stopped');
  process.exit(0);
}

main();
