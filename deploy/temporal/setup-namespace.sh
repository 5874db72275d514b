#!/bin/sh
# Creates the namespace and registers ZenPAY's search attributes (the same list as
# common/transactions.ts) so operators can find a user's or a transaction's workflows.
set -eu
namespace="${NAMESPACE:-default}"
temporal operator namespace describe --namespace "$namespace" >/dev/null 2>&1 ||
  temporal operator namespace create --namespace "$namespace" --retention 30d
for name in ZenpayUserId ZenpayTransactionId ZenpayKind ZenpayStatus ZenpayBank; do
  temporal operator search-attribute create --namespace "$namespace" --name "$name" --type Keyword || true
done
echo "namespace $namespace ready"
