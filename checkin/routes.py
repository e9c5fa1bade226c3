"""Check-in API: enrolment (staff), on-demand prompts (caseworker), and the watch's prompt, check-in and history.

The watch is identified by one dependency, ``watch``: today an access token whose actor has role ``watch`` and
carries ``device_id`` and ``wearer_id``; when the security package's signed device requests land, that dependency
verifies the signature, nonce and timestamp instead, and nothing else here changes.
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
from security.actor import Actor, Role
from security.auth import requires

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
    """The calling watch. The one place to switch to signed device requests."""
    user = request.scope.get("user")
    if not isinstance(user, Actor) or user.role is not Role.WATCH or user.device_id is None or user.wearer_id is None:
        raise PermissionDenied("only an enrolled watch may do this")
    return user


def _ctx(request: Request[Any, Any, Any], session: AsyncSession, actor: Actor) -> service.Ctx:
    settings: Settings = request.app.state.settings
    return service.Ctx(session, actor, settings, request.scope.get("state", {}).get("request_id"))


def _pool(state: State) -> VerificationPool:
    return state.verifier


class CheckinController(Controller):
    path = PREFIX
    tags = ["check-ins"]
    dependencies = {"watch": Provide(provide_watch)}

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
        prompt_id: FromPath[uuid.UUID],
        data: JSONBody[CheckinIn],
    ) -> Response[CheckinOut]:
        settings: Settings = state.settings
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
        self, request: Request[Any, Any, Any], db_session: Session, actor: Caller, checkin_id: FromPath[uuid.UUID]
    ) -> CheckinOut:
        return await service.get_checkin(_ctx(request, db_session, actor), checkin_id)

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
