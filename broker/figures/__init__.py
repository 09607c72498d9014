"""The monitoring figures (purpose uitvoering, the coordinator): young people per track
and per wijk, cases started and ended, the median days to triage, per whole month or quarter,
with small-cell suppression so that no figure singles out a young person.

- `periods`: who may ask and for which period; `counting`: what is counted and how the
  figures relate; `stats`: loading and the audited report; `suppression`: primary and
  secondary suppression, pure.

No Flask here. It imports `core` and `storage`; only the entry rooms import it.
"""

__all__: list[str] = []
