"""The core: calls, the registry, handlers, the figures, configuration. No web, no asyncio I/O."""
