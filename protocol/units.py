"""Units of measure: pint with exact decimals, plus the clinical units pint does not ship.

Every conversion is done in `Decimal` (pint's `non_int_type`) and the result is rounded once, half
to even, to `PLACES` decimal places in the target unit. Thresholds go through the same function, so
a value exactly at a threshold after conversion stays exactly at it: no binary-float drift.

Units are read as laboratories print them (`x10^9/L`, `10*3/uL`, `/mm3`, `g/24h`, `kg/m2`): a few
rewrites turn them into what pint reads, and a power of ten with nothing counted before the slash,
or a bare "per volume", counts cells. Letters pint would silently misread (`G/L` as gauss per litre,
`K/uL` as kelvin) are refused with the spelling to write instead; a protocol accepts such a spelling
explicitly by declaring an alias, which `parse_unit` takes as a parameter.

UCUM library: `ucumvert` (maintained, pint-based, Python 3.11-3.14) was tried and is not used. It
converts in floats (its transformer binds pint's application registry), drops annotations silently
(`mL/min/{1.73_m2}` becomes mL/min), reads `G` and `K` as gauss and kelvin as UCUM says, does not
read lab spellings (`x10^9/L`, `cells/uL`, `IU/mL`, `years`) and would import lark outside grammar/.
The dozen rewrites below are smaller, exact, and refuse what they do not know.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Context, Decimal
from fractions import Fraction
from functools import cache, partial
from typing import TYPE_CHECKING, Any, NamedTuple

from protocol.cache import folder as cache_folder
from protocol.cache import kept

if TYPE_CHECKING:
    import pint

#: Decimal places kept after a conversion, a ratio to the reference range or a dose equivalence.
PLACES = 6
QUANTUM = Decimal(1).scaleb(-PLACES)
_ZERO = Decimal(0).quantize(QUANTUM)
#: Room to round in: the default context's 28 digits would refuse to round a value of 22 digits
#: or more before the point (a large count times a unit factor, a ratio to a tiny reference).
_ROOMY = Context(prec=100)

#: A substance-specific conversion a protocol declares: (amount, unit, amount, unit), a factor
#: (`1 mg/dL = 17.1 umol/L`), or with an offset added after it, (amount, unit, amount, unit,
#: offset): `% = 0.09148 x mmol/mol + 2.152` is (1, "mmol/mol", 0.09148, "%", 2.152).
Conversions = tuple[tuple, ...]

#: Unit spellings a protocol declares: (spelling, meaning), e.g. ("K/uL", "10^3/uL").
Aliases = tuple[tuple[str, str], ...]

#: Clinical units pint lacks. Enzyme activity (U), international units (IU), copies and cells are
#: counted in dimensions of their own so that they convert among their prefixes but never into mass
#: or moles. `ten` carries the power of ten labs write before a count (10^9/L) as an exact factor.
_DEFINITIONS = (
    "enzyme_unit = [enzyme_activity] = U",
    "international_unit = [international_unit] = IU",
    "copies = [copies] = copy",
    "cells = [cells] = cell",
    "points = [] = point",
    "bsa173 = 1.73 * meter ** 2",
    "ten = 10",
)

_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")

#: How units are written on lab reports, rewritten in this order to what pint reads.
_REWRITES = (
    # an exponent written without a caret after a unit letter: m2, mm3 (1.73m2 is caught below)
    (re.compile(r"(?<=[A-Za-z])([23])\b"), r"^\1"),
    # 10^9, 10*9 (UCUM), 10**9, 10E9, with or without a leading x: an exact power of ten
    (re.compile(r"(?<![\w.])(?:x\s*)?10\s*(?:\*\*|\^|\*|[eE])\s*([+-]?\d+)\s*"), r"ten**\1 "),
    (re.compile(r"/?\s*1\.73\s*m(\^2|\*\*2)"), "/bsa173"),
    (re.compile(r"/\s*24\s*-?\s*h(?:rs?|ours?)?\b"), "/day"),
    (re.compile(r"%"), "percent"),
    (re.compile(r"\bmcg\b"), "ug"),
    (re.compile(r"\bd\b"), "day"),
    (re.compile(r"\bwk\b"), "week"),  # UCUM's week, as a weekly dose is written (mg/wk)
    (re.compile(r"^\s*/"), "1/"),
)

#: A power of ten with nothing counted before the slash (10^9/L, 10^6/kg, 10^8) counts cells.
_COUNTED_POWER = re.compile(r"^(ten\*\*[+-]?\d+)\s*(?=/|$)")

#: Letters labs print for a power of ten (or for U) that pint reads as something else, silently:
#: the letter, what pint makes of it, and what the lab meant.
_MISREAD = {
    "G": ("gauss", "10^9"),
    "Gpt": ("gigapint", "10^9"),
    "T": ("tesla", "10^12"),
    "Tpt": ("terapint", "10^12"),
    "M": ("molar", "10^6"),
    "K": ("kelvin", "10^3"),
    "k": ("the Boltzmann constant", "10^3"),
    "u": ("the atomic mass unit", "U"),
}
_WORD = re.compile(r"[A-Za-z_]+")

#: Dimensions no lab value has; a unit that reaches one is a misread letter (K/uL: kelvin). A
#: body temperature is the exception, written alone (`TEMPERATURES`).
_IMPLAUSIBLE = {"[temperature]": "a temperature", "[current]": "an electric current"}

#: Temperatures, the units with an offset (0 °C is 32 °F), so no factor converts them: each as
#: its degrees Celsius, exactly (`value x factor + offset`). Only a temperature alone is one:
#: nothing clinical is measured in °C per minute, and K stays a misread letter.
_TEMPERATURES = {"degC": (Fraction(1), Fraction(0)), "degF": (Fraction(5, 9), Fraction(-160, 9))}
#: How temperatures are written: as pint writes them, with the degree sign, and UCUM's codes
#: (FHIR's vital signs: `Cel`, `[degF]`).
_TEMPERATURE_SPELLINGS = {"degC": "degC", "°C": "degC", "℃": "degC", "Cel": "degC",
                          "degF": "degF", "°F": "degF", "℉": "degF", "[degF]": "degF"}


class UnitProblem(ValueError):
    """A unit that cannot be read, or a conversion between different dimensions."""


def _pint() -> Any:
    """pint, imported where a unit is first read: with numpy and dask, which it imports where
    they are installed, half a second that a command reading only a trail need not pay."""
    import pint  # noqa: PLC0415

    return pint


def _unreadable() -> tuple[type[BaseException], ...]:
    """What pint raises on text that is no unit: `U/` fails an assertion, `U/0` divides by
    zero."""
    return (_pint().errors.PintError, AttributeError, TypeError, ValueError, SyntaxError,
            ArithmeticError, AssertionError)
#: The largest power a unit may raise ten to (the SI prefixes end at 10^24), and any other unit.
MAX_POWER_OF_TEN = 24
MAX_POWER = 6

#: What a unit may be written with: letters, digits, spaces, the signs of a unit expression and
#: the micro, times and superscript signs `_spelling` rewrites. Anything else (a quote, a bracket,
#: a control character) is no part of a unit, and pint's parser fails on it in its own ways.
_UNIT_TEXT = re.compile(r"[\w\s/*^.()%+\-×·µμ²³⁰¹⁴⁵⁶⁷⁸⁹⁻⁺]*")


def _shown(text: str) -> str:
    """A unit as a message quotes it: control characters escaped, so the message stays one line."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def _refuse_unreadable(text: str, spelling: str) -> None:
    """A character no unit has: said before pint's parser, which evaluates the text with
    Python's tokenizer and fails on such input with TokenError, AssertionError and the like."""
    if _UNIT_TEXT.fullmatch(spelling) is None:
        bad = next(c for c in spelling if _UNIT_TEXT.fullmatch(c) is None)
        raise UnitProblem(f"cannot read unit '{_shown(text)}': {_shown(repr(bad))} "
                          f"(U+{ord(bad):04X}) is no part of a unit")


