"""`proto-rules lsp`: the real server as a subprocess, driven over stdio with LSP JSON-RPC messages.

Each test starts `python -m cli lsp`, says initialize and initialized, opens a document and asks
what an editor asks (hover, definition, references, completion, documentSymbol, formatting, code
actions, rename), then
says shutdown and exit and checks that the server ends with 0. The reader waits at most a minute
for a message, so a server that stops answering fails the test instead of hanging it.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine import pipeline
from engine.factfile import opened
from engine.run import Decision
from lsp import features

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "examples" / "cd19-ucart-sle.proto-rules"
DAPA = ROOT / "examples" / "dapa-ckd-dapagliflozin.proto-rules"


class Client:
    """A minimal LSP client: Content-Length framed JSON-RPC over the server's stdin and stdout."""

    def __init__(self) -> None:
        self.server = subprocess.Popen([sys.executable, "-m", "cli", "lsp"], cwd=ROOT,
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE)
        self.messages: queue.Queue = queue.Queue()
        self.notifications: list[dict] = []
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        stream = self.server.stdout
        while True:
            headers = {}
            while (line := stream.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("ascii").partition(":")
                headers[name.strip().lower()] = value.strip()
            if not headers:
                self.messages.put(None)
                return
            self.messages.put(json.loads(stream.read(int(headers["content-length"]))))

    def send(self, message: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        self.server.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.server.stdin.flush()

    def request(self, method: str, params: dict | None = None, refused: bool = False):
        """The server's result; with `refused`, the error it answers instead."""
        self.next_id += 1
        self.send({"id": self.next_id, "method": method, "params": params})
        while True:
            message = self.messages.get(timeout=60)
            assert message is not None, "the server closed its output"
            if message.get("id") == self.next_id and "method" not in message:
                assert ("error" in message) is refused, message
                return message["error"] if refused else message["result"]
            if "method" in message and "id" in message:  # a request of the server's: say ok
                self.send({"id": message["id"], "result": None})
            elif "method" in message:
                self.notifications.append(message)

    def notify(self, method: str, params: dict) -> None:
        self.send({"method": method, "params": params})

    def diagnostics(self, uri: str, version: int) -> list[dict]:
        """The diagnostics the server published for this version of the document."""
        while True:
            for note in self.notifications:
                params = note["params"]
                if note["method"] == "textDocument/publishDiagnostics" and \
                        params["uri"] == uri and params.get("version") == version:
                    return params["diagnostics"]
            message = self.messages.get(timeout=60)
            assert message is not None, "the server closed its output"
            if "method" in message:
                self.notifications.append(message)

    def open(self, path: Path, text: str | None = None) -> str:
        uri = path.as_uri()
        self.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri, "languageId": "proto-rules", "version": 1,
            "text": path.read_text(encoding="utf-8") if text is None else text}})
        return uri

    def close(self) -> int:
        assert self.request("shutdown") is None
        self.notify("exit", {})
        return self.server.wait(timeout=60)


@pytest.fixture
def client():
    started = Client()
    capabilities = started.request("initialize", {"processId": None, "rootUri": ROOT.as_uri(),
                                                  "capabilities": {}})["capabilities"]
    assert capabilities["hoverProvider"] and capabilities["definitionProvider"]
    assert capabilities["referencesProvider"] and capabilities["documentFormattingProvider"]
    assert capabilities["documentSymbolProvider"] and capabilities["completionProvider"]
    started.notify("initialized", {})
    yield started
    if started.server.poll() is None:
        assert started.close() == 0
    started.server.stdout.close()
    started.server.stderr.close()
    started.server.stdin.close()


def at(text: str, needle: str, offset: int = 0) -> dict:
    """The LSP position of the first `needle` in `text` (plus `offset` characters); the examples
    are in the Basic Multilingual Plane, so code points and UTF-16 units agree."""
    index = text.index(needle) + offset
    line = text.count("\n", 0, index)
    return {"line": line, "character": index - (text.rfind("\n", 0, index) + 1)}


def doc(uri: str, position: dict, **more) -> dict:
    return {"textDocument": {"uri": uri}, "position": position, **more}


