// How the cluster drill spreads its clients over the API processes: the choice on its own, without a
// system (the cluster drill itself runs too long for `npm test`; system/cluster.test.ts covers the cluster).
import { clusterClientUrls } from './system';

const shared = 'http://127.0.0.1:4000/graphql';
const processUrls = (count: number) => Array.from({ length: count }, (_, index) => `http://127.0.0.1:${4001 + index}/graphql`);

test.each([2, 3, 5])('cluster drill clients | %i API processes | half send through the shared address, the others follow on another process than they send to', (count) => {
  const apis = processUrls(count);
  const clients = Array.from({ length: 20 }, (_, index) => clusterClientUrls(index, shared, apis));
  expect(clients.filter((urls) => urls.graphql === shared)).toHaveLength(10);
  for (const urls of clients.filter((client) => client.graphql !== shared)) {
    expect(apis).toContain(urls.graphql);
    expect(apis).toContain(urls.subscription);
    expect(urls.subscription).not.toBe(urls.graphql);
  }
  // Every process sends for some client and delivers events to some client.
  expect(new Set(clients.map((urls) => urls.graphql))).toEqual(new Set([shared, ...apis]));
  expect(new Set(clients.map((urls) => urls.subscription))).toEqual(new Set(apis));
});

test('cluster drill clients | one API process | both through it where a client does not use the shared address', () => {
  const [only] = processUrls(1);
  expect(clusterClientUrls(0, shared, [only!])).toEqual({ graphql: only, subscription: only });
  expect(clusterClientUrls(1, shared, [only!])).toEqual({ graphql: shared, subscription: only });
});
