"""The tamper-evident audit log: entries, the hash chain, the Merkle tree, signed checkpoints
and storage.

Each record's canonical bytes are a leaf of an RFC 9162 Merkle tree (`audit.tree`, on
`audit.tlog.merkle`) and a link of a hash chain over the leaf hashes (`audit.chain`); the store
keeps the records, their columns and the tree's hashes (`audit.tables`). Chain, tree and
verification are pure; storage sits behind the one `AuditStore` interface (`SqlAuditStore` on
SQLAlchemy, `MemoryAuditStore` for unit tests). No web framework here. `verify_store`
(`audit.check`) checks a stored log whole: every column of every record against its bytes,
the chain, the tree, purged records and what lies past the head; a long log in stretches side
by side (`verify_segment`, `verify_segments`, `AuditStore.segments`), with the answer a single
pass gives.
"""

from .chain import (
    GENESIS_HASH,
    HASH_DOMAIN,
    Chained,
    Head,
    Link,
    chain_hash,
    decode,
    leaf_hash,
    link_hash,
    seal,
)
from .check import PARALLEL_FROM, verify_store
from .checkpoint import (
    CHECKPOINT_DOMAIN,
    Checkpoint,
    checkpoint_from_json,
    checkpoint_payload,
    checkpoint_to_json,
    generate_signing_key,
    key_id,
    load_private_key,
    load_private_key_file,
    load_public_key,
    load_public_key_file,
    private_key_to_pem,
    public_key_to_pem,
    sign_checkpoint,
    verify_checkpoint,
)
from .columns import STORED_COLUMNS, ColumnFinding, column_problem, explain
from .errors import AuditEntryError, AuditError, AuditWriteError, CheckpointError
from .findings import REASONS, Verification, unreadable
from .log_checkpoints import (
    StoredLogCheckpoint,
    latest_log_checkpoint,
    log_checkpoints,
    make_log_checkpoint,
)
from .record import (
    ACTIONS,
    EFFECTS,
    ENCODING_PREFIX,
    OUTCOMES,
    Action,
    AuditEntry,
    AuditRecord,
    DetailValue,
    Outcome,
    encode,
    format_time,
    looks_like_bsn,
)
from .segments import Segment, seq_ranges, verify_segment, verify_segments
from .sql import SqlAuditStore, SqlHashReader
from .store import (
    MAX_QUERY_LIMIT,
    AuditQuery,
    AuditStore,
    MemoryAuditStore,
    Survey,
    matches,
)
from .stored import verify_rows, verify_stored_segment
from .tables import (
    AUDIT_RECORD_STORAGE,
    GENESIS_HEAD_ROW,
    AuditCheckpointRow,
    AuditHeadRow,
    AuditLogCheckpointRow,
    AuditRecordRow,
    AuditTreeHashRow,
    CanonicalJSON,
    create_schema,
    metadata,
)
from .tree import Frontier, TreeCheck, TreeFinding
from .verification import verify

__all__ = [
    "ACTIONS",
    "AUDIT_RECORD_STORAGE",
    "CHECKPOINT_DOMAIN",
    "EFFECTS",
    "ENCODING_PREFIX",
    "GENESIS_HASH",
    "GENESIS_HEAD_ROW",
    "HASH_DOMAIN",
    "MAX_QUERY_LIMIT",
    "OUTCOMES",
    "PARALLEL_FROM",
    "REASONS",
    "STORED_COLUMNS",
    "Action",
    "AuditCheckpointRow",
    "AuditEntry",
    "AuditEntryError",
    "AuditError",
    "AuditHeadRow",
    "AuditLogCheckpointRow",
    "AuditQuery",
    "AuditRecord",
    "AuditRecordRow",
    "AuditStore",
    "AuditTreeHashRow",
    "AuditWriteError",
    "CanonicalJSON",
    "Chained",
    "Checkpoint",
    "CheckpointError",
    "ColumnFinding",
    "DetailValue",
    "Frontier",
    "Head",
    "Link",
    "MemoryAuditStore",
    "Outcome",
    "Segment",
    "SqlAuditStore",
    "SqlHashReader",
    "StoredLogCheckpoint",
    "Survey",
    "TreeCheck",
    "TreeFinding",
    "Verification",
    "chain_hash",
    "checkpoint_from_json",
    "checkpoint_payload",
    "checkpoint_to_json",
    "column_problem",
    "create_schema",
    "decode",
    "encode",
    "explain",
    "format_time",
    "generate_signing_key",
    "key_id",
    "latest_log_checkpoint",
    "leaf_hash",
    "link_hash",
    "load_private_key",
    "load_private_key_file",
    "load_public_key",
    "load_public_key_file",
    "log_checkpoints",
    "looks_like_bsn",
    "make_log_checkpoint",
    "matches",
    "metadata",
    "private_key_to_pem",
    "public_key_to_pem",
    "seal",
    "seq_ranges",
    "sign_checkpoint",
    "unreadable",
    "verify",
    "verify_checkpoint",
    "verify_rows",
    "verify_segment",
    "verify_segments",
    "verify_store",
    "verify_stored_segment",
]
