"""The beta distribution's tail and quantiles, for BOIN's MTD estimates (`boin.estimates`).

The reference's `select.mtd` reports, under a beta(0.05, 0.05) prior, P(DLT rate > target | data)
and a 95% credible interval: R's `pbeta` and `qbeta` at parameters that are not whole numbers, so
the exact binomial sum of `boin.posterior_above` does not apply. The regularized incomplete beta
function is computed here by its continued fraction (modified Lentz; Numerical Recipes, 3rd ed.,
section 6.4), each tail from the side where the fraction converges, and a quantile by bisection
to the last bit of a float: plain Python arithmetic, the same numbers on every machine, and no
SciPy to install for two functions.
"""

from __future__ import annotations

import math

#: The continued fraction stops when a step changes it by less than this (relative).
EPSILON = 1e-16
#: A denominator this small is replaced by it (Lentz's rule against dividing by zero).
TINY = 1e-300


def tail(x: float, a: float, b: float) -> float:
    """P(X > x) for X ~ beta(a, b): R's `1 - pbeta(x, a, b)`, without the cancellation.

    >>> round(tail(0.3, 3, 1), 4)  # 1 - 0.3^3
    0.973
    """
    return _lower(1.0 - x, b, a)


def cdf(x: float, a: float, b: float) -> float:
    """P(X <= x) for X ~ beta(a, b): R's `pbeta(x, a, b)`.

    >>> round(cdf(0.5, 0.05, 0.05), 4)  # symmetric
    0.5
    """
    return _lower(x, a, b)


def quantile(p: float, a: float, b: float) -> float:
    """The x with P(X <= x) = p for X ~ beta(a, b): R's `qbeta(p, a, b)`, by bisection until
    the interval is two neighbouring floats (the cdf only grows with x).

    >>> round(quantile(0.5, 2, 2), 6)
    0.5
    """
    low, high = 0.0, 1.0
    while True:
        middle = (low + high) / 2
        if middle in (low, high):
            return middle
        if _lower(middle, a, b) < p:
            low = middle
        else:
            high = middle


def _lower(x: float, a: float, b: float) -> float:
    """I_x(a, b), the regularized incomplete beta function, from whichever side its continued
    fraction converges quickly (x below (a + 1) / (a + b + 2), or 1 - x by symmetry)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                 + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1) / (a + b + 2):
        return math.exp(log_front) * _fraction(x, a, b) / a
    return 1.0 - math.exp(log_front) * _fraction(1.0 - x, b, a) / b


def _fraction(x: float, a: float, b: float) -> float:
    """The continued fraction of I_x(a, b), evaluated by the modified Lentz method."""
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > TINY else TINY)
    value = d
    for m in range(1, 10_000):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > TINY else TINY)
            c = 1.0 + numerator / c
            c = c if abs(c) > TINY else TINY
            value *= d * c
        if abs(d * c - 1.0) < EPSILON:
            break
    return value