def _pint_parse(ureg: pint.UnitRegistry, text: str, spelling: str) -> pint.Unit:
    """pint's reading of a unit expression, each way it fails in our words: a name it does not
    know is an unknown unit; an expression it cannot evaluate (`1/0`, `(`, `1/0**`) cannot be
    read. pint's parser is a third party's on hostile text, so anything it raises is caught."""
    try:
        unit = ureg.parse_units(_pint_text(spelling))
    except (_pint().errors.PintError, AttributeError, TypeError, ValueError, SyntaxError) \
            as error:
        raise UnitProblem(f"unknown unit '{_shown(text)}'") from error
    except Exception as error:  # noqa: BLE001 - see above
        raise UnitProblem(f"cannot read unit '{_shown(text)}': not a unit expression "
                          "(write it as a laboratory prints it, like mg/dL or 10^9/L)") from error
    return unit


@cache
def registry() -> pint.UnitRegistry:
    """The one Decimal registry, with the clinical units defined."""
    return _clinical(Decimal)


@cache
def exact_registry() -> pint.UnitRegistry:
    """The same units with `Fraction` magnitudes: formulas of derived values compute in exact
    rationals, so their unit factors (mL/min to L/h is 3/50) must be exact too."""
    return _clinical(Fraction)


def _clinical(magnitudes: type) -> pint.UnitRegistry:
    """A registry with `magnitudes` and the clinical units defined.

    pint's own definitions are read back from the user's cache folder (`protocol/cache.py`) where
    they were kept; pint does not rebuild a spoiled file there (a process stopped while writing
    it), so a registry that cannot read them is built from pint's files, as without the folder.
    `U` redefines pint's own enzyme unit (micromole per minute): pint's dimension cache still holds
    the old one until it is rebuilt, and `U` alone would then differ from `kU`. The rebuilt cache
    is kept in the same folder, under pint's version and these definitions.
    """
    pint = _pint()
    try:
        ureg = pint.UnitRegistry(non_int_type=magnitudes, cache_folder=cache_folder())
    except Exception:  # noqa: BLE001 -- whatever unpickling a spoiled file raises
        ureg = pint.UnitRegistry(non_int_type=magnitudes)
    for definition in _DEFINITIONS:
        ureg.define(definition)
    key = (pint.__version__, magnitudes.__name__, _DEFINITIONS)
    ureg._cache = ureg._caches[()] = kept(f"units-{magnitudes.__name__}", key,
                                          partial(_dimensions, ureg))
    return ureg


