"""The typed model of a protocol: what the parser builds and every later stage reads.

Frozen dataclasses, each with the `Span` it came from, so nothing after parsing depends on lark and every
diagnostic, rule and trail line can point back at `file:line`. Names follow the protocol's own words:
inclusion/exclusion criteria with the protocol's ids and verbatim sentences, concepts, definitions.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from functools import cached_property
from typing import TYPE_CHECKING, Union

from protocol.errors import Span
# Formulas of derived values have a module of their own; read here with the rest of the model.
from protocol.expressions import (  # noqa: F401 - read as m.Number, m.subexpressions, ...
    Arithmetic, Call, Choice, Expr, Number, Power, Reading, formula_names, subexpressions)
# Windows and the days they count from likewise, and the clauses of a history's filter.
from protocol.windows import (  # noqa: F401 - read as m.Window, m.ORDER, ...
    ORDER, WINDOW_WORDS, Anchor, Extreme, Reach, Window, window_day)
from protocol.filters import Clause, Either, Where, clauses  # noqa: F401 - read as m.Where, ...
# The conditions on a medication's doses likewise.
from protocol.doses import (  # noqa: F401 - read as m.CurrentDose, m.DAYS, ...
    AVERAGE, DAYS, HIGHEST, TOTAL, Continuous, Course, CumulativeDose, CurrentDose, StableDose)

if TYPE_CHECKING:  # a protocol holds its escalation too: its model is a module of its own
    from protocol.escalation_model import Design, Escalation


class Kind(Enum):
    """What a concept is, which decides how facts about it are read and which conditions apply.

    quantity/lab/score/scale/titre/age are measured numbers (a scale has whole steps within
    declared bounds, ECOG 0 to 5; a titre is a dilution, ANA 1:160, read as its reciprocal) (the
    most recent value on or before screening counts);
    lab adds the laboratory's reference range; category is one value of a declared set; flag is a yes/no
    recorded by a clinician; judgment is an investigator's attestation (pending = NEEDS_REVIEW);
    event is a dated occurrence (history); medication is a list of dated courses of named drugs;
    date is one day a window may count from (first dose, enrolment, consent).
    derived is a number the network computes from other concepts by a formula (`crcl`, `bmi`).
    A value read as of a named day (`uacr at visit_1`) is of the kind of the concept it reads.
    """

    QUANTITY = "quantity"
    LAB = "lab"
    SCORE = "score"
    SCALE = "scale"
    TITRE = "titre"
    AGE = "age"
    CATEGORY = "category"
    FLAG = "flag"
    JUDGMENT = "judgment"
    EVENT = "event"
    MEDICATION = "medication"
    DATE = "date"
    DERIVED = "derived"

    @property
    def said(self) -> str:
        """The kind with its article, as messages name it: `a flag`, `an event`."""
        return f"an {self.value}" if self.value[0] in "aeiou" else f"a {self.value}"


#: Measured kinds whose values are results of a day, compared with numbers: what a reading at a
#: day, a value per side, a confirmation and a boundary case's threshold take (not an age).
RESULTS = (Kind.QUANTITY, Kind.LAB, Kind.SCORE, Kind.SCALE, Kind.TITRE)
MEASURED = (*RESULTS, Kind.AGE)
#: Measured kinds whose values are plain numbers, without a unit (a titre's is the reciprocal of
#: its dilution: 1:80 is 80).
UNITLESS = (Kind.SCORE, Kind.SCALE, Kind.TITRE)
LISTED = (Kind.EVENT, Kind.MEDICATION)
#: Kinds whose result that counts is of a day: a window may count from it (`the date of anc`),
#: and a concept of one may be read as of a named day (`uacr_at_visit_1: uacr at visit_1`; an age
#: says its day itself, `age at visit_1`, and a history is read in windows).
DATED_RESULTS = (*RESULTS, Kind.CATEGORY, Kind.FLAG)
#: A titre's threshold as a `Quantity`'s unit: the number is the dilution's reciprocal (`1:80`).
DILUTION = "1:"


@dataclass(frozen=True)
class Quantity:
    """A number as written, with its unit as written (None for plain numbers and scores)."""

    span: Span
    value: Decimal
    unit: str | None

    def __str__(self) -> str:
        if self.unit == DILUTION:
            return f"{DILUTION}{self.value}"
        return f"{self.value} {self.unit}" if self.unit else str(self.value)


@dataclass(frozen=True)
class Duration:
    """A calendar duration: `60 days`, `4 weeks`, `6 months`, `1 year`."""

    span: Span
    amount: int
    unit: str  # days | weeks | months | years

    def __str__(self) -> str:
        unit = self.unit[:-1] if self.amount == 1 else self.unit
        return f"{self.amount} {unit}"


@dataclass(frozen=True)
class Value:
    """One member of a value set, with the synonyms a fact file may use for it (MMF = mycophenolate)."""

    span: Span
    name: str
    synonyms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Attribute:
    """What an occurrence or course may record beside its dates: one of a declared set of values
    (`malignancy: event with type {basal_cell_carcinoma = "basal cell carcinoma", melanoma}`), or
    a number (`numeric`), a quantity in `unit` (`lesion: event with diameter in mm`) or a plain
    one (`chemo: medication {...} with cycles number`), which filters compare with a threshold."""

    span: Span
    name: str
    values: tuple[Value, ...]
    numeric: bool = False
    unit: str | None = None

    def canonical(self, name: str) -> str | None:
        """The declared value a fact's wording stands for, case-insensitively, or None."""
        folded = name.casefold()
        return next((v.name for v in self.values
                     if any(w.casefold() == folded for w in (*v.synonyms, v.name))), None)


