// The SMS simulator process: reads the environment, listens, and logs its URL for a parent process to find.
// SIGTERM or SIGINT stops accepting requests and exits 0; a bad setting exits 1.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger } from '../common/log';
import { serveSimulatorMetricsLater } from '../common/simulator-metrics';
import { createSmsSimulator } from './app';
import { ConfigurationError, readEnvironment, type SmsSimulatorEnvironment } from './config';

const shutdownGraceMs = 2_000;

function main(): void {
  let environment: SmsSimulatorEnvironment;
  try {
    environment = readEnvironment(process.env);
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
  const logger = createLogger('sms-sim', environment.logLevel);
  const simulator = createSmsSimulator({ stateFile: environment.stateFile, logger });
  const server = createServer(simulator.app);
  server.on('error', (error) => {
    logger.fatal({ err: error, host: environment.host, port: environment.port }, 'SMS simulator cannot listen');
    process.exit(1);
  });
  server.listen(environment.port, environment.host, () => {
    // Always written, whatever LOG_LEVEL says: a parent process finds the port through this line.
    const announcer = logger.isLevelEnabled('info') ? logger : logger.child({}, { level: 'info' });
    announcer.info({ url: listeningUrl(server), stateFile: environment.stateFile }, 'sms simulator listening');
    serveSimulatorMetricsLater(server, 'smsSim', 'sms simulator', announcer, logger);
  });
  const stop = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'sms simulator stopping');
    const grace = setTimeout(() => server.closeAllConnections(), shutdownGraceMs);
    server.close(() => {
      clearTimeout(grace);
      void simulator.close().then(() => process.exit(0));
    });
    server.closeIdleConnections();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

/** The URL this process can be reached at; a wildcard address is reached through loopback. */
function listeningUrl(server: Server): string {
  const address = server.address() as AddressInfo;
  let host = address.address;
  if (host === '0.0.0.0') host = '127.0.0.1';
  if (host === '::') host = '::1';
  return `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
}

main();
