"""Properties of intake validation: whatever a form, file or command line sends (any text,
huge values, NUL, missing fields), the answer is an intake or a message per known field, never
an exception, and no message repeats what was typed."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.referrals.intake import LIMITS, validate_intake
from tests.properties.profiles import scaled

VALUES = st.none() | st.text(max_size=3000) | st.integers() | st.floats() | st.booleans()


@settings(max_examples=scaled(300))
@given(st.dictionaries(st.sampled_from([*LIMITS, "other"]), VALUES))
def test_any_input_gives_an_intake_or_errors_naming_known_fields_never_an_exception(raw):
    intake, errors = validate_intake(raw)
    assert (intake is None) == bool(errors)
    assert set(errors) <= set(LIMITS)
    if intake is not None:
        assert len(intake.company) <= LIMITS["company"] and "\x00" not in intake.company
    # Messages are fixed phrases: a typed value is never echoed back.
    assert all(m.startswith(("is ", "must ", "holds ")) for m in errors.values())