#: Item fields a filter reads that are not declared attributes: a medication's drug, its dose,
#: and a course's duration (its length up to screening, worked out from its dates).
DRUG, DOSE, DURATION = "drug", "dose", "duration"
#: The units a course's duration is compared in: completed days (weeks are 7) or completed
#: calendar months (years are 12), as `X for at least D` measures a course.
DURATION_UNITS = ("day", "days", "week", "weeks", "month", "months", "year", "years")
RESERVED_ATTRIBUTES = frozenset({DRUG, DOSE, "grade", "date", "end", "ongoing", "present",
                                 "concept", "unit", "value", "source", "recorded_by", "reason",
                                 "comparator", "limit", "reference_range"})


@dataclass(frozen=True)
class Conversion:
    """A substance-specific factor pint cannot know: `1 mg/dL = 17.1 umol/L` for bilirubin; or a
    conversion with an offset, `% = 0.09148 x mmol/mol + 2.152` for HbA1c (IFCC to NGSP): 1
    mmol/mol is 0.09148 %, then `offset` is added."""

    span: Span
    source: Quantity
    target: Quantity
    offset: Decimal | None = None

    def __str__(self) -> str:
        if self.offset is None:
            return f"{self.source} = {self.target}"
        sign = "-" if self.offset < 0 else "+"
        return f"{self.target.unit} = {self.target.value} x {self.source.unit} {sign} " \
               f"{abs(self.offset)}"


@dataclass(frozen=True)
class Ref:
    """A name used in a condition or declaration: a concept or a definition."""

    span: Span
    name: str


