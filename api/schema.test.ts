// The served schema against the public contract the project implements (contract/schema.graphql, a copy
// kept in the repository so that a clone on its own builds and tests): graphql-js's own breaking-change
// detector must find nothing, so every type, field, argument and enum value is there.
import { buildSchema, findBreakingChanges, printSchema } from 'graphql';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
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

// The public contract lives beside the checkout (../shared/contract) on the development machines; a
// clone on its own has only the copy. Where both exist, the copy must be the contract, byte for byte.
const sharedContractDir = path.join(__dirname, '..', '..', 'shared', 'contract');
const contractDir = path.join(__dirname, '..', 'contract');

test('contract copy | compared with the shared contract beside the checkout | every file in both is byte-identical', () => {
  const copies = readdirSync(contractDir);
  expect(copies).toEqual(expect.arrayContaining(['schema.graphql', 'sms.md']));
  if (!existsSync(sharedContractDir)) return;
  const shared = new Set(readdirSync(sharedContractDir));
  for (const name of copies.filter((file) => shared.has(file))) {
    expect([name, readFileSync(path.join(contractDir, name)).equals(readFileSync(path.join(sharedContractDir, name)))]).toEqual([name, true]);
  }
});
