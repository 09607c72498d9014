"""The JSON API under /api/v1 and the health checks: thin adapters from HTTP to the use
cases, each endpoint declared once (`declare`: its parameters, its body's Cerberus schema, its
answers) for the checks it makes and for the OpenAPI 3.1 document generated from those
declarations (`openapi`, `jsonschema`); every refusal an RFC 9457 problem+json.

- `requests`: what every endpoint shares — the bearer token, the JSON body (its content type,
  size and depth), the purpose and role (doelbinding);
- `cases`: signals, case lists and views, explain, a track (the case worker's API);
- `casework`: triage, tracks, case director, closing, history, plan, notifications;
- `privacy`: the privacy officer's audit queries, verification, checkpoints, anomalies and the
  access report; `rights`: corrections, deletions, objections;
- `stats`: the monitoring figures; `health`: /healthz and /readyz;
- `declare`, `responses`, `jsonschema`, `openapi`: the declarations and the document.

An entry room: it imports the use cases (`casework`, `privacy`, `figures`) and what they
stand on (`core`, `identity`, `storage`); only `broker.app` imports it, to register its
blueprints.
"""

__all__: list[str] = []
