"""Comparing two models on one test file: weighted AUC, the paired bootstrap, the predictions reader
and `kt-compare`."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from learner_models.core.cli import main
from learner_models.core.data import KTFormatError, read_predictions
from learner_models.core.evaluate import _TieGroups, auc, paired_bootstrap
from tests.learner_models.core.kt_helpers import synth, write_akt


def _write_dkvmn(path, seqs):
    with open(path, "w") as f:
        for s in seqs:
            f.write(f"{len(s)}\n{','.join(map(str, s.skills))}\n{','.join(map(str, s.correct))}\n")


def _write_preds(path, preds):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", "position", "p"])
        for i, p in enumerate(preds):
            for t, v in enumerate(p):
                w.writerow([i, t + 1, f"{v:.6f}"])


def _referee(folder) -> str:
    """A stand-in for the referee script: its `load` (three- or four-line files, told apart as the referee
    does) and one anchor, `m_rate`, the train files' share correct."""
    path = folder / "referee.py"
    path.write_text(
        "import numpy as np\n"
        "def load(fn):\n"
        "    lines = [l.strip() for l in open(fn) if l.strip()]\n"
        "    ints = lambda l: np.array([int(x) for x in l.split(',') if x])\n"
        "    k = 4 if ',' in lines[0] else 3\n"
        "    return [(ints(lines[i + k - 2]), ints(lines[i + k - 1])) for i in range(0, len(lines), k)]\n"
        "def m_rate(train, test):\n"
        "    r = np.mean(np.concatenate([a for _, a in train]))\n"
        "    return [np.full(len(a), r) for _, a in test]\n"
    )
    return str(path)


def test_weighted_auc_is_the_auc_of_repeated_responses():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    p = np.round(rng.random(300), 1)  # many ties
    w = rng.integers(0, 4, 300)
    g = _TieGroups(y, p)
    pos, neg = p[y == 1][:, None], p[y == 0][None, :]
    pairwise = ((pos > neg) + 0.5 * (pos == neg)).mean()  # the definition, over every (positive, negative) pair
    assert g.auc(np.ones(300)) == pytest.approx(pairwise, abs=1e-12) and auc(y, p) == pytest.approx(pairwise, abs=1e-12)
    assert g.auc(w.astype(float)) == pytest.approx(auc(np.repeat(y, w), np.repeat(p, w)), abs=1e-12)
    # by hand: one positive above one negative, one tie -> (1 + 0.5) / 2
    assert _TieGroups(np.array([1, 0, 1]), np.array([0.9, 0.5, 0.5])).auc(np.ones(3)) == pytest.approx(0.75)
    assert _TieGroups(np.array([1, 1]), np.array([0.2, 0.3])).auc(np.ones(2)) is None  # one class only


def test_paired_bootstrap_of_a_model_against_itself_and_a_better_one():
    test = synth(80, seed=5)
    y = [s.correct for s in test]
    rng = np.random.default_rng(1)
    noisy = [np.clip(0.5 + 0.3 * (c - 0.5) + rng.normal(0, 0.25, len(c)), 0, 1) for c in y]
    sharp = [np.clip(0.5 + 0.6 * (c - 0.5) + rng.normal(0, 0.25, len(c)), 0, 1) for c in y]
    same = paired_bootstrap(y, noisy, noisy, n_boot=50)
    assert set(same) == {"1-5", "6-10", "11-20", "21-50", "51+", "all"}
    assert same["all"]["diff"] == 0 and same["all"]["diff_lo"] == 0 and same["all"]["diff_hi"] == 0
    assert same["all"]["se_a"] > 0 and same["all"]["share_diff_ge_margin"] == 0
    assert same["51+"]["responses"] == 0 and same["51+"]["a"] is None  # synthetic students are shorter
    better = paired_bootstrap(y, sharp, noisy, n_boot=200)
    r = better["all"]
    assert r["a"] == pytest.approx(auc(np.concatenate(y), np.concatenate(sharp)))
    assert r["responses"] == sum(map(len, y)) and r["wrong"] == int(sum((c == 0).sum() for c in y))
    assert 0 < r["diff_lo"] < r["diff"] < r["diff_hi"] and r["share_diff_ge_margin"] == 1.0
    # the standard error is A's: against a constant B (AUC 0.5 on every resample) it stays positive
    const = paired_bootstrap(y, sharp, [np.full(len(c), 0.5) for c in y], n_boot=50)["all"]
    assert const["b"] == 0.5 and const["se_a"] > 0.001
    # fewer students, wider interval
    few = paired_bootstrap(y[:20], sharp[:20], noisy[:20], n_boot=200)["all"]
    assert few["diff_hi"] - few["diff_lo"] > r["diff_hi"] - r["diff_lo"]
    assert few["se_a"] > r["se_a"]