@dataclass(frozen=True)
class Concept:
    """A declared concept: facts name it, conditions compare it."""

    span: Span
    name: str
    kind: Kind
    unit: str | None = None
    values: tuple[Value, ...] = ()
    valid_for: Duration | None = None
    graded: bool = False
    #: An event whose occurrences are planned (`planned event`): read whatever their date,
    #: also after the screening date, where other histories' facts are set aside.
    planned: bool = False
    #: An event that lasts (`event lasting`): an occurrence recorded with its first day only
    #: may still be going on, as a course without an end may; another event's is of that day.
    lasting: bool = False
    dosed_in: str | None = None
    equivalence: str | None = None
    weight: Ref | None = None  # the body-weight concept a dose per kg is divided by
    conversions: tuple[Conversion, ...] = ()
    label: str | None = None
    steps: tuple[Decimal, Decimal] | None = None  # a scale's lowest and highest value
    #: A derived value's reference range, as the protocol fixes it (`reference 0.26 to 1.65`).
    reference: tuple[Decimal, Decimal] | None = None
    counts_as: Ref | None = None  # a broader concept each of its facts is also a fact of
    #: The date concept whose day it is read at: an age's (enrolment, consent), or a value's as
    #: of a named day (`reads`); None: the screening date.
    at: Ref | None = None
    #: The concept whose facts it reads as of the day `at` names (`uacr_at_visit_1: uacr at
    #: visit_1`): of the same kind, unit and values, its own `valid_for` counted back from that
    #: day (None: a result of that day only); None for a concept read from its own facts.
    reads: Ref | None = None
    formula: Expr | None = None  # a derived value's formula, in `unit`
    #: The derived value whose formula this one is, its inputs read at a day (`egfr_at_visit_1:
    #: egfr at visit_1`: `formula` reads `creatinine_at_visit_1` where egfr's reads `creatinine`).
    formula_of: Ref | None = None
    attributes: tuple[Attribute, ...] = ()  # what an event's occurrence or a course records
    #: Measured per side (`per ankle {left, right}`): the word and the sides, each side's value
    #: a concept of its own named `<name>_<side>`; this concept names the family and takes no
    #: facts. A side's concept has `side`, (the family's name, its side), and the word.
    per: str | None = None
    sides: tuple[str, ...] = ()
    side: tuple[str, str] | None = None
    #: The lowest or highest of the results of `reads` in a window (`psa_nadir: lowest psa on or
    #: after adt_start`): a nadir or a peak; None for a concept read otherwise.
    extreme: Extreme | None = None

    def attribute(self, name: str | None) -> Attribute | None:
        """A declared attribute by name; a medication's `drug` is one too (its value set), and
        its `duration` (a course's length, a number of days or months); None names what `other
        than {...}` reads: the drug, or an event's first attribute of a set of values."""
        if name is None:
            if self.kind is Kind.MEDICATION:
                name = DRUG
            else:
                return next((a for a in self.attributes if not a.numeric), None)
        if name == DRUG and self.kind is Kind.MEDICATION:
            return Attribute(self.span, DRUG, self.values)
        if name == DURATION and self.dated_duration:
            return Attribute(self.span, DURATION, (), numeric=True)  # worked out from its dates
        return next((a for a in self.attributes if a.name == name), None)

    @property
    def dated_duration(self) -> bool:
        """Whether a filter's `duration` is an item's length from its dates: a course's, an
        occurrence's (unless the event records one, `with duration in days`), not a plan's."""
        return self.kind is Kind.MEDICATION or self.kind is Kind.EVENT and not self.planned \
            and all(a.name != DURATION for a in self.attributes)

    def attribute_written(self, name: str) -> Attribute | None:
        """`attribute`, by its name as a condition writes it: as declared or in the plural
        (`lines` for `line`, `half_lives` for `half_life`)."""
        forms = [name, name[:-1]] if name.endswith("s") else [name]
        if name.endswith("ves"):
            forms += [name[:-3] + "fe", name[:-3] + "f"]
        return next((a for a in map(self.attribute, forms) if a is not None), None)

    @property
    def runs_on(self) -> bool:
        """Whether an item without an end may be going on: a course, a lasting event's."""
        return self.kind is Kind.MEDICATION or self.lasting

    @property
    def factors(self) -> tuple[tuple, ...]:
        """Its `convert` declarations as the units module takes them: (amount, unit, amount,
        unit), and the offset after them when there is one (`units.Conversions`)."""
        return tuple((c.source.value, c.source.unit, c.target.value, c.target.unit)
                     + (() if c.offset is None else (c.offset,)) for c in self.conversions)

    @property
    def read_as(self) -> str | None:
        """How a concept read from another's results reads them: `uacr read at visit_1`, `the
        lowest psa on or after adt_start`; None for one read from its own facts."""
        if self.reads is None:
            return None
        if self.extreme is not None:
            return f"the {self.extreme.which} {self.reads.name} {self.extreme.window}"
        assert self.at is not None
        return f"{self.reads.name} read at {self.at.name}"

    def canonical(self, name: str) -> str | None:
        """The declared value a fact's wording stands for, case-insensitively, or None."""
        return self._names.get(name.casefold())

    @cached_property
    def _names(self) -> dict[str, str]:
        names: dict[str, str] = {}
        for value in self.values:
            for word in (*value.synonyms, value.name):
                names.setdefault(word.casefold(), value.name)
        return names


@dataclass(frozen=True)
class UnitAlias:
    """`unit "K/uL" means 10^3/uL`: how this protocol's fact files spell a unit the units
    library refuses or would misread."""

    span: Span
    spelling: str
    meaning: str


@dataclass(frozen=True)
class FhirMap:
    """`map "cd19-ucart-sle.fhir-map.yaml"`: the file that says which FHIR codes are which of
    this protocol's concepts, so a patient given as a FHIR Bundle reads as facts. `path` is as
    written, from the protocol file's folder."""

    span: Span
    path: str


@dataclass(frozen=True)
class EquivalenceEntry:
    """`methylprednisolone 4 mg = 5 mg`: so many mg of this drug equal so many of the reference."""

    span: Span
    drug: str
    amount: Quantity
    equals: Quantity


