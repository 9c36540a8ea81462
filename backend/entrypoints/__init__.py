"""The composition root: where processes start and the API, the workers and the domain
are wired together (the app factory, the CLI, the HTTP routes, the demo seeder).

Nothing else imports this package; it alone may import ``graphql_schema`` and
``workers`` together with ``backend``."""
