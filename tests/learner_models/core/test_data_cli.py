"""File formats, malformed input (the error names the line) and the kt-eval CLI end to end."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from learner_models.core import KTFormatError, LearnerModel, Response, StudentSequence, read_sequences
from learner_models.core.cli import main
from learner_models.core.data import Vocab, detect_format, make_batch, side_features
from tests.learner_models.core.kt_helpers import synth, write_akt


def _write_dkvmn(path, seqs):
    with open(path, "w") as f:
        for s in seqs:
            f.write(f"{len(s)}\n{','.join(map(str, s.skills))},\n{','.join(map(str, s.correct))},\n")


def test_read_dkvmn(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text("3\n1,2,1,\n1,0,1,\n\n1\n7\n0\n")
    seqs = read_sequences(p, "dkvmn")
    assert [list(s.skills) for s in seqs] == [[1, 2, 1], [7]]
    assert [list(s.correct) for s in seqs] == [[1, 0, 1], [0]]


@pytest.mark.parametrize(
    "fmt,text,line,problem",
    [
        ("dkvmn", "3\n1,2,1\n1,0\n", 3, "expected 3 answers"),
        ("dkvmn", "2\n1,x\n1,0\n", 2, "'x' is not an integer"),
        ("dkvmn", "2\n1,2\n1,2\n", 3, "0 or 1"),
        ("dkvmn", "2\n1,2\n1,0\n2\n1,2\n", 5, "groups of 3"),
        ("dkvmn", "two\n1,2\n1,0\n", 1, "response count"),
        ("akt", "1,7\n5,6\n1,1\n1,0\n2,8\n5\n1\n", 7, "groups of 4 lines"),  # a student lacks a line
        ("akt", "1,7\n5,6,9\n1,1\n1,0\n", 3, "expected 3 skill ids, got 2"),
        ("akt", "1,7\n5,6\n1,1\n1,0,1\n", 4, "expected 2 answers, got 3"),
        ("akt", "1,7\n5,x\n1,1\n1,0\n", 2, "item id 'x' is not an integer"),
        ("akt", "1,7\n5,6\n1,1.5\n1,0\n", 3, "skill id '1.5' is not an integer"),
        ("akt", "1,7\n5,6\n1,1\n1,2\n", 4, "answers must be 0 or 1"),
        ("akt", "1,7\n5,6\n1,-1\n1,0\n", 3, "skill ids must be non-negative"),
        ("akt", "1,7\n5,6\n1,1\n1,0\n5,6,7\n1,1,1\n1,0,1\n0,1,1\n", 5, "expected `<row>,<student id>`"),
        ("akt", "x,7\n5,6\n1,1\n1,0\n", 1, "row 'x' is not an integer"),
    ],
)
def test_malformed_line_formats_name_the_line(tmp_path, fmt, text, line, problem):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(KTFormatError) as e:
        read_sequences(p, fmt)
    assert e.value.line == line
    assert problem in str(e.value) and f"{p}:{line}:" in str(e.value)


def test_read_long_with_optional_columns(tmp_path):
    p = tmp_path / "long.csv"
    p.write_text(
        "student,skill,correct,item,confidence,response_time,hints\n"
        "s1,3,1,10,0.9,12.5,0\ns2,4,0,,,,\ns1,3,0,11,0.2,30,2\n"
    )
    s1, s2 = read_sequences(p, "long")
    assert s1.student_id == "s1" and list(s1.skills) == [3, 3] and list(s1.items) == [10, 11]
    assert s1.responses()[1] == Response(skill=3, correct=0, item=11, confidence=0.2, response_time=30.0, hints=2)
    assert s2.responses() == [Response(skill=4, correct=0)]
    f = side_features(s1)
    assert f.shape == (2, 6) and f[0, 1] == 1 and f[1, 0] == pytest.approx(0.2)
    assert side_features(s2).sum() == 0  # nothing recorded -> all flags off


@pytest.mark.parametrize(
    "text,line,problem",
    [
        ("student,skill\ns,1\n", 1, "lacks column(s) correct"),
        ("student,skill,correct\ns,1,2\n", 2, "out of range"),
        ("student,skill,correct\ns,1,1\ns,a,1\n", 3, "not a int"),
        ("student,skill,correct,confidence\ns,1,1,1.5\n", 2, "confidence"),
        ("student,skill,correct\ns,1\n", 2, "expected 3 fields"),
    ],
)
def test_malformed_long_names_the_line(tmp_path, text, line, problem):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(KTFormatError) as e:
        read_sequences(p, "long")
    assert e.value.line == line and problem in str(e.value)


def test_read_akt_four_line_format_with_item_ids(tmp_path):
    p = tmp_path / "pid.csv"
    p.write_text("1,78276\n7410,7410,10076\n3,3,5\n1,0,1\n\n2,89171,\n12,\n4,\n0,\n")
    a, b = read_sequences(p)  # detected from the first line
    assert a.student_id == "78276" and b.student_id == "89171"
    assert [a.items.tolist(), a.skills.tolist(), a.correct.tolist()] == [[7410, 7410, 10076], [3, 3, 5], [1, 0, 1]]
    assert [b.items.tolist(), b.skills.tolist(), b.correct.tolist()] == [[12], [4], [0]]
    assert a.responses()[2] == Response(skill=5, correct=1, item=10076)
    # the item ids reach the models' inputs: the vocabulary and the batches' item channel (0 = unknown)
    vocab = Vocab.fit([a])
    assert vocab.n_items == 10077 and vocab.seen_items[[7410, 10076]].all()
    batch = make_batch([a, b], vocab)
    assert batch.items.tolist() == [[7411, 7411, 10077], [0, 0, 0]]


def test_format_detected_from_the_first_line(tmp_path):
    files = {
        "dkvmn": "\n3,\n1,2,1\n1,0,1\n",
        "akt": "1,78276\n5,6\n1,1\n1,0\n",
        "long": "student,skill,correct\ns,1,1\n",
        "long ": "skill,correct\n1,1\n",  # a header without the student column is still a header
    }
    for fmt, text in files.items():
        (tmp_path / "f.csv").write_text(text)
        assert detect_format(tmp_path / "f.csv") == fmt.strip()
    (tmp_path / "f.csv").write_text("skill,correct\n1,1\n")
    with pytest.raises(KTFormatError, match="lacks column"):
        read_sequences(tmp_path / "f.csv")
    (tmp_path / "f.csv").write_text("\n  \n")
    with pytest.raises(KTFormatError, match="empty file"):
        read_sequences(tmp_path / "f.csv")


def test_student_sequence_from_responses_round_trip():
    rs = [Response(1, 1), Response(2, 0, item=5, confidence=0.5, response_time=3.0, hints=1)]
    s = StudentSequence.from_responses(rs, student_id="x")
    assert s.responses() == rs and len(s.prefix(1)) == 1


def test_kt_eval_cli_writes_predictions_and_report(tmp_path, capsys):
    tr, te = tmp_path / "tr.csv", tmp_path / "te.csv"
    _write_dkvmn(tr, synth(60, seed=0))
    test = synth(20, seed=1)
    test[0] = StudentSequence(np.array([0, 999, 3]), np.array([1, 0, 1]))  # id 999 never seen in TRAIN
    _write_dkvmn(te, test)
    out = tmp_path / "p.csv"
    assert (
        main(["kt-eval", "--train", str(tr), "--test", str(te), "--model", "elo", "--out", str(out), "--device", "cpu"])
        == 0
    )
    rows = list(csv.DictReader(open(out)))
    assert len(rows) == sum(len(s) for s in test)
    assert rows[0] == {"student": "0", "position": "1", "p": rows[0]["p"]}
    assert all(0 < float(r["p"]) < 1 for r in rows)
    captured = capsys.readouterr()
    assert "| 1-5 | 6-10 | 11-20 | 21-50 | 51+ | all | ece_1-10 |" in captured.out
    assert "epoch" in captured.err  # progress on stderr


def test_kt_eval_cli_long_format_with_side_inputs(tmp_path):
    p = tmp_path / "long.csv"
    rng = np.random.default_rng(0)
    with open(p, "w") as f:
        f.write("student,skill,correct,confidence,response_time,hints\n")
        for s in range(30):
            for _ in range(8):
                y = int(rng.random() < 0.6)
                f.write(
                    f"u{s},{rng.integers(0, 4)},{y},{0.5 + 0.4 * y:.2f},{rng.gamma(2, 5):.1f},{rng.integers(0, 2)}\n"
                )
    out = tmp_path / "p.csv"
    assert (
        main(["kt-eval", "--train", str(p), "--test", str(p), "--model", "pfa", "--format", "long", "--out", str(out)])
        == 0
    )
    assert out.exists()


def test_kt_eval_cli_four_line_files_predictions_line_up_with_the_test_file(tmp_path, capsys):
    """Rows are (0-based student in the test file, 1-based position), as the referee scores them."""
    tr, te, out, ckpt = tmp_path / "tr.csv", tmp_path / "te.csv", tmp_path / "p.csv", tmp_path / "m.pt"
    write_akt(tr, synth(40, seed=0, items_per_skill=5))
    test = synth(12, seed=1, items_per_skill=5)
    write_akt(te, test)
    args = ["kt-eval", "--train", str(tr), "--test", str(te), "--model", "pfa", "--out", str(out), "--save", str(ckpt)]
    assert main(args) == 0
    rows = [(int(r["student"]), int(r["position"])) for r in csv.DictReader(open(out))]
    assert rows == [(i, t + 1) for i, s in enumerate(test) for t in range(len(s))]
    assert LearnerModel.load(ckpt).vocab.n_items == 40  # the train file's item ids reached the model
    again = tmp_path / "again.csv"
    assert main(["kt-predict", "--checkpoint", str(ckpt), "--test", str(te), "--out", str(again)]) == 0
    assert again.read_text() == out.read_text()
    assert "error" not in capsys.readouterr().err


def test_kt_eval_cli_malformed_file_exits_2_and_writes_nothing(tmp_path, capsys):
    tr, te = tmp_path / "tr.csv", tmp_path / "te.csv"
    _write_dkvmn(tr, synth(10, seed=0))
    te.write_text("2\n1,2\n1,5\n")
    out = tmp_path / "p.csv"
    with pytest.raises(SystemExit) as e:
        raise SystemExit(main(["kt-eval", "--train", str(tr), "--test", str(te), "--model", "elo", "--out", str(out)]))
    assert e.value.code == 2
    assert not out.exists() and list(tmp_path.iterdir()) == sorted([tr, te]) or not out.exists()
    err = capsys.readouterr().err
    assert f"{te}:3:" in err and "0 or 1" in err


def _key(seq):
    return (tuple(seq.skills.tolist()), tuple(seq.correct.tolist()))


def test_kt_subset_keeps_a_nested_random_share_of_the_students_verbatim(tmp_path, capsys):
    src = tmp_path / "train.csv"
    full = synth(40, seed=3)
    _write_dkvmn(src, full)
    kept = {}
    for frac in (0.25, 0.5, 1.0):
        out = tmp_path / f"sub{frac}.csv"
        assert main(["kt-subset", "--input", str(src), "--fraction", str(frac), "--out", str(out), "--seed", "7"]) == 0
        sub = read_sequences(out)
        assert len(sub) == round(frac * 40)
        kept[frac] = [_key(s) for s in sub]
        # the students keep the file's order and their lines are copied, not re-encoded
        src_lines = src.read_text().splitlines()
        assert all(line in src_lines for line in out.read_text().splitlines())
    order = [_key(s) for s in full]
    for frac in (0.25, 0.5):
        positions = [order.index(k) for k in kept[frac]]
        assert positions == sorted(positions)
    assert set(kept[0.25]) < set(kept[0.5]) < set(kept[1.0]) == set(order)  # nested: data is added, not redrawn
    assert "10 of 40 students" in capsys.readouterr().err
    other = tmp_path / "other.csv"
    assert main(["kt-subset", "--input", str(src), "--fraction", "0.25", "--out", str(other), "--seed", "8"]) == 0
    assert [_key(s) for s in read_sequences(other)] != kept[0.25]  # the seed picks the students


def test_kt_subset_long_format_keeps_every_row_and_column_of_the_chosen_students(tmp_path):
    src = tmp_path / "long.csv"
    rows = ["student,skill,correct,item,hints"]
    for s in range(12):
        rows += [f"u{s},{s % 3},{(s + t) % 2},{100 + t},{t % 2}" for t in range(s + 2)]
        if s == 5:
            rows.append("")  # a blank line the reader skips
    src.write_text("\n".join(rows) + "\n")
    out = tmp_path / "sub.csv"
    assert main(["kt-subset", "--input", str(src), "--format", "long", "--fraction", "0.5", "--out", str(out)]) == 0
    text = out.read_text().splitlines()
    assert text[0] == rows[0]
    students = {line.split(",")[0] for line in text[1:]}
    assert len(students) == 6
    assert text[1:] == [r for r in rows[1:] if r and r.split(",")[0] in students]  # whole students, in order
    assert sorted(len(s) for s in read_sequences(out, "long")) == sorted(int(u[1:]) + 2 for u in students)


@pytest.mark.parametrize("fmt", [[], ["--format", "akt"]])
def test_kt_subset_four_line_format_round_trip(tmp_path, fmt):
    src = tmp_path / "pid.csv"
    full = synth(30, seed=5, items_per_skill=4)
    write_akt(src, full)
    whole = tmp_path / "whole.csv"
    assert main(["kt-subset", "--input", str(src), "--fraction", "1", "--out", str(whole), *fmt]) == 0
    assert whole.read_text() == src.read_text()  # every student, in the same four lines
    half = tmp_path / "half.csv"
    assert main(["kt-subset", "--input", str(src), "--fraction", "0.5", "--out", str(half), *fmt]) == 0
    lines = half.read_text().splitlines()
    src_lines = src.read_text().splitlines()
    groups = [lines[g : g + 4] for g in range(0, len(lines), 4)]
    assert len(groups) == 15 and all(g in [src_lines[k : k + 4] for k in range(0, 120, 4)] for g in groups)
    by_id = {s.student_id: s for s in read_sequences(src)}
    for s in read_sequences(half, "akt"):
        orig = by_id[s.student_id]
        assert [s.items.tolist(), s.skills.tolist(), s.correct.tolist()] == [
            orig.items.tolist(),
            orig.skills.tolist(),
            orig.correct.tolist(),
        ]


@pytest.mark.parametrize(
    ("text", "args", "problem"),
    [
        ("2\n1,2\n1,5\n", ["--fraction", "0.5"], ":3: answers must be 0 or 1"),
        ("1,7\n5,6\n1\n1,0\n", ["--fraction", "0.5"], ":3: expected 2 skill ids, got 1"),
        ("2\n1,2\n1,0\n", ["--fraction", "0"], "--fraction: must be in (0, 1]"),
        ("2\n1,2\n1,0\n", ["--fraction", "1.5"], "--fraction: must be in (0, 1]"),
    ],
)
def test_kt_subset_bad_input_exits_2_and_writes_nothing(tmp_path, capsys, text, args, problem):
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    src.write_text(text)
    assert main(["kt-subset", "--input", str(src), "--out", str(out), *args]) == 2
    assert problem in capsys.readouterr().err
    assert sorted(tmp_path.iterdir()) == [src]


def test_kt_predict_scores_a_saved_checkpoint_like_kt_eval(tmp_path, capsys):
    """kt-eval --save, then kt-predict on the checkpoint: the same predictions, without training again."""
    tr, te = tmp_path / "tr.csv", tmp_path / "te.csv"
    _write_dkvmn(tr, synth(60, seed=0))
    _write_dkvmn(te, synth(15, seed=1))
    fitted, again, ckpt = tmp_path / "fit.csv", tmp_path / "again.csv", tmp_path / "m.pt"
    args = ["--train", str(tr), "--test", str(te), "--model", "pfa", "--out", str(fitted), "--save", str(ckpt)]
    assert main(["kt-eval", *args]) == 0
    assert main(["kt-predict", "--checkpoint", str(ckpt), "--test", str(te), "--out", str(again)]) == 0
    assert fitted.read_text() == again.read_text()
    assert "pfa from" in capsys.readouterr().out


def test_kt_predict_bad_checkpoint_or_folder_exits_2(tmp_path, capsys):
    te, bad, out = tmp_path / "te.csv", tmp_path / "bad.pt", tmp_path / "p.csv"
    _write_dkvmn(te, synth(5, seed=1))
    bad.write_bytes(b"not a checkpoint")
    assert main(["kt-predict", "--checkpoint", str(bad), "--test", str(te), "--out", str(out)]) == 2
    assert "--checkpoint" in capsys.readouterr().err and not out.exists()
    # a checkpoint folder that does not exist stops kt-eval before it trains
    args = ["--train", str(te), "--test", str(te), "--model", "elo", "--out", str(out)]
    assert main(["kt-eval", *args, "--save", str(tmp_path / "nope" / "m.pt")]) == 2
    assert "nope" in capsys.readouterr().err and not out.exists()


def test_unknown_or_missing_device_exits_2_before_any_work(tmp_path, capsys):
    tr, out = tmp_path / "tr.csv", tmp_path / "p.csv"
    _write_dkvmn(tr, synth(10, seed=0))
    base = ["kt-eval", "--train", str(tr), "--test", str(tr), "--model", "elo", "--out", str(out)]
    assert main([*base, "--device", "gpu"]) == 2
    assert "--device: device 'gpu' is not one of auto, cpu, cuda, cuda:N" in capsys.readouterr().err
    assert main(["bench", "--quick", "--device", "tpu"]) == 2
    if not torch.cuda.is_available():
        assert main([*base, "--device", "cuda"]) == 2
        assert "sees no CUDA GPU" in capsys.readouterr().err
    assert not out.exists()


def test_bench_quick_json(capsys):
    assert main(["bench", "--quick", "--json", "--loop-students", "40"]) == 0
    res = json.loads(capsys.readouterr().out)
    for k in ("adapt_one_p99_ms", "batched_speedup", "metatrain_seconds"):
        assert isinstance(res[k], float) and res[k] > 0
    assert res["loop_students_timed"] == 40


def test_bench_rejects_an_empty_loop(capsys):
    assert main(["bench", "--quick", "--loop-students", "0"]) == 2
    assert "--loop-students: must be at least 1" in capsys.readouterr().err
