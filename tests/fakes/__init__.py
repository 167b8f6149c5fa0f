"""Provider simulators: real local HTTP servers that enforce each provider's documented contract."""
