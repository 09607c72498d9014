"""What every use case and entry stands on: the `Runtime` bound to the app (convenant,
database, keys, tokens, audit store), the acting `Context` and its audited commit (fail
closed: 503 and nothing stored when the audit record cannot be written), `Problem` (RFC 9457),
the request's authentication and role (`auth`), limits counted from the shared audit log,
the request log and refusal audits (`observability`), and signal validation derived from the
convenant.

It imports `identity`, `storage`, `policies` and `audit`; everything above imports it, never
the reverse.
"""

__all__: list[str] = []