def test_a_clean_example_has_no_diagnostics_and_a_typo_is_an_error_at_its_place(client):
    text = SEED.read_text(encoding="utf-8")
    uri = client.open(SEED)
    assert client.diagnostics(uri, 1) == []
    changed = text.replace("    sledai_2k >= 8", "    sledaj_2k >= 8")
    start = at(text, "i_2k >= 8")  # one character changed, as editors send it
    end = {**start, "character": start["character"] + 1}
    client.notify("textDocument/didChange", {
        "textDocument": {"uri": uri, "version": 2},
        "contentChanges": [{"range": {"start": start, "end": end}, "text": "j"}]})
    unused, error = client.diagnostics(uri, 2)  # in file order: sledai_2k is read by nothing now
    assert unused["code"] == "unused-concept" and unused["severity"] == 2
    assert error["message"] == "unknown name 'sledaj_2k'; did you mean 'sledai_2k'?"
    assert error["severity"] == 1 and error["code"] == "undefined-name"
    assert error["range"]["start"] == at(changed, "sledaj_2k >= 8")


def test_several_syntax_errors_at_once(client):
    text = SEED.read_text(encoding="utf-8")
    broken = (text.replace("sledai_2k: score valid for 3 months", "sledai_2k: score valid 3 months")
              .replace("    age >= 5 years", "    age => 5 years")
              .replace('inclusion I3 "SLEDAI', 'inclusion 3 "SLEDAI'))
    uri = client.open(SEED, broken)
    found = client.diagnostics(uri, 1)
    assert [(d["range"]["start"], d["message"].split(";")[0]) for d in found] == [
        (at(broken, "valid 3 months", 6), "unexpected '3'"),
        (at(broken, "=> 5 years"), "unexpected '='"),
        (at(broken, '3 "SLEDAI'), "unexpected '3'")]
    assert "write '>=' (at least)" in found[1]["message"]


def test_a_fidelity_warning_is_a_warning(client):
    text = SEED.read_text(encoding="utf-8").replace(
        "live_vaccine within 4 weeks before screening",
        "live_vaccine within 2 weeks before screening")
    uri = client.open(SEED, text)
    (warning,) = client.diagnostics(uri, 1)
    assert warning["severity"] == 2 and warning["code"] == "fidelity"
    assert warning["range"]["start"] == at(text, "live_vaccine within 2 weeks", 20)


def test_a_criterion_larger_than_the_engine_holds_is_an_error_in_the_editor(client):
    """What only the compiled network shows (engine/pipeline.py `network_problems`) is shown as
    `check` shows it, at the criterion: 7 lab thresholds that apply it to 7 others, 86 rules
    (the condition once more, for passing whether or not it applies)."""
    from tests.test_limits import labs

    lines = labs(14).split("\n")
    thresholds = lines[-2].strip().split(" and ")
    text = "\n".join(lines[:-3]) + ('\ninclusion I0 "all of them"\n    applies when '
                                    f'{" and ".join(thresholds[:7])}:\n'
                                    f'    {" or ".join(thresholds[7:])}\n')
    uri = client.open(SEED.with_name("labs.proto-rules"), text)
    (error,) = client.diagnostics(uri, 1)
    assert error["severity"] == 1 and error["code"] == "network-limit"
    assert error["message"].startswith("I0 takes 86 rules on the patient's record")
    assert error["range"]["start"] == at(text, "inclusion I0")


def test_hover_says_what_a_concept_is(client):
    text = SEED.read_text(encoding="utf-8")
    uri = client.open(SEED)
    answer = client.request("textDocument/hover", doc(uri, at(text, "tbil <= 2.0", 1)))
    value = answer["contents"]["value"]
    assert value.splitlines()[:3] == ["**tbil**: lab value  ", "unit: umol/L  ",
                                      "convert: 1 mg/dL = 17.1 umol/L  "]
    assert "valid for 28 days before the screening date" in value
    assert value.endswith("> total bilirubin, serum")
    assert answer["range"] == {"start": at(text, "tbil <= 2.0"), "end": at(text, "tbil <= 2.0", 4)}