@dataclass(frozen=True)
class Equivalence:
    """A documented dose-equivalence table, e.g. glucocorticoids to prednisone."""

    span: Span
    name: str
    source: str | None
    entries: tuple[EquivalenceEntry, ...]


# --- conditions -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Truth:
    """A flag, judgment or definition used as a condition on its own: `childbearing_potential`."""

    span: Span
    ref: Ref


@dataclass(frozen=True)
class Recorded:
    """`crcl_measured is recorded`: whether the record gives a usable value of the concept (a
    number, a value known within bounds, a category, a flag, a day), never open. "Creatinine
    clearance measured, or calculated by Cockcroft-Gault" chooses by it: `crcl_measured >= 60
    mL/min if crcl_measured is recorded else crcl >= 60 mL/min`. A stale value is not usable,
    so not recorded; `negated` for `is not recorded`."""

    span: Span
    ref: Ref
    negated: bool = False


@dataclass(frozen=True)
class Compare:
    """`egfr >= 30 mL/min/1.73m2`: a measured concept against a threshold, converted to its unit."""

    span: Span
    ref: Ref
    op: str
    threshold: Quantity


@dataclass(frozen=True)
class Confirmed:
    """`fasting_glucose > 240 mg/dL confirmed on another day` ("confirmed by a second measurement,
    not on the same day"), also of a range (`platelets 100 to 400 x10^9/L confirmed ...`) or a
    multiple of the reference limit (`alt > 3 x ULN confirmed ...`): the comparison holds on the
    latest day's result and on the result of the day before it that has one (both within the
    concept's validity)."""

    span: Span
    measured: Compare | CompareReference | InRange

    @property
    def ref(self) -> Ref:
        return self.measured.ref


@dataclass(frozen=True)
class CompareReference:
    """`ast <= 3.0 x ULN`, `hbv_dna > upper reference`: against the lab's own reference range
    (each fact's), or a derived value's, as the protocol declares it (`flc_ratio: derived in
    dimensionless reference 0.26 to 1.65 = ...`)."""

    span: Span
    ref: Ref
    op: str
    factor: Decimal
    bound: str  # "upper" | "lower"

    def as_compare(self, concept: Concept) -> Compare:
        """Against a derived value's declared range: the comparison with factor x its limit, in
        its unit (`flc_ratio > upper reference` is `flc_ratio > 1.65 dimensionless`)."""
        assert concept.reference is not None
        limit = concept.reference[1 if self.bound == "upper" else 0]
        return Compare(self.span, self.ref, self.op,
                       Quantity(self.span, self.factor * limit, concept.unit))


@dataclass(frozen=True)
class Is:
    """`ecg is "no obvious abnormality"`, `disease_activity is one of {moderate, severe}`."""

    span: Span
    ref: Ref
    values: tuple[Value, ...]
    negated: bool = False


@dataclass(frozen=True)
class Occurred:
    """`cns_lupus_intervention within 60 days before screening`, `gvhd with grade >= 2 ...`,
    `malignancy where type is not basal_cell_carcinoma within 5 years before screening`: some
    item that passes every filter clause falls in the window."""

    span: Span
    ref: Ref
    window: Window
    grade: tuple[str, Decimal] | None = None
    filters: tuple[Clause, ...] = ()


@dataclass(frozen=True)
class NoKnown:
    """`no known history of hepatitis`, `no known chemotherapy within 4 weeks before first_dose`:
    the open-world reading, as the protocol says it: true when nothing is recorded. `known`:
    `known history of hiv`, "known HIV infection", its negation in the same open world: false
    when nothing is recorded, true when an occurrence counts."""

    span: Span
    occurred: Occurred
    known: bool = False

    def status(self, counts: str) -> str:
        """The atom's status ("true", "false", "unknown") from whether an occurrence counts;
        nothing recorded counts none."""
        return counts if self.known else {"true": "false", "false": "true"}.get(counts, counts)

    @property
    def ref(self) -> Ref:
        return self.occurred.ref


@dataclass(frozen=True)
class Counted:
    """`at least 2 chemo where line is one of {2, 3} ever`: at least `count` distinct items (each
    occurrence or course once) meet the occurrence condition; `at least 2 lines of chemo ever`
    (`by`): items with at least `count` distinct values of an attribute."""

    span: Span
    count: int
    occurred: Occurred
    by: Ref | None = None

    def attribute(self, concept: Concept) -> Attribute | None:
        """The attribute `by` names, as written or in the plural (`lines` for `line`)."""
        return None if self.by is None else concept.attribute_written(self.by.name)

    @property
    def ref(self) -> Ref:
        return self.occurred.ref


