"""The compiler's own process: one component compiled, validated and written as ``.cwasm``.

Cranelift needs about half a gigabyte to compile a 20 MB Python guest, and the allocator
keeps most of it after the compile: done in the serving process, that memory stayed
resident for the process's whole life (measured: an idle ``roost serve`` at 430 MB RSS
after installing one Python app, 106 MB without). :class:`~roost.apps.compiler.ComponentCache`
therefore runs this module as a child process per compile; its memory goes back to the
system when it exits, and a compile that runs out of memory kills the child, not the stack.

Protocol: ``python -m roost.apps.compile_child OUT_PATH FINGERPRINT SETTINGS_JSON
MEMORY_BYTES`` with the wasm bytes on stdin. The child first caps its own address space at
MEMORY_BYTES (0: no cap), so a package built to exhaust the compiler fails alone instead of
pushing the box into the kernel's out-of-memory killer. Exit 0 and ``{"imports": [...]}``
on stdout once ``OUT_PATH`` is written; exit 2 and ``{"error": "..."}`` when the wasm is
not a valid component of the Roost world (a :class:`~roost.apps.compiler.CompileError` in
the parent). Anything else is a failure of the compiler itself.
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path

from roost.apps.compiler import CompileError, compile_component
from roost.apps.engine import AppEngine, EngineSettings

__all__ = ["main"]

INVALID = 2


def main(argv: list[str]) -> int:
    out_path, fingerprint, settings_json, memory_bytes = argv
    if int(memory_bytes) > 0:
        resource.setrlimit(resource.RLIMIT_AS, (int(memory_bytes), int(memory_bytes)))
    engine = AppEngine(EngineSettings(**json.loads(settings_json)))
    if engine.fingerprint != fingerprint:
        # The parent's cache key would not describe what this process compiles.
        print(json.dumps({"error": "the compiler's engine differs from the server's"}))
        return 1
    wasm = sys.stdin.buffer.read()
    try:
        imports = compile_component(engine, wasm, Path(out_path))
    except CompileError as exc:
        print(json.dumps({"error": str(exc)}))
        return INVALID
    print(json.dumps({"imports": list(imports)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
