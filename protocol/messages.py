"""One message template per kind of diagnostic, and which kinds are only warnings.

Kept apart from the checks that emit them (as pyflakes keeps its `messages.py`), so the wording
authors read is in one place, and a reviewer sees every sentence the checker can say.
"""

from __future__ import annotations

from protocol import escalation_checks

#: One message template per kind of diagnostic. A kind is its code, or `code/case` when one code
#: needs more than one sentence; the diagnostic carries only the code.
TEMPLATES: dict[str, str] = {
    "undefined-name": "unknown name '{name}'{hint}",
    "undefined-name/equivalence": "unknown equivalence table '{name}'{hint}",
    "duplicate-criterion": "criterion id '{name}' is already used at line {line}",
    "duplicate-concept": "concept '{name}' is already declared at line {line}",
    "duplicate-definition": "definition '{name}' is already declared at line {line}",
    "duplicate-equivalence": "equivalence table '{name}' is already declared at line {line}",
    "duplicate-map": "a FHIR map is already named at line {line}; a protocol reads one",
    "duplicate-value": "'{name}' is already listed at line {line}",
    "duplicate-value/case": "'{name}' is '{first}' (line {line}) as facts are matched, whatever "
    "their case: leave it out",
    "name-clash": "definition '{name}' has the name of the concept declared at line {line}",
    "name-keyword": "'{name}' is a word conditions are written with ('before screening', 'a or "
    "b'): a rule would read the word, not this; name it otherwise",
    "name-clash/set": "set '{name}' has the name of the concept or definition declared at line "
    "{line}",
    "unit-unknown": "{problem}",
    "count-number": "'{count} {by} of {name}' counts the different values of its {attribute}, "
    "a number (each item may record another): count items, or compare it in a filter",
    "attribute-number": "{name} is a number: compare it with a threshold, like '{example}'",
    "attribute-values": "{name} is one of a set of values: name them, like '{example}'",
    "unit-temperature": "{name}: a temperature ({unit}) is a quantity: a {kind} in {unit} has no "
    "meaning here (a temperature's scale has an offset: no ratio or dose is taken of it)",
    "unit-unknown/missing": "'{quantity}' needs a unit, like 1 mg/dL = 17.1 umol/L",
    "unit-dimension": "{name} is measured in {unit}; {quantity} is {what}",
    "unit-dimension/missing": "{name} needs a unit, e.g. {example}",
    "unit-dimension/score": "{name} is a score: write a plain number or 'points', not {unit}",
    "unit-dimension/number": "{name} is a plain number: write the threshold without a unit, not "
    "{unit}",
    "unit-dimension/dose": "{name} is dosed in {unit}; {quantity} is {what}",
    "unit-dimension/cumulative": "{name}'s cumulative dose is in {unit}; {quantity} is {what}",
    "confirmed-reading": "'{name}' is {read} read at {day}, one day's results: confirm '{read}' "
    "itself on another day",
    "cumulative-unit": "{name} is dosed in {unit}, not per day: {what} (declare it 'dosed in "
    "{unit}/d'; an administration is a course of one day)",
    "cumulative-unit/rate": "{name} is dosed in {unit}, not per day: {what} (declare it 'dosed "
    "in {daily}', and give its doses in any rate: 15 mg/wk is read as 2.142857 mg/d)",
    "cumulative-window": "a cumulative dose is summed up to the screening date, or 'within D "
    "before A' (A the screening date or a date concept), not '{window}'",
    "daily-window": "{reading} daily dose is over the days of a span: write 'within D before A' "
    "after it (A the screening date or a date concept){instead}",
    "type-mismatch": "'{name}' is {kind}: {advice}",
    "unknown-value": "'{value}' is not a value of '{name}'{hint}",
    "filter-never": "'{clause}' names every {attribute} {name} declares: an item that records "
    "one never passes it (one that records none may, UNKNOWN at best); name fewer values",
    "at-least": "'at least {count} of' needs a count from 1 to {n}, the number of items listed",
    "at-least-limit": "'at least {count} of' lists {n} conditions; lists of at most {limit} are "
    "tested",
    "equivalence": "'{drug} {amount} = {equals}' must be two masses above 0, like 4 mg = 5 mg",
    "missing-equivalence": "'{drug}' of {name} has no entry in '{table}' to convert its doses",
    "cycle": "definitions refer to each other in a cycle: {path}",
    "cycle/derived": "derived values and definitions refer to each other in a cycle: {path}",
    "formula-dimension": "{name} is declared in {unit} ({declared}); its formula gives {what}"
    "{hint}",
    "formula-hundred": "{name} is declared in {unit}, which shows a fraction as a percentage "
    "(0.13 is 13 %): this is a ratio of like quantities times 100, 100 times too large; drop "
    "'x 100' (or read the inputs as plain numbers, '(weight in kg)')",
    "formula-dimension/mix": "{what} needs values of one dimension, not {left} and {right}",
    "formula-dimension/plain": "{operation} takes a plain number, not {what}: read its inputs as "
    "'name in UNIT'",
    "formula-dimension/base": "a power whose exponent is worked out, '^(...)', takes a plain "
    "number as its base, not {what} (a unit to a power that varies has no dimension): read its "
    "inputs as 'name in UNIT', like '(creatinine in mg/dL)^(...)'",
    "formula-dimension/exponent": "an exponent is a plain number, not {what}: read its inputs as "
    "'name in UNIT', like '0.993^(age in years)'",
    "formula-unit": "{name} is measured in {unit}; it cannot be read in {target} ({what})",
    "division-by-zero": "division by zero",
    "formula-temperature": "'{name}' is a temperature, whose scale has an offset (0 °C is 32 "
    "°F): a formula does not compute with it; compare it in a condition",
    "formula-mean": "mean(...) averages one concept's results of a day: write a concept's name, "
    "like 'mean(qtcf)', or 'mean(qtcf in ms)'",
    "formula-mean/kind": "mean(...) averages a concept's results of one day: '{name}' is {kind}, "
    "which has one value",
    "formula-too-large": "{name} has {ways} ways to decide its conditional terms, one rule each "
    "(limit {limit}): compute parts of it as derived values of their own",
    "formula-too-large/joins": "{name} reads {count} derived values and definitions; a rule of the "
    "engine joins at most {limit}: compute some of them in a derived value of their own",
    "zero-duration": "'{duration}' is an empty span of time; it must be at least 1",
    "unused-definition": "definition '{name}' is never used",
    "unused-concept": "concept '{name}' is never used",
    "unused-set": "set '{name}' is never used",
    "missing-text": "criterion {name} has no protocol text; "
    "auditors need the protocol's own sentence",
    "missing-header": "no '{field}' line; decisions must name the protocol and its version",
    "empty": "the file declares nothing; a protocol starts with 'protocol \"ID\"' and "
    "'version \"V\"', then its criteria",
    "no-criteria": "protocol '{name}' has no criteria and no escalation: nothing to decide; "
    "write its 'inclusion' and 'exclusion' criteria",
    "network-limit/engine": "{refusal}",
    "network-limit/rules": "{name} takes {rules} rules on the patient's record, more than the "
    "engine's alpha network is tested with (at most {limit}); split it: a condition into "
    "definitions, a derived value into derived values of a few conditional terms each (each "
    "condition triples its rules: true, false or not recorded), summed in one more",
    "network-limit/fan-out": "from here on the protocol needs more nodes of one kind than the "
    "engine's network can look up (at most {limit}: each criterion, definition and window takes "
    "one or more); split it into two protocols screened in turn",
    "network-limit/total": "the protocol compiles to {rules} rules, more than the engine holds "
    "(at most {limit}), from here on; split it into two protocols screened in turn",
    "network-limit/split": "{name} has a condition larger than the engine's rules hold (it would "
    "take more than {limit} rules); split it into definitions, or write fewer alternatives on a "
    "history's items (each value of 'is one of' and each clause in a filter's parentheses is "
    "one, and one item's alternatives multiply)",
    "network-limit/rules-items": "{name}'s items are tested by {rules} rules on the patient's "
    "record, more than the engine's alpha network is tested with (at most {limit}): each value "
    "of 'is one of' and each clause in a filter's parentheses is an alternative, and one item's "
    "alternatives multiply; write fewer",
    "network-limit/split-items": "{name}'s items are tested by more alternatives than the "
    "engine's rules hold (more than {limit}): each value of 'is one of' and each clause in a "
    "filter's parentheses is one, and one item's alternatives multiply; write fewer",
    "no-criteria/run": "protocol '{name}' has no criteria: '{command}' has nothing to decide{hint}",
    "anchor": "a window counts from {what}; '{name}' is {kind}{hint}",
    "order-window": "'{name} {window}' orders two days, as a date concept's day is ordered with "
    "another; '{name}' is {kind}, whose items span days: write 'at least 1 day {direction} "
    "{anchor}' (one started on {which} day) or 'within N days {direction} {anchor}'",
    "date-window": "'{name}' is a date, one day: say where it falls, like '{name} before "
    "first_dose', '{name} on or after enrolment' or '{name} within 28 days before screening'",
    "date-window/items": "'{name}' is a date, one day: it has no {what} (a history's items do)",
    "day": "'{name}' is {how} at the day of '{at}', which must be a date concept (declare it "
    "'{at}: date'); '{at}' is {kind}",
    "during": "'during {name}' spans the most recent course or occurrence of another event or "
    "medication; '{name}' is {kind}{why}",
    "during-any": "'during any {name}' places each item in a span of its own: 'at least N ...' "
    "with it is not supported; write 'during {name}' (its most recent) there",
    "range-order": "'{low} to {high}' is empty: the low bound is above the high bound",
    "counts-as": "'{name}' counts as '{broader}', {why}",
    "counts-as-attributes": "'{name}' counts as '{broader}' but records no {attributes}, which "
    "a filter on '{broader}' reads: its items leave that filter open (a fact of '{name}' giving "
    "one is refused); declare {them} on '{name}' too",
    "scale-step": "'{name}' is a scale of whole steps from {low} to {high}: {value} is not one "
    "of them{hint}",
    "scale-step/outside": "'{name}' is a scale from {low} to {high}: {value} lies outside it",
    "per-side": "'{name}' is measured per {per}: say whose value counts, 'in any {per}', 'in "
    "each {per}' or 'in the NAME' (a category of its {per}s), or name one: {sides}",
    "titre": "'{name}' is a titre: write its threshold as the dilution, 1:{reciprocal}, not "
    "{value}",
    "titre/not": "{value} is a titre's dilution; '{name}' is {kind}",
    "titre/zero": "'{name}' is a titre: {value} is no dilution (1:1 is the undiluted sample)",
    "undefined-attribute": "'{name}' records no attribute '{attribute}'{hint}",
    "undefined-attribute/other-than": "'other than' reads an attribute, and '{name}' declares "
    "none; declare one, like '{name}: event with type {{...}}'",
    "undefined-attribute/dose": "'{name}' has no dose to filter on; declare it 'dosed in UNIT'",
    "count": "'at least {count} {name} ...' needs a count of 2 or more; for one, leave out "
    "'at least 1'",
    "count/by": "'at least {count} {by} of {name} ...' needs a count of 2 or more; for one, "
    "write '{name} ...' (any item of it)",
    "conversion-offset/lab": "{name} is a lab, read against its reference range as a ratio, "
    "which a conversion with an offset ('{conversion}') does not keep: declare it a quantity",
    "conversion-offset/zero": "'{conversion}' multiplies by 0: no result converts back",
    "conversion/zero": "'{conversion}' makes an amount 0: each side of a conversion is an amount "
    "above 0 (1 mg/dL = 88.42 umol/L)",
    "conversion-offset/unrelated": "'{conversion}' joins no unit of {name}: one side must be "
    "{unit}, or convert to it by a factor",
    "reach-unit": "'{times} {attribute}' counts in a time each {name} records: declare "
    "'{attribute} in h' (or min, d, week), not {found}",
    "reach-times": "'{times} {attribute}' is no length: give a number above 0",
    "reach-direction": "'whichever is {which}' is a washout before its anchor: write 'before' "
    "or 'prior to'",
    "reach-count": "'at least {count} {name}' with 'whichever is longer' would count an item "
    "within either length: not supported; write 'whichever is shorter', or count in one window",
    "latest-window": "'the latest {name}' asks when the most recent one started: write 'more "
    "than' or 'at least' a duration before an anchor, not '{window}' (for that, leave out 'the "
    "latest')",
    "number-limit": "{value} has {what}{hint}",
    "number-limit/converted": "{value} is {converted} {unit}, the concept's unit; the engine "
    "compares numbers below 10^{limit}: write a smaller threshold or declare a larger unit",
    "number-limit/power": "a power of {value}: formulas raise to at most the {limit}th power",
    "duration-limit": "'{duration}' is longer than the calendar reads: at most {limit} "
    "({years} years); for any time, write 'ever' (or leave out 'valid for')",
    "count-limit": "'at least {count} ...' asks for {count} items of one patient; counts are "
    "tested up to {limit}",
    "unit-months": "'{name}' is in {unit}: a fact in weeks or days converts by an average month "
    "(30.4375 days), so 13 weeks is 2.99 months, under 3; declare it in weeks or days if its "
    "facts come so, with its thresholds (windows and 'for at least' count calendar months)",
    "total-duration-unit": "a total duration counts the days any course of '{name}' covers: "
    "give it in days or weeks ({instead}), not '{value} {unit}' (a month is no fixed number "
    "of days)",
    "threshold-months": "'{threshold}' on '{name}' (in {unit}) converts by an average month "
    "(30.4375 days): it is {converted} {unit}, so {under} {unit} is under it; if the protocol "
    "counts its months otherwise, write the threshold in {unit}",
    "split-on": "where {choice} is not recorded this is UNKNOWN, even where both sides agree "
    "(strong Kleene logic does not reason by cases); write '{then} if {choice} else "
    "{otherwise}', which decides what both agree on",
    "text-direction": "{name}'s sentence holds {chars}, which turn the order it is shown in: an "
    "auditor may read another sentence than the one stored; delete them",
    "unless-after-or": "'{rule} unless {exception}' reads '({rule}) unless {exception}': the "
    "exception waives every side of the 'or'; if it belongs to the last alone, write "
    "'... or ({last} unless {exception})', else put the 'or' in parentheses",
    "compared-apart": "'{name}' is compared on two sides of an 'or' whose ranges join ('{first}', "
    "'{second}'): each comparison is decided alone, so a value known only within bounds across "
    "the join (an age of 74 or 75, from a birth year) leaves the rule open where each of its "
    "values would decide it alike; compare it once where the rule allows ('age >= 18 years and (age >= 75 years "
    "or comorbidity)')",
    "or-after-unless": "'{rule} unless {exception}' reads '{rule} unless ({exception})': '{last}' "
    "waives the rule as '{first}' does; if it is a condition of its own, write '({rule} unless "
    "{first}) or {last}', else put the 'or' in parentheses",
    "unless-in-inclusion": "in an inclusion, 'unless {exception}' fails {id} for every patient with "
    "it; if the protocol waives the requirement for them, write 'or {exception}'",
    "fidelity/number": "{id}: the rule's {what} is not in its sentence (line {line}: \"{sentence}\"), "
    "which has {numbers}: write the rule as the sentence does",
    "fidelity/unit": "{id}: the rule says {what} where its sentence (line {line}: \"{sentence}\") "
    "writes {written} at that number: write the rule in the sentence's unit",
    "fidelity/comparator": "{id}: the rule reads '{op}' where its sentence (line {line}: "
    "\"{sentence}\") writes '{written}' at that number",
    "fidelity/window": "{id}: the rule's window of {what} reads otherwise than its sentence "
    "(line {line}: \"{sentence}\"), which says {words}",
    "fidelity/parts": "{id}: each part is {role} of its own, so {each}; its sentence (line "
    "{line}: \"{sentence}\") says {words}: {instead}",
    "count-values": "'at least {count} {by} of {name}' asks for {count} different values of "
    "'{attribute}', which declares {values}: no patient has {count}",
    "boin-limit": "BOIN with {maximum} patients: its rules are built for a maximum sample size "
    "up to {limit}",
    "reserved-attribute": "'{attribute}' is a field every {kind} fact may have; name the "
    "attribute otherwise",
    "reserved-attribute/duration": "a course's 'duration' is its length, worked out from its "
    "dates ('where duration >= 3 months'); name a recorded length otherwise",
    "duration-unit": "a course's duration is compared in days, weeks, months or years, not "
    "{found}: write '{example}'",
    "duration-equal": "'{clause}': a course's duration is compared with a bound, '>=' (at "
    "least) or '<' (less than), or with two ('duration >= 90 days and duration < 91 days')",
    "duration-zero": "'{clause}': every course lasts 0 days or more; compare with a length of "
    "a day or more",
    "duration-months": "'{clause}': a course's duration in {unit} is counted in completed "
    "calendar months, which cannot say whether {length} and some days is more than "
    "{length}; compare with '>=' (at least) or '<' (less than), or in days",
}