def _dimensions(ureg: pint.UnitRegistry) -> object:
    """pint's cache of every unit's dimension and base units, built (a sixth of a second)."""
    ureg._build_cache()
    return ureg._cache


@cache
def exact_unit(text: str) -> pint.Unit:
    """`parse_unit` in the exact registry: the same spellings read, the same ones refused.

    >>> exact_unit("kg/m2") == exact_unit("kg/m**2") == exact_unit("kg/m²")
    True
    """
    parse_unit(text)  # refuses what the decimal registry refuses, with the same message
    unit = _pint_parse(exact_registry(), text, _spelling(text))
    if dict(unit.dimensionality) == {"[length]": -3}:  # a bare count per volume counts cells
        unit = unit * exact_registry().Unit("cell")
    return unit


def exact_factor(source: pint.Unit, target: pint.Unit, conversions: Conversions = ()
                 ) -> Fraction | None:
    """The exact factor from `source` to `target` (units of the exact registry), bridged by a
    concept's own conversions if need be; None when they do not convert.

    >>> exact_factor(exact_unit("kg/cm^2"), exact_unit("kg/m2"))
    Fraction(10000, 1)
    >>> exact_factor(exact_unit("kg"), exact_unit("m")) is None
    True
    """
    ureg = exact_registry()

    def direct(a: pint.Unit, b: pint.Unit) -> Fraction | None:
        try:
            return Fraction(ureg.Quantity(Fraction(1), a).to(b).magnitude)
        except _pint().errors.DimensionalityError:
            return None

    found = direct(source, target)
    for amount, unit_a, equals, unit_b in _factors(conversions) if found is None else ():
        for (x, ux), (y, uy) in (((amount, unit_a), (equals, unit_b)),
                                 ((equals, unit_b), (amount, unit_a))):
            into_x = direct(source, exact_unit(ux))
            onward = direct(exact_unit(uy), target) if into_x is not None else None
            if onward is not None:
                return into_x * Fraction(y) / Fraction(x) * onward
    return found


