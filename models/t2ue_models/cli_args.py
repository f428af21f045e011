"""Parsers shared by the models' command lines (ablate, select, noise_bounds, efficacy)."""
from __future__ import annotations


def int_list(text: str, option: str, *, minimum: int = 0, required: bool = True) -> list[int]:
    """"0,1, 2" -> [0, 1, 2]: distinct integers of at least `minimum`, separated by commas (blank items are
    skipped). Raises ValueError naming `option` for anything else, or for an empty list when `required`, so a
    command can refuse bad input (argparse's `error`, exit 2) before it does any work."""
    items = [x.strip() for x in str(text).split(",") if x.strip()]
    try:
        values = [int(x) for x in items]
    except ValueError:
        raise ValueError(f"{option} takes integers separated by commas, not {text!r}") from None
    if required and not values:
        raise ValueError(f"{option} needs at least one value")
    if len(set(values)) != len(values):
        raise ValueError(f"{option} lists a value twice: {text!r}")
    if values and min(values) < minimum:
        raise ValueError(f"{option} values must be at least {minimum}, not {text!r}")
    return values
