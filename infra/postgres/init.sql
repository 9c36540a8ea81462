-- Waypost roles and database. Run as a superuser, against any existing database of
-- the cluster. Passwords arrive as psql variables (plain SQL cannot read the
-- environment); init.sh supplies them in the postgres container, and on a managed
-- Postgres run:
--   psql -v ON_ERROR_STOP=1 -v owner_password=... -v api_password=... -f init.sql
--
-- Three roles, so that row-level security actually binds the application:
--   waypost_owner  owns the database and every table; only `waypost migrate` uses it.
--   waypost_app    NOLOGIN group role holding the table privileges the migrations
--                  grant; the application SET ROLEs to it on every connection.
--   waypost_api    what the API and workers log in as: no ownership, no BYPASSRLS,
--                  so ENABLE + FORCE ROW LEVEL SECURITY applies to every query.
--
-- Safe to run again: a role or database that exists is kept, and its attributes (and
-- the passwords given) are set again. The names are psql variables too, defaulting
-- to the ones above; the test suite passes its own (-v database=... -v owner_role=...
-- -v api_role=...) so that several databases of one cluster each get their own owner
-- and login role. waypost_app is fixed: the migrations grant to it by name.

\set ON_ERROR_STOP on

\if :{?database}
\else
  \set database waypost
\endif
\if :{?owner_role}
\else
  \set owner_role waypost_owner
\endif
\if :{?api_role}
\else
  \set api_role waypost_api
\endif

SELECT format('CREATE ROLE %I', :'owner_role')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'owner_role') \gexec
ALTER ROLE :"owner_role"
  LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION
  PASSWORD :'owner_password';

-- Created here, with the attributes migrations/rls.py would give it, so the owner
-- needs no CREATEROLE: the first migration's IF NOT EXISTS then skips it.
SELECT format('CREATE ROLE %I', 'waypost_app')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'waypost_app') \gexec
ALTER ROLE waypost_app
  NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION;

-- NOINHERIT: the login role holds no table privilege of its own; a connection that
-- skipped `SET ROLE waypost_app` gets "permission denied" instead of silently
-- running with some other identity.
SELECT format('CREATE ROLE %I', :'api_role')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'api_role') \gexec
ALTER ROLE :"api_role"
  LOGIN NOINHERIT NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION
  PASSWORD :'api_password';
GRANT waypost_app TO :"api_role";

-- Owning the database also makes the owner the owner of its schema public
-- (pg_database_owner, PostgreSQL 15+): it may create tables there and grant
-- USAGE on it to waypost_app.
SELECT format('CREATE DATABASE %I OWNER %I', :'database', :'owner_role')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'database') \gexec

-- Only our roles may connect (the owner always may).
REVOKE ALL ON DATABASE :"database" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"database" TO :"api_role";
