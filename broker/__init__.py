"""The MultiTeam data-sharing broker: the privacy convenant of MultiTeam Leeuwarden Oost, made
executable as a Flask service.

Its rooms, each importing only those below it (the contracts in pyproject.toml, checked by
import-linter in the suite):

    main                         the `broker` console script
    app                          create_app: configuration, extensions, blueprints
    api | web | cli              the entries: JSON API, pages, commands
    oauth                        the OAuth 2.0 authorization server
    privacy | figures            the privacy officer's use cases; the monitoring figures
    casework                     the case work's use cases
    core                         runtime, context and audited commit, problems, auth, limits
    identity                     persons, clients, actors, tokens, keys, passwords, TOTP
    storage                      models, database, migrations, the SQL audit store

below which lie the pure `policies` (the convenant engine) and `audit` (the log).
"""

from .app import create_app

__all__ = ["create_app"]