@dataclass(frozen=True)
class Latest:
    """`the latest allo_sct more than 6 months before first_dose`: the most recent item (by its
    start) that passes the filter started at least / more than a duration before the anchor; so
    every such item did, and there is one."""

    span: Span
    occurred: Occurred

    @property
    def ref(self) -> Ref:
        return self.occurred.ref


@dataclass(frozen=True)
class OfLatest:
    """`response of the latest mm_therapy is refractory` ("refractory to the last line of
    therapy"), `cycles of the latest mm_therapy >= 2`: the most recent item (the one that started
    last; of two on one day, the one that ended last) passes the clause, kept as the filter of an
    occurrence `ever`. Where the dates do not settle which item is the most recent, every item
    that may be it is asked."""

    span: Span
    occurred: Occurred

    @property
    def clause(self) -> Where:
        (clause,) = self.occurred.filters
        assert isinstance(clause, Where)
        return clause

    @property
    def ref(self) -> Ref:
        return self.occurred.ref


#: Atoms that wrap an occurrence condition and ask something else of it.
WRAPPERS = (NoKnown, Counted, Latest, OfLatest)


@dataclass(frozen=True)
class InRange:
    """`age 12 to 17 years`: a measured value between two bounds, both inclusive."""

    span: Span
    ref: Ref
    low: Quantity
    high: Quantity


@dataclass(frozen=True)
class Includes:
    """`antimalarial includes hydroxychloroquine`: the medication history names this drug."""

    span: Span
    ref: Ref
    drug: Value


@dataclass(frozen=True)
class And:
    span: Span
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Or:
    span: Span
    items: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    span: Span
    item: Condition

    @property
    def written(self) -> bool:
        """Whether the rule says `not` here: `X unless Y` is `X and not Y`, whose `not` has Y's
        own span (`grammar.parser`), and a sentence says "unless" as the rule does."""
        return self.span != self.item.span


@dataclass(frozen=True)
class AtLeast:
    """`at least 2 of [...]`; `any of` is at least 1, `all of` is at least all."""

    span: Span
    count: int
    items: tuple[Condition, ...]

    @property
    def counts_one_list(self) -> bool:
        """`X includes at least k of {...}`: a count of distinct drugs on one list, counted in
        the network by the drugs the list holds (a hit per drug), not condition by condition."""
        names = {i.ref.name for i in self.items if isinstance(i, Includes)}
        return len(names) == 1 and all(isinstance(i, Includes) for i in self.items)


Atom = Union[Truth, Compare, Confirmed, CompareReference, Is, Occurred, NoKnown, Counted, Latest,
             OfLatest, InRange, Includes, Course, Continuous, CurrentDose, CumulativeDose,
             StableDose, Recorded]
Condition = Union[Atom, And, Or, Not, AtLeast]
ATOMS = (Truth, Compare, Confirmed, CompareReference, Is, Occurred, NoKnown, Counted, Latest,
         OfLatest, InRange, Includes, Course, Continuous, CurrentDose, CumulativeDose, StableDose,
         Recorded)


def atoms(condition: Condition) -> list[Atom]:
    """The atoms of a condition, left to right."""
    if isinstance(condition, (And, Or, AtLeast)):
        return [a for item in condition.items for a in atoms(item)]
    if isinstance(condition, Not):
        return atoms(condition.item)
    return [condition]


def refs(condition: Condition) -> list[Ref]:
    """Every name a condition reads, left to right: each atom's concept or definition, and the
    concept a window is anchored on."""
    found = []
    for atom in atoms(condition):
        found.append(atom.ref)
        window = atom.occurred.window if isinstance(atom, WRAPPERS) else \
            getattr(atom, "window", None)
        anchor = atom.anchor if isinstance(atom, (CurrentDose, StableDose, Continuous)) else \
            window.anchor if window is not None else None
        if anchor is not None and anchor.ref is not None:
            found.append(anchor.ref)
    return found


# --- definitions and criteria ---------------------------------------------------------------------


@dataclass(frozen=True)
class Definition:
    """`define refractory_sle "...": ...`: a derived concept, true, false or unknown per patient."""

    span: Span
    name: str
    text: str | None
    condition: Condition


