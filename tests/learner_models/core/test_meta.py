"""Optimisation-based meta-learning: gradients and update directions against autograd references."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from learner_models.core.meta import FastWeightConfig, FastWeightNet, batched_adapt, inner_adapt, meta_loss

B, S, Q, N_IDS = 3, 6, 4, 5


def _episode(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    s_ids = torch.randint(0, N_IDS + 1, (B, S), generator=g)
    q_ids = torch.randint(0, N_IDS + 1, (B, Q), generator=g)
    s_y = torch.randint(0, 2, (B, S), generator=g).float()
    q_y = torch.randint(0, 2, (B, Q), generator=g).float()
    s_m = torch.ones(B, S)
    s_m[0, 4:] = 0  # ragged support sets
    s_m[2, :] = 0  # a student with no responses yet
    q_m = torch.ones(B, Q)
    q_m[1, 3:] = 0
    return s_ids, s_y, s_m, q_ids, q_y, q_m


def _net(algo: str, seed: int = 0) -> tuple[FastWeightNet, FastWeightConfig]:
    torch.manual_seed(seed)
    cfg = FastWeightConfig(algo=algo, dim=3, inner_steps=2, inner_lr=0.7, prior_count=2.0)
    net = FastWeightNet(cfg, N_IDS).double()
    with torch.no_grad():  # non-trivial starting point
        net.head.weight.normal_(0, 0.5)
        net.head.bias.fill_(0.2)
        net.bias.weight.normal_(0, 0.5)
        if algo == "metasgd":
            net.alpha["weight"].copy_(torch.tensor([[0.3, 0.9, 0.5]]))
            net.alpha["bias"].fill_(1.3)
    return net, cfg


def _manual_adapt(net, cfg, e, b, y, m, first_order: bool):
    """Plain autograd inner loop for one student (the reference)."""
    w, c = net.head.weight, net.head.bias
    for _ in range(cfg.inner_steps):
        lg = e @ w[0] + c + b
        loss = (F.binary_cross_entropy_with_logits(lg, y, reduction="none") * m).sum() / (m.sum() + cfg.prior_count)
        gw, gc = torch.autograd.grad(loss, (w, c), create_graph=not first_order)
        if first_order:
            gw, gc = gw.detach(), gc.detach()
        w = w - net.alpha["weight"] * gw
        c = c - net.alpha["bias"] * gc
    return w, c


def _manual_query_loss(net, cfg, ep, first_order: bool):
    s_ids, s_y, s_m, q_ids, q_y, q_m = ep
    tot = 0.0
    for i in range(B):
        w, c = _manual_adapt(net, cfg, net.emb(s_ids[i]), net.bias(s_ids[i])[:, 0], s_y[i], s_m[i], first_order)
        lg = net.emb(q_ids[i]) @ w[0] + c + net.bias(q_ids[i])[:, 0]
        tot = tot + (F.binary_cross_entropy_with_logits(lg, q_y[i], reduction="none") * q_m[i]).sum()
    return tot / q_m.sum()


def _grads(net, loss):
    ps = [p for p in net.parameters() if p.requires_grad]
    return dict(
        zip([n for n, p in net.named_parameters() if p.requires_grad], torch.autograd.grad(loss, ps), strict=False)
    )


@pytest.mark.parametrize("algo", ["maml", "metasgd"])
def test_second_order_meta_gradient_matches_autograd(algo):
    net, cfg = _net(algo)
    ep = [t.double() if t.is_floating_point() else t for t in _episode()]
    got = _grads(net, meta_loss(net, algo, cfg, *ep))
    want = _grads(net, _manual_query_loss(net, cfg, ep, first_order=False))
    assert set(got) == set(want)
    if algo == "metasgd":
        assert "alpha.weight" in got and got["alpha.weight"].abs().sum() > 0  # step sizes are learned
    for k in want:
        torch.testing.assert_close(got[k], want[k], rtol=1e-9, atol=1e-12, msg=k)


def test_second_order_differs_from_first_order():
    net, cfg = _net("maml")
    ep = [t.double() if t.is_floating_point() else t for t in _episode()]
    so = _grads(net, meta_loss(net, "maml", cfg, *ep))
    fo = _grads(net, meta_loss(net, "fomaml", cfg, *ep))
    assert not torch.allclose(so["head.weight"], fo["head.weight"])


def test_first_order_maml_direction_is_query_gradient_at_adapted_weights():
    net, cfg = _net("fomaml")
    ep = [t.double() if t.is_floating_point() else t for t in _episode()]
    got = _grads(net, meta_loss(net, "fomaml", cfg, *ep))
    s_ids, s_y, s_m, q_ids, q_y, q_m = ep
    gw, gc = torch.zeros_like(net.head.weight), torch.zeros_like(net.head.bias)
    for i in range(B):
        w, c = _manual_adapt(net, cfg, net.emb(s_ids[i]), net.bias(s_ids[i])[:, 0], s_y[i], s_m[i], True)
        w, c = w.detach().requires_grad_(), c.detach().requires_grad_()
        lg = net.emb(q_ids[i]) @ w[0] + c + net.bias(q_ids[i])[:, 0]
        loss = (F.binary_cross_entropy_with_logits(lg, q_y[i], reduction="none") * q_m[i]).sum() / q_m.sum()
        a, b = torch.autograd.grad(loss, (w, c))
        gw, gc = gw + a, gc + b
    torch.testing.assert_close(got["head.weight"], gw)
    torch.testing.assert_close(got["head.bias"], gc)


def test_reptile_direction_points_from_adapted_weights_to_init():
    net, cfg = _net("reptile")
    ep = [t.double() if t.is_floating_point() else t for t in _episode()]
    got = _grads(net, meta_loss(net, "reptile", cfg, *ep))
    s_ids, s_y, s_m, q_ids, q_y, q_m = ep
    ids, y, m = torch.cat([s_ids, q_ids], 1), torch.cat([s_y, q_y], 1), torch.cat([s_m, q_m], 1)
    dw, dc = torch.zeros_like(net.head.weight), torch.zeros_like(net.head.bias)
    for i in range(B):
        w, c = _manual_adapt(net, cfg, net.emb(ids[i]), net.bias(ids[i])[:, 0], y[i], m[i], True)
        dw, dc = dw + (net.head.weight - w).detach() / B, dc + (net.head.bias - c).detach() / B
    # the meta-gradient is the mean of (phi0 - phi_K): a descent step moves phi0 towards the adapted weights
    torch.testing.assert_close(got["head.weight"], dw)
    torch.testing.assert_close(got["head.bias"], dc)


@pytest.mark.parametrize("first_order", [True, False])
def test_vmap_batched_adaptation_equals_per_student_loop(first_order):
    net, cfg = _net("metasgd")
    s_ids, s_y, s_m, *_ = [t.double() if t.is_floating_point() else t for t in _episode(3)]
    e, b = net.emb(s_ids), net.bias(s_ids)[..., 0]
    batched = batched_adapt(net, e, b, s_y, s_m, cfg.inner_steps, cfg.prior_count, first_order)
    for i in range(B):
        one = inner_adapt(
            net.fast0(),
            dict(net.alpha.items()),
            net.head,
            e[i],
            b[i],
            s_y[i],
            s_m[i],
            cfg.inner_steps,
            cfg.prior_count,
            first_order,
        )
        ref_w, ref_c = _manual_adapt(net, cfg, e[i], b[i], s_y[i], s_m[i], first_order)
        for k, ref in (("weight", ref_w), ("bias", ref_c)):
            torch.testing.assert_close(batched[k][i], one[k])
            torch.testing.assert_close(batched[k][i], ref)
    # the student with no support responses keeps the meta-learned initialisation
    torch.testing.assert_close(batched["weight"][2], net.head.weight)
