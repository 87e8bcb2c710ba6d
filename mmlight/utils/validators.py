"""Named argument checks shared by every mmlight module: each raises a ValueError that names
the owner, the argument, what was expected and what was found."""

from collections.abc import Iterable


def _owner(owner: str | None) -> str:
    return f'{owner}: ' if owner else ''


def _bounds(low, high, low_open: bool) -> str:
    """' in [low, high]', ' >= low', ' <= high' (with ( / > where the low bound is open)."""
    if low is not None and high is not None:
        return f' in {"(" if low_open else "["}{low}, {high}]'
    if low is not None:
        return f' {">" if low_open else ">="} {low}'
    return '' if high is None else f' <= {high}'


def is_integer(value) -> bool:
    """An int that is not a bool (``True`` is an int to Python, never a count to us)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value) -> bool:
    """An int or float that is not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_integer(
    name: str,
    value,
    minimum: int | None = None,
    maximum: int | None = None,
    owner: str | None = None,
) -> int:
    """``value`` is an integer in [minimum, maximum] (either bound may be left open)."""
    if (
        not is_integer(value)
        or (minimum is not None and value < minimum)
        or (maximum is not None and value > maximum)
    ):
        raise ValueError(
            f'{_owner(owner)}{name} must be an integer'
            f'{_bounds(minimum, maximum, False)}, got {value!r}'
        )
    return value


def check_number(
    name: str,
    value,
    greater_than: float | None = None,
    at_most: float | None = None,
    owner: str | None = None,
) -> float:
    """``value`` is a real number, > greater_than and <= at_most where given."""
    if (
        not is_number(value)
        or (greater_than is not None and value <= greater_than)
        or (at_most is not None and value > at_most)
    ):
        raise ValueError(
            f'{_owner(owner)}{name} must be a number'
            f'{_bounds(greater_than, at_most, True)}, got {value!r}'
        )
    return value


def check_choice(name: str, value, choices: Iterable, owner: str | None = None):
    """``value`` is one of ``choices``."""
    choices = list(choices)
    if value not in choices:
        raise ValueError(
            f'{_owner(owner)}{name} {value!r} is not supported; valid choices: {choices}'
        )
    return value


def check_widen_factor(
    widen_factor, allowed: Iterable[float] | None = None, owner: str | None = None
) -> float:
    """A channel multiplier > 0; where a family has tables for some widths only, one of them."""
    check_number('widen_factor', widen_factor, greater_than=0, owner=owner)
    if allowed is not None:
        allowed = sorted(float(a) for a in allowed)
        if float(widen_factor) not in allowed:
            raise ValueError(
                f'{_owner(owner)}widen_factor {widen_factor!r} has no architecture '
                f'table; valid choices: {allowed}'
            )
    return float(widen_factor)
