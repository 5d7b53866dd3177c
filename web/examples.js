// Ready examples: the seed documents' networks (../shared/seeds, checked in
// docs/seeds/) as formulas and variables.  `seed` selects the rows of the
// seed table shown beside the example; `note` is what to look at.
"use strict";
const EXAMPLES = [
  {
    id: "neuron",
    title: "One sigmoid neuron: sigmoid(w*x + b)",
    formula: "sigmoid(w*x + b)",
    vars: "w = 0.5; x = 2; b = -1",
    note: "Step through backward: the sigmoid's rule multiplies g by y(1 - y).",
  },
  {
    id: "seed000-sq",
    seed: 0,
    title: "Seed 000: MLP h(3) - i(4) - k(2), squared loss",
    formula:
      "n_i = h @ W_hi\no_i = sigmoid(n_i)\nn_k = o_i @ W_ik\no_k = sigmoid(n_k)\nL = sum((o_k - t)^2) / 2",
    vars:
      "h = [0.8, -0.3, 0.5]\nW_hi = [[0.2, -0.7, 1.1, 0.4], [-1.3, 0.6, 0.3, -0.2], [0.9, 0.1, -0.5, 1.4]]\n" +
      "W_ik = [[0.7, -1.2], [-0.4, 0.9], [1.5, 0.3], [-0.8, 1.1]]\nt = [0.1, 0.9]",
    note: "The gradient at n_k is the document's delta_k = (o - t) o (1 - o) (eqs 6, 9).",
  },
  {
    id: "seed000-ce",
    seed: 0,
    title: "Seed 000: the same MLP, cross-entropy loss",
    formula:
      "n_i = h @ W_hi\no_i = sigmoid(n_i)\nn_k = o_i @ W_ik\no_k = sigmoid(n_k)\nL = bce(o_k, t)",
    vars:
      "h = [0.8, -0.3, 0.5]\nW_hi = [[0.2, -0.7, 1.1, 0.4], [-1.3, 0.6, 0.3, -0.2], [0.9, 0.1, -0.5, 1.4]]\n" +
      "W_ik = [[0.7, -1.2], [-0.4, 0.9], [1.5, 0.3], [-0.8, 1.1]]\nt = [0.1, 0.9]",
    note: "With cross entropy the gradient at n_k is o - t: the sigmoid's derivative cancels " +
      "(eq 13; the document's middle step has a sign erratum, see the table).",
  },
  {
    id: "seed001",
    seed: 1,
    title: "Seed 001: the 2-2-1 network, log-likelihood",
    formula:
      "z1 = x @ W0 + b0\na1 = sigmoid(z1)\nz2 = a1 @ w1 + b1\nh = sigmoid(z2)\nc = y * log(h) + (1 - y) * log(1 - h)",
    vars: "x = [1, 0]; y = 1\nW0 = [[0.3, -0.5], [0.8, 0.2]]; b0 = [0.1, -0.1]\nw1 = [0.6, -0.9]; b1 = 0.05",
    note: "c is a log-likelihood to maximise: its gradient at z2 is y - h, not h - y.",
  },
  {
    id: "seed002",
    seed: 2,
    title: "Seed 002: a softmax output layer",
    formula: "u = W @ y + b\np = softmax(u)\nE = -sum(t * log(p))",
    vars: "y = [0.4, -0.6, 0.9]\nW = [[0.5, -0.2, 0.1], [0.3, 0.8, -0.7], [-0.4, 0.2, 0.6]]\nb = [0.1, 0, -0.1]\nt = [0, 1, 0]",
    note: "The gradient at u is p - t: softmax and cross entropy together.",
  },
  {
    id: "seed003",
    seed: 3,
    title: "Seed 003: the worked example (delta = 0.131)",
    formula: "yhat = sigmoid(x)\nE = (y - yhat)^2 / 2",
    vars: "x = -1.28; y = 1",
    note: "The document's delta is (y - yhat) sigma(x)(1 - sigma(x)), minus dE/dx. At x = -1.28 " +
      "it prints 0.131; autodiff gives dE/dx = -0.13319, so delta = 0.13319. The 0.131 is " +
      "(0.79)(0.21)(0.79): it uses sigma(-1.28) rounded to 0.21 (really 0.21755). " +
      "Erratum, relative error 1.644e-2 (docs/seeds/003.md).",
    erratum: { what: "delta at x = -1.28", printed: 0.131, corrected: 0.13319, ref: "x", sign: -1 },
  },
  {
    id: "seed004",
    seed: 4,
    title: "Seed 004: the delta rule, i(3) - j(4) - k(2)",
    formula:
      "a_j = y_i @ W_ij\ny_j = sigmoid(a_j)\na_k = y_j @ W_jk\ny_k = sigmoid(a_k)\nE = sum((t - y_k)^2) / 2",
    vars:
      "y_i = [0.5, -1, 0.25]\nW_ij = [[0.3, -0.6, 0.9, 0.2], [0.4, 0.1, -0.5, 0.7], [-0.8, 0.5, 0.6, -0.3]]\n" +
      "W_jk = [[0.6, -0.4], [-0.2, 0.8], [0.9, 0.1], [-0.5, 0.3]]\nt = [1, 0]",
    note: "delta_k = g'(a_k)(t_k - y_k) is minus the gradient at a_k; dE/dW_jk = -delta_k y_j.",
  },
];
