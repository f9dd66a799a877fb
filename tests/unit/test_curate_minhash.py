"""logtune.minhash: shingles per message, signatures that estimate Jaccard, bands from the threshold."""

import numpy as np

from logtune import minhash


def test_shingles_are_word_3grams_within_each_message():
    hashes, offsets = minhash.message_shingles(["the cat sat on the mat", "", "hi there", "the cat sat"])
    assert offsets.tolist() == [0, 4, 4, 5, 6]        # 4 trigrams, none, one padded 2-word shingle, 1 trigram
    first, last = hashes[offsets[0]:offsets[1]], hashes[offsets[3]:offsets[4]]
    assert last[0] == first[0]                         # "the cat sat" is the same shingle in both messages
    assert len(set(first.tolist())) == 4


def test_newline_inside_a_text_does_not_split_it():
    a, oa = minhash.message_shingles(["one two\nthree four"])
    b, ob = minhash.message_shingles(["one two three four"])
    assert oa.tolist() == ob.tolist() == [0, 2] and a.tolist() == b.tolist()


def test_signature_agreement_tracks_jaccard():
    words = [f"w{i}" for i in range(60)]
    same = " ".join(words)
    near = " ".join(words[:57] + ["x1", "x2", "x3"])       # the last 3 trigrams differ
    other = " ".join(reversed(words))
    hashes, offsets = minhash.message_shingles([same, near, other])
    sigs = minhash.signatures(hashes, offsets)
    exact = minhash.jaccard(hashes[0:58], hashes[58:116])
    assert abs((sigs[0] == sigs[1]).mean() - exact) < 0.15 and exact > 0.85
    assert (sigs[0] == sigs[2]).mean() < 0.1


def test_documents_without_words_get_the_empty_shingle():
    hashes, offsets = minhash.message_shingles(["a b c", "", ""])
    docs, doc_offsets = minhash.group_shingles(hashes, offsets, np.array([0, 1, 3]))
    assert doc_offsets.tolist() == [0, 1, 2] and docs[1] == minhash.EMPTY_SHINGLE


def test_bands_catch_99_percent_of_pairs_at_the_threshold_with_fewest_false_candidates():
    assert minhash.bands_for(0.9) == (12, 10)
    assert minhash.candidate_probability(0.9, 12, 10) >= 0.99
    assert minhash.candidate_probability(0.5, 12, 10) < 0.02


def test_batches_give_the_same_shingles_as_one_pass():
    texts = ["the cat sat on the mat", "", "hi there", "a b c d e", None, "one"]
    whole, whole_offsets = minhash.message_shingles(texts)
    batched, batched_offsets = minhash.message_shingles(texts, batch=2)
    assert batched.tolist() == whole.tolist() and batched_offsets.tolist() == whole_offsets.tolist()


def test_candidate_pairs_are_documents_sharing_any_band():
    keys = np.array([[1, 7], [2, 7], [1, 8], [3, 9]], dtype=np.uint64)
    assert minhash.candidate_pairs(keys).tolist() == [[0, 1], [0, 2]]


def test_ascii_word_hashes_equal_the_regex_and_zlib_path():
    # the byte-level fast path must give exactly crc32 + 1 of each `\w+` token, 0 for each "\n"
    joined = "\n".join(["the cat_9 sat, on the mat!!", "", "x", "  lead and trail  ", "a" * 300 + " b",
                        "don't stop-me now 42", "__init__ ...", ""]) + "\n"
    expected = minhash._word_hashes(minhash._TOKEN.findall(joined))
    assert minhash._ascii_token_hashes(joined).tolist() == expected
    assert minhash._ascii_token_hashes("\n\n").tolist() == [0, 0]


def test_non_ascii_text_gives_the_same_shingles_as_before():
    # a batch with non-ASCII text goes through the regex (Unicode `\w`); an ASCII batch through bytes
    texts = ["café au lait sat here", "the cat sat on the mat"]
    mixed, mixed_offsets = minhash.message_shingles(texts)
    ascii_only, _ = minhash.message_shingles(texts[1:])
    assert mixed[mixed_offsets[1]:].tolist() == ascii_only.tolist()