def dimension_of(unit: pint.Unit) -> str:
    """pint's dimensionality of a unit of the exact registry as text, as the decimal registry
    writes it (`[mass] / [length] ** 2`, or `dimensionless`): Python 3.11 cannot format the
    exact registry's Fraction exponents.

    >>> dimension_of(exact_unit("kg/m2")), dimension_of(exact_unit("%"))
    ('[mass] / [length] ** 2', 'dimensionless')
    """
    ureg = registry()
    same = ureg.Unit("")
    for name, power in unit._units.items():  # pint offers no public accessor
        same = same * ureg.Unit(name) ** int(power)
    dimensionality = ureg.Quantity(1, same).dimensionality
    return str(dimensionality) if dimensionality else "dimensionless"


#: UCUM's codes for what labs print otherwise (FHIR's `Quantity.code`, OMOP's unit concepts):
#: the annotation UCUM itself reads as 1 but every eGFR means (`mL/min/{1.73_m2}`), the
#: counted annotations (`{copies}/mL`, `{cells}/uL`) and the international unit (`[iU]/L`).
#: Any other annotation or bracket stays no part of a unit.
_UCUM = ((re.compile(r"\{1\.73_?m2\}"), "1.73m2"), (re.compile(r"\{(copies|cells)\}"), r"\1"),
         (re.compile(r"\[[iI]U\]"), "IU"))


def _spelling(text: str) -> str:
    """The text with the micro sign, the times sign and superscripts in plain ASCII, and UCUM's
    codes for a few units as labs print them."""
    text = re.sub(r"µ|μ", "u", text.strip()).replace("×", "x")
    if "{" in text or "[" in text:
        for code, printed in _UCUM:
            text = code.sub(printed, text)
    return re.sub(r"[⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺]+", lambda run: "^" + run[0].translate(_SUPERSCRIPTS), text)


def _refuse_logarithmic(text: str, spelling: str) -> None:
    """`log10 IU/mL` is not a multiple of IU/mL: no exact factor exists, so none is guessed."""
    if re.search(r"\blog", spelling, re.IGNORECASE):
        raise UnitProblem(
            f"unit '{text}' is logarithmic, not a multiple of another unit; "
            "give the value itself (IU/mL, copies/mL)"
        )


def _refuse_percent_of_unit(text: str, spelling: str) -> None:
    """A lab's `mg%` is mg/dL; pint's is a hundredth of a milligram, a mass."""
    if re.search(r"[A-Za-z]\s*%", spelling):
        fixed = re.sub(r"\s*%", "/dL", text.strip())
        raise UnitProblem(
            f"unit '{text}' is ambiguous: pint reads % after a unit as a hundredth of it; "
            f"write {fixed} (or a ratio such as g/g; or the protocol says what it means: "
            f"'unit \"{text.strip()}\" means {fixed}')"
        )


def _refuse_misread_letters(text: str, spelling: str) -> None:
    """A lab's `K/uL` is 10^3/uL; pint's is kelvin per microlitre, and converts without a word."""
    for word in _WORD.findall(spelling):
        if word in _MISREAD:
            reading, meant = _MISREAD[word]
            fixed = re.sub(rf"(?<![A-Za-z]){word}(?![A-Za-z])", meant, text.strip())
            raise UnitProblem(
                f"unit '{text}' is ambiguous: pint reads {word} as {reading}; write {fixed} "
                f"(or the protocol says what it means: 'unit \"{text.strip()}\" means {fixed}')"
            )


