// What the drill needs from the system under test, whichever profile runs it: the dev profile (one API, one
// worker, the Temporal dev server on SQLite) or the cluster profile (the Temporal server proper on the same
// PostgreSQL as the ledger, API processes sharing one address, several workers). run.ts and faults.ts see only this.
import { startLocalCluster } from '../system/cluster';
import type { ManagedProcess } from '../system/process';
import { startLocalStack } from '../system/stack';

/** The parts a process fault acts on. */
export interface FaultTargets {
  /** worker-kill takes one of these (a seeded choice), api-kill one of apis; the others keep running. */
  workers: readonly ManagedProcess[];
  apis: readonly ManagedProcess[];
  /** The Temporal server: the dev server, or the cluster's server process (its UI, if any, stays up). */
  temporal: ManagedProcess;
  /** The embedded PostgreSQL: the ledger's, and on the cluster Temporal's databases too. */
  postgres: { restart(): Promise<void> };
  bankSim: ManagedProcess;
}

/** Where one workload client sends its payments and where it follows them. */
export interface ClientUrls {
  graphql: string;
  subscription: string;
}

export interface DrillSystem {
  /** The summary line's prefix naming the profile ('' for the dev profile, whose line stays as it always was). */
  profileLabel: string;
  dataDir: string;
  databaseUrl: string;
  temporalAddress: string;
  urls: { graphql: string; webhooks: string; bankSim: string; smsSim: string };
  clientUrls(clientIndex: number): ClientUrls;
  /** Restarted when they die on their own, as a process manager would. */
  supervised: readonly ManagedProcess[];
  faultTargets: FaultTargets;
  stop(): Promise<void>;
}

export interface ClusterShape {
  historyShards: number;
  apis: number;
  workers: number;
}

export interface DrillSystemOptions {
  /** Absent: the dev profile. */
  cluster?: ClusterShape;
  dataDir?: string;
  serviceEnv: NodeJS.ProcessEnv;
  progress: (message: string) => void;
}

export async function startDrillSystem(options: DrillSystemOptions): Promise<DrillSystem> {
  const common = { dataDir: options.dataDir, prefix: 'zenpay-drill', serviceEnv: options.serviceEnv, progress: options.progress };
  if (!options.cluster) {
    const stack = await startLocalStack({ ...common, temporalPersistent: true });
    return {
      profileLabel: '',
      dataDir: stack.dataDir,
      databaseUrl: stack.databaseUrl,
      temporalAddress: stack.temporalAddress,
      urls: stack.urls,
      clientUrls: () => ({ graphql: stack.urls.graphql, subscription: stack.urls.graphql }),
      supervised: [stack.api, stack.worker, stack.bankSim],
      faultTargets: { workers: [stack.worker], apis: [stack.api], temporal: stack.temporal!, postgres: stack.postgres!, bankSim: stack.bankSim },
      stop: stack.stop,
    };
  }
  const shape = options.cluster;
  const cluster = await startLocalCluster({ ...common, historyShards: shape.historyShards, apis: shape.apis, workers: shape.workers });
  const apiGraphql = [...cluster.urls.apiGraphql];
  return {
    profileLabel: `profile=cluster shards=${cluster.historyShards} apis=${shape.apis} workers=${shape.workers} `,
    dataDir: cluster.dataDir,
    databaseUrl: cluster.databaseUrl,
    temporalAddress: cluster.temporalAddress,
    urls: cluster.urls,
    clientUrls: (clientIndex) => clusterClientUrls(clientIndex, cluster.urls.graphql, apiGraphql),
    supervised: [...cluster.apis, ...cluster.workers, cluster.bankSim],
    faultTargets: { workers: cluster.workers, apis: cluster.apis, temporal: cluster.temporal.server, postgres: cluster.postgres, bankSim: cluster.bankSim },
    stop: cluster.stop,
  };
}

/**
 * Half the clients send through the shared address, as through a load balancer (a killed API process must be
 * nothing to them but a retried reset); the other half send through one API process's own port. Every client
 * follows its transactions on one process's own port, another than the one it sends through when there are
 * two or more, so that the events it receives crossed from process to process.
 */
export function clusterClientUrls(clientIndex: number, sharedGraphql: string, apiGraphql: readonly string[]): ClientUrls {
  const count = apiGraphql.length;
  const pinned = Math.floor(clientIndex / 2) % count;
  if (clientIndex % 2 === 1) return { graphql: sharedGraphql, subscription: apiGraphql[pinned]! };
  return { graphql: apiGraphql[pinned]!, subscription: apiGraphql[(pinned + 1) % count]! };
}
