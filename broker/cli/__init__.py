"""The `broker …` commands: thin click wrappers over the use cases, each audited like the
API.

- `service`: init, demo, token, serve (registered on the app's command line);
- `accounts`: users, clients and keys; `audit`: the audit log's commands and purge;
- `convenant`: the convenant tools (no app, no database); `stats`: the figures as CSV;
- `demo`: the demo accounts, clients and cases; `server`: gunicorn as a library.

An entry room beside `api` and `web`: it imports the use cases and what they stand on; only
`broker.app` (the app's commands) and `broker.main` (the console script) import it.
"""

__all__: list[str] = []