#: Spellings refused before pint reads them, in the order they are tried.
_REFUSALS = (_refuse_unreadable, _refuse_logarithmic, _refuse_percent_of_unit,
             _refuse_misread_letters)


def _pint_text(spelling: str) -> str:
    for pattern, replacement in _REWRITES:
        spelling = pattern.sub(replacement, spelling)
    spelling = _COUNTED_POWER.sub(r"\1*cell", spelling.strip())
    return spelling.replace("//", "/")


def _counted(unit: pint.Unit) -> pint.Unit:
    """A bare count per volume (/uL, /mm3) is cells per volume, so it converts to cells/uL."""
    dimensionality = unit.dimensionality
    if dict(dimensionality) == {"[length]": -3}:
        return unit * registry().Unit("cell")
    return unit


def _refuse_implausible(text: str, unit: pint.Unit) -> None:
    """Refuse what no lab value is measured in (gauss has half-integer exponents in pint)."""
    dimensionality = unit.dimensionality
    for dimension, words in _IMPLAUSIBLE.items():
        if dimension in dimensionality:
            raise UnitProblem(
                f"unit '{text}' involves {words} ({_dimension(unit)}), which no lab value is "
                "measured in; is a letter misread (G gauss, K kelvin, T tesla)?"
            )
    if any(exponent % 1 for exponent in dimensionality.values()):
        raise UnitProblem(
            f"unit '{text}' has fractional dimensions ({_dimension(unit)}), as gauss does; "
            "is a letter misread (G/L means 10^9/L)?"
        )


def temperature(text: str, aliases: Aliases = ()) -> str | None:
    """The temperature unit `text` writes (`degC` or `degF`, through a declared alias too), or
    None for any other unit.

    >>> temperature("°F"), temperature("Cel"), temperature("mg/dL")
    ('degF', 'degC', None)
    """
    return _TEMPERATURE_SPELLINGS.get((_resolve(text, aliases) or text).strip())


class Affine(NamedTuple):
    """A conversion with an offset, `value x factor + offset`, exact: between temperatures."""

    factor: Fraction
    offset: Fraction

    def __call__(self, value: Decimal) -> Decimal:
        """`value` converted, then rounded once as every value is (`quantize`).

        >>> Affine(Fraction(5, 9), Fraction(-160, 9))(Decimal("100.4"))
        Decimal('38.000000')
        """
        exact = Fraction(value) * self.factor + self.offset
        scaled = round(exact * 10**PLACES)  # round() on a Fraction rounds half to even
        return quantize(Decimal(scaled).scaleb(-PLACES))


def scale(source: str, target: str, conversions: Conversions = (), *,
          aliases: Aliases = ()) -> Decimal | Affine:
    """What converts a value from `source` to `target`: their exact factor (`factor`), or for two
    temperatures the `Affine` conversion (a temperature and anything else do not convert).

    >>> scale("degC", "°F")
    Affine(factor=Fraction(9, 5), offset=Fraction(32, 1))
    >>> scale("g/dL", "g/L") == 10
    True
    """
    heat = temperature(source, aliases), temperature(target, aliases)
    if heat == (None, None):
        declared = _declared(source, target, conversions, aliases)
        return factor(source, target, conversions, aliases=aliases) if declared is None \
            else declared
    if None in heat:
        raise UnitProblem(f"cannot convert {source} to {target}: "
                          f"only {source if heat[0] else target} is a temperature")
    (a, b), (c, d) = _TEMPERATURES[heat[0]], _TEMPERATURES[heat[1]]
    return Affine(a / c, (b - d) / c)  # into degrees Celsius, then out of them


def _factors(conversions: Conversions) -> Conversions:
    """The declared conversions that are factors alone (no offset)."""
    return tuple(c for c in conversions if len(c) == 4)