@pytest.mark.parametrize(
    ("rows", "problem"),
    [
        ("student,pos,p\n", "header"),
        ("student,position,p\n0,1,0.5\n0,x,0.5\n", "position 'x' is not an integer"),
        ("student,position,p\n0,1,1.5\n", "not a probability"),
        ("student,position,p\n0,1,nan\n", "not a probability"),
        ("student,position,p\n0,1,0.5\n0,1,0.4\n", "a second prediction"),
        ("student,position,p\n2,1,0.5\n", "student 2 is not in the test file"),
        ("student,position,p\n0,4,0.5\n", "positions 1 to 3, not 4"),
        ("student,position,p\n0,1,0.5\n0,2,0.5\n0,3,0.5\n", "ends without a prediction for student 1, position 1"),
    ],
)
def test_read_predictions_names_the_line_and_problem(tmp_path, rows, problem):
    path = tmp_path / "p.csv"
    path.write_text(rows)
    with pytest.raises(KTFormatError, match=problem) as e:
        read_predictions(path, [3, 2])
    assert str(e.value).startswith(f"{path}:")


def test_read_predictions_in_any_order(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("student,position,p\n1,2,0.25\n0,1,0.5\n1,1,1\n")
    got = read_predictions(path, [1, 2])
    assert [a.tolist() for a in got] == [[0.5], [1.0, 0.25]]


def test_kt_compare_cli_table_json_and_errors(tmp_path, capsys):
    test = synth(40, seed=2)
    te, a, b = tmp_path / "te.csv", tmp_path / "a.csv", tmp_path / "b.csv"
    _write_dkvmn(te, test)
    _write_preds(a, [0.2 + 0.6 * s.correct for s in test])
    _write_preds(b, [np.full(len(s), 0.5) for s in test])
    assert main(["kt-compare", "--test", str(te), "--preds", str(a), "--against", str(b), "--boot", "20"]) == 0
    out = capsys.readouterr()
    assert "| all | " in out.out and "+0.5000" in out.out  # a perfect ranking against a constant
    assert "bootstrap 100%" in out.err
    assert (
        main(["kt-compare", "--test", str(te), "--preds", str(a), "--against", str(b), "--boot", "20", "--json"]) == 0
    )
    res = json.loads(capsys.readouterr().out)
    assert res["buckets"]["all"]["a"] == 1.0 and res["buckets"]["all"]["b"] == 0.5
    # a predictions file for another test file: exit 2 naming the file and line
    _write_preds(b, [np.full(len(s), 0.5) for s in test[:-1]])
    assert main(["kt-compare", "--test", str(te), "--preds", str(a), "--against", str(b)]) == 2
    assert f"{b}:" in capsys.readouterr().err
    # argument errors come before any work
    assert main(["kt-compare", "--test", str(te), "--preds", str(a), "--against", str(a), "--boot", "1"]) == 2
    assert "--boot" in capsys.readouterr().err
    nowhere = str(tmp_path / "nope" / "b.csv")
    assert (
        main(["kt-compare", "--test", str(te), "--preds", str(a), "--against", str(a), "--save-anchor", nowhere]) == 2
    )
    assert "--save-anchor" in capsys.readouterr().err
    # --anchor needs a referee script and a train file
    args = ["kt-compare", "--test", str(te), "--preds", str(a), "--anchor", "elo", "--referee", str(tmp_path / "no.py")]
    assert main(args) == 2 and "not found" in capsys.readouterr().err


def test_kt_compare_against_a_referee_anchor(tmp_path, capsys):
    """--anchor loads the referee script by path and fits its m_NAME on --train (here a tiny stand-in)."""
    test = synth(30, seed=3)
    tr, te, a, saved = tmp_path / "tr.csv", tmp_path / "te.csv", tmp_path / "a.csv", tmp_path / "anchor.csv"
    _write_dkvmn(tr, synth(30, seed=4))
    _write_dkvmn(te, test)
    _write_preds(a, [0.2 + 0.6 * s.correct for s in test])
    args = ["kt-compare", "--test", str(te), "--preds", str(a), "--referee", _referee(tmp_path), "--train", str(tr)]
    assert main([*args, "--anchor", "rate", "--boot", "10", "--save-anchor", str(saved)]) == 0
    assert "B = referee anchor rate" in capsys.readouterr().out
    rate = float(np.mean(np.concatenate([s.correct for s in synth(30, seed=4)])))
    assert np.allclose(np.concatenate(read_predictions(saved, [len(s) for s in test])), rate, atol=1e-6)
    assert main([*args, "--anchor", "nope"]) == 2
    assert "has no anchor 'nope' (it has rate)" in capsys.readouterr().err


def test_kt_compare_referee_anchor_on_four_line_files_not_on_long_csv(tmp_path, capsys):
    """The referee reads the four-line format too (detected by the comma in its first line); not a long CSV."""
    test = synth(20, seed=3, items_per_skill=3)
    tr, te, a = tmp_path / "tr.csv", tmp_path / "te.csv", tmp_path / "a.csv"
    write_akt(tr, synth(20, seed=4, items_per_skill=3))
    write_akt(te, test)
    _write_preds(a, [0.2 + 0.6 * s.correct for s in test])
    args = ["kt-compare", "--test", str(te), "--preds", str(a), "--referee", _referee(tmp_path), "--anchor", "rate"]
    assert main([*args, "--train", str(tr), "--boot", "10"]) == 0
    assert "B = referee anchor rate" in capsys.readouterr().out
    long = tmp_path / "long.csv"
    long.write_text("student,skill,correct\ns,1,1\n")
    assert main([*args, "--train", str(long)]) == 2
    assert f"not a long CSV ({long})" in capsys.readouterr().err