def test_hover_on_a_value_per_side_names_its_sides(client):
    path = SEED.parent / "empa-reg-outcome.proto-rules"
    text = path.read_text(encoding="utf-8")
    uri = client.open(path)
    answer = client.request("textDocument/hover", doc(uri, at(text, "abi < 0.9 in any ankle", 1)))
    assert answer["contents"]["value"].splitlines()[:3] == [
        "**abi**: score  ", "valid for 28 days before the screening date  ",
        "per ankle: abi_left, abi_right  "]


def test_hover_on_the_lowest_in_a_window_says_what_it_reads(client):
    from tests.test_extremes import PROTOCOL
    uri = client.open(SEED.with_name("extremes.proto-rules"), PROTOCOL)
    answer = client.request("textDocument/hover", doc(uri, at(PROTOCOL, "psa_nadir < 0.5", 1)))
    lines = answer["contents"]["value"].splitlines()
    assert lines[0] == "**psa_nadir**: lab value  "
    assert "reads: the lowest psa on or after adt_start, up to the screening date  " in lines


def test_hover_on_a_criterion_shows_its_sentence(client):
    text = SEED.read_text(encoding="utf-8")
    uri = client.open(SEED)
    value = client.request("textDocument/hover", doc(uri, at(text, "E9 "), ))["contents"]["value"]
    assert value == ("**exclusion E9**\n\n> Received live vaccine within 4 weeks before "
                     "screening;")
    part = client.request("textDocument/hover", doc(uri, at(text, "renal \"Renal")))
    assert part["contents"]["value"].startswith("**inclusion I4.renal**\n\n> Renal function:")


def test_hover_converts_a_threshold_into_its_concepts_unit(client):
    text = ('concepts:\n    creatinine: lab in umol/L convert 1 mg/dL = 88.4 umol/L\n'
            'inclusion I1 "Creatinine at most 1.5 mg/dL": creatinine <= 1.5 mg/dL\n')
    uri = client.open(ROOT / "t.proto-rules", text)
    value = client.request("textDocument/hover", doc(uri, at(text, "1.5 mg/dL\n")))
    assert value["contents"]["value"] == "**1.5 mg/dL** = 132.6 umol/L (creatinine's unit)"


def test_definition_and_references(client):
    text = SEED.read_text(encoding="utf-8")
    uri = client.open(SEED)
    use = at(text, "refractory_sle or")
    location = client.request("textDocument/definition", doc(uri, use))
    assert location == {"uri": uri, "range": {"start": at(text, "refractory_sle\n"),
                                              "end": at(text, "refractory_sle\n", 14)}}
    found = client.request("textDocument/references",
                           doc(uri, use, context={"includeDeclaration": True}))
    assert [f["range"]["start"] for f in found] == [at(text, "refractory_sle\n"), use]
    concept = at(text, "weight: quantity")
    found = client.request("textDocument/references",
                           doc(uri, concept, context={"includeDeclaration": False}))
    assert [f["range"]["start"] for f in found] == [at(text, "per weight", 4)]


def test_definition_of_a_set_an_imported_module_declares_opens_the_module(client, tmp_path):
    module = tmp_path / "drug-classes.proto-rules"
    module.write_text("# shared\nset  egfr_tki: {gefitinib, erlotinib}\n", encoding="utf-8")
    trial = tmp_path / "lung.proto-rules"
    text = ('protocol "lung" version "1"\nimport "drug-classes"\nconcepts:\n'
            '    prior: medication {gefitinib, erlotinib}\n'
            'exclusion E1 "Prior EGFR-TKI": prior includes any of egfr_tki\n')
    trial.write_text(text, encoding="utf-8")
    uri = client.open(trial)
    location = client.request("textDocument/definition", doc(uri, at(text, "egfr_tki\n")))
    assert location == {"uri": module.resolve().as_uri(), "range": {
        "start": {"line": 1, "character": 5}, "end": {"line": 1, "character": 13}}}


