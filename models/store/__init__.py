"""The store: the only place with SQL and dialect branches (tables, unit of work, bulk writes, queries, migrations)."""