def _declared(source: str, target: str, conversions: Conversions,
              aliases: Aliases) -> Affine | None:
    """`source` to `target` through a declared conversion with an offset (HbA1c's `% = 0.09148 x
    mmol/mol + 2.152`), either way, each end reached from its side by a factor alone (so mol/mol
    converts too); None when no such conversion joins them.

    >>> hba1c = ((Decimal(1), "mmol/mol", Decimal("0.09148"), "%", Decimal("2.152")),)
    >>> _declared("mmol/mol", "%", hba1c, ())
    Affine(factor=Fraction(2287, 25000), offset=Fraction(269, 125))
    >>> _declared("%", "mmol/mol", hba1c, ())(Decimal(7))
    Decimal('52.995190')
    """
    for amount, unit_a, equals, unit_b, offset in (c for c in conversions if len(c) == 5):
        rate, add = Fraction(equals) / Fraction(amount), Fraction(offset)
        if not rate:  # `check` refuses it: it converts nothing back
            continue
        for (x, y), there in (((unit_a, unit_b), Affine(rate, add)),
                              ((unit_b, unit_a), Affine(1 / rate, -add / rate))):
            try:
                into, out = factor(source, x, aliases=aliases), factor(y, target, aliases=aliases)
            except UnitProblem:
                continue
            into, out = Fraction(into), Fraction(out)
            return Affine(into * there.factor * out, there.offset * out)
    return None


@cache
def _read(text: str) -> pint.Unit:
    heat = _TEMPERATURE_SPELLINGS.get(text.strip())
    if heat is not None:
        return registry().Unit(heat)
    spelling = _spelling(text)
    for refuse in _REFUSALS:
        refuse(text, spelling)
    unit = _pint_parse(registry(), text, spelling)
    _refuse_large_powers(text, unit)
    try:
        registry().Quantity(Decimal(1), unit).to_base_units()  # its factor exists: not 1/0
    except _unreadable() as error:
        raise UnitProblem(f"unknown unit '{_shown(text)}'") from error
    unit = _counted(unit)
    _refuse_implausible(text, unit)
    return unit


def _refuse_large_powers(text: str, unit: pint.Unit) -> None:
    """`10^400/L` or `mg^99999` has no factor the 28 digits of a Decimal can hold: no lab writes
    a power beyond the SI prefixes' (10^24)."""
    for name, power in unit._units.items():  # pint offers no public accessor
        if abs(power) > (MAX_POWER_OF_TEN if name == "ten" else MAX_POWER):
            raise UnitProblem(
                f"unit '{text}' has a power beyond what a unit can hold ({name} ** {power}); "
                f"powers of ten go up to 10^{MAX_POWER_OF_TEN}, other powers up to {MAX_POWER}"
            )


def _resolve(text: str, aliases: Aliases) -> str | None:
    """The meaning a declared alias gives `text`, or None; spellings compare as `_spelling` does."""
    spelling = _spelling(text)
    for declared, meaning in aliases:
        if _spelling(declared) == spelling:
            return meaning
    return None


@cache
def parse_unit(text: str, aliases: Aliases = ()) -> pint.Unit:
    """The pint unit a clinical unit string stands for.

    `aliases` are the protocol's declared spellings, (spelling, meaning): they are how an author
    accepts a spelling refused here (`K/uL`), and they apply to this call only.

    >>> str(parse_unit("mL/min/1.73m2"))
    'milliliter / bsa173 / minute'
    >>> str(parse_unit("x10^9/L"))
    'cells * ten ** 9 / liter'
    >>> parse_unit("mL/min/{1.73_m2}") == parse_unit("mL/min/1.73m2")
    True
    >>> str(parse_unit("{copies}/mL")), str(parse_unit("[iU]/L"))
    ('copies / milliliter', 'international_unit / liter')
    >>> str(parse_unit("K/uL", aliases=(("K/uL", "10^3/uL"),)))
    'cells * ten ** 3 / microliter'
    """
    meaning = _resolve(text, aliases)
    if meaning is None:
        return _read(text)
    try:
        return _read(meaning)
    except UnitProblem as problem:
        raise UnitProblem(f"alias '{text}' = '{meaning}': {problem}") from problem


