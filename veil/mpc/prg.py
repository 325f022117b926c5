"""AES-CTR pseudo-random streams and their setup between parties.

Every random value veil draws comes from an `AesCtrStream`: AES-256 in counter mode with a zero
nonce, the keystream consumed in order, so two parties holding the same key draw the same
values without talking. `setup_prgs` agrees the keys in one round: a pairwise key per peer by
X25519, and one public key that every party shares (hash of everyone's contribution).

A stream can also hand out a *lazy* range (`AesCtrStream.skip`): the position moves on as if
the bytes were drawn, and the `StreamSlice` regenerates any part of them later by seeking the
counter. Large correlations use it to expand their shares chunk by chunk instead of all at once.
"""

from __future__ import annotations

import hashlib
import math
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from veil.config import Field
from veil.link.base import Link
from veil.mpc import ring

KEY_BYTES = 32
_BLOCK = 16
_LITTLE = sys.byteorder == "little"
TAG_X25519 = "prg.x25519"
TAG_PUBLIC = "prg.public"


def hkdf(key: bytes, info: bytes, length: int = KEY_BYTES) -> bytes:
    """HKDF-SHA256 (no salt) of `key` for the purpose named by `info`."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(key)


class AesCtrStream:
    """A deterministic random stream: AES-256-CTR keystream of `key`, read front to back."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"AesCtrStream: key must be {KEY_BYTES} bytes, got {len(key)}")
        self._key = bytes(key)
        self._pos = 0  # bytes consumed so far
        self._enc = _encryptor_at(self._key, 0)

    def _draw(self, n: int) -> np.ndarray:
        """The next n keystream bytes as a fresh writable uint8 array."""
        if n < 0:
            raise ValueError(f"AesCtrStream: cannot draw {n} bytes")
        buf = _keystream(self._enc, n)
        self._pos += n
        return buf

    @property
    def position(self) -> int:
        """Bytes of keystream consumed so far."""
        return self._pos

    def skip(self, n: int) -> StreamSlice:
        """The next n bytes as a lazy `StreamSlice`; the stream moves past them without computing them."""
        if n < 0:
            raise ValueError(f"AesCtrStream: cannot skip {n} bytes")
        out = StreamSlice(self._key, self._pos, n)
        self._pos += n
        self._enc = _encryptor_at(self._key, self._pos)
        return out

    def bytes(self, n: int) -> bytes:
        """The next n bytes of the stream."""
        return self._draw(n).tobytes()

    def uint(self, shape: int | tuple[int, ...], dtype: np.dtype | type = np.uint64) -> np.ndarray:
        """Uniform unsigned integers (uint8/16/32/64) of the given shape."""
        dt = dtype if isinstance(dtype, np.dtype) else np.dtype(dtype)
        if dt.kind != "u":
            raise TypeError(f"AesCtrStream.uint: dtype must be unsigned (uint8..uint64), got {dt}")
        shape_t = (shape,) if isinstance(shape, int) else tuple(shape)
        raw = self._draw(math.prod(shape_t) * dt.itemsize)
        if _LITTLE and dt.isnative:  # the keystream's byte order already: a view, no conversion
            return raw.view(dt).reshape(shape_t)
        return raw.view(dt.newbyteorder("<")).astype(dt, copy=False).reshape(shape_t)

    def ring(self, field: Field, shape: int | tuple[int, ...]) -> np.ndarray:
        """Uniform elements of Z_2^k (every bit independent and uniform) of the given shape."""
        dt = ring.ring_dtype(field)
        shape_t = (shape,) if isinstance(shape, int) else tuple(shape)
        return self._draw(math.prod(shape_t) * dt.itemsize).view(dt).reshape(shape_t)

    def bits(self, shape: int | tuple[int, ...]) -> np.ndarray:
        """Uniform 0/1 values as uint8 (8 bits from each byte drawn)."""
        shape_t = (shape,) if isinstance(shape, int) else tuple(shape)
        numel = math.prod(shape_t)
        raw = self._draw((numel + 7) // 8)
        return np.unpackbits(raw, count=numel, bitorder="little").reshape(shape_t)

    def fork(self, label: str) -> AesCtrStream:
        """A new stream keyed by HKDF(key, label): independent of this one and of how much it drew."""
        return AesCtrStream(hkdf(self._key, b"veil-fork:" + label.encode()))


def _encryptor_at(key: bytes, pos: int) -> object:
    """An AES-CTR encryptor positioned at keystream byte `pos` (zero nonce: block i has counter i)."""
    enc = Cipher(algorithms.AES(key), modes.CTR((pos // _BLOCK).to_bytes(_BLOCK, "big"))).encryptor()
    if pos % _BLOCK:
        enc.update(bytes(pos % _BLOCK))
    return enc


def _keystream(enc: object, n: int) -> np.ndarray:
    """The next n keystream bytes of `enc` as a fresh writable uint8 array."""
    buf = np.empty(n + _BLOCK - 1, np.uint8)  # update_into wants block_size - 1 spare bytes
    for lo in range(0, n, _ZEROS_LEN):  # encrypt zeros block-wise: no n-byte plaintext buffer
        m = min(_ZEROS_LEN, n - lo)
        enc.update_into(_ZEROS[:m], buf[lo : lo + m + _BLOCK - 1])  # type: ignore[attr-defined]
    return buf[:n]


_ZEROS_LEN = 1 << 20
_ZEROS = memoryview(bytes(_ZEROS_LEN))


@dataclass(frozen=True)
class StreamSlice:
    """Bytes [start, start + size) of one AES-CTR keystream, computed on demand (see `skip`)."""

    key: bytes
    start: int
    size: int

    def read(self, offset: int, n: int) -> np.ndarray:
        """Bytes [offset, offset + n) of the slice as a fresh uint8 array."""
        if offset < 0 or n < 0 or offset + n > self.size:
            raise ValueError(f"StreamSlice: range [{offset}, {offset + n}) outside [0, {self.size})")
        return _keystream(_encryptor_at(self.key, self.start + offset), n)


@dataclass
class PrgSet:
    """One party's streams: private (its own), public (shared by all), one per peer pair."""

    rank: int
    private: AesCtrStream
    public: AesCtrStream
    pairs: dict[int, AesCtrStream] = field(default_factory=dict)

    def pair(self, peer: int) -> AesCtrStream:
        """The stream this party shares with `peer` (the same object on every call)."""
        try:
            return self.pairs[peer]
        except KeyError:
            raise ValueError(
                f"party {self.rank}: no PRG shared with party {peer}; known peers {sorted(self.pairs)} "
                "(pass it in `peers` to setup_prgs)"
            ) from None


def _rank_bytes(*ranks: int) -> bytes:
    return b"".join(int(r).to_bytes(4, "little") for r in ranks)


def _local_secrets(rank: int, seed: bytes | None) -> tuple[X25519PrivateKey, bytes, bytes]:
    """(X25519 key, private stream key, public contribution): fresh, or derived from the seed."""
    if seed is None:
        return X25519PrivateKey.from_private_bytes(os.urandom(32)), os.urandom(32), os.urandom(32)
    me = _rank_bytes(rank)
    return (
        X25519PrivateKey.from_private_bytes(hkdf(seed, b"veil-x25519" + me)),
        hkdf(seed, b"veil-private" + me),
        hkdf(seed, b"veil-public" + me),
    )


def _as_array(data: bytes) -> np.ndarray:
    return np.frombuffer(data, np.uint8).copy()


def _received(arr: np.ndarray, peer: int, tag: str) -> bytes:
    data = np.ascontiguousarray(arr).tobytes()
    if arr.dtype != np.uint8 or len(data) != 32:
        raise ValueError(
            f"setup_prgs: party {peer} sent a malformed '{tag}' message ({arr.dtype}, {arr.shape})"
        )
    return data


def setup_prgs(link: Link, peers: Sequence[int], seed: bytes | None = None) -> PrgSet:
    """Agree PRG keys with `peers` in one round (send everything, then receive).

    Pair keys: X25519 + HKDF(info = b"veil-pair" + both ranks, smaller first). Public key:
    SHA-256 of every party's 32-byte contribution in rank order, so `{link.rank} | peers` must
    be the same set on every party (compute parties list the others and the dealer; the dealer
    lists all compute parties). `seed` makes every key reproducible (tests only).
    """
    rank = link.rank
    peer_list = sorted({int(p) for p in peers})
    if rank in peer_list or len(peer_list) != len(peers):
        raise ValueError(f"setup_prgs: party {rank}: peers {list(peers)} must be distinct and exclude itself")
    dh_key, private_key, contribution = _local_secrets(rank, seed)
    my_pub = dh_key.public_key().public_bytes_raw()
    for peer in peer_list:
        link.send(peer, TAG_X25519, _as_array(my_pub))
        link.send(peer, TAG_PUBLIC, _as_array(contribution))
    pairs: dict[int, AesCtrStream] = {}
    contributions = {rank: contribution}
    for peer in peer_list:
        their_pub = X25519PublicKey.from_public_bytes(
            _received(link.recv(peer, TAG_X25519), peer, TAG_X25519)
        )
        shared = dh_key.exchange(their_pub)
        info = b"veil-pair" + _rank_bytes(min(rank, peer), max(rank, peer))
        pairs[peer] = AesCtrStream(hkdf(shared, info))
        contributions[peer] = _received(link.recv(peer, TAG_PUBLIC), peer, TAG_PUBLIC)
    public_key = hashlib.sha256(b"".join(contributions[r] for r in sorted(contributions))).digest()
    return PrgSet(rank=rank, private=AesCtrStream(private_key), public=AesCtrStream(public_key), pairs=pairs)
