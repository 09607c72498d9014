"""The use cases of the case work, each load → decide → write → audit → commit with the
session passed in: every success appends its audit record in the transaction of its writes,
every refusal is a Problem, and a refused request changes nothing.

- `signals`: intake; `views`: case views, case lists and explain, field by field;
- `triage`: the coordinator's queue with matches; `tracks`: track, case director, closing and
  the history; `plan`: the plan of approach; `notifications`;
- `guards`: the checks an act on a case starts with; `schemas`: the acts' request bodies;
- `matching`: keyed match keys; `restrictions`: objections as a restriction over the
  convenant.

No Flask here. It imports `core`, `identity`, `storage`, `policies` and `audit`; the entry
rooms and `privacy` (retention closes cases, rights refresh matches) import it.
"""

__all__: list[str] = []
