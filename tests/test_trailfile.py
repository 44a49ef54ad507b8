"""A compressed trail (`--trail T.jsonl.zst`, issue 10): zstd frames of whole patients over the
same chained lines, a seek table after them, read by every reader as a plain trail is; and
`explain --patient` through the table, which never shows a record the chain does not hold.
"""

from __future__ import annotations

import gc
import json
import struct
from pathlib import Path

import orjson
import pytest
import zstandard

import cli
from engine.audit import trailfile
from engine.audit.trailfile import FOOTER, FOOTER_MARK, SKIPPABLE, frame_lines, seek_table
from engine.audit.verify import located
from protocol.errors import UsageError
from tests.conftest import PATIENTS, SEED

pytestmark = pytest.mark.usefixtures("at_root")

P04 = "P04-liver-at-threshold"


def run(tmp: Path, name: str, facts: Path = PATIENTS) -> Path:
    trail = tmp / name
    assert cli.main(["run", str(SEED), str(facts), "--trail", str(trail), "--quiet"]) == 0
    return trail


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> Path:
    return run(tmp_path_factory.mktemp("plain"), "trail.jsonl")


@pytest.fixture(scope="module")
def packed(tmp_path_factory) -> Path:
    """The demo run's trail compressed with one patient a frame (the smallest frames), so that
    the seek table has an entry per patient."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(trailfile, "BLOCK", 1)
        return run(tmp_path_factory.mktemp("packed"), "trail.jsonl.zst")


def unpacked(path: Path) -> bytes:
    with open(path, "rb") as handle:
        return zstandard.ZstdDecompressor().stream_reader(handle, read_across_frames=True).read()


def said(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def packed_from(lines: list[bytes], path: Path, table: list[list] | None = None) -> Path:
    """A compressed trail of `lines`, one line a frame, with the seek table given (or, with
    `table` None, the table those frames have) — as a forger would build one."""
    data, entries, previous = b"", [], None
    compressor = zstandard.ZstdCompressor()
    for number, line in enumerate(lines, start=1):
        record = orjson.loads(line)
        patient = record.get("patient") if record["type"] in ("decided", "rejected") else None
        entries.append([len(data), number, record.get("prev", previous),
                        [patient] if patient else []])
        data += compressor.compress(line)
    encoded = b"".join(orjson.dumps(entry) + b"\n" for entry in
                       (entries if table is None else table))
    payload = encoded + FOOTER.pack(FOOTER_MARK, len(encoded))
    path.write_bytes(data + struct.pack("<II", SKIPPABLE, len(payload)) + payload)
    return path


# -- the file -------------------------------------------------------------------------------------

def test_the_frames_hold_the_plain_trail_byte_for_byte(plain, packed, tmp_path):
    """Compression changes nothing the chain covers: the zstd stream is the plain trail, and the
    same run gives the same compressed bytes."""
    assert unpacked(packed) == plain.read_bytes()
    again = run(tmp_path, "again.jsonl.zst")  # frames of BLOCK bytes this time
    assert unpacked(again) == plain.read_bytes()
    assert run(tmp_path, "third.jsonl.zst").read_bytes() == again.read_bytes()


def test_the_seek_table_names_each_frame(plain, packed):
    """Each frame decompresses alone, starts at the line the table says with the `prev` it says,
    and holds the records of the patients it lists."""
    table = list(seek_table(str(packed)).frames())
    lines = plain.read_bytes().splitlines(keepends=True)
    patients = [json.loads(line)["patient"] for line in lines if b'"type":"decided"' in line]
    assert [p for frame in table for p in frame.patients] == patients
    for frame in table:
        found = frame_lines(str(packed), frame)
        assert found == lines[frame.first - 1:frame.first - 1 + len(found)]
        assert json.loads(found[0])["prev"] == frame.prev
        assert [json.loads(line)["patient"] for line in found
                if b'"type":"decided"' in line] == list(frame.patients)
    assert seek_table(str(plain)) is None


# -- every reader ----------------------------------------------------------------------------------

def test_every_reader_reads_it_as_the_plain_trail(plain, packed, capsys, tmp_path):
    assert said(capsys, "explain", str(packed)) == said(capsys, "explain", str(plain))
    assert said(capsys, "attrition", str(packed)) == said(capsys, "attrition", str(plain))
    assert said(capsys, "verify", str(packed)) == said(capsys, "verify", str(plain))
    for trail in (plain, packed):
        assert said(capsys, "replay", str(trail), "--protocol", str(SEED), "--facts",
                    str(PATIENTS))[0] == 0
        code, out, _ = said(capsys, "report", str(trail), "-o", str(tmp_path / "r.html"))
        assert code == 0 and "23 patients; trail intact" in out


@pytest.mark.parametrize("block, records_read", [(1, 7), (60_000, 15), (trailfile.BLOCK, 27)])
def test_explain_one_patient_through_the_seek_table(plain, tmp_path, capsys, block, records_read):
    """The patient's frame, the first and the last are read and checked (a frame a record, a
    few patients a frame, or the whole demo in one); the text is the same as of the plain trail,
    and stderr says what was checked."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(trailfile, "BLOCK", block)
        packed = run(tmp_path, "trail.jsonl.zst")
    capsys.readouterr()
    found = located(str(packed), P04)
    assert found is not None and found.checked.ok
    assert len(found.lines) == records_read
    code, out, err = said(capsys, "explain", str(packed), "--patient", P04, "--criterion",
                          "I4.liver")
    assert (code, out) == said(capsys, "explain", str(plain), "--patient", P04, "--criterion",
                               "I4.liver")[:2]
    assert err == (f"checked: the frames read, against the trail's seek table and seal; "
                   f"`proto-rules verify {packed}` checks every record\n")