def quantize(value: Decimal) -> Decimal:
    """Round once, half to even, to `PLACES` places; -0 becomes 0 so output is byte-stable (a
    value not zero is as `quantize` leaves it: exact, in the roomy context, to `PLACES` places)."""
    rounded = value.quantize(QUANTUM, ROUND_HALF_EVEN, _ROOMY)  # by position: read faster
    return rounded if rounded else _ZERO


def same_dimension(a: str, b: str, conversions: Conversions = (), *, aliases: Aliases = ()) -> bool:
    """Whether a value in unit `a` can be converted to unit `b` (directly or by a declared factor).

    >>> same_dimension("/mm3", "x10^9/L"), same_dimension("U/L", "IU/L")
    (True, False)
    """
    try:
        scale(a, b, conversions, aliases=aliases)
    except UnitProblem:
        return False
    return True


def convert(
    value: Decimal,
    source: str,
    target: str,
    conversions: Conversions = (),
    *,
    aliases: Aliases = (),
) -> Decimal:
    """Convert `value` from unit `source` to `target`, exactly, then round once.

    `conversions` are substance-specific factors a protocol declares (`1 mg/dL = 17.1 umol/L` for
    bilirubin), given as (amount, unit, amount, unit); they bridge dimensions pint cannot.

    >>> bilirubin = ((Decimal(1), "mg/dL", Decimal("17.1"), "umol/L"),)
    >>> convert(Decimal("1.17"), "mg/dL", "umol/L", bilirubin)
    Decimal('20.007000')
    >>> convert(Decimal("0.5"), "mL/s/1.73m2", "mL/min/1.73m2")
    Decimal('30.000000')
    >>> convert(Decimal("1.5"), "x10^9/L", "/uL")
    Decimal('1500.000000')
    """
    return applied(scale(source, target, conversions, aliases=aliases), value)


@cache
def days_in(unit: str, aliases: Aliases = ()) -> Fraction | None:
    """The days in one `unit` of time, exactly: 1/24 for an hour, 7 for a week; None for a unit
    that is not a time, or whose days are no exact ratio (pint's month is a twelfth of a mean
    year): a window counted in such days would be a guess.

    >>> days_in("h"), days_in("week"), days_in("d"), days_in("month"), days_in("mg")
    (Fraction(1, 24), Fraction(7, 1), Fraction(1, 1), None, None)
    """
    try:
        if not same_dimension(unit, "d", aliases=aliases):
            return None
        there, back = factor(unit, "d", aliases=aliases), factor("d", unit, aliases=aliases)
    except UnitProblem:
        return None
    for exact, ratio in ((there, Fraction(there)), (back, 1 / Fraction(back) if back else None)):
        if exact == exact.to_integral_value() and ratio:
            return ratio
    return None


def per_days(rate: str) -> Fraction | None:
    """The days of the time a dose rate is per (`mg/d` 1, `mg/wk` 7, `mg/kg/d` 1), or None for
    a unit that is not per a whole number of days or a whole fraction of one (`mg`).

    >>> per_days("mg/wk"), per_days("mg/kg/d"), per_days("mg")
    (Fraction(7, 1), Fraction(1, 1), None)
    """
    head, _, per = rate.rpartition("/")
    return days_in(per) if head else None


def summed_over_days(daily: str) -> str | None:
    """The unit of a daily dose summed over the days it was taken (`mg/d` gives `mg`, `mg/kg/d`
    gives `mg/kg`), or None for a unit that is not a dose per day.

    >>> summed_over_days("mg/kg/d"), summed_over_days("mg/day"), summed_over_days("mg/m2")
    ('mg/kg', 'mg', None)
    """
    head, _, per = daily.rpartition("/")
    return head if head and days_in(per) == 1 else None


def applied(by: Decimal | Affine, value: Decimal) -> Decimal:
    """`value` converted by what `scale` gives (worked out once per pair of units, then applied
    to every value), rounded once."""
    return by(value) if type(by) is Affine else quantize(value * by)


