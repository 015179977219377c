"""Primary suppression of small cells and refusal of identifier columns."""
import pandas as pd
import pytest

from evalkit.errors import ParameterError, ValidationError
from evalkit.report.disclosure import suppress_small


def test_small_cells_blanked_and_input_untouched():
    frame = pd.DataFrame({"group": ["a", "b", "c"], "persons": [12, 4, 5], "mean": [0.3, 0.9, 0.5]})
    before = frame.copy(deep=True)
    out = suppress_small(frame, ["persons"], min_cell=5)
    pd.testing.assert_frame_equal(frame, before)
    assert out.loc[1, ["persons", "mean"]].isna().all()
    assert out.loc[2, "persons"] == 5 and out.attrs["suppressed_rows"] == 1


def test_threshold_floor_and_identifiers():
    frame = pd.DataFrame({"PERSON_ID": ["x"], "persons": [10]})
    with pytest.raises(ValidationError, match="PERSON_ID"):
        suppress_small(frame, ["persons"])
    with pytest.raises(ParameterError, match=">= 3"):
        suppress_small(frame.drop(columns="PERSON_ID"), ["persons"], min_cell=2)
