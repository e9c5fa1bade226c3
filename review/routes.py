"""The review API under ``/api/v1/review`` (caseworkers and supervisors) and the evidence reports
(supervisors and administrators). Thin: parse, call the service, return a schema."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.params import Parameter
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession

from checkin.service import Ctx
from review import reports, service
from review.exports import CASELOAD_HEADER, WEARER_HEADER, stream_csv, wearer_record_rows
from review.schemas import (
    Caseload,
    ClaimIn,
    ClaimOut,
    Compliance,
    DecisionIn,
    DecisionOut,
    ItemDetail,
    PromptSent,
    QueuePage,
)
from security.actor import Actor, Role
from security.auth import requires

DbSession = NamedDependency[AsyncSession]
Context = NamedDependency[Ctx]
ActorDep = NamedDependency[Actor]


REVIEWERS = requires(Role.CASEWORKER, Role.SUPERVISOR)
CASEWORKER_ONLY = requires(Role.CASEWORKER)
SUPERVISOR_ONLY = requires(Role.SUPERVISOR)
REPORT_READERS = requires(Role.SUPERVISOR, Role.ADMIN)


async def provide_ctx(request: Request[Any, Any, Any], db_session: DbSession, actor: ActorDep) -> Ctx:
    return Ctx(
        session=db_session,
        actor=actor,
        settings=request.app.state.settings,
        request_id=request.scope.get("state", {}).get("request_id"),
    )


def csv_response(rows_stream: Any, filename: str) -> Stream:
    return Stream(
        rows_stream,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )


class ReviewController(Controller):
    path = "/api/v1/review"
    tags = ["review"]
    dependencies = {"ctx": Provide(provide_ctx)}

    @get("/queue", summary="Open referred, rejected and missed items of my caseload, oldest first", guards=[REVIEWERS])
    async def queue(
        self,
        ctx: Context,
        wearer_id: uuid.UUID | None = None,
        reason: str | None = Parameter(default=None, max_length=64),
        kind: str | None = Parameter(default=None, pattern=r"^(REFERRED|REJECTED|MISSED)$"),
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = Parameter(default=50, ge=1, le=1000),
        offset: int = Parameter(default=0, ge=0),
    ) -> QueuePage:
        return await service.queue(
            ctx, wearer_id=wearer_id, reason=reason, kind=kind, since=since, until=until, limit=limit, offset=offset
        )

    @get(
        "/items/{item_id:uuid}",
        summary="One item with its check-in facts and decision history (no images)",
        guards=[REVIEWERS],
    )
    async def item(self, ctx: Context, item_id: uuid.UUID) -> ItemDetail:
        return await service.item_detail(ctx, item_id)

    @post(
        "/items/{item_id:uuid}/claim",
        status_code=200,
        summary="Hold the item for a while (409 if another does)",
        guards=[REVIEWERS],
    )
    async def claim(self, ctx: Context, item_id: uuid.UUID, data: ClaimIn | None = None) -> ClaimOut:
        return await service.claim(ctx, item_id, data.version if data else None)

    @delete("/items/{item_id:uuid}/claim", status_code=204, summary="Let go of my claim", guards=[REVIEWERS])
    async def release(self, ctx: Context, item_id: uuid.UUID) -> None:
        await service.release(ctx, item_id)

    @post(
        "/items/{item_id:uuid}/decision", status_code=201, summary="Decide the item, with a reason", guards=[REVIEWERS]
    )
    async def decide(self, ctx: Context, item_id: uuid.UUID, data: DecisionIn) -> DecisionOut:
        return await service.decide(ctx, item_id, data.outcome, data.reason, data.version)

    @post(
        "/items/{item_id:uuid}/revision",
        status_code=201,
        guards=[SUPERVISOR_ONLY],
        summary="A supervisor revises a decision, with a reason (the history keeps both)",
    )
    async def revise(self, ctx: Context, item_id: uuid.UUID, data: DecisionIn) -> DecisionOut:
        return await service.revise(ctx, item_id, data.outcome, data.reason, data.version)

    @get("/items/{item_id:uuid}/history", summary="Every decision on the item, first to last", guards=[REVIEWERS])
    async def history(self, ctx: Context, item_id: uuid.UUID) -> list[DecisionOut]:
        return await service.history(ctx, item_id)

    @get(
        "/checkins/{checkin_id:uuid}/images/{position:int}",
        guards=[CASEWORKER_ONLY],
        summary="View one check-in photo (the wearer's caseworker only; audited; never cached)",
    )
    async def image(self, ctx: Context, checkin_id: uuid.UUID, position: int) -> Response[bytes]:
        data, content_type = await service.checkin_image(ctx, checkin_id, position)
        return Response(
            data,
            media_type=content_type,
            headers={"Cache-Control": "no-store", "Content-Disposition": "inline"},
        )

    @get(
        "/wearers/{wearer_id:uuid}/compliance",
        summary="Counts and rates over 7/30/90 days and a daily timeline",
        guards=[REVIEWERS],
    )
    async def compliance(self, ctx: Context, wearer_id: uuid.UUID) -> Compliance:
        return await service.compliance(ctx, wearer_id)

    @post(
        "/wearers/{wearer_id:uuid}/prompts",
        status_code=201,
        summary="Send a check-in prompt to the watch now",
        guards=[REVIEWERS],
    )
    async def prompt(self, ctx: Context, wearer_id: uuid.UUID) -> PromptSent:
        return await service.send_prompt(ctx, wearer_id)

    @get(
        "/wearers/{wearer_id:uuid}/export.csv",
        summary="The wearer's check-in record as CSV (audited)",
        guards=[REVIEWERS],
    )
    async def wearer_csv(self, request: Request[Any, Any, Any], ctx: Context, wearer_id: uuid.UUID) -> Stream:
        wearer = await service.export_wearer(ctx, wearer_id)
        rows = wearer_record_rows(request.app.state.db, wearer)
        return csv_response(stream_csv(WEARER_HEADER, rows), f"checkins-{wearer}.csv")

    @get("/caseload", summary="My wearers, the most at risk of non-compliance first", guards=[REVIEWERS])
    async def caseload(self, ctx: Context) -> Caseload:
        return await service.caseload(ctx)

    @get("/caseload/export.csv", summary="The caseload summary as CSV (audited)", guards=[REVIEWERS])
    async def caseload_csv(self, ctx: Context) -> Stream:
        summary = await service.caseload(ctx)
        await ctx.audit("review.export.caseload", "caseload", ctx.actor.id, wearers=len(summary.wearers))
        rows = (
            (r.wearer_id, r.wearer_name, r.missed_7d, r.referred_7d, r.open_items, r.compliance_rate_30d)
            for r in summary.wearers
        )
        return csv_response(stream_csv(CASELOAD_HEADER, rows), "caseload.csv")


class ReportsController(Controller):
    path = "/api/v1/review/reports"
    tags = ["evidence reports"]
    dependencies = {"ctx": Provide(provide_ctx)}
    guards = [REPORT_READERS]

    @get("/proportionality", summary="Orders and check-in outcomes by group (small groups suppressed)")
    async def proportionality(self, ctx: Context) -> reports.Report:
        return await reports.proportionality(ctx)

    @get("/proportionality.csv", summary="The proportionality report as CSV")
    async def proportionality_csv(self, ctx: Context) -> Stream:
        report = await reports.proportionality(ctx)
        return csv_response(stream_csv(reports.CSV_HEADER, reports.csv_rows(report)), "proportionality.csv")

    @get("/outcomes", summary="Order end outcomes, compliance, referral and false-referral rates by group")
    async def outcomes(self, ctx: Context) -> reports.Report:
        return await reports.outcomes(ctx)

    @get("/outcomes.csv", summary="The outcomes report as CSV")
    async def outcomes_csv(self, ctx: Context) -> Stream:
        report = await reports.outcomes(ctx)
        return csv_response(stream_csv(reports.CSV_HEADER, reports.csv_rows(report)), "outcomes.csv")


ROUTE_HANDLERS: list[Any] = [ReviewController, ReportsController]
