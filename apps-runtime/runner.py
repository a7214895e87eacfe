"""Run one call of an app: a fresh Store, limits set before instantiation, its own thread.

Wall time binds whatever the guest does. Wasm code is stopped by the epoch deadline; a
guest blocked *outside* wasm (a WASI ``poll``/sleep, which wasmtime-py cannot interrupt) is
**abandoned** at ``deadline + ABANDON_GRACE_SECONDS``: ``run_app`` returns "time limit" and
its caller frees the run slot at once. The abandoned thread is left to finish its blocking
call; every host call it then makes answers ``timeout`` and its first wasm instruction traps
on the passed epoch deadline, so it can do nothing more. Its cost is one parked OS thread
and the Store's memory until the blocking call returns.

``run_app`` never raises for guest behaviour: traps, budget exhaustion and ``err`` results
come back in :class:`RunResult` with a short ``reason``:

- ``None``: the guest returned ``ok``;
- ``"app error"``: the guest returned ``err`` (``error`` holds its payload);
- ``"out of fuel"``, ``"time limit"``, ``"memory limit"``: a budget was exhausted;
- ``"output limit"``: the result or error is larger than the run's output cap;
- ``"trap"``: any other trap (a Python exception escaping ``run``, stack overflow...);
- ``"instantiate"``: the component could not be instantiated (link or start-up failure).

The Store of a trapped run is simply dropped; nothing of a run is reused by the next (only
its thread, which parks between runs and holds nothing of theirs).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from dataclasses import dataclass, field
from typing import Any, Final

import wasmtime
from wasmtime import component

from roost.apps.budget import RunBudget
from roost.apps.context import CURRENT_RUN, LogLine, RunContext, RunLog
from roost.apps.engine import AppEngine, get_engine
from roost.apps.run_threads import RunThreads
from roost.apps.services import AccessEntry, Services
from roost.permissions import PermissionSet

__all__ = [
    "ABANDON_GRACE_SECONDS",
    "BUDGET_REASONS",
    "RunResult",
    "classify_trap",
    "default_executor",
    "run_app",
]

#: How long after its deadline a guest blocked outside wasm is abandoned.
ABANDON_GRACE_SECONDS = 0.5
#: Reasons that mean "the app hit a budget" (not a transient failure worth retrying).
BUDGET_REASONS = frozenset({"out of fuel", "time limit", "memory limit", "output limit"})

_EXECUTOR: concurrent.futures.ThreadPoolExecutor | None = None


def default_executor(max_workers: int = 4) -> concurrent.futures.ThreadPoolExecutor:
    """A bounded pool for guest calls (wasmtime releases the GIL while wasm runs)."""
    global _EXECUTOR
    if _EXECUTOR is None:
        _EXECUTOR = concurrent.futures.ThreadPoolExecutor(
            max_workers=max_workers, thread_name_prefix="roost-app"
        )
    return _EXECUTOR


@dataclass
class RunResult:
    ok: bool
    output: str | None
    error: str | None
    reason: str | None
    fuel_used: int
    wall_seconds: float
    log: list[LogLine] = field(default_factory=list)
    host_calls: list[AccessEntry] = field(default_factory=list)
    #: The raw trap text (wasm backtrace), for operators; never shown to other apps.
    detail: str | None = None
    #: Budgets the run hit without being stopped by them (``"host calls"``, ``"host bytes"``).
    marks: tuple[str, ...] = ()
    #: The guest was left blocked in a WASI call past its deadline.
    abandoned: bool = False

    @property
    def hit_budget(self) -> bool:
        return self.reason in BUDGET_REASONS or bool(self.marks)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "output": self.output,
            "error": self.error,
            "reason": self.reason,
            "fuel_used": self.fuel_used,
            "wall_seconds": self.wall_seconds,
            "log": [line.to_json() for line in self.log],
            "host_calls": [c.to_json() for c in self.host_calls],
            "marks": list(self.marks),
        }


def classify_trap(text: str, stderr: str = "") -> str:
    """Map a wasmtime error (and the guest's stderr) to a short reason."""
    if "all fuel consumed" in text:
        return "out of fuel"
    if "wasm trap: interrupt" in text:
        return "time limit"
    if (
        "exceeds memory limits" in text
        or "MemoryError" in stderr
        or "memory allocation of" in stderr
    ):
        return "memory limit"
    return "trap"


def _trap_message(reason: str, text: str) -> str:
    if reason == "out of fuel":
        return "the app used up its fuel budget (CPU) and was stopped"
    if reason == "time limit":
        return "the app ran past its time limit and was stopped"
    if reason == "memory limit":
        return "the app needed more memory than its budget allows and was stopped"
    caused = text.rsplit("Caused by:", 1)[-1].strip() if "Caused by:" in text else ""
    first = caused.splitlines()[0] if caused else (text.strip().splitlines() or ["trap"])[0]
    return f"the app crashed: {first}"[:300]


def _call_guest(
    engine: AppEngine,
    linker: component.Linker,
    comp: component.Component,
    input_text: str,
    budget: RunBudget,
    run: RunContext,
) -> RunResult:
    with engine.guest_running():  # the epoch advances while a guest runs
        token = CURRENT_RUN.set(run)
        start = time.perf_counter()
        store = wasmtime.Store(engine.engine)

        def failed(error: str, reason: str, detail: str | None = None) -> RunResult:
            fields = {"error": error, "reason": reason, "detail": detail}
            return _result(store, budget, start, run, ok=False, output=None, **fields)

        try:
            wasi = wasmtime.WasiConfig()  # nothing granted: no preopens, env, args, network
            wasi.stdout_custom = run.log.stream("stdout")
            wasi.stderr_custom = run.log.stream("stderr")
            store.set_wasi(wasi)
            store.set_limits(memory_size=budget.memory_bytes)
            store.set_fuel(budget.fuel)
            store.set_epoch_deadline(engine.ticks_for(budget.wall_seconds))
            stage = "instantiate"
            try:
                instance = linker.instantiate(store, comp)
                func = instance.get_func(store, "run")
                if func is None:
                    raise wasmtime.WasmtimeError("the component does not export run")
                stage = "run"
                value = func(store, input_text)
                try:
                    func.post_return(store)
                except wasmtime.WasmtimeError:
                    pass
            except (wasmtime.WasmtimeError, wasmtime.Trap) as exc:
                run.log.flush()
                text = str(exc)
                reason = classify_trap(text, run.log.text("stderr"))
                if stage == "instantiate" and reason == "trap":
                    reason = "instantiate"
                if reason == "instantiate":
                    error = f"the app could not start: {text.splitlines()[0] if text else ''}"[:300]
                else:
                    error = _trap_message(reason, text)
                return failed(error, reason, text[-4000:])
            run.log.flush()
            tag = getattr(value, "tag", None)
            payload = getattr(value, "payload", value)
            if not isinstance(payload, str):
                payload = str(payload)
            if _too_large(payload, budget.max_output_bytes):
                del value, payload
                what = "result" if tag == "ok" else "error"
                cap = budget.max_output_bytes
                return failed(
                    f"the app's {what} is larger than the {cap}-byte output cap", "output limit"
                )
            if tag == "ok":
                return _result(
                    store, budget, start, run, ok=True, output=str(payload), error=None, reason=None
                )
            return failed(str(payload), "app error")
        except Exception as exc:  # a host-side failure: report, never crash the caller's thread
            run.log.flush()
            return failed(f"runtime error: {type(exc).__name__}: {exc}"[:300], "trap", repr(exc))
        finally:
            CURRENT_RUN.reset(token)


def _too_large(text: str, cap: int) -> bool:
    if len(text) > cap:  # every character is at least one byte
        return True
    return len(text) * 4 > cap and len(text.encode("utf-8", "surrogatepass")) > cap


def _result(
    store: wasmtime.Store,
    budget: RunBudget,
    start: float,
    run: RunContext,
    *,
    ok: bool,
    output: str | None,
    error: str | None,
    reason: str | None,
    detail: str | None = None,
) -> RunResult:
    try:
        fuel_used = budget.fuel - store.get_fuel()
    except wasmtime.WasmtimeError:
        fuel_used = budget.fuel
    return RunResult(
        ok=ok,
        output=output,
        error=error,
        reason=reason,
        fuel_used=fuel_used,
        wall_seconds=time.perf_counter() - start,
        log=list(run.log.lines),
        host_calls=list(run.calls),
        detail=detail,
        marks=tuple(sorted(run.marks)),
    )


_THREADS: Final = RunThreads()


def _start_thread(
    loop: asyncio.AbstractEventLoop, target: Any, *args: Any
) -> asyncio.Future[RunResult]:
    """Run ``target(*args)`` in a run thread (`roost.apps.run_threads`: a parked one, or a
    new one when none is free, so a thread stuck in a blocking WASI call never holds up
    another run); its result lands in an asyncio future."""
    future: asyncio.Future[RunResult] = loop.create_future()

    def deliver(value: RunResult | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)  # type: ignore[arg-type]

    def body() -> None:
        value: RunResult | None = None
        error: BaseException | None = None
        try:
            value = target(*args)
        except BaseException as exc:  # pragma: no cover - _call_guest never raises
            error = exc
        try:
            loop.call_soon_threadsafe(deliver, value, error)
        except RuntimeError:
            pass  # the loop is gone: an abandoned run finishing late

    _THREADS.submit(body)
    return future


async def run_app(
    comp: component.Component,
    input_text: str,
    *,
    app: str,
    grant: PermissionSet,
    budget: RunBudget,
    services: Services,
    linker: component.Linker,
    engine: AppEngine | None = None,
    executor: concurrent.futures.Executor | None = None,
    job_id: str | None = None,
    host_call_timeout: float = 30.0,
    on_abandon: Any = None,
) -> RunResult:
    """Run ``comp``'s ``run(input_text)`` under ``grant`` and ``budget``.

    Host calls are bridged to the current event loop. The run's aggregated access entries
    are handed to ``services.access_log`` (if any) once the guest has returned or been
    abandoned. ``executor`` is ignored (kept for callers of the pool era): each run has its
    own thread. ``on_abandon(thread)`` is told about a thread left blocked past the deadline.
    """
    engine = engine or get_engine()
    loop = asyncio.get_running_loop()
    run = RunContext(
        app=app,
        grant=grant,
        services=services,
        loop=loop,
        deadline=time.monotonic() + budget.wall_seconds,
        host_call_timeout=host_call_timeout,
        job_id=job_id,
        log=RunLog(),
        host_calls=budget.host_calls,
        host_bytes=budget.host_bytes,
    )
    started = time.perf_counter()
    future = _start_thread(loop, _call_guest, engine, linker, comp, input_text, budget, run)
    try:
        result = await asyncio.wait_for(
            asyncio.shield(future), timeout=budget.wall_seconds + ABANDON_GRACE_SECONDS
        )
    except TimeoutError:
        run.abandoned = True
        run.log.add("error", "the app was blocked past its time limit and was abandoned")
        result = RunResult(
            ok=False,
            output=None,
            error="the app ran past its time limit (blocked outside wasm) and was stopped",
            reason="time limit",
            fuel_used=0,
            wall_seconds=time.perf_counter() - started,
            log=list(run.log.lines),
            host_calls=list(run.calls),
            marks=tuple(sorted(run.marks)),
            abandoned=True,
        )
        if on_abandon is not None:
            on_abandon(future)
    if services.access_log is not None and result.host_calls:
        try:
            await services.access_log.record(result.host_calls)
        except Exception as exc:  # the run happened; a log failure must not hide its result
            result.log.append(LogLine(time.time(), "error", f"access log failed: {exc}"))
    return result
