#!/bin/sh
# Creates (or upgrades) Temporal's two PostgreSQL databases with the admin-tools image's temporal-sql-tool.
# Runs once before the Temporal server starts; safe to run again.
set -eu
tool() { temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "${DB_PORT:-5432}" -u "$POSTGRES_USER" --pw "$POSTGRES_PWD" "$@"; }
for database in temporal temporal_visibility; do
  tool --db "$database" create || true
done
tool --db temporal setup-schema -v 0.0 || true
tool --db temporal update-schema -d /etc/temporal/schema/postgresql/v12/temporal/versioned
tool --db temporal_visibility setup-schema -v 0.0 || true
tool --db temporal_visibility update-schema -d /etc/temporal/schema/postgresql/v12/visibility/versioned
echo "temporal schema ready"