TEMPLATES.update(escalation_checks.TEMPLATES)

#: Codes that do not stop a protocol from running; everything else is an error.
WARNINGS = frozenset(
    ("missing-equivalence", "unused-definition", "unused-concept", "unused-set", "missing-text",
     "missing-header", "unless-in-inclusion", "unless-after-or", "or-after-unless", "compared-apart", "text-direction", "fidelity", "filter-never",
     "counts-as-attributes", "split-on", "unit-months", "threshold-months")
)

#: What the fact reader says of a record it cannot trust, before reading what it means: each
#: refuses that record only (file:line, patient, fact, field), never the file.
FACT_MESSAGES: dict[str, str] = {
    "not-utf8": "not UTF-8 text: byte {byte} at column {column} ({reason})",
    "not-json": "not valid JSON: {reason} at column {column}",
    "too-deep": "nested more than {limit} levels deep: a patient record is at most 4 (record, "
    "facts, fact, reference range)",
    "not-text": "{what} holds {char}, half of a surrogate pair, which is not text: it cannot be "
    "written to the trail",
    "number-range": "{number} is beyond what the engine compares exactly: at most {digits} digits "
    "before the decimal point, and nothing nearer 0 than 1e-{digits} (0 itself is fine)",
    "number-not-finite": "{number} is not a number JSON allows",
    "key-twice": "{key} is given twice in one object: which one counts is unclear",
    "duplicate-patient": "patient {patient} is already the record at line {line}: one record per "
    "patient",
    "calendar": "{date!r} lies outside the calendar this tool reads ({first} to {last})",
}
