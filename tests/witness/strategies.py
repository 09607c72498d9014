"""Hypothesis strategies of the witness's tests: what a log (honest or not) sends a witness."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

MAX_SIZE = 48


@dataclass(frozen=True)
class Submission:
    """One add-checkpoint a log sends: to `size`, claiming `old`; `rewrite` ∈ [1, old] names a
    record changed (tree recomputed, signed again) before the checkpoint is made, or None."""

    size: int
    old: int
    rewrite: int | None


@st.composite
def submissions(draw: st.DrawFn, stored: int) -> Submission:
    """A submission to a witness that holds size `stored`: honest extensions and repeats, some
    with a stale or a too-large old size, some from a log that rewrote a cosigned record."""
    size = draw(st.one_of(st.integers(min_value=0, max_value=MAX_SIZE), st.just(stored)))
    old = draw(
        st.one_of(
            st.just(stored),
            st.just(stored),
            st.integers(min_value=0, max_value=MAX_SIZE),
        )
    )
    rewrite = None
    if stored > 0 and draw(st.booleans()):
        rewrite = draw(st.integers(min_value=1, max_value=stored))
    return Submission(size, old, rewrite)


attacks = st.tuples(
    st.integers(min_value=1, max_value=MAX_SIZE),  # n: the size the witness cosigned
    st.integers(min_value=0, max_value=16),  # k: records appended after the rewrite
    st.integers(min_value=1, max_value=MAX_SIZE),  # the record rewritten (mod n, from 1)
)
