#!/usr/bin/env bash
# First-boot hook for the official postgres image (/docker-entrypoint-initdb.d):
# runs init.sql with the role passwords taken from the container's environment.
# The image runs it only when the data volume is empty; later password changes
# must be made with ALTER ROLE.
# Written to work whether the entrypoint executes it or sources it.
set -Eeo pipefail

: "${PG_OWNER_PASSWORD:?PG_OWNER_PASSWORD must be set (password of waypost_owner)}"
: "${PG_API_PASSWORD:?PG_API_PASSWORD must be set (password of waypost_api)}"

# PGHOST/PGHOSTADDR cleared: during init the server listens on its Unix socket only.
PGHOST= PGHOSTADDR= psql -v ON_ERROR_STOP=1 --no-psqlrc --no-password \
    --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
    --set owner_password="$PG_OWNER_PASSWORD" \
    --set api_password="$PG_API_PASSWORD" \
    --file "${INIT_SQL:-/etc/waypost/init.sql}"
