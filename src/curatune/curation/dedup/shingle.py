"""Word or character n-gram shingles as 32-bit hashes, and their MinHash signature, vectorised with numpy.

Python shingling (joining n words into a string and hashing it) is the slow
part of MinHash deduplication, so nothing here builds n-gram strings. Words:

1. the text is normalised like :func:`~curatune.curation.dedup.exact.normalise`
   (NFKC, casefold), ASCII punctuation becomes space, and the UTF-8 bytes are
   split into words;
2. each word is hashed once with xxh32 (one C call per word);
3. the n-gram hashes are a linear combination of ``n`` consecutive word hashes
   with fixed odd multipliers, all n-grams at once as one small matrix product
   over a strided view (uint32 arithmetic wraps, which is what we want);
4. MinHash: ``min(a * h mod 2**32)`` over the shingles for ``num_perm`` random
   odd ``a``, one ``(n, num_perm)`` array; or rensa's Rust kernel on the same
   hashes (no faster per record: most of its time goes to converting its
   result back to numpy).

Characters (``shingle="char"``): the text is normalised like
:func:`~curatune.curation.dedup.exact.normalise` (NFKC, casefold, whitespace runs
become one space; punctuation stays), its code points are read as one uint32
array (UTF-32, so a window of ``n`` is ``n`` characters whatever the script),
each is mixed by murmur3's bijective finaliser (code points are small, close
integers; the multiplicative MinHash needs well-spread values) and steps 3-4
follow unchanged. One numpy pass per text, no Python loop over windows.

A text shorter than ``n`` words (characters) is one shingle of all of them, so
short duplicates still collide; an empty text is one empty shingle.
"""

from __future__ import annotations

import string
from functools import lru_cache
from typing import Literal

import numpy as np
import xxhash

from .exact import nfkc_casefold, normalise

_PUNCT_TO_SPACE = bytes.maketrans(string.punctuation.encode(), b" " * len(string.punctuation))
_WORD_HASH = xxhash.xxh32_intdigest
_EMPTY = np.zeros(1, dtype=np.uint32)

Shingle = Literal["word", "char"]


def words(text: str) -> list[bytes]:
    """Normalised words: NFKC, casefold, ASCII punctuation removed, split on whitespace."""
    return nfkc_casefold(text).encode("utf-8", "surrogatepass").translate(_PUNCT_TO_SPACE).split()


@lru_cache(maxsize=64)
def _ngram_multipliers(ngram: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, ngram, 1])
    return rng.integers(1, 2**32, size=ngram, dtype=np.uint64).astype(np.uint32) | np.uint32(1)


@lru_cache(maxsize=64)
def multipliers(num_perm: int, seed: int) -> np.ndarray:
    """The odd ``a`` of the ``num_perm`` hash permutations ``h -> a * h mod 2**32``, from the seed."""
    rng = np.random.default_rng([seed, num_perm, 2])
    return rng.integers(0, 2**32, size=num_perm, dtype=np.uint64).astype(np.uint32) | np.uint32(1)


def chars(text: str) -> str:
    """The normalised text whose characters are shingled: NFKC, casefold, whitespace runs as one space."""
    return normalise(text)


def _mix32(x: np.ndarray) -> np.ndarray:
    """murmur3's 32-bit finaliser, elementwise: a bijection that spreads close integers over all 32 bits."""
    x = x ^ (x >> np.uint32(16))
    x *= np.uint32(0x85EBCA6B)
    x ^= x >> np.uint32(13)
    x *= np.uint32(0xC2B2AE35)
    x ^= x >> np.uint32(16)
    return x


def _ngram_hashes(h: np.ndarray, ngram: int, seed: int) -> np.ndarray:
    """Hashes of every window of ``ngram`` consecutive unit hashes ``h`` (``h.size >= 1``)."""
    n = h.size
    if ngram == 1:
        return h
    k = _ngram_multipliers(ngram, seed)
    if n <= ngram:
        # Fewer units than the n-gram size: one shingle of what there is. The length-specific
        # multipliers keep "a b" from colliding with "a b c" by accident.
        return np.atleast_1d(h @ k[:n])
    windows = np.ndarray((n - ngram + 1, ngram), dtype=np.uint32, buffer=h, strides=(4, 4))
    return windows @ k


def shingle_hashes(text: str, ngram: int, seed: int = 1, shingle: Shingle = "word") -> np.ndarray:
    """uint32 hashes of the word (or character) ``ngram``-grams of ``text`` (with repeats; MinHash does not mind)."""
    if shingle == "char":
        return char_shingle_hashes(text, ngram, seed)
    toks = words(text)
    n = len(toks)
    if n == 0:
        return _EMPTY
    return _ngram_hashes(np.fromiter(map(_WORD_HASH, toks), dtype=np.uint32, count=n), ngram, seed)


