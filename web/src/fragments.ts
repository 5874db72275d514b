// The transaction fields every screen shows.
import { graphql } from './graphql';

export const TransactionFields = graphql(`
  fragment TransactionFields on Transaction {
    id kind status direction amount counterparty note failureCode bankRedirectUrl createdAt updatedAt
    confirmation { method expiresAt attemptsLeft }
  }
`);
