-- Waypost roles and database. Run once, as a superuser, against any existing
-- database of the cluster. Passwords arrive as psql variables (plain SQL cannot
-- read the environment); init.sh supplies them in the postgres container, and on
-- a managed Postgres run:
--   psql -v ON_ERROR_STOP=1 -v owner_password=... -v api_password=... -f init.sql
--
-- Three roles, so that row-level security actually binds the application:
--   waypost_owner  owns the database and every table; only `waypost migrate` uses it.
--   waypost_app    NOLOGIN group role holding the table privileges the migrations
--                  grant; the application SET ROLEs to it on every connection.
--   waypost_api    what the API and workers log in as: no ownership, no BYPASSRLS,
--                  so ENABLE + FORCE ROW LEVEL SECURITY applies to every query.

\set ON_ERROR_STOP on

CREATE ROLE waypost_owner
  LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION
  PASSWORD :'owner_password';

-- Created here, with the attributes migrations/rls.py would give it, so the owner
-- needs no CREATEROLE: the first migration's IF NOT EXISTS then skips it.
CREATE ROLE waypost_app
  NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION;

-- NOINHERIT: waypost_api holds no table privilege of its own; a connection that
-- skipped `SET ROLE waypost_app` gets "permission denied" instead of silently
-- running with some other identity.
CREATE ROLE waypost_api
  LOGIN NOINHERIT NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION
  PASSWORD :'api_password';
GRANT waypost_app TO waypost_api;

-- Owning the database also makes waypost_owner the owner of its schema public
-- (pg_database_owner, PostgreSQL 15+): it may create tables there and grant
-- USAGE on it to waypost_app.
CREATE DATABASE waypost OWNER waypost_owner;

-- Only our roles may connect (the owner always may).
REVOKE ALL ON DATABASE waypost FROM PUBLIC;
GRANT CONNECT ON DATABASE waypost TO waypost_api;