def test_completion_offers_names_values_and_keywords(client):
    text = SEED.read_text(encoding="utf-8")
    typed = text.replace("    sledai_2k >= 8", "    sex is ")
    uri = client.open(SEED, typed)
    items = client.request("textDocument/completion", doc(uri, at(typed, "sex is ", 7)))["items"]
    assert {i["label"] for i in items} == {"female", "male", "not", "one", "recorded"}
    typed = text.replace("    sledai_2k >= 8", "    sle")
    client.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2},
                                             "contentChanges": [{"text": typed}]})
    items = client.request("textDocument/completion", doc(uri, at(typed, "    sle\n", 7)))["items"]
    labels = {i["label"] for i in items}
    assert {"sledai_2k", "sle_classification_2019", "refractory_sle", "not", "no"} <= labels
    assert "female" not in labels


def test_document_symbols_are_the_criteria_outline(client):
    uri = client.open(SEED)
    found = client.request("textDocument/documentSymbol", {"textDocument": {"uri": uri}})
    names = [s["name"] for s in found]
    assert names[:3] == ["concepts", "refractory_sle", "inclusion I1"]
    assert names[-1] == "exclusion E13" and len(names) == 2 + 20
    i4 = next(s for s in found if s["name"] == "inclusion I4")
    assert [c["name"] for c in i4["children"]] == ["I4.cardiac", "I4.renal", "I4.liver", "I4.lung"]
    assert len(found[0]["children"]) == 52


def test_formatting_is_fmt(client):
    messy = (ROOT / "tests" / "data" / "fmt" / "messy.proto-rules").read_text(encoding="utf-8")
    formatted = (ROOT / "tests" / "data" / "fmt" / "messy.formatted.proto-rules").read_text(
        encoding="utf-8")
    uri = client.open(ROOT / "messy.proto-rules", messy)
    params = {"textDocument": {"uri": uri}, "options": {"tabSize": 4, "insertSpaces": True}}
    (edit,) = client.request("textDocument/formatting", params)
    assert edit["newText"] == formatted and edit["range"]["start"] == {"line": 0, "character": 0}
    uri = client.open(DAPA)
    assert client.request("textDocument/formatting", {**params, "textDocument": {"uri": uri}}) \
        == []


def test_shutdown_and_exit_end_the_server_with_0(client):
    assert client.close() == 0


def test_a_broken_criterion_leaves_the_others_to_hover_and_jump(client):
    text = SEED.read_text(encoding="utf-8").replace("    age >= 5 years", "    age => 5 years")
    uri = client.open(SEED, text)
    assert len(client.diagnostics(uri, 1)) == 1
    use = at(text, "tbil <= 2.0")  # after the error: read from the constructs that are whole
    assert client.request("textDocument/definition", doc(uri, use))["range"]["start"] == \
        at(text, "tbil: lab")
    value = client.request("textDocument/hover", doc(uri, use))["contents"]["value"]
    assert value.startswith("**tbil**: lab value")


def edited(text: str, edits: list[dict]) -> str:
    """`text` with an LSP client's text edits made (each on one line)."""
    lines = text.split("\n")
    for edit in sorted(edits, key=lambda e: (e["range"]["start"]["line"],
                                             e["range"]["start"]["character"]), reverse=True):
        start, end = edit["range"]["start"], edit["range"]["end"]
        line = lines[start["line"]]
        lines[start["line"]] = line[:start["character"]] + edit["newText"] + line[end["character"]:]
    return "\n".join(lines)


@pytest.mark.parametrize("wrong, right", [
    ("    sledaj_2k >= 8", "    sledai_2k >= 8"),  # check: did you mean 'sledai_2k'?
    ("    age => 5 years", "    age >= 5 years"),  # syntax: write '>='
])
def test_a_quick_fix_makes_the_change_a_diagnostic_suggests(client, wrong, right):
    text = SEED.read_text(encoding="utf-8")
    broken = text.replace(right, wrong)
    uri = client.open(SEED, broken)
    (diagnostic,) = [d for d in client.diagnostics(uri, 1) if d["severity"] == 1]
    (action,) = client.request("textDocument/codeAction", {
        "textDocument": {"uri": uri}, "range": diagnostic["range"],
        "context": {"diagnostics": [diagnostic]}})
    assert action["kind"] == "quickfix" and action["diagnostics"] == [diagnostic]
    assert edited(broken, action["edit"]["changes"][uri]) == text
    elsewhere = at(broken, "exclusion E1")  # no fix is offered away from the diagnostic
    assert client.request("textDocument/codeAction", {
        "textDocument": {"uri": uri}, "range": {"start": elsewhere, "end": elsewhere},
        "context": {"diagnostics": []}}) == []


