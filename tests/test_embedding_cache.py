"""The on-disk embedding cache shared by the prompt and image embeddings."""

import numpy as np

from leakage.embedding_cache import EmbeddingCache


def test_rows_come_back_in_order_as_stored(tmp_path):
    cache = EmbeddingCache(tmp_path / "c")
    rows = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    stored = cache.add(["a", "b", "c"], rows)
    assert np.abs(stored - rows).max() < 1e-2 and stored.dtype == np.float32
    found, got = cache.get(["c", None, "x", "a"])
    assert found.tolist() == [True, False, False, True]
    assert np.array_equal(got, stored[[2, 0]])


def test_a_key_keeps_its_first_row_and_duplicates_are_stored_once(tmp_path):
    cache = EmbeddingCache(tmp_path / "c")
    cache.add(["a", "a"], np.array([[1.0, 0.0], [2.0, 0.0]]))
    cache.add(["a", "b"], np.array([[9.0, 0.0], [3.0, 0.0]]))
    found, got = cache.get(["a", "b"])
    assert found.all() and got[:, 0].tolist() == [1.0, 3.0]
    assert np.load(tmp_path / "c" / "embeddings.npy").shape == (2, 2)


def test_lookup_encodes_only_what_is_missing(tmp_path):
    cache = EmbeddingCache(tmp_path / "c", keys_file="prompts.json")
    asked = []

    def encode(keys):
        asked.append(list(keys))
        return np.array([[float(len(key)), 1.0] for key in keys])

    first, encoded = cache.lookup(["aa", "b", "aa"], encode)
    assert encoded == 2 and first[:, 0].tolist() == [2.0, 1.0, 2.0]
    again, encoded = cache.lookup(["b", "ccc", "aa"], encode)
    assert encoded == 1 and again[:, 0].tolist() == [1.0, 3.0, 2.0]
    assert asked == [["aa", "b"], ["ccc"]]
    assert (tmp_path / "c" / "prompts.json").is_file()


def test_a_torn_write_starts_the_cache_over(tmp_path):
    cache = EmbeddingCache(tmp_path / "c")
    cache.add(["a", "b"], np.ones((2, 3)))
    np.save(tmp_path / "c" / "embeddings.npy", np.ones((1, 3), dtype=np.float16))  # keys and rows disagree
    found, got = cache.get(["a", "b"])
    assert not found.any() and got is None