@cache
def factor(
    source: str, target: str, conversions: Conversions = (), *, aliases: Aliases = ()
) -> Decimal:
    """The exact factor from `source` to `target` (every unit here is a pure multiple of another);
    computed by pint once per pair of units, then reused for every patient.

    >>> factor("10^3/uL", "10*9/L")
    Decimal('1')
    """
    if temperature(source, aliases) or temperature(target, aliases):
        if temperature(source, aliases) == temperature(target, aliases):
            return Decimal(1)
        raise UnitProblem(f"cannot convert {source} to {target} by a factor: a temperature's "
                          "scale has an offset (0 °C is 32 °F)")
    source_unit, target_unit = parse_unit(source, aliases), parse_unit(target, aliases)
    ratios = _ratio_of(source, aliases), _ratio_of(target, aliases)
    exact = _direct(Decimal(1), source_unit, target_unit) if ratios[0] == ratios[1] else None
    if exact is None:
        exact = _bridged(Decimal(1), source_unit, target_unit, conversions, aliases)
    if not source.strip() and exact != 1:  # a plain number where a quantity or a % goes
        raise UnitProblem(f"the unit is blank, a plain number: give the one the value is in "
                          f"(like {target})" + ("" if exact is None else
                                                f"; a plain 1 is {exact.normalize():f} {target}"))
    if exact is None:
        dimensions = _dimension(source_unit, ratios[0]), _dimension(target_unit, ratios[1])
        molar = ("substance" in dimensions[0]) != ("substance" in dimensions[1]) and \
            ratios == (None, None)
        raise UnitProblem(
            f"cannot convert {source} ({dimensions[0]}) to {target} ({dimensions[1]})" + (
                f"; between mass (or activity) and substance it takes the substance's own "
                f"factor, which the protocol declares on the concept: 'convert 1 {target} = N "
                f"{source}'" if molar else "")
        )
    return exact


def _direct(value: Decimal, source: pint.Unit, target: pint.Unit) -> Decimal | None:
    ureg = registry()
    try:
        return Decimal(ureg.Quantity(value, source).to(target).magnitude)
    except _pint().errors.DimensionalityError:
        return None


@cache
def _ratio_of(text: str, aliases: Aliases = ()) -> frozenset[str] | None:
    """What a dimensionless unit is a ratio of, read from its spelling before pint cancels it:
    {'substance'} for mmol/mol, {'mass'} for mg/g or mg/mg, {} for % or a plain number; None for
    a unit with a dimension. Two ratios of different things are different things: HbA1c in
    mmol/mol (IFCC) is not a tenth of HbA1c in % (NGSP), and mg/g is not %."""
    ureg = registry()
    if ureg.Quantity(1, parse_unit(text, aliases)).dimensionality:
        return None
    spelling = _pint_text(_spelling(_resolve(text, aliases) or text))
    found: set[str] = set()
    for word in re.findall(r"[A-Za-z_]+", spelling):
        try:
            found |= {d.strip("[]") for d in ureg.get_dimensionality(word)}
        except (_pint().errors.PintError, AttributeError, ValueError, KeyError):
            continue  # not a unit (pint's `dimensionless` itself raises KeyError here)
    return frozenset(found)


def _bridged(
    value: Decimal,
    source: pint.Unit,
    target: pint.Unit,
    conversions: Conversions,
    aliases: Aliases,
) -> Decimal | None:
    for amount, unit_a, equals, unit_b in _factors(conversions):
        sides = ((amount, unit_a), (equals, unit_b))
        for (x, ux), (y, uy) in (sides, sides[::-1]):
            into_x = _direct(value, source, parse_unit(ux, aliases))
            if into_x is None:
                continue
            bridged = _direct(into_x * y / x, parse_unit(uy, aliases), target)
            if bridged is not None:
                return bridged
    return None


def _dimension(unit: pint.Unit, ratio: frozenset[str] | None = None) -> str:
    dimensionality = registry().Quantity(1, unit).dimensionality
    if not dimensionality:
        return f"a ratio of {' and '.join(sorted(ratio))}" if ratio else "dimensionless"
    return str(dimensionality).replace("[", "").replace("]", "")