def test_rename_a_definition_everywhere_it_is_named(client):
    text = SEED.read_text(encoding="utf-8")
    uri = client.open(SEED)
    use = at(text, "refractory_sle or")
    assert client.request("textDocument/prepareRename", doc(uri, use)) == {
        "start": use, "end": at(text, "refractory_sle or", 14)}
    edit = client.request("textDocument/rename", doc(uri, use, newName="refractory_disease"))
    renamed = edited(text, edit["changes"][uri])
    assert renamed == text.replace("refractory_sle", "refractory_disease")
    assert renamed.count("refractory_disease") == 2


def test_a_rename_that_would_break_the_file_is_refused_saying_why(client):
    text = SEED.read_text(encoding="utf-8")
    uri = client.open(SEED)
    error = client.request("textDocument/prepareRename", doc(uri, at(text, "weight: quantity")),
                           refused=True)
    assert error["code"] == -32803 and error["message"].startswith(
        "'weight' is a concept: fact files (and FHIR and OMOP maps) name its facts so")
    use = at(text, "refractory_sle or")
    for name, why in (("weight", "'refractory_sle' cannot be renamed 'weight': "),
                      ("and", "'and' is a word of the language: choose another name"),
                      ("two words", "'two words' is not a name: ")):
        error = client.request("textDocument/rename", doc(uri, use, newName=name), refused=True)
        assert error["message"].startswith(why), (name, error)
    keyword = at(text, "inclusion I1")
    error = client.request("textDocument/prepareRename", doc(uri, keyword), refused=True)
    assert error["message"] == "only a definition's or a derived value's name can be renamed"


SMALL = """protocol "t" version "1"
concepts:
 creatinine: lab in mg/dL
 hiv_antibody: category {negative, positive}
 weight: quantity in kg
define heavy "heavier than 100 kg":
    weight > 100 kg
inclusion I1 "x": creatinine <= 1.5 mg/dL and not heavy
exclusion E1 "y": hiv_antibody is positive or heavy
"""
#: The places a name is used in SMALL (not where it is declared).
USES = [i for name in ("creatinine", "hiv_antibody", "weight", "heavy")
        for i in range(SMALL.index(f"{name}", SMALL.index("define")), len(SMALL))
        if SMALL.startswith(name, i) and not SMALL[i - 1].isalnum() and SMALL[i - 1] != "_"]


@given(st.sampled_from(USES), st.integers(0, 30), st.sampled_from("abcdefghijklmnopqrstuvwxyz_"))
def test_a_fix_offered_for_a_misspelt_name_takes_its_diagnostic_away(use, place, letter):
    """Any one letter of a name changed: each fix offered, made, leaves no diagnostic of its kind
    where it was (the name it writes is one the file declares)."""
    end = use + next(n for n in range(1, 40) if not (SMALL[use + n].isalnum()
                                                      or SMALL[use + n] == "_"))
    place = use + place % (end - use)
    text = SMALL[:place] + letter + SMALL[place + 1:]
    analysis = features.analyse(text, "small.proto-rules")
    for diagnostic, edit in features.fixes(analysis, (0, 0), (99, 0)):
        fixed = features.analyse(edited(text, [_as_client(edit)]), "small.proto-rules")
        assert not any(d.code == diagnostic.code and features.lsp_diagnostics(fixed)[i].range
                       == diagnostic.range for i, d in enumerate(fixed.diagnostics)), text


def _as_client(edit) -> dict:
    """A text edit as the client reads it (JSON)."""
    start, end = edit.range.start, edit.range.end
    return {"range": {"start": {"line": start.line, "character": start.character},
                      "end": {"line": end.line, "character": end.character}},
            "newText": edit.new_text}


