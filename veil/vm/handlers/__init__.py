"""Op handlers by family; each module exports HANDLERS: dict[opcode, handler]."""
