"""Check-in API: enrolment (staff), on-demand prompts (caseworker), and the watch's prompt, check-in and history.

The watch is identified by one dependency, ``watch``: the security package's signed device request
(:func:`security.devices.signed_device`): a device access token bound to the watch's key AND a fresh signature by
that key (timestamp, single-use nonce). The watch's wearer is the one its device record is bound to by check-in
enrolment, never a claim of the token. Staff routes stay on bearer tokens with role guards; the status route, open
to both, asks a watch for its signature too (``caller``).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, JSONBody, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from checkin import service
from checkin.pool import VerificationPool, policy_from
from checkin.schemas import CheckinIn, CheckinOut, EnrolmentIn, EnrolmentOut, HistoryItem, PromptOut
from core.errors import DomainError, PermissionDenied
from core.settings import Settings
from security.actor import DEVICE_ROLES, Actor, Role
from security.auth import requires
from security.devices import signed_device
from security.ratelimit import Limiter

STAFF_ENROLLING = (Role.FIELD_OFFICER, Role.CASEWORKER, Role.SUPERVISOR)
PROMPTING = (Role.CASEWORKER, Role.SUPERVISOR)
#: The longest a check-in request waits for its decision before answering 202 with a status URL.
SYNC_WAIT_SECONDS = 30.0
PREFIX = "/api/v1/checkin"

Session = NamedDependency[AsyncSession]
Caller = NamedDependency[Actor]
Wait = Annotated[int, QueryParameter(ge=0, le=300, description="seconds to wait for a prompt")]
Limit = Annotated[int, QueryParameter(ge=1, le=200)]


async def provide_watch(request: Request[Any, Any, Any]) -> Actor:
    """The calling watch: its key-bound device token and a valid signature by the same key (401 otherwise).

    The actor comes from the device record, so its ``wearer_id`` is the wearer the watch is bound to now."""
    watch = await signed_device(request)
    if watch.role is not Role.WATCH or watch.device_id is None or watch.wearer_id is None:
        raise PermissionDenied("only a watch enrolled for a wearer may do this", code="DEVICE_NOT_ENROLLED")
    return watch


async def provide_caller(request: Request[Any, Any, Any], actor: Caller) -> Actor:
    """A route open to staff and watches: staff by their bearer token, a device only by a signed request."""
    if actor.role in DEVICE_ROLES:
        return await provide_watch(request)
    return actor


def _ctx(request: Request[Any, Any, Any], session: AsyncSession, actor: Actor) -> service.Ctx:
    settings: Settings = request.app.state.settings
    return service.Ctx(session, actor, settings, request.scope.get("state", {}).get("request_id"))


def _pool(state: State) -> VerificationPool:
    return state.verifier


class CheckinController(Controller):
    path = PREFIX
    tags = ["check-ins"]
    dependencies = {"watch": Provide(provide_watch), "caller": Provide(provide_caller)}

    @post("/enrolments", guards=[requires(*STAFF_ENROLLING)], summary="Enrol a wearer's watch and reference photos")
    async def enrol(
        self,
        request: Request[Any, Any, Any],
        state: State,
        db_session: Session,
        actor: Caller,
        data: JSONBody[EnrolmentIn],
    ) -> EnrolmentOut:
        ctx = _ctx(request, db_session, actor)
        try:
            return await service.enrol(ctx, data.wearer_id, data.device_id, data.photos, _pool(state))
        except DomainError as error:  # this request's transaction rolls back; the refusal is kept in another
            async with state.db.transaction() as session:
                await service.record_refusal(
                    _ctx(request, session, actor), "checkin.enrolment.refused", "wearer", data.wearer_id, error
                )
            raise

    @post(
        "/wearers/{wearer_id:uuid}/prompts",
        guards=[requires(*PROMPTING)],
        summary="Ask a wearer in your caseload to check in now",
    )
    async def request_prompt(
        self, request: Request[Any, Any, Any], db_session: Session, actor: Caller, wearer_id: FromPath[uuid.UUID]
    ) -> PromptOut:
        return await service.request_prompt(_ctx(request, db_session, actor), wearer_id)

    @get("/prompts/pending", guards=[requires(Role.WATCH)], summary="The watch's open prompt (long-poll with wait)")
    async def pending(
        self,
        request: Request[Any, Any, Any],
        state: State,
        watch: Caller,
        wait: Wait = 0,
    ) -> Response[PromptOut | None]:
        settings: Settings = state.settings
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(wait, settings.checkin.poll_max_wait_seconds)
        while True:
            # a fresh transaction each look, so a long poll never holds one open (or a stale SQLite snapshot)
            async with state.db.transaction() as session:
                prompt = await service.pending_prompt(_ctx(request, session, watch))
            if prompt is not None:
                return Response(prompt, status_code=200)
            remaining = deadline - loop.time()
            if remaining <= 0:
                return Response(None, status_code=204)
            await asyncio.sleep(min(1.0, remaining))

    @post(
        "/prompts/{prompt_id:uuid}/checkins",
        guards=[requires(Role.WATCH)],
        summary="Check in: frames, location, device time and posture for a prompt",
        status_code=200,
    )
    async def submit(
        self,
        request: Request[Any, Any, Any],
        state: State,
        watch: Caller,
        limiter: NamedDependency[Limiter],
        prompt_id: FromPath[uuid.UUID],
        data: JSONBody[CheckinIn],
    ) -> Response[CheckinOut]:
        settings: Settings = state.settings
        # per device, across instances; counted only once the request is proven to come from the watch
        await limiter.enforce(f"checkin:{watch.device_id}", settings.security.checkin_rate_per_minute, 60)
        pool = _pool(state)
        try:
            async with state.db.transaction() as session:
                accepted = await service.accept_checkin(_ctx(request, session, watch), prompt_id, data, pool)
        except DomainError as error:  # nonce reuse, a late prompt, another wearer's prompt...: kept on record
            async with state.db.transaction() as session:
                await service.record_refusal(
                    _ctx(request, session, watch), "checkin.refused", "prompt", prompt_id, error
                )
            raise
        if accepted.decided is not None:
            return Response(accepted.decided, status_code=200)
        saturated = pool.saturated
        task = asyncio.create_task(_finish(state, request, watch, accepted, settings))
        state.checkin_tasks.add(task)
        task.add_done_callback(state.checkin_tasks.discard)
        if not saturated:
            try:
                decided = await asyncio.wait_for(asyncio.shield(task), timeout=SYNC_WAIT_SECONDS)
                return Response(decided, status_code=200)
            except TimeoutError:
                pass
        url = f"{PREFIX}/checkins/{accepted.checkin_id}"
        body = CheckinOut(
            id=accepted.checkin_id,
            prompt_id=accepted.prompt_id,
            status="PROCESSING",
            reasons=[],
            received_at=accepted.received_at,
            status_url=url,
        )
        return Response(body, status_code=202, headers={"Location": url, "Retry-After": "2"})

    @get(
        "/checkins/{checkin_id:uuid}",
        guards=[requires(Role.WATCH, Role.CASEWORKER, Role.SUPERVISOR)],
        summary="A check-in's status and decision",
    )
    async def get_checkin(
        self, request: Request[Any, Any, Any], db_session: Session, caller: Caller, checkin_id: FromPath[uuid.UUID]
    ) -> CheckinOut:
        return await service.get_checkin(_ctx(request, db_session, caller), checkin_id)

    @get("/history", guards=[requires(Role.WATCH)], summary="The wearer's recent prompts and outcomes (no images)")
    async def history(
        self,
        request: Request[Any, Any, Any],
        db_session: Session,
        watch: Caller,
        limit: Limit = 50,
    ) -> list[HistoryItem]:
        return await service.history(_ctx(request, db_session, watch), limit)


async def _finish(
    state: State, request: Request[Any, Any, Any], watch: Actor, accepted: service.Accepted, settings: Settings
) -> CheckinOut:
    """Verify in the pool, then record the decision in a new transaction."""
    policy = policy_from(settings)
    try:
        verification = await service.verify_in_pool(_pool(state), accepted, policy)
    except Exception as exc:  # a worker crash or a bug must still leave a decision for a person to review
        async with state.db.transaction() as session:
            return await service.fail_verification(_ctx(request, session, watch), accepted, type(exc).__name__)
    async with state.db.transaction() as session:
        return await service.decide(_ctx(request, session, watch), accepted, verification)