#: One definition or derived value of each example that has one, renamed: (protocol, name).
RENAMED = [("cd19-ucart-sle", "refractory_sle"), ("empa-reg-outcome", "bmi"),
           ("ensign-ctl019-pediatric-all", None), ("zuma-7-axicabtagene-lbcl", "crcl"),
           ("dapa-ckd-dapagliflozin", "egfr")]


@pytest.mark.parametrize("example, name", RENAMED)
def test_a_renamed_protocol_decides_every_example_patient_as_before(example, name):
    """Rename changes names, never a decision: the example's patients, screened by the network
    of the file as the editor renames it, get every verdict and decision they got before."""
    path = ROOT / "examples" / f"{example}.proto-rules"
    text = path.read_text(encoding="utf-8")
    analysis = features.analyse(text, str(path))
    name = name or analysis.protocol.definitions[0].name
    declared = next(x for x in analysis.lexemes if x.kind == "NAME" and x.text == name)
    edits = features.rename(analysis, declared.line - 1, declared.column - 1, f"{name}_renamed")
    renamed = edited(text, [_as_client(edit) for edit in edits])
    assert renamed.count(f"{name}_renamed") == len(edits) > 1
    facts = ROOT / "examples" / ("patients.jsonl" if example == "cd19-ucart-sle"
                                 else f"{example}.patients.jsonl")
    outcomes = []
    for source in (text, renamed):
        network = pipeline.compile(pipeline.load_text(source, str(path))[0])
        with opened(str(facts), network.protocol) as stream:
            outcomes.append([(o.patient.id, o.decision,
                              {k: v.verdict for k, v in o.verdicts.items()})
                             for o in pipeline.screen(network, stream.records(), str(facts))
                             if isinstance(o, Decision)])
    assert outcomes[0] == outcomes[1] and len(outcomes[0]) > 10


FILTERED = ('protocol "t" version "1"\nconcepts:\n'
            '  chemo: medication {cisplatin, carboplatin} with route {oral, intravenous}\n'
            '      with line {1, 2, 3} with cycles number\n'
            '  sex: category {female, male}\n')


@pytest.mark.parametrize("typed, offered", [
    # where an attribute goes: the history's attributes, and a course's drug and duration
    ('chemo where ', {"cycles", "drug", "duration", "line", "route", "dose"}),
    ('chemo where (line is 1 or ', {"cycles", "drug", "duration", "line", "route", "dose"}),
    ('chemo other than {cisplatin} where ', {"cycles", "drug", "duration", "line", "route",
                                             "dose"}),
    # where its value goes: the attribute's values, not the history's drugs
    ('chemo where route is ', {"oral", "intravenous", "not", "one"}),
    ('chemo where (line is 1 or route is not one of {oral, ', {"oral", "intravenous"}),
    ('route of the latest chemo is ', {"oral", "intravenous", "not", "one"}),
    ('route of the most recent chemo is not ', {"oral", "intravenous", "one"}),
    # outside a clause on items: names and values as before
    ('sex is ', {"female", "male", "not", "one", "recorded"}),
])
def test_completion_inside_a_clause_on_items(typed: str, offered: set[str]) -> None:
    text = FILTERED + 'inclusion I1 "x": ' + typed
    lines = text.split("\n")
    items = features.completion(features.analyse(text, "t.proto-rules"), len(lines) - 1,
                                len(lines[-1]))
    assert {i.label for i in items} == offered


def test_completion_after_and_in_a_no_known_filter_offers_both() -> None:
    """`no known x where a is 1 and |`: the `and` joins conditions (or, in parentheses,
    clauses): names of concepts and the history's attributes alike."""
    text = FILTERED + 'inclusion I1 "x": no known chemo where line is 1 and '
    lines = text.split("\n")
    labels = {i.label for i in features.completion(
        features.analyse(text, "t.proto-rules"), len(lines) - 1, len(lines[-1]))}
    assert {"chemo", "sex", "route", "line"} <= labels
