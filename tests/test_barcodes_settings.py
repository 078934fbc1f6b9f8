"""The barcode settings refuse what the parser could not honour, saying what is allowed."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.settings import BarcodeSettings, LabelLayout


@pytest.mark.parametrize("region", ["DE", "de", " se ", "GB", "NO"])
def test_known_regions_are_accepted_and_normalised(region: str) -> None:
    assert BarcodeSettings(rcn_region=region).rcn_region == region.strip().upper()


@pytest.mark.parametrize("region", ["US", "CN", "", "Germany"])
def test_unknown_region_names_the_known_ones(region: str) -> None:
    with pytest.raises(ValidationError) as caught:
        BarcodeSettings(rcn_region=region)
    message = str(caught.value)
    assert "DE" in message and "SE" in message and "label_layouts" in message


@pytest.mark.parametrize(
    "pattern", ["28IIIIVPPPPPC", "20IIIIIVPPPPC", "23IIIIIVWWWWC", "25IIIIIVQQQQC"]
)
def test_verifier_over_four_or_five_digits(pattern: str) -> None:
    assert LabelLayout(name="v", pattern=pattern).pattern == pattern


@pytest.mark.parametrize(
    "pattern",
    [
        "2IIIIIIVPPPC",  # 3-digit price
        "2IIIVPPPPPPC",  # 6-digit price
        "2IIIVVPPPPPC",  # two verifier digits
        "26IIIIVPPPPPPWWWWC",  # 6-digit price; the weight does not count
    ],
)
def test_verifier_over_other_widths_is_refused(pattern: str) -> None:
    with pytest.raises(ValidationError, match="4- or 5-digit"):
        LabelLayout(name="v", pattern=pattern)
