// The served schema against the public contract the project implements (contract/schema.graphql, a copy
// kept in the repository so that a clone on its own builds and tests): graphql-js's own breaking-change
// detector must find nothing, so every type, field, argument and enum value is there.
import { buildSchema, findBreakingChanges, printSchema } from 'graphql';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { typeDefs } from './yoga';

const contractPath = path.join(__dirname, '..', 'contract', 'schema.graphql');

test('schema | compared with the public contract | no breaking change', () => {
  const contract = buildSchema(readFileSync(contractPath, 'utf8'));
  const ours = buildSchema(typeDefs);
  expect(findBreakingChanges(contract, ours)).toEqual([]);
  // Nothing vanished into a differently-named type either: every contract type is present by name.
  for (const name of Object.keys(contract.getTypeMap()).filter((type) => !type.startsWith('__'))) {
    expect(ours.getType(name)).toBeDefined();
  }
  expect(printSchema(ours).length).toBeGreaterThan(0);
});
