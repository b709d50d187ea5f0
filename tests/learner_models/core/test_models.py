"""Every family on the common interface: fits tiny synthetic data and beats chance; checkpoints
round-trip bit for bit; the online pass equals adapt-then-predict (one adaptation path)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from learner_models.core import MODEL_NAMES, LearnerModel, get_model, state_from_bytes, state_to_bytes
from learner_models.core.evaluate import auc
from tests.learner_models.core.kt_helpers import EXTENDS, QUICK

FAMILIES = list(QUICK)


def test_registry_covers_every_model():
    assert set(MODEL_NAMES) == set(QUICK)
    with pytest.raises(KeyError):
        get_model("nope")
    with pytest.raises(TypeError):
        get_model("elo", not_an_option=1)


@pytest.mark.parametrize("name", FAMILIES)
def test_fits_and_beats_chance(name, fitted, data):
    m = fitted(name)
    test = data[1]
    p = m.predict_online(test)
    assert [len(x) for x in p] == [len(s) for s in test]
    a = auc(np.concatenate([s.correct for s in test]), np.concatenate(p))
    assert a > 0.55, f"{name}: AUC {a:.3f}"


@pytest.mark.parametrize("name", FAMILIES)
def test_online_pass_equals_adapt_then_predict(name, fitted, data):
    m = fitted(name)
    s = data[1][0]
    online = m.predict_online([s])[0]
    for t in (0, 1, len(s) - 1):
        state = m.adapt([s.prefix(t)])[0]
        assert m.predict(state, s.skills[t : t + 1])[0] == pytest.approx(online[t], abs=1e-5)


@pytest.mark.parametrize("name", FAMILIES)
def test_extending_a_state_equals_adapting_the_whole_history(name, fitted, data):
    m = fitted(name)
    s = data[1][2]
    ids = np.arange(10)
    full = m.predict(m.adapt([s])[0], ids)
    for cut in (0, 1, len(s) // 2, len(s) - 1):
        state = m.adapt([s.prefix(cut)])[0]
        got = m.extend(state_from_bytes(state_to_bytes(state)), s.since(cut))
        if name not in EXTENDS:
            assert got is None  # the caller adapts from scratch
            continue
        assert got is not None and set(got) == set(state)
        np.testing.assert_allclose(m.predict(got, ids), full, atol=1e-5)
    # nothing new: the same state, not the same object
    state = m.adapt([s])[0]
    same = m.extend(state, s.prefix(0))
    assert same is not state and np.array_equal(m.predict(same, ids), full)


@pytest.mark.parametrize("name", FAMILIES)
def test_checkpoint_round_trip_is_bit_for_bit(name, fitted, data, tmp_path):
    m = fitted(name)
    path = tmp_path / f"{name}.pt"
    m.save(path)
    ck = torch.load(path, weights_only=True)
    assert ck["name"] == name and ck["version"] >= 1 and isinstance(ck["config"], dict)
    m2 = LearnerModel.load(path)
    assert type(m2) is type(m) and m2.config == m.config
    for a, b in zip(m.predict_online(data[1][:5]), m2.predict_online(data[1][:5]), strict=False):
        assert np.array_equal(a, b)
    st, st2 = m.adapt(data[1][:2]), m2.adapt(data[1][:2])
    ids = np.arange(10)
    assert np.array_equal(m.predict(st[1], ids), m2.predict(st2[1], ids))


@pytest.mark.parametrize("name", FAMILIES)
def test_state_is_small_and_serialises(name, fitted, data):
    m = fitted(name)
    state = m.adapt([data[1][0]])[0]
    blob = state_to_bytes(state)
    assert len(blob) < 64 * 1024
    back = state_from_bytes(blob)
    assert np.array_equal(m.predict(back, [0, 1, 2]), m.predict(state, [0, 1, 2]))


@pytest.mark.parametrize("name", FAMILIES)
def test_a_state_adapted_in_a_batch_holds_only_its_own_student(name, fitted, data):
    """Batched adaptation (how the product recomputes every student after a training) must give each
    student a state of its own: not views into batch-wide tensors, which keep the whole batch alive."""
    m = fitted(name)
    batch = data[1]
    assert len(batch) >= 20
    alone, together = m.adapt(batch[:1])[0], m.adapt(batch)[0]
    own = sum(v.numel() * v.element_size() for v in together.values())
    held = sum({v.untyped_storage().data_ptr(): v.untyped_storage().nbytes() for v in together.values()}.values())
    assert held <= own, f"{name}: a state of {own} bytes holds {held} bytes of storage"
    assert len(state_to_bytes(together)) == len(state_to_bytes(alone))
    ids = np.arange(10)
    assert np.array_equal(m.predict(state_from_bytes(state_to_bytes(together)), ids), m.predict(together, ids))


def test_pack_rows_gives_each_row_its_own_copy_of_every_part():
    from learner_models.core.sequence import pack_rows

    parts = {"h": torch.randn(4, 3, 5), "succ": torch.randn(4, 7), "theta": torch.randn(4, 1)}
    states = pack_rows(parts)
    assert len(states) == 4
    for j, st in enumerate(states):
        assert list(st) == ["h", "succ", "theta"]
        assert all(torch.equal(st[k], parts[k][j]) for k in parts)
        assert len({v.untyped_storage().data_ptr() for v in st.values()}) == 1  # one compact copy per student
        assert st["h"].untyped_storage().nbytes() == 4 * (15 + 7 + 1)
    states[0]["succ"] += 1  # a copy: neither the batch nor another student changes
    assert torch.equal(states[1]["succ"], parts["succ"][1]) and not torch.equal(states[0]["succ"], parts["succ"][0])
    with pytest.raises(TypeError, match="different dtypes"):
        pack_rows({"h": torch.zeros(2, 3), "n": torch.zeros(2, 3, dtype=torch.float64)})


def test_state_to_bytes_writes_the_state_not_the_storage_behind_it():
    batch = torch.arange(4000, dtype=torch.float32).reshape(200, 20)
    view = {"succ": batch[7], "h": batch[7, :4]}  # views of a larger tensor, sharing storage
    blob = state_to_bytes(view)
    assert len(blob) == len(state_to_bytes({k: v.clone() for k, v in view.items()}))
    assert len(blob) < batch.numel() * 4
    assert all(torch.equal(state_from_bytes(blob)[k], v) for k, v in view.items())


def test_new_student_and_unseen_ids_get_sensible_predictions(fitted):
    m = fitted("best")
    empty = m.adapt(
        [
            m_seq := __import__("learner_models.core", fromlist=["StudentSequence"]).StudentSequence(
                np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
            )
        ]
    )[0]
    assert len(m_seq) == 0
    p = m.predict(empty, [0, 1, 12345])
    assert np.all((p > 0.05) & (p < 0.95))


def test_side_inputs_are_used_when_present():
    from tests.learner_models.core.kt_helpers import synth

    tr = synth(80, seed=0, side=True)
    m = get_model("best", **QUICK["best"]).fit(tr, seed=0)
    s = tr[0]
    stripped = type(s)(s.skills, s.correct)
    assert not np.allclose(m.predict_online([s])[0], m.predict_online([stripped])[0])  # it reads them
    assert np.all(np.isfinite(m.predict_online([stripped])[0]))  # and works without them


def test_resolve_device_names_a_device_this_machine_lacks():
    from learner_models.core import resolve_device

    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    for bad in ("gpu", "mps", "meta"):
        with pytest.raises(ValueError, match="not one of auto, cpu, cuda, cuda:N"):
            resolve_device(bad)
    if torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA GPU"):
            resolve_device(f"cuda:{torch.cuda.device_count()}")
    else:
        with pytest.raises(ValueError, match="sees no CUDA GPU"):
            resolve_device("cuda")


def test_device_is_passed_through():
    from tests.learner_models.core.kt_helpers import synth

    m = get_model("elo").fit(synth(10), device="auto")
    assert m.device.type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_best_stacks_the_ensemble_with_elo_and_pfa(fitted, data):
    m = fitted("best")
    net = m.net
    assert net.stacked and not fitted("dkt").net.stacked
    w = net.stack_w
    assert torch.isfinite(w).all() and not torch.equal(w, torch.tensor([1.0, 0.0, 0.0, 0.0]))
    # the stacked logit is the weighted sum of the ensemble, Elo and PFA logits
    s = data[1][:3]
    stacked = m.predict_online(s)
    net.stacked = False
    try:
        plain = m.predict_online(s)
    finally:
        net.stacked = True
    assert any(not np.allclose(a, b) for a, b in zip(stacked, plain, strict=True))
    assert "theta" in m.adapt(s[:1])[0] and "theta" in m.adapt([s[0].prefix(0)])[0]


@pytest.mark.parametrize(("side", "with_items"), [(False, False), (False, True), (True, False), (True, True)])
def test_fused_batched_adaptation_equals_each_members_packed_gru(side, with_items):
    """The large-batch path (all members in one recurrence, lookup-table inputs) computes the same states."""
    from learner_models.core import sequence
    from learner_models.core.data import StudentSequence
    from tests.learner_models.core.kt_helpers import synth

    rng = np.random.default_rng(7)
    tr = [
        StudentSequence(s.skills, s.correct, items=rng.integers(0, 30, len(s)), confidence=s.confidence)
        for s in synth(60, seed=3, side=side)
    ]
    m = get_model("best", **QUICK["best"]).fit(tr, seed=0)
    with torch.no_grad():  # trained item rows are zero on this data; make them matter
        for member in m.net.members:
            member.item.weight.normal_(0, 0.3)
    students = [
        StudentSequence(
            s.skills,
            s.correct,
            items=rng.integers(-1, 40, len(s)) if with_items else None,
            **({"confidence": s.confidence} if side else {}),
        )
        for s in synth(40, seed=4, side=side, length=50)
    ]
    old = dict(sequence.FUSED_MIN_BATCH)
    try:
        sequence.FUSED_MIN_BATCH.update(cpu=10**9)
        packed = m.adapt(students)
        sequence.FUSED_MIN_BATCH.update(cpu=1)
        fused = m.adapt(students)
        for a, b in zip(packed, fused, strict=True):
            torch.testing.assert_close(b["h"], a["h"], rtol=1e-5, atol=1e-5)
            assert torch.equal(a["succ"], b["succ"]) and torch.equal(a["theta"], b["theta"])
        # students in groups for the matmuls (several CPU threads): 2 members on 3 threads make 3 groups
        # of 34 students, two of them padding
        many = students + students + students[:20]
        threads = torch.get_num_threads()
        torch.set_num_threads(3)
        try:
            grouped = m.adapt(many)
        finally:
            torch.set_num_threads(threads)
        for a, b in zip(packed + packed + packed[:20], grouped, strict=True):
            torch.testing.assert_close(b["h"], a["h"], rtol=1e-5, atol=1e-5)
        # one student at a time, repeatedly: the step buffers never write into the cached initial state
        for _ in range(2):
            torch.testing.assert_close(m.adapt(students[:1])[0]["h"], packed[0]["h"], rtol=1e-5, atol=1e-5)
        # the cached tables follow the weights when they change in place
        with torch.no_grad():
            m.net.members[0].rnn.weight_hh_l0.mul_(0.5)
        after = m.adapt(students[:2])
        sequence.FUSED_MIN_BATCH.update(cpu=10**9)
        torch.testing.assert_close(after[0]["h"], m.adapt(students[:2])[0]["h"], rtol=1e-5, atol=1e-5)
        assert not torch.allclose(after[0]["h"], fused[0]["h"])
    finally:
        sequence.FUSED_MIN_BATCH.update(old)


def test_stack_elo_of_one_student_equals_the_batched_update(fitted, data):
    """The one-student Elo path (plain floats) and the batched one (NumPy) give the same logits and ability."""
    from learner_models.core.data import make_batch

    m = fitted("best")
    seqs = data[1][:5]
    assert len({len(s) for s in seqs}) > 1  # shorter students are padded in the batch
    z, theta = m.net.elo_logits(make_batch(seqs, m.vocab, features=False))
    start = torch.tensor([0.7])
    for i, s in enumerate(seqs):
        one = make_batch([s], m.vocab, features=False)
        z1, theta1 = m.net.elo_logits(one)
        torch.testing.assert_close(z1[0], z[i, : len(s)])
        torch.testing.assert_close(theta1, theta[i : i + 1])
        # by hand: the first logit is minus the difficulty; the ability moves by k·(y − p)
        d = m.net.elo.difficulty.detach()[one.skills[0, 0]].double()
        p = torch.sigmoid(0.7 - d)
        continued = m.net.elo_logits(make_batch([s.prefix(1)], m.vocab, features=False), start)[1]
        expected = 0.7 + float(m.net.elo.k) * (float(s.correct[0]) - p)
        torch.testing.assert_close(continued.double(), expected.reshape(1), rtol=1e-6, atol=1e-6)
