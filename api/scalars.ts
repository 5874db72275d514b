// The Money and DateTime scalars. Money is parsed strictly (a digit string, never a number) into a
// bigint; a bad amount is BAD_USER_INPUT before any resolver runs.
import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';
import { formatMoney, MoneyFormatError, parseMoneyInput } from '../common/money';

function moneyFromInput(value: unknown): bigint {
  try {
    return parseMoneyInput(value);
  } catch (error) {
    if (error instanceof MoneyFormatError) {
      throw new GraphQLError(error.message, { extensions: { code: 'BAD_USER_INPUT', field: 'amount' } });
    }
    throw error;
  }
}

export const MoneyScalar = new GraphQLScalarType<bigint, string>({
  name: 'Money',
  serialize(value) {
    if (typeof value !== 'bigint') throw new TypeError(`Money must be a bigint inside the server, got ${typeof value}`);
    return formatMoney(value);
  },
  parseValue: moneyFromInput,
  parseLiteral(ast) {
    if (ast.kind !== Kind.STRING) return moneyFromInput(undefined);
    return moneyFromInput(ast.value);
  },
});

export const DateTimeScalar = new GraphQLScalarType<Date, string>({
  name: 'DateTime',
  serialize(value) {
    if (!(value instanceof Date)) throw new TypeError('DateTime must be a Date inside the server');
    return value.toISOString();
  },
  parseValue(value) {
    if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) {
      throw new GraphQLError('DateTime must be an RFC 3339 string', { extensions: { code: 'BAD_USER_INPUT' } });
    }
    return new Date(value);
  },
});
