"""HTTP routes of field work: thin controllers that parse, call the service and return a schema."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post, put
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, PathParameter, QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import PayloadTooLarge, ValidationFailed
from core.settings import Settings
from fieldwork import intake, photos, stock, sync, visits
from fieldwork.schemas import (
    AllocationIn,
    CancelIn,
    DeviceIn,
    DeviceOut,
    DraftUpdate,
    FailedVisitIn,
    FailedVisitOut,
    FittingIn,
    FittingOut,
    JobDetail,
    JobSummary,
    OrderIn,
    OrderOut,
    Page,
    PhotoOut,
    ProtectedIn,
    ProtectedOut,
    RebookIn,
    RemovalIn,
    RemovalOut,
    StockMoveIn,
    SyncBatch,
    SyncOut,
    VariationIn,
    VersionedAction,
    WearerOut,
)
from fieldwork.service import Ctx
from fieldwork.vocab import DeviceStatus, DeviceType, JobStatus, OrderStatus
from security.actor import Actor, Role
from security.auth import requires

INTAKE = requires(Role.CASEWORKER, Role.SUPERVISOR, Role.ADMIN)
OFFICERS = requires(Role.FIELD_OFFICER, Role.SUPERVISOR, Role.ADMIN)
FIELD = requires(Role.FIELD_OFFICER)
SUPERVISORS = requires(Role.SUPERVISOR, Role.ADMIN)
Sha256Path = Annotated[str, PathParameter(pattern=r"^[0-9a-f]{64}$")]
Context = NamedDependency[Ctx]
PathId = FromPath[uuid.UUID]
Limit = Annotated[int, QueryParameter(ge=1, le=100)]
Offset = Annotated[int, QueryParameter(ge=0)]


async def provide_ctx(db_session: NamedDependency[AsyncSession], actor: NamedDependency[Actor], state: State) -> Ctx:
    return Ctx(session=db_session, actor=actor, settings=state.settings)


CTX = {"ctx": Provide(provide_ctx)}
# Ordinary JSON bodies are small; an intake with detailed zone polygons is the largest. Sync and photos check their own.
JSON_BODY_LIMIT = 512 * 1024


class OrderController(Controller):
    request_max_body_size = JSON_BODY_LIMIT
    path = "/api/v1/orders"
    dependencies = CTX
    tags = ["orders"]

    @post("/", guards=[INTAKE], summary="Create a draft order (intake)")
    async def create(self, ctx: Context, data: JSONBody[OrderIn]) -> OrderOut:
        return await intake.create_draft(ctx, data)

    @get("/", guards=[INTAKE], summary="Orders in the caller's caseload")
    async def list_orders(
        self,
        ctx: Context,
        status: FromQuery[OrderStatus | None] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> Page:
        return await intake.list_orders(ctx, status, limit, offset)

    @get("/{order_id:uuid}", guards=[INTAKE])
    async def read(self, ctx: Context, order_id: PathId) -> OrderOut:
        return await intake.read_order(ctx, order_id)

    @put("/{order_id:uuid}/draft", guards=[INTAKE], summary="Replace the draft version's content")
    async def update_draft(self, ctx: Context, order_id: PathId, data: JSONBody[DraftUpdate]) -> OrderOut:
        return await intake.update_draft(ctx, order_id, data)

    @post("/{order_id:uuid}/submit", guards=[INTAKE], status_code=200, summary="Submit the draft version")
    async def submit(self, ctx: Context, order_id: PathId, data: JSONBody[VersionedAction]) -> OrderOut:
        return await intake.submit(ctx, order_id, data.version)

    @post("/{order_id:uuid}/cancel", guards=[INTAKE], status_code=200, summary="Cancel before anything is fitted")
    async def cancel(self, ctx: Context, order_id: PathId, data: JSONBody[CancelIn]) -> OrderOut:
        return await intake.cancel(ctx, order_id, data.version, data.reason)

    @post("/{order_id:uuid}/variations", guards=[INTAKE], summary="Start a variation (a new draft version)")
    async def vary(self, ctx: Context, order_id: PathId, data: JSONBody[VariationIn]) -> OrderOut:
        return await intake.start_variation(ctx, order_id, data)


class WearerController(Controller):
    request_max_body_size = JSON_BODY_LIMIT
    path = "/api/v1/wearers"
    dependencies = CTX
    tags = ["wearers"]

    @get("/", guards=[INTAKE])
    async def list_wearers(self, ctx: Context, limit: Limit = 50, offset: Offset = 0) -> Page:
        return await intake.list_wearers(ctx, limit, offset)

    @get("/{wearer_id:uuid}", guards=[INTAKE])
    async def read(self, ctx: Context, wearer_id: PathId) -> WearerOut:
        return await intake.read_wearer(ctx, wearer_id)

    @get("/{wearer_id:uuid}/protected-characteristics", guards=[SUPERVISORS])
    async def read_protected(self, ctx: Context, wearer_id: PathId) -> ProtectedOut:
        return await intake.read_protected(ctx, wearer_id)

    @put("/{wearer_id:uuid}/protected-characteristics", guards=[INTAKE], status_code=200)
    async def declare_protected(self, ctx: Context, wearer_id: PathId, data: JSONBody[ProtectedIn]) -> dict[str, int]:
        """Write-only for caseworkers: the answer carries the new version, never the values."""
        return {"version": await intake.declare_protected(ctx, wearer_id, data)}


class JobController(Controller):
    request_max_body_size = JSON_BODY_LIMIT
    path = "/api/v1/jobs"
    dependencies = CTX
    tags = ["jobs"]

    @get("/", guards=[OFFICERS], summary="The caller's jobs, earliest appointment first")
    async def list_jobs(
        self,
        ctx: Context,
        status: FromQuery[JobStatus | None] = JobStatus.OPEN,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> Page:
        return await visits.list_jobs(ctx, status, limit, offset)

    @get("/{job_id:uuid}", guards=[OFFICERS])
    async def read(self, ctx: Context, job_id: PathId) -> JobDetail:
        return await visits.job_detail(ctx, job_id)

    @post("/{job_id:uuid}/allocation", guards=[SUPERVISORS], status_code=200)
    async def allocate(self, ctx: Context, job_id: PathId, data: JSONBody[AllocationIn]) -> JobSummary:
        return await visits.allocate(ctx, job_id, data)

    @post("/{job_id:uuid}/appointment", guards=[OFFICERS], status_code=200, summary="Re-book an open job")
    async def rebook(self, ctx: Context, job_id: PathId, data: JSONBody[RebookIn]) -> JobSummary:
        return await visits.rebook(ctx, job_id, data)

    @post("/{job_id:uuid}/fitting", guards=[FIELD])
    async def fitting(self, ctx: Context, job_id: PathId, data: JSONBody[FittingIn]) -> FittingOut:
        return await visits.record_fitting(ctx, job_id, data)

    @post("/{job_id:uuid}/removal", guards=[FIELD])
    async def removal(self, ctx: Context, job_id: PathId, data: JSONBody[RemovalIn]) -> RemovalOut:
        return await visits.record_removal(ctx, job_id, data)

    @post("/{job_id:uuid}/failed-visits", guards=[FIELD])
    async def failed_visit(self, ctx: Context, job_id: PathId, data: JSONBody[FailedVisitIn]) -> FailedVisitOut:
        return await visits.record_failed_visit(ctx, job_id, data)


class DeviceController(Controller):
    request_max_body_size = JSON_BODY_LIMIT
    path = "/api/v1/stock/devices"
    dependencies = CTX
    tags = ["devices"]

    @get("/", guards=[OFFICERS], summary="Device stock (an officer sees their team's)")
    async def list_devices(
        self,
        ctx: Context,
        status: FromQuery[DeviceStatus | None] = None,
        device_type: FromQuery[DeviceType | None] = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> Page:
        return await stock.list_devices(ctx, status, device_type, limit, offset)

    @post("/", guards=[SUPERVISORS])
    async def register(self, ctx: Context, data: JSONBody[DeviceIn]) -> DeviceOut:
        return await stock.register_device(ctx, data)

    @post("/{device_id:uuid}/moves", guards=[OFFICERS], status_code=200)
    async def move(self, ctx: Context, device_id: PathId, data: JSONBody[StockMoveIn]) -> DeviceOut:
        return await stock.stock_move(ctx, await stock.visible_device(ctx, device_id), data)


def _decode_problems(exc: msgspec.ValidationError) -> list[dict[str, str]]:
    message = str(exc)
    text, _, path = message.partition(" - at `")
    return [{"field": path.rstrip("`").removeprefix("$.") or "body", "message": text}]


@post(
    "/api/v1/sync",
    guards=[FIELD],
    status_code=200,
    tags=["sync"],
    opt={"body_cap": "fieldwork.max_sync_body_bytes"},  # api.bodies: the sync cap, not the application's JSON cap
)
async def sync_batch(actor: NamedDependency[Actor], state: State, request: Request[Any, Any, Any]) -> SyncOut:
    """Apply a batch of offline operations; each gets its own result, replays change nothing.

    No request-wide transaction here: the batch commits in steps (see :func:`fieldwork.sync.run_batch_committing`).
    """
    settings: Settings = state.settings
    cap = settings.fieldwork.max_sync_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > cap:
        raise PayloadTooLarge(f"a sync body may be at most {cap} bytes")
    body = await request.body()
    if len(body) > cap:
        raise PayloadTooLarge(f"a sync body may be at most {cap} bytes")
    try:
        batch = msgspec.json.decode(body, type=SyncBatch)
    except msgspec.ValidationError as exc:
        raise ValidationFailed("The sync batch is not valid", errors=_decode_problems(exc)) from None
    except msgspec.DecodeError:
        raise ValidationFailed("The sync body is not JSON", errors=[{"field": "body", "message": "not JSON"}]) from None
    limit = settings.fieldwork.max_sync_operations
    if len(batch.operations) > limit:
        raise PayloadTooLarge(f"a batch may hold at most {limit} operations; send the rest in another batch")
    return await sync.run_batch_committing(state.db, actor, settings, batch.operations)


@put(
    "/api/v1/photos/{sha256:str}",
    guards=[OFFICERS],
    dependencies=CTX,
    status_code=200,
    tags=["photos"],
    opt={"raw_image": True},  # the body is one image: api.bodies gives this route the image cap, not the JSON one
)
async def upload_photo(ctx: Context, sha256: Sha256Path, request: Request[Any, Any, Any]) -> PhotoOut:
    """Upload evidence by its SHA-256 (before or after the fitting that cites it); re-uploading is harmless."""
    cap = ctx.settings.http.max_image_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > cap:
        raise PayloadTooLarge(f"a photo may be at most {cap} bytes")
    return await photos.upload(ctx, sha256, await request.body(), request.headers.get("content-type"))


@get("/api/v1/photos/{sha256:str}", guards=[SUPERVISORS], dependencies=CTX, tags=["photos"])
async def download_photo(ctx: Context, sha256: Sha256Path) -> Response[bytes]:
    data, content_type = await photos.download(ctx, sha256)
    return Response(data, media_type=content_type, headers={"Cache-Control": "no-store"})


ROUTE_HANDLERS: list[Any] = [
    OrderController,
    WearerController,
    JobController,
    DeviceController,
    sync_batch,
    upload_photo,
    download_photo,
]