def test_a_patient_the_table_does_not_name_is_looked_for_everywhere(packed, capsys):
    code, _, err = said(capsys, "explain", str(packed), "--patient", "P04-liver-at-treshold")
    assert code == 2 and err == (f"proto-rules: no patient 'P04-liver-at-treshold' in the trail "
                                 f"{packed}; did you mean '{P04}'?\n")


# -- tampering: the table cannot vouch for what the chain does not hold ----------------------------

def test_an_edited_record_is_not_shown_as_intact_through_the_table(plain, tmp_path, capsys):
    """A forger edits P04's record and builds the frames and table anew: the frame no longer
    chains to the next, `explain --patient` reads the whole trail and says it is tampered."""
    lines = plain.read_bytes().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if P04.encode() in line)
    lines[at] = lines[at].replace(b'"verdict":"MET"', b'"verdict":"NOT_MET"', 1)
    forged = packed_from(lines, tmp_path / "forged.jsonl.zst")
    assert located(str(forged), P04) is None
    code, out, _ = said(capsys, "explain", str(forged), "--patient", P04)
    assert code == 1 and out.startswith(f"TAMPERED: line {at + 2} (patient ")
    assert said(capsys, "verify", str(forged))[1].startswith(f"TAMPERED: line {at + 2} ")


def test_a_table_that_lies_is_named_by_verify(plain, tmp_path, capsys):
    """The table sends P04 to another patient's frame: `explain` does not find it there and reads
    the whole trail (which is intact); `verify` names the frame the table gets wrong."""
    lines = plain.read_bytes().splitlines(keepends=True)
    honest = seek_table(str(packed_from(lines, tmp_path / "honest.jsonl.zst"))).frames()
    table = [[f.offset, f.first, f.prev, list(f.patients)] for f in honest]
    at = next(i for i, frame in enumerate(table) if frame[3] == [P04])
    table[at][3], table[at + 1][3] = table[at + 1][3], table[at][3]
    lying = packed_from(lines, tmp_path / "lying.jsonl.zst", table)
    assert located(str(lying), P04) is None
    code, out, _ = said(capsys, "explain", str(lying), "--patient", P04)
    assert code == 1 and f"patient {P04}" in out
    assert out.startswith(f"TAMPERED: line {at + 2} (patient ")
    assert "the seek table lists other patients for the frame that starts at line" in out


def test_a_writer_stopped_before_the_table_leaves_frames_that_read(plain, packed, tmp_path,
                                                                   capsys):
    """Killed mid-write: whole frames, part of one, no table. The readers read what is there;
    `verify` says it is truncated."""
    table = list(seek_table(str(packed)).frames())
    cut = tmp_path / "cut.jsonl.zst"
    cut.write_bytes(packed.read_bytes()[:table[8].offset + 40])
    assert seek_table(str(cut)) is None
    code, out, _ = said(capsys, "explain", str(cut), "--patient", "P03-age-4-under-minimum")
    assert code == 1 and out.startswith(f"TAMPERED: line {table[8].first - 1}: no seal")
    assert "decision: INELIGIBLE" in out


def test_a_trail_that_cannot_be_taken_back_is_left_as_it_was(packed, tmp_path, monkeypatch):
    """A frame that no longer decompresses when a resumed run goes on writing (the file changed
    after `--resume` read it): a one-line error, and the file is not touched, then or when the
    writer is dropped (closing it would write a seek table after the bad frame)."""
    frames = list(seek_table(str(packed)).frames())
    data = bytearray(packed.read_bytes())
    data[frames[1].offset + 8] ^= 0xFF  # inside the second frame's compressed block
    bad = tmp_path / "bad.jsonl.zst"
    bad.write_bytes(bytes(data))
    raised = []
    monkeypatch.setattr("sys.unraisablehook", raised.append)
    with pytest.raises(UsageError, match="a frame does not decompress"):
        trailfile.reopened(str(bad), keep=len(unpacked(packed)))
    gc.collect()
    assert bad.read_bytes() == bytes(data) and raised == []


def test_a_file_that_is_not_a_whole_zstd_stream(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl.zst"
    bad.write_bytes(trailfile.ZSTD_MAGIC + b"\x7f" * 40)
    for argv in (["explain", str(bad)], ["verify", str(bad)]):
        code, out, err = said(capsys, *argv)
        assert (code, out) == (2, "")
        assert err.startswith(f"proto-rules: cannot read trail {bad}: not a whole zstd stream")


def test_a_table_that_cannot_be_read_is_named_by_verify(plain, tmp_path, capsys):
    lines = plain.read_bytes().splitlines(keepends=True)
    broken = packed_from(lines, tmp_path / "broken.jsonl.zst", [["not an entry"]])
    assert located(str(broken), P04) is None
    code, out, _ = said(capsys, "explain", str(broken), "--patient", P04)
    assert code == 1 and out.startswith("TAMPERED: line 1: the seek table cannot be read (")
    assert f"patient {P04}" in out


def test_a_table_whose_offsets_are_wrong_sends_explain_through_the_trail(plain, tmp_path,
                                                                          capsys):
    """Offsets only spare reading: a frame not where the table says is not read, the whole trail
    is (and it is intact: the records are all there)."""
    lines = plain.read_bytes().splitlines(keepends=True)
    honest = seek_table(str(packed_from(lines, tmp_path / "honest.jsonl.zst"))).frames()
    table = [[f.offset + 3, f.first, f.prev, list(f.patients)] for f in honest]
    shifted = packed_from(lines, tmp_path / "shifted.jsonl.zst", table)
    assert located(str(shifted), P04) is None
    code, out, err = said(capsys, "explain", str(shifted), "--patient", P04)
    assert code == 0 and f"patient {P04}" in out and err == ""
