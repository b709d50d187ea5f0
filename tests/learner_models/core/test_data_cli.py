"""File formats, malformed input (the error names the line) and the kt-eval CLI end to end."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from learner_models.core import KTFormatError, Response, StudentSequence, read_sequences
from learner_models.core.cli import main
from learner_models.core.data import side_features
from tests.learner_models.core.kt_helpers import synth


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
    "text,line,problem",
    [
        ("3\n1,2,1\n1,0\n", 3, "expected 3 answers"),
        ("2\n1,x\n1,0\n", 2, "'x' is not an integer"),
        ("2\n1,2\n1,2\n", 3, "0 or 1"),
        ("2\n1,2\n1,0\n2\n1,2\n", 5, "groups of 3"),
        ("two\n1,2\n1,0\n", 1, "response count"),
    ],
)
def test_malformed_dkvmn_names_the_line(tmp_path, text, line, problem):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(KTFormatError) as e:
        read_sequences(p, "dkvmn")
    assert e.value.line == line
    assert problem in str(e.value) and str(p) in str(e.value)


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


@pytest.mark.parametrize(
    ("text", "args", "problem"),
    [
        ("2\n1,2\n1,5\n", ["--fraction", "0.5"], ":3: answers must be 0 or 1"),
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