def char_shingle_hashes(text: str, ngram: int, seed: int = 1) -> np.ndarray:
    """uint32 hashes of the character ``ngram``-grams of the normalised ``text``."""
    t = chars(text)
    if not t:
        return _EMPTY
    # surrogatepass: a lone surrogate left by a broken decoder is a character like any other here.
    codepoints = np.frombuffer(t.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return _ngram_hashes(_mix32(codepoints), ngram, seed)


# Shingles per block of the (num_perm x shingles) product: 4,096 x 128 x 4 bytes = 2 MB, which stays in cache
# (blocks of 16,384 were slower, and one (n, 128) product per long document bounds memory too).
_BLOCK = 4096


def minhash(hashes: np.ndarray, num_perm: int, seed: int = 1) -> np.ndarray:
    """The uint32 MinHash signature of a set of uint32 shingle hashes: ``min(a * h mod 2**32)`` per ``a``.

    Multiplying by an odd ``a`` permutes the 32-bit values; the ``+ b`` of the textbook affine map is
    left out because it costs a third of the time and changes nothing measurable here (on the 4,080
    MRPC pairs the estimate's bias stays under 0.001 and its error at the binomial 0.033, with or
    without it). The hashes are made odd first so that no shingle maps to 0 under every permutation.
    """
    a = multipliers(num_perm, seed)
    if hashes.size <= _BLOCK:
        return np.minimum.reduce(np.multiply.outer(hashes | np.uint32(1), a), axis=0)
    # A long document: the product block by block, so memory stays bounded whatever its length.
    out = np.full(num_perm, np.iinfo(np.uint32).max, dtype=np.uint32)
    for start in range(0, hashes.size, _BLOCK):
        np.minimum(out, np.minimum.reduce(np.multiply.outer(hashes[start : start + _BLOCK] | np.uint32(1), a), axis=0), out=out)
    return out


def word_signatures(texts: list[str], ngram: int, num_perm: int, seed: int = 1) -> np.ndarray:
    """``(len(texts), num_perm)`` uint32: row i is ``minhash(shingle_hashes(texts[i], ngram, seed), num_perm, seed)``.

    The same values as one text at a time, computed for a batch with a handful of numpy calls instead of
    a dozen per text: every word of the batch is hashed in one pass, the n-gram hashes of all texts come
    from one strided product over the concatenated word hashes (windows that straddle two texts are left
    out), and the minimum per text is one ``np.minimum.reduceat`` per block of shingles.
    """
    per_text = [words(t) for t in texts]
    lengths = np.fromiter(map(len, per_text), dtype=np.int64, count=len(texts))
    h = word_hashes([w for ws in per_text for w in ws])
    return signatures_of_word_hashes(h, lengths, ngram, num_perm, seed)


def word_hashes(toks: list[bytes]) -> np.ndarray:
    """The uint32 hash of each word (:func:`words` gives them), as :func:`shingle_hashes` hashes them."""
    return np.fromiter(map(_WORD_HASH, toks), dtype=np.uint32, count=len(toks))


def signatures_of_word_hashes(h: np.ndarray, lengths: np.ndarray, ngram: int, num_perm: int, seed: int = 1) -> np.ndarray:
    """:func:`word_signatures` of texts given as their words' hashes: ``h`` holds text 0's word hashes, then text
    1's..., ``lengths`` how many each has. Texts shorter than ``ngram`` words (one shingle of what there is; an empty
    text, one empty shingle) are signed one by one."""
    out = np.empty((lengths.size, num_perm), dtype=np.uint32)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)
    short = np.flatnonzero(lengths < max(ngram, 1))
    for k in short:
        unit = h[starts[k] : starts[k] + lengths[k]]
        out[k] = minhash(_ngram_hashes(unit, ngram, seed) if unit.size else _EMPTY, num_perm, seed)
    long_ = np.flatnonzero(lengths >= max(ngram, 1))
    if long_.size == 0:
        return out
    if short.size:
        h = h[np.repeat(lengths >= max(ngram, 1), lengths)]
    lens = lengths[long_]
    offsets = np.concatenate(([0], np.cumsum(lens)[:-1]))
    grams = _ngram_hashes(h, ngram, seed)
    counts = lens - ngram + 1  # windows that start and end inside text i
    if ngram > 1:
        # The windows of text i start at offsets[i] .. offsets[i] + counts[i] - 1 of the concatenation.
        starts = np.repeat(offsets - np.concatenate(([0], np.cumsum(counts)[:-1])), counts) + np.arange(counts.sum())
        grams = grams[starts]
    grams = grams | np.uint32(1)
    a = multipliers(num_perm, seed)
    bounds = np.concatenate(([0], np.cumsum(counts)))
    # Blocks of whole texts with at most _BLOCK shingles (a longer text is a block of its own).
    i = 0
    while i < long_.size:
        j = int(np.searchsorted(bounds, bounds[i] + _BLOCK, side="right")) - 1
        j = max(j, i + 1)
        lo, hi = int(bounds[i]), int(bounds[j])
        if hi - lo > _BLOCK:  # one long text
            out[long_[i]] = minhash(grams[lo:hi], num_perm, seed)
        else:
            # (num_perm, shingles): reduceat along the contiguous axis is ten times faster than along rows.
            block = np.multiply.outer(a, grams[lo:hi])
            out[long_[i:j]] = np.minimum.reduceat(block, bounds[i:j] - lo, axis=1).T
        i = j
    return out


def minhash_rensa(hashes: np.ndarray, num_perm: int, seed: int = 1) -> np.ndarray:
    """The same kind of signature computed by rensa's RMinHash (its own permutations, so not comparable with :func:`minhash`)."""
    import rensa

    h = hashes.astype(np.uint64)
    m = rensa.RMinHash.digest_matrix_from_flat_token_hashes(h, np.array([0, h.size], dtype=np.uint64), num_perm, seed)
    return np.array(m.to_rows()[0], dtype=np.uint32)


def exact_jaccard(a: str, b: str, ngram: int, shingle: Shingle = "word") -> float:
    """Jaccard of the two texts' shingle sets, computed exactly (for calibration and tests)."""
    x, y = set(shingle_hashes(a, ngram, shingle=shingle).tolist()), set(shingle_hashes(b, ngram, shingle=shingle).tolist())
    return len(x & y) / len(x | y) if x or y else 1.0
