"""The broker's own OAuth 2.0 authorization server (Authlib): client credentials for
partner systems, authorization code with PKCE (S256 required) and a second factor for persons
logging in on the pages; RFC 9068 access tokens, metadata (RFC 8414) and the JWKS.

- `base`: the blueprint and what its endpoints share; `grants`: what Authlib asks of clients,
  codes and the token generator; `login`: the browser login; `server`: the token endpoint,
  metadata, JWKS and `init_app`.

It imports `core`, `identity` and `storage`; `broker.app` registers it and the pages
(`broker.web`) log in through its token endpoint.
"""

__all__: list[str] = []