@dataclass(frozen=True)
class NamedValues:
    """`set egfr_tki: {gefitinib, erlotinib, afatinib}`: a value set written once and used by its
    name wherever a set is (`includes any of egfr_tki`), so that a list a protocol repeats in
    several criteria cannot drift apart. The parser puts its values in place of each use; its
    uses are kept (`Protocol.set_uses`) for the checks and the editor."""

    span: Span
    name: str
    values: tuple[Value, ...]
    text: str | None = None


class Role(Enum):
    INCLUSION = "inclusion"
    EXCLUSION = "exclusion"


@dataclass(frozen=True)
class Criterion:
    """An inclusion or exclusion criterion with the protocol's id and verbatim sentence.

    A criterion has either a condition or parts (I4: cardiac, renal, liver, lung), each part a criterion
    of its own with id `I4.cardiac` and its own verdict. `applies` is the applies-when condition.
    """

    span: Span
    role: Role
    id: str
    text: str | None
    applies: Condition | None
    condition: Condition | None
    parts: tuple[Criterion, ...] = ()

    def leaves(self) -> list[Criterion]:
        """The criteria that get a verdict of their own: the parts, or the criterion itself."""
        return [leaf for part in self.parts for leaf in part.leaves()] if self.parts else [self]


@dataclass(frozen=True)
class Import:
    """`import "lib/three-plus-three.proto-rules"`, resolved relative to the importing file."""

    span: Span
    path: str


@dataclass(frozen=True)
class Module:
    """An imported file: its path as resolved and its text (for carets and the trail's hashes)."""

    path: str
    source: str


@dataclass(frozen=True)
class Protocol:
    """A whole `.proto-rules` file: header, concepts, tables, definitions and criteria."""

    span: Span
    path: str
    source: str
    id: str | None
    title: str | None
    version: str | None
    origin: str | None
    concepts: tuple[Concept, ...]
    equivalences: tuple[Equivalence, ...]
    definitions: tuple[Definition, ...]
    criteria: tuple[Criterion, ...]
    imports: tuple[Import, ...] = ()
    designs: tuple[Design, ...] = ()  # declared here or in imported modules
    escalations: tuple[Escalation, ...] = ()  # one is allowed; the checker reports a second
    modules: tuple[Module, ...] = ()
    unit_aliases: tuple[UnitAlias, ...] = ()
    maps: tuple[FhirMap, ...] = ()  # one is allowed; the checker reports a second
    sets: tuple[NamedValues, ...] = ()
    set_uses: tuple[Ref, ...] = ()  # each use of a set by its name, in file order
    #: The sets of the modules it imports (and they import), which its conditions may name too.
    imported_sets: tuple[NamedValues, ...] = ()

    @property
    def aliases(self) -> tuple[tuple[str, str], ...]:
        """The declared unit spellings as the units library takes them: (spelling, meaning)."""
        return tuple((alias.spelling, alias.meaning) for alias in self.unit_aliases)

    @property
    def escalation(self) -> Escalation | None:
        return self.escalations[0] if self.escalations else None

    @property
    def narrowed(self) -> frozenset[str]:
        """The histories others count as (`lenalidomide: medication {...} counts as imid`): a
        patient's record of one of them may be open, its items given only through the narrower
        ones (a lenalidomide course and no `imid` fact), which can make a condition on it true
        but never false."""
        return frozenset(c.counts_as.name for c in self.concepts
                         if c.counts_as is not None and c.kind in LISTED)

    def design(self, name: str) -> Design | None:
        return next((d for d in self.designs if d.name == name), None)

    def source_of(self, path: str) -> str | None:
        """The text of this file or of an imported module, for rendering a diagnostic there."""
        if path == self.path:
            return self.source
        return next((mod.source for mod in self.modules if mod.path == path), None)

    def concept(self, name: str) -> Concept | None:
        return next((c for c in self.concepts if c.name == name), None)

    def definition(self, name: str) -> Definition | None:
        return next((d for d in self.definitions if d.name == name), None)

    def equivalence(self, name: str) -> Equivalence | None:
        return next((e for e in self.equivalences if e.name == name), None)

    def named_values(self, name: str) -> NamedValues | None:
        """The set a condition names: the file's own, or an imported module's."""
        return next((s for s in (*self.sets, *self.imported_sets) if s.name == name), None)

    def leaves(self) -> list[Criterion]:
        """Every criterion that gets a verdict, in file order: what a decision is made of."""
        return [leaf for criterion in self.criteria for leaf in criterion.leaves()]
