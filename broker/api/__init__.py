"""The JSON API under /api/v1 and the health checks: thin adapters from HTTP to the use
cases, each refusal an RFC 9457 problem+json.

- `requests`: what every endpoint shares — the bearer token, the JSON body, the purpose and
  role (doelbinding), query parameters checked against their limits;
- `cases`: signals, case lists and views, explain, a track (the case worker's API);
- `casework`: triage, tracks, case director, closing, history, plan, notifications;
- `privacy`: the privacy officer's audit queries, verification, checkpoints, anomalies and the
  access report; `rights`: corrections, deletions, objections;
- `stats`: the monitoring figures; `health`: /healthz and /readyz;
- `openapi`: the OpenAPI document.

An entry room: it imports the use cases (`casework`, `privacy`, `figures`) and what they
stand on (`core`, `identity`, `storage`); only `broker.app` imports it, to register its
blueprints.
"""

__all__: list[str] = []
