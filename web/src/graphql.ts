// gql.tada: every operation is typed from the served schema (api/schema.graphql, introspected into
// graphql-env.d.ts by `npm run schema`). Money and DateTime travel as strings; Money is never a number.
import { initGraphQLTada } from 'gql.tada';
import type { introspection } from './graphql-env.d.ts';

export const graphql = initGraphQLTada<{
  introspection: introspection;
  scalars: { Money: string; DateTime: string; ID: string };
}>();

export type { FragmentOf, ResultOf, VariablesOf } from 'gql.tada';
export { readFragment } from 'gql.tada';
