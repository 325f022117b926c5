"""The veil error tree. Every message says what failed, where (op, party) and how to fix it."""

from __future__ import annotations


class VeilError(Exception):
    """Base of every error veil raises on purpose."""


class ConfigError(VeilError, ValueError):
    """A configuration value is invalid; the message names the field and the allowed values."""


class CompileError(VeilError):
    """The program cannot be compiled to veil IR (e.g. a secret `while_loop` predicate)."""


class UnsupportedOpError(CompileError):
    """A JAX primitive or IR op has no translation rule or handler."""

    def __init__(self, op: str, where: str = "", hint: str = "") -> None:
        self.op = op
        self.where = where
        msg = f"unsupported op '{op}'"
        if where:
            msg += f" (from {where})"
        msg += "; " + (hint or "veil has no rule for it yet: rewrite it with supported ops or open an issue")
        super().__init__(msg)


class KernelMissingError(VeilError):
    """A protocol lacks a kernel and no generic composition exists."""

    def __init__(self, protocol: str, kernel: str, op: str = "") -> None:
        self.protocol = protocol
        self.kernel = kernel
        where = f" needed by op '{op}'" if op else ""
        super().__init__(
            f"protocol '{protocol}' has no kernel '{kernel}'{where}; "
            "choose a protocol that supports it (see docs/ops.md)"
        )


class LinkError(VeilError):
    """Moving bytes between parties failed: timeout, closed peer, malformed frame."""


class LinkTimeoutError(LinkError, TimeoutError):
    """A wait on a link exceeded its timeout."""


class PartyError(VeilError):
    """A party failed; raised on every other party so that no one hangs."""

    def __init__(self, party: int | str, reason: str) -> None:
        self.party = party
        self.reason = reason
        super().__init__(f"party {party} failed: {reason}")
