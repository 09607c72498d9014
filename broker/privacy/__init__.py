"""The privacy officer's use cases (FG, purpose toezicht or inzageverzoek): the audit log
queried, verified, checkpointed, exported and purged; anomalies; the access report of a young
person; corrections, deletions and objections; retention of cases.

- `audit_log`, `anomalies`, `access_report`, `export`: the log as the officer reads it;
- `requests`, `rights`, `objections`: the rights of the young person;
- `retention`: `broker purge`, the convenant's retention periods.

No Flask here. It imports `casework` (retention closes cases, rights refresh matches) and what
it stands on; only the entry rooms import it.
"""

__all__: list[str] = []
