"""Who is who: persons and partner systems (`accounts`), the actor behind a valid token
(`actors`), the broker's access tokens (`tokens`, RFC 9068) and an external issuer's
(`external`), keys in the instance folder (`keys`), passwords (`passwords`, scrypt), the
second factor (`totp`, RFC 6238), and young people's identifiers (`subjects`: BSN eleven-check,
postcodes, keyed pseudonyms).

No Flask here. It imports `storage`; `core` and everything above it import it.
"""

__all__: list[str] = []
